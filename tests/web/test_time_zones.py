"""Issue 17, finding 4, in the web pages: a reader chooses the zone times are shown in (the
header's select sends ``tz``, a cookie keeps it), a case page defaults to the case's zone, the
time line's days are cut at that zone's midnight (the 23:30 New York message stays on its New
York day; the daylight saving days of 2026 are 23 and 25 hours long), and the sender's own
offset is shown where it differs ("as sent")."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from ingest.events import Event, parse_event
from tests.web.conftest import WebSite, build_site, csrf_of, sign_in

ROOM = "room:ny"
SENT = (
    ("tokyo", "2026-11-22T09:00:00+09:00"),  # 00:00Z on the 22nd: 19:00 EST on the 21st
    ("late", "2026-11-22T23:30:00-05:00"),  # 04:30Z on the 23rd: the 22nd in New York
    ("spring-before", "2026-03-08T00:30:00-05:00"),
    ("spring-late", "2026-03-08T23:30:00-04:00"),  # 03:30Z on the 9th
    ("fall-first", "2026-11-01T01:30:00-04:00"),
    ("fall-second", "2026-11-01T01:30:00-05:00"),
    ("fall-late", "2026-11-01T23:30:00-05:00"),  # 04:30Z on the 2nd
)


def _post(message_id: str, sent: str) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"web-tz:{message_id}")),
            "type": "post",
            "occurred_at": sent,
            "room": {"id": ROOM, "name": "#new-york"},
            "actor": {"id": "user:nora", "name": "Nora"},
            "message": {"id": f"msg:{message_id}", "text": f"zone check {message_id}"},
        }
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("web-tz"), [_post(message_id, sent) for message_id, sent in SENT])


@pytest.fixture
def legal(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as client:
        sign_in(client, site.tokens["legal"])
        yield client


def shown_messages(html: str) -> list[str]:
    return re.findall(r"zone check ([a-z-]+)", html)


def test_the_time_line_cuts_days_at_the_readers_midnight(legal: TestClient) -> None:
    utc = legal.get("/timeline", params={"room": ROOM, "day": "2026-11-22", "tz": "UTC"})
    assert utc.status_code == 200, utc.text
    assert shown_messages(utc.text) == ["tokyo"]
    assert "times in UTC" in utc.text
    new_york = legal.get("/timeline", params={"room": ROOM, "day": "2026-11-22", "tz": "America/New_York"})
    assert new_york.status_code == 200, new_york.text
    assert shown_messages(new_york.text) == ["late"]
    assert "times in America/New_York" in new_york.text
    assert "23:30:00 EST" in new_york.text
    assert "selected>America/New_York</option>" in new_york.text  # the header's select says it


@pytest.mark.parametrize(
    ("day", "utc", "new_york"),
    [
        ("2026-03-08", ["spring-before"], ["spring-before", "spring-late"]),
        ("2026-11-01", ["fall-first", "fall-second"], ["fall-first", "fall-second", "fall-late"]),
    ],
)
def test_daylight_saving_days_are_new_york_days(
    legal: TestClient, day: str, utc: list[str], new_york: list[str]
) -> None:
    assert shown_messages(legal.get("/timeline", params={"room": ROOM, "day": day, "tz": "UTC"}).text) == utc
    page = legal.get("/timeline", params={"room": ROOM, "day": day, "tz": "America/New_York"})
    assert shown_messages(page.text) == new_york
    if day == "2026-11-01":
        assert "01:30:00 EDT" in page.text
        assert "01:30:00 EST" in page.text


def test_the_chosen_zone_is_kept_in_a_cookie_until_cleared(legal: TestClient) -> None:
    chosen = legal.get("/timeline", params={"room": ROOM, "day": "2026-11-22", "tz": "America/New_York"})
    assert (chosen.cookies.get("archivist_tz") or "").strip('"') == "America/New_York"  # quoted: it has a /
    kept = legal.get("/timeline", params={"room": ROOM, "day": "2026-11-22"})
    assert shown_messages(kept.text) == ["late"]
    cleared = legal.get("/timeline", params={"room": ROOM, "day": "2026-11-22", "tz": ""})
    assert shown_messages(cleared.text) == ["tokyo"]
    assert "times in UTC" in cleared.text
    assert "archivist_tz" not in legal.cookies


def test_an_unknown_zone_is_a_clear_422(legal: TestClient) -> None:
    page = legal.get("/timeline", params={"room": ROOM, "day": "2026-11-22", "tz": "America/New_Yrok"})
    assert page.status_code == 422
    assert "unknown time zone" in page.text
    assert "America/New_York" in page.text
    assert "archivist_tz" not in page.cookies


def test_the_conversation_shows_the_senders_offset_as_sent(legal: TestClient) -> None:
    page = legal.get("/conversation", params={"message": "msg:tokyo", "tz": "America/New_York"})
    assert page.status_code == 200, page.text
    assert "Times in America/New_York" in page.text
    assert "2026-11-21 19:00:00 EST (+09:00 as sent)" in page.text
    assert "day=2026-11-21" in page.text  # the time line link opens its New York day
    tokyo = legal.get("/conversation", params={"message": "msg:tokyo", "tz": "Asia/Tokyo"})
    assert "2026-11-22 09:00:00 JST" in tokyo.text
    assert "+09:00 as sent" not in tokyo.text


def test_search_hits_show_the_readers_zone(legal: TestClient) -> None:
    page = legal.get("/search", params={"q": "zone check late", "tz": "America/New_York"})
    assert page.status_code == 200, page.text
    assert "2026-11-22 23:30:00 EST" in page.text
    assert "times in America/New_York" in page.text


def test_a_case_page_defaults_to_the_cases_zone(legal: TestClient) -> None:
    csrf = csrf_of(legal.get("/cases").text)
    opened = legal.post("/cases", data={"name": "Zoned", "time_zone": "Asia/Tokyo", "csrf": csrf})
    assert opened.status_code == 303, opened.text
    case_url = opened.headers["location"]
    page = legal.get(case_url)
    assert "<dt>Time zone</dt><dd>Asia/Tokyo" in page.text
    assert re.search(
        r'<select id="export-zone" name="time_zone">.*?<option selected>Asia/Tokyo</option>', page.text, re.S
    )
    assert "JST" in page.text  # its opening time, in the case's zone
    refused = legal.post("/cases", data={"name": "Bad zone", "time_zone": "Tokyo", "csrf": csrf})
    assert refused.status_code == 422
    assert "unknown time zone" in refused.text
