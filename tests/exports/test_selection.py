"""The selection: which rooms, messages and room-days an export holds, found by the light
hit walk of the embedded index exactly as by paging every whole hit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import tantivy

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from exports.selection import RoomHits, belongs, room_hits_of, select_hits, selected_events
from ingest.events import parse_event
from ingest.irc import read_irc_file
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from search.query_parser import parse_query
from search.request import SearchRequest
from search.results import Page
from search.tantivy_schema import build_schema
from tests.exports.conftest import DAY_ONE, event_payload

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
LOGS = ("2009-03-03_10.raw.txt", "2007-09-07.train-a.raw.txt")
DAY_MICROS = 86_400_000_000


def test_room_hits_hold_each_message_once_and_the_utc_days_of_their_times() -> None:
    before_epoch = -1  # 1969-12-31T23:59:59.999999Z
    hits = room_hits_of([("m1", 0), ("m2", DAY_MICROS - 1), ("m1", 0), ("m3", DAY_MICROS), ("m4", before_epoch)])
    assert hits.message_ids == {"m1", "m2", "m3", "m4"}
    assert hits.days == {date(1970, 1, 1), date(1970, 1, 2), date(1969, 12, 31)}
    assert room_hits_of([]) == RoomHits(frozenset(), frozenset())


def test_an_event_belongs_by_its_message_or_by_its_room_day() -> None:
    hits = RoomHits(frozenset({"msg:0"}), frozenset({DAY_ONE.date()}))
    post = parse_event(event_payload(0, "post", message={"id": "msg:0", "text": "hi", "format": "text/plain"}))
    other = parse_event(event_payload(1, "post", message={"id": "msg:9", "text": "no", "format": "text/plain"}))
    join_same_day = parse_event(event_payload(2, "join"))
    join_next_day = parse_event(event_payload(3, "join", day=1))
    assert belongs(post, hits)
    assert not belongs(other, hits)
    assert belongs(join_same_day, hits)
    assert not belongs(join_next_day, hits)


class _PagedOnly:
    """The same index seen as any backend: paged whole hits, no light walk."""

    def __init__(self, inner: TantivySearchBackend) -> None:
        self.inner = inner

    def search(self, request: SearchRequest) -> Page:
        return self.inner.search(request)


@pytest.mark.parametrize("layout", ["current", "before fast message ids"])
@pytest.mark.parametrize("query", ["ubuntu", "sent>=2000-01-01", "nothingmatchesthisword", "from:nobody"])
def test_the_light_walk_selects_what_paging_every_hit_selects(
    store: StagingStore, tmp_path: Path, query: str, layout: str
) -> None:
    events = [event for name in LOGS for event in read_irc_file(DEMO_LOGS / name)]
    ArchiveAdapter(store.engine).write(events)
    if layout != "current":  # an index made before message_id was a fast field still works
        (tmp_path / "index").mkdir()
        tantivy.Index(build_schema(fast_message_id=False), path=str(tmp_path / "index"))
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    backend = TantivySearchBackend(tmp_path / "index")
    light = select_hits(backend, parse_query(query))
    paged = select_hits(_PagedOnly(backend), parse_query(query))
    assert (light.rooms, light.messages, light.first, light.last) == (
        paged.rooms,
        paged.messages,
        paged.first,
        paged.last,
    )
    assert all(light.room_hits(room) == paged.room_hits(room) for room in light.rooms)
    assert list(selected_events(store.engine, light)) == list(selected_events(store.engine, paged))
    if query == "sent>=2000-01-01":
        assert light.messages > 1000
        assert light.first is not None
        assert light.first < datetime(2010, 1, 1, tzinfo=UTC)


def test_context_is_taken_from_the_days_of_the_exports_time_zone() -> None:
    """Issue 17, finding 4: a join at 10:00 New York time belongs to the conversation-day of a
    message at 20:00 New York time the same day, though their UTC days differ."""
    from formats.time_zones import time_zone

    sent = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 20:00 EST on the 22nd
    hits = room_hits_of([("msg:0", int(sent.timestamp() * 1_000_000))])
    assert hits.days == frozenset({date(2026, 11, 23)})
    morning = parse_event(event_payload(1, "join") | {"occurred_at": "2026-11-22T10:00:00-05:00"})
    day_before = parse_event(event_payload(2, "join") | {"occurred_at": "2026-11-21T10:00:00-05:00"})
    assert not belongs(morning, hits)  # UTC: the 22nd is not a hit day
    assert belongs(morning, hits, time_zone("America/New_York"))
    assert not belongs(day_before, hits, time_zone("America/New_York"))
