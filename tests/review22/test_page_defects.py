"""Defects of the supervision item page found in the issue 22 review."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from supervision import queue
from tests.supervision.queues.items import desk_events, items_of, make_policy
from tests.web.conftest import WebSite, build_site, sign_in

ZONE = "Pacific/Honolulu"  # UTC-10: the desk's 09:01 UTC message is 23:01 the day before


@pytest.fixture
def site(tmp_path: Path) -> WebSite:
    return build_site(tmp_path, desk_events())


@pytest.fixture
def web(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as client:
        sign_in(client, site.tokens["compliance_officer"])  # may read both pages
        yield client


def _timeline_days(page: str) -> list[str]:
    return re.findall(r"/timeline\?[^\"]*?day=(\d{4}-\d{2}-\d{2})", html.unescape(page))


def test_the_item_page_links_to_the_time_line_of_the_messages_day_in_the_readers_zone(
    site: WebSite, web: TestClient
) -> None:
    policy = make_policy(site.services.engine)
    first = items_of(site.services.engine, policy, desk_events(), datetime.now(UTC) - timedelta(hours=1))[0]
    message_id = queue.get_item(site.services.engine, first).item.message_id
    sent = queue.get_item(site.services.engine, first).item.sent_at
    assert sent.date().isoformat() == "2026-12-01"
    conversation = web.get("/conversation", params={"message": message_id, "tz": ZONE})
    assert conversation.status_code == 200
    assert set(_timeline_days(conversation.text)) == {"2026-11-30"}  # the conversation page: local day
    page = web.get(f"/supervision/items/{first}", params={"tz": ZONE})
    assert page.status_code == 200
    assert set(_timeline_days(page.text)) == {"2026-11-30"}
