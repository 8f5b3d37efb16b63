"""The near-duplicates page through a test client: who may open it and group, a set of another
case, a bad threshold shown next to the form (422), the grouping stored and audited, each member
linked to the review screen."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from archive.audit import entries
from archive.principals import ROLES
from tests.review.neardup.helpers import add_messages, make_set
from tests.web.conftest import WebSite, build_site, csrf_of, sign_in

CONTRACT = "The supplier contract for the Berlin office must be signed before the audit on Friday."
LUNCH = "Lunch on Thursday? The new place near the station has a good menu and quick service."
READERS = {"legal", "compliance_officer", "admin"}


@pytest.fixture
def site(tmp_path: Path) -> WebSite:
    return build_site(tmp_path, [])


@pytest.fixture
def client(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as test_client:
        yield test_client


def test_group_and_list_with_links_to_the_review_screen(client: TestClient, site: WebSite) -> None:
    engine = site.services.engine
    case_id, set_id = make_set(engine)
    keys = add_messages(engine, set_id, [CONTRACT, "Fwd: " + CONTRACT, LUNCH, LUNCH + " See you!", "ok"])
    address = f"/cases/{case_id}/review/{set_id}/near-duplicates"
    sign_in(client, site.tokens["legal"])
    empty = client.get(address)
    assert empty.status_code == 200
    assert "0 groups of near-duplicates" in empty.text

    refused = client.post(address, data={"csrf": csrf_of(empty.text), "threshold": "0.3"})
    assert refused.status_code == 422
    assert "between 0.5 and 1.0" in refused.text
    assert 'value="0.3"' in refused.text
    assert client.post(address, data={"csrf": csrf_of(empty.text), "threshold": "high"}).status_code == 422
    assert client.post(address, data={"csrf": "forged", "threshold": "0.7"}).status_code == 403

    grouped = client.post(address, data={"csrf": csrf_of(empty.text), "threshold": "0.7"})
    assert grouped.status_code == 303
    shown = client.get(grouped.headers["location"])
    assert "Grouped again at 0.7: 2 groups." in shown.text
    assert "2 groups of near-duplicates, 4 documents in them." in shown.text
    text = html.unescape(shown.text)
    for key in keys[:4]:
        assert f'href="/review/{set_id}/doc?{urlencode({"key": key})}"' in text
    assert keys[4] not in text
    assert text.count("(pivot)") == 2
    audited = [e for e in entries(engine) if e["action"] == "review_near_duplicates"]
    assert [e["details"]["after"] for e in audited] == [{"groups": 2, "grouped": 4}]


def test_roles_and_sets_of_other_cases(client: TestClient, site: WebSite) -> None:
    engine = site.services.engine
    case_id, set_id = make_set(engine)
    other_case, _ = make_set(engine)
    address = f"/cases/{case_id}/review/{set_id}/near-duplicates"
    signed_out = client.get(address)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/login")
    for role in ROLES:
        client.cookies.clear()
        sign_in(client, site.tokens[role])
        page = client.get(address)
        assert page.status_code == (200 if role in READERS else 403), role
        if role == "compliance_officer":
            assert "Similarity threshold" not in page.text  # reads, may not group
            refused = client.post(address, data={"csrf": csrf_of(page.text), "threshold": "0.7"})
            assert refused.status_code == 403
            assert "may not open this page" in refused.text
    client.cookies.clear()
    sign_in(client, site.tokens["legal"])
    assert client.get(f"/cases/{other_case}/review/{set_id}/near-duplicates").status_code == 404
    assert client.get(f"/cases/{case_id}/review/nope/near-duplicates").status_code == 404
    assert [e for e in entries(engine) if e["action"] == "review_near_duplicates"] == []
