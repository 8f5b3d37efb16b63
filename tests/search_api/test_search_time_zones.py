"""Issue 17, finding 4, in search: ``sent:`` dates and the day facet are days of the time zone
the search asks for (IANA, default UTC), cut at that zone's midnight (2026-03-08 in New York is
23 hours long), on Tantivy, in the Elasticsearch translation and in the archive's own search;
the API refuses an unknown zone and says which zone its days are in; the search page reads the
reader's zone; an export's query is read in the export's zone."""

from __future__ import annotations

import html
import json
import re
import uuid
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import ROLES, create_token
from archivist.migrate import upgrade
from exports.package import ExportRequest, build_export
from ingest.db import create_db_engine
from ingest.events import Event, parse_event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search import es_query, service
from search.backends import ElasticsearchSearchBackend, TantivySearchBackend, date_aggregation, date_facet
from search.query_ast import SentRange
from search.query_parser import parse_query
from search.request import SearchRequest
from search.results import ArchivePage, Page
from search.sent_days import day_start, sent_bounds
from search_api.app import create_app
from search_api.deps import AppServices
from tests.web.conftest import sign_in

NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
ROOM = "room:ny"
SENT = (
    ("mar7-late", "2026-03-07T23:30:00-05:00"),  # 04:30Z on the 8th: the 7th in New York
    ("spring-before", "2026-03-08T00:30:00-05:00"),  # 05:30Z on the 8th
    ("spring-late", "2026-03-08T23:30:00-04:00"),  # 03:30Z on the 9th: still the 8th in New York
    ("mar9-early", "2026-03-09T00:30:00-04:00"),  # 04:30Z on the 9th
)


def _event(message_id: str, sent: str, kind: str = "post") -> Event:
    body: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"search-tz:{kind}:{message_id}")),
        "type": kind,
        "occurred_at": sent,
        "room": {"id": ROOM, "name": "#new-york"},
        "actor": {"id": "user:nora", "name": "Nora"},
    }
    if kind == "post":
        body["message"] = {"id": f"msg:{message_id}", "text": f"zone check {message_id}"}
    return parse_event(body)


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> AppServices:
    root: Path = tmp_path_factory.mktemp("search-tz")
    engine = create_db_engine(f"sqlite:///{root / 'archive.sqlite3'}")
    upgrade(engine)
    events = [_event(message_id, sent) for message_id, sent in SENT]
    events.append(_event("late-join", "2026-03-07T23:45:00-05:00", "join"))  # 04:45Z on the 8th
    ArchiveAdapter(engine).write(events)
    index = TantivyIndexAdapter(root / "index")
    index.write([event for event in events if event.type == "post"])
    index.close()
    return AppServices(engine=engine, index_dir=root / "index", sink=StagingSink(StagingStore(engine)))


def _found(services: AppServices, query: str, zone: ZoneInfo, *, facets: bool = False) -> Page:
    asked = SearchRequest(parse_query(query), facets=facets, time_zone=zone)
    found = service.search(TantivySearchBackend(services.index_dir), services.engine, asked)
    assert isinstance(found, Page)
    return found


def _ids(page: Page) -> list[str]:
    return [hit.message_id.removeprefix("msg:") for hit in page.hits]


def test_a_late_new_york_message_is_on_its_new_york_day(archived: AppServices) -> None:
    assert _ids(_found(archived, "sent:2026-03-07", NEW_YORK)) == ["mar7-late"]
    assert _ids(_found(archived, "sent:2026-03-07", UTC_ZONE)) == []
    assert "mar7-late" in _ids(_found(archived, "sent:2026-03-08", UTC_ZONE))


def test_the_day_daylight_saving_starts_has_its_23_hours(archived: AppServices) -> None:
    assert _ids(_found(archived, "sent:2026-03-08", NEW_YORK)) == ["spring-before", "spring-late"]
    assert _ids(_found(archived, "sent>=2026-03-08", NEW_YORK)) == ["spring-before", "spring-late", "mar9-early"]
    assert _ids(_found(archived, "sent<2026-03-08", NEW_YORK)) == ["mar7-late"]
    assert _ids(_found(archived, "sent:2026-03-07..2026-03-08", NEW_YORK)) == [
        "mar7-late",
        "spring-before",
        "spring-late",
    ]
    start, end = day_start(date(2026, 3, 8), NEW_YORK), day_start(date(2026, 3, 9), NEW_YORK)
    assert end - start == timedelta(hours=23)


def test_the_day_facet_counts_days_of_the_zone_on_tantivy(archived: AppServices) -> None:
    assert _found(archived, "zone", NEW_YORK, facets=True).facets["day"] == {
        "2026-03-07": 1,
        "2026-03-08": 2,
        "2026-03-09": 1,
    }
    assert _found(archived, "zone", UTC_ZONE, facets=True).facets["day"] == {"2026-03-08": 2, "2026-03-09": 2}


@pytest.mark.parametrize(
    "name", ["UTC", "America/New_York", "Asia/Tokyo", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"]
)
def test_the_tantivy_day_facet_is_each_hits_day_in_the_zone(archived: AppServices, name: str) -> None:
    zone = ZoneInfo(name)
    found = _found(archived, "zone", zone, facets=True)
    expected: dict[str, int] = {}
    for hit in found.hits:
        day = datetime.fromtimestamp(hit.sent / 1_000_000, UTC).astimezone(zone).date().isoformat()
        expected[day] = expected.get(day, 0) + 1
    assert found.facets["day"] == expected


def test_the_archive_reads_sent_dates_in_the_zone(archived: AppServices) -> None:
    def joins(zone: ZoneInfo) -> list[str]:
        asked = SearchRequest(parse_query("type:join sent:2026-03-07"), time_zone=zone)
        found = service.search(TantivySearchBackend(archived.index_dir), archived.engine, asked)
        assert isinstance(found, ArchivePage)
        return [event["event_type"] for event in found.events]

    assert joins(NEW_YORK) == ["join"]
    assert joins(UTC_ZONE) == []


def test_the_elasticsearch_translation_gives_the_zones_instants() -> None:
    assert es_query.translate(parse_query("sent:2026-03-08"), zone=NEW_YORK) == {
        "range": {"sent": {"gte": "2026-03-08T05:00:00+00:00", "lt": "2026-03-09T04:00:00+00:00"}}
    }
    # UTC (the default) is what it always was.
    assert es_query.translate(parse_query("sent:2026-03-08")) == {
        "range": {"sent": {"gte": "2026-03-08T00:00:00+00:00", "lt": "2026-03-09T00:00:00+00:00"}}
    }
    assert es_query.search_body(parse_query("sent<2026-03-08"), zone=NEW_YORK)["query"]["bool"]["must"] == [
        {"range": {"sent": {"lt": "2026-03-08T05:00:00+00:00"}}}
    ]


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class _FakeClient:
    """Answers the first search with two hits' span, the date facet's request with buckets at
    New York midnights (as Elasticsearch keys a date_histogram with a time_zone)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def search(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        first = datetime(2026, 3, 8, 4, 30, tzinfo=UTC)
        last = datetime(2026, 3, 9, 3, 30, tzinfo=UTC)
        if request.get("size") == 0:
            buckets = [
                {"key": _millis(day_start(date(2026, 3, 7), NEW_YORK)), "doc_count": 1},
                {"key": _millis(day_start(date(2026, 3, 8), NEW_YORK)), "doc_count": 1},
            ]
            return {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {"day": {"buckets": buckets}}}
        return {
            "hits": {"total": {"value": 2}, "hits": []},
            "aggregations": {
                "room": {"buckets": []},
                "sender": {"buckets": []},
                "first": {"value": float(_millis(first))},
                "last": {"value": float(_millis(last))},
            },
        }


def test_the_elasticsearch_day_facet_is_a_histogram_in_the_zone() -> None:
    assert date_aggregation("day", NEW_YORK)["day"]["date_histogram"]["time_zone"] == "America/New_York"
    assert "time_zone" not in date_aggregation("day")["day"]["date_histogram"]
    client = _FakeClient()
    page = ElasticsearchSearchBackend(client).search(
        SearchRequest(parse_query("sent:2026-03-07..2026-03-08"), facets=True, time_zone=NEW_YORK)
    )
    asked, dates = client.requests
    assert asked["query"]["bool"]["must"] == [
        {"range": {"sent": {"gte": "2026-03-07T05:00:00+00:00", "lt": "2026-03-09T04:00:00+00:00"}}}
    ]
    assert dates["aggs"]["day"]["date_histogram"] == {
        "field": "sent",
        "calendar_interval": "day",
        "min_doc_count": 1,
        "time_zone": "America/New_York",
    }
    assert page.facets["day"] == {"2026-03-07": 1, "2026-03-08": 1}
    # East of Greenwich a bucket starts the evening before in UTC: named by the zone's day.
    tokyo = ZoneInfo("Asia/Tokyo")
    response = {
        "aggregations": {"day": {"buckets": [{"key": _millis(day_start(date(2026, 3, 8), tokyo)), "doc_count": 3}]}}
    }
    assert date_facet(response, "day", tokyo) == {"2026-03-08": 3}
    assert date_facet(response, "day") == {"2026-03-07": 3}  # what reading it as a UTC day gave


zones = st.sampled_from(
    ["UTC", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Apia"]
)


@given(
    moment=st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 12, 31), timezones=st.just(UTC)),
    name=zones,
)
def test_every_instant_is_in_exactly_one_local_days_range(moment: datetime, name: str) -> None:
    zone = ZoneInfo(name)
    local = moment.astimezone(zone).date()
    containing = []
    for day in (local - timedelta(days=1), local, local + timedelta(days=1)):
        start, end = sent_bounds(parse_query(f"sent:{day.isoformat()}"), zone)  # type: ignore[arg-type]
        assert start is not None
        assert end is not None
        if start <= moment < end:
            containing.append(day)
    assert containing == [local]


def test_the_ends_of_the_calendar_stay_in_range() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    # Midnight of 0001-01-01 in Tokyo is before the first instant: the range starts at it.
    assert sent_bounds(SentRange(date(1, 1, 1), date(1, 1, 2)), tokyo)[0] == datetime.min.replace(tzinfo=UTC)
    # Before 0001-01-01 in Tokyo: nothing.
    assert sent_bounds(SentRange(None, date(1, 1, 1)), tokyo) == (None, datetime.min.replace(tzinfo=UTC))
    assert sent_bounds(SentRange(date(9999, 12, 31), None), NEW_YORK) == (
        datetime(9999, 12, 31, 5, tzinfo=UTC),
        None,
    )


@pytest.fixture
def site(archived: AppServices) -> TestClient:
    return TestClient(create_app(archived), follow_redirects=False)


def _token(services: AppServices, role: str) -> str:
    return create_token(services.engine, role, f"search tz {role}")


def test_the_api_reads_dates_in_the_asked_zone_and_says_which(archived: AppServices, site: TestClient) -> None:
    headers = {"Authorization": f"Bearer {_token(archived, 'legal')}"}
    answer = site.post(
        "/api/v1/search", json={"query": "sent:2026-03-07", "time_zone": "America/New_York"}, headers=headers
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [hit["message_id"] for hit in body["hits"]] == ["msg:mar7-late"]
    assert body["time_zone"] == "America/New_York"
    assert body["facets"]["day"] == {"2026-03-07": 1}
    default = site.post("/api/v1/search", json={"query": "sent:2026-03-07"}, headers=headers).json()
    assert default["total"] == 0
    assert default["time_zone"] == "UTC"


def test_the_api_refuses_an_unknown_zone_naming_close_ones(archived: AppServices, site: TestClient) -> None:
    headers = {"Authorization": f"Bearer {_token(archived, 'legal')}"}
    answer = site.post("/api/v1/search", json={"query": "zone", "time_zone": "America/New_Yrok"}, headers=headers)
    assert answer.status_code == 422
    text = json.dumps(answer.json())
    assert "unknown time zone" in text
    assert "did you mean America/New_York" in text


def test_a_cursor_is_bound_to_its_zone(archived: AppServices, site: TestClient) -> None:
    headers = {"Authorization": f"Bearer {_token(archived, 'legal')}"}
    asked = {"query": "zone", "size": 1, "time_zone": "America/New_York"}
    first = site.post("/api/v1/search", json=asked, headers=headers).json()
    cursor = first["next_cursor"]
    assert site.post("/api/v1/search", json={**asked, "cursor": cursor}, headers=headers).status_code == 200
    other = site.post("/api/v1/search", json={**asked, "cursor": cursor, "time_zone": "UTC"}, headers=headers)
    assert other.status_code == 422


def test_the_search_page_reads_the_readers_zone_and_labels_its_days(archived: AppServices, site: TestClient) -> None:
    sign_in(site, _token(archived, "legal"))
    page = site.get("/search", params={"q": "sent:2026-03-07", "tz": "America/New_York"})
    assert page.status_code == 200, page.text
    assert "zone check mar7-late" in page.text
    assert "Days (America/New_York)" in page.text
    assert "Days (UTC)" not in page.text
    assert "days in America/New_York" in page.text  # the syntax help says how dates are read
    kept = site.get("/search", params={"q": "zone"})  # the cookie keeps the zone
    assert "Days (America/New_York)" in kept.text
    utc = site.get("/search", params={"q": "sent:2026-03-07", "tz": "UTC"})
    assert "zone check mar7-late" not in utc.text
    assert ROLES  # the roles the tokens are made for


def test_an_exports_query_is_read_in_the_exports_zone(archived: AppServices, tmp_path: Path) -> None:
    def exported(zone: str) -> list[str]:
        request = ExportRequest("tz", "sent:2026-03-07", ("jsonl",), "counsel", "legal", time_zone=zone)
        destination = tmp_path / f"{zone.replace('/', '-')}.zip"
        build_export(archived.engine, TantivySearchBackend(archived.index_dir), request, destination)
        with zipfile.ZipFile(destination) as package:
            name = next(name for name in package.namelist() if name.endswith(".jsonl"))
            lines = package.read(name).decode().splitlines()
        return [json.loads(line)["message"]["id"] for line in lines if '"message"' in line]

    assert exported("America/New_York") == ["msg:mar7-late"]
    assert exported("UTC") == []


def test_the_conversations_search_link_is_for_its_day_in_the_readers_zone(
    archived: AppServices, site: TestClient
) -> None:
    sign_in(site, _token(archived, "legal"))
    page = site.get("/conversation", params={"message": "msg:mar7-late", "tz": "America/New_York"})
    assert page.status_code == 200, page.text
    assert "Search this room on 2026-03-07 (America/New_York)" in page.text
    link = re.search(r'href="(/search\?[^"]*)">Search this room', page.text)
    assert link is not None
    found = site.get(html.unescape(link.group(1)))
    assert "zone check mar7-late" in found.text
    utc = site.get("/conversation", params={"message": "msg:mar7-late", "tz": "UTC"})
    assert "Search this room on 2026-03-08 (UTC)" in utc.text
