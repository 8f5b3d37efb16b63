"""The item page's time-line link: only for readers who may open the time line (``search``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from tests.supervision.queues.items import desk_events, items_of, make_policy
from tests.web.conftest import build_site, sign_in


def test_the_time_line_link_is_shown_only_to_readers_who_may_search(tmp_path: Path) -> None:
    site = build_site(tmp_path, desk_events())
    policy = make_policy(site.services.engine)
    first = items_of(site.services.engine, policy, desk_events(), datetime.now(UTC) - timedelta(hours=1))[0]
    shown: dict[str, bool] = {}
    for role in ("supervisor", "compliance_officer"):
        with TestClient(site.app, follow_redirects=False) as client:
            sign_in(client, site.tokens[role])
            page = client.get(f"/supervision/items/{first}")
            assert page.status_code == 200
            assert "The conversation around it" in page.text
            shown[role] = "/timeline?" in page.text
            if role == "supervisor":  # why it is hidden from them
                assert client.get("/timeline", params={"room": "room:desk"}).status_code == 403
    assert shown == {"supervisor": False, "compliance_officer": True}
