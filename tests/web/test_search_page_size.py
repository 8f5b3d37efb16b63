"""the search page's page size refuses any other value with a 422, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import WebSite, sign_in


@pytest.mark.parametrize("size", ["9" * 5000, "٢٠", "20\x00", "0020"])
def test_a_hostile_page_size_is_refused_not_a_500(client: TestClient, site: WebSite, size: str) -> None:
    sign_in(client, site.tokens["legal"])
    page = client.get("/search", params={"q": "ubuntu", "size": size})
    assert page.status_code in (200, 422), page.status_code
