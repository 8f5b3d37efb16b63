"""Which archived events an export holds, read from the archive in export order.

A query names messages (the hits of the search, every one of them). The export holds, for
each hit, its post, every edit and its deletion, and who read it; and, for the conversation
around it, the joins, leaves, files, disclaimers and policy decisions of the same room on the
same day, so that a transcript shows who was there and what they were told. The day is the
export's zone's (``formats.time_zones``): a context event comes along when its day in that zone
overlaps the UTC day of a hit (the search backends tell hit days in UTC), so near midnight a
little more context may come along, never less.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from archive.queries import room_payloads_since
from formats.time_zones import day_span, local_date, utc_dates_of
from ingest.db import read_only
from ingest.events import DeleteEvent, EditEvent, Event, PostEvent, ReadEvent, event_to_json, parse_event_json
from search.backends import SearchBackend, WalksHitIds, every_hit
from search.memberships import Memberships
from search.query_ast import Node
from search.results import Hit, HitIds
from search.sent_days import UTC_ZONE

_MESSAGE_EVENTS = ("post", "edit", "delete", "read")
_DAY_MICROS = 86_400_000_000
_CONTEXT_EVENTS = ("join", "leave", "file_upload", "file_download", "disclaimer", "policy_decision", "room_update")


@dataclass(frozen=True)
class RoomHits:
    """One room's hits: the messages, and the UTC days they fall on."""

    message_ids: frozenset[str]
    days: frozenset[date]


def room_hits_of(hits: Iterable[tuple[str, int]]) -> RoomHits:
    """A room's hits, given as (message_id, sent in microseconds since the epoch)."""
    message_ids: set[str] = set()
    day_numbers: set[int] = set()
    for message_id, sent in hits:
        message_ids.add(message_id)
        day_numbers.add(sent // _DAY_MICROS)
    return _room_hits(message_ids, day_numbers)


def _room_hits(message_ids: set[str], day_numbers: set[int]) -> RoomHits:
    """A room's hits from their message ids and day numbers (microseconds // a day)."""
    return RoomHits(frozenset(message_ids), frozenset(_day_of_micros(day * _DAY_MICROS) for day in day_numbers))


@dataclass(frozen=True)
class Selection:
    """The hits of a query, as what the export reads back from the archive.

    Only the rooms and the counts are held; a room's hits are looked up (``room_hits``) when
    that room is read back, so memory grows with the largest room, not with the whole export.
    """

    rooms: tuple[str, ...]
    messages: int
    first: datetime | None
    last: datetime | None
    room_hits: Callable[[str], RoomHits]


def select_hits(
    backend: SearchBackend, node: Node, memberships: Memberships | None = None, zone: ZoneInfo | None = None
) -> Selection:
    """Every hit of ``node`` (never the top k): the messages and the room-days they fall on.
    ``zone``: the export's, whose days the query's ``sent:`` dates are (UTC when None)."""
    searched_in = zone or UTC_ZONE
    if isinstance(backend, WalksHitIds):
        return _light_selection(backend.hit_ids(node, memberships=memberships, zone=searched_in))
    return _held_selection(every_hit(backend, node, memberships=memberships, zone=searched_in))


def _light_selection(hits: HitIds) -> Selection:
    """From a backend that walks ids and times (the embedded index: its fast fields), one room at a time."""
    span = hits.span()
    return Selection(
        rooms=hits.rooms(),
        messages=hits.total,
        first=_from_micros(span[0]) if span else None,
        last=_from_micros(span[1]) if span else None,
        room_hits=lambda room: _room_hits(*hits.room_ids_and_days(room)),
    )


def _held_selection(hits: list[Hit]) -> Selection:
    """From any other backend: every hit, held grouped by room."""
    by_room: dict[str, list[tuple[str, int]]] = {}
    for hit in hits:
        by_room.setdefault(hit.room_id, []).append((hit.message_id, hit.sent))
    rooms = {room: room_hits_of(pairs) for room, pairs in by_room.items()}
    times = [hit.sent for hit in hits]
    return Selection(
        rooms=tuple(sorted(rooms)),
        messages=len({hit.message_id for hit in hits}),
        first=_from_micros(min(times)) if times else None,
        last=_from_micros(max(times)) if times else None,
        room_hits=rooms.__getitem__,
    )


class ArchivedJson:
    """The JSON the archive holds for the event a selection has just read back, so that the
    formats that write or hash an event's JSON as they go (JSONL, CSV's ``EVENT_SHA256``) take
    the stored bytes instead of serialising the event again. The archive stores
    :func:`~ingest.events.event_to_json` of each event, so the bytes are the same either way;
    for any other event than the latest, the JSON is made again."""

    def __init__(self) -> None:
        self._event: Event | None = None
        self._payload = ""

    def remember(self, event: Event, payload: str) -> None:
        self._event, self._payload = event, payload

    def __call__(self, event: Event) -> str:
        return self._payload if event is self._event else event_to_json(event)


def selected_events(
    engine: Engine,
    selection: Selection,
    *,
    chunk: int = 5000,
    remember: Callable[[Event, str], None] = lambda _event, _payload: None,
    zone: ZoneInfo | None = None,
    up_to_seq: int | None = None,
) -> Iterator[Event]:
    """The archived events of ``selection`` in export order (room, time, event id), streamed;
    ``remember`` is told each event's stored JSON before the event is yielded. ``zone``: the
    zone whose days the context is taken from (UTC when None). ``up_to_seq``: the archive as it
    was at that chain link (an export reads its events once per format: every format must read
    the same ones, while a live archive keeps growing)."""
    if selection.first is None:
        return
    start = datetime.combine(selection.first.date(), datetime.min.time(), UTC)
    if zone is not None:
        start = min(start, day_span(local_date(selection.first, zone), zone)[0])
    wanted_types = (*_MESSAGE_EVENTS, *_CONTEXT_EVENTS)
    # Read-only: on SQLite a plain connection would hold the write lock for the whole read,
    # and the job's progress updates (another connection) would wait for it.
    with read_only(engine) as connection:
        for room in selection.rooms:
            hits = selection.room_hits(room)
            # Edits, deletions and reads may come days after the post: everything from the first
            # hit day on is read, and what belongs is decided per event below.
            for payload in room_payloads_since(connection, room, start, wanted_types, chunk, up_to_seq):
                event = parse_event_json(payload)
                if belongs(event, hits, zone):
                    remember(event, payload)
                    yield event


def belongs(event: Event, hits: RoomHits, zone: ZoneInfo | None = None) -> bool:
    """Whether an event of the hits' room is in the export (context by ``zone``'s day, see the
    module doc; UTC when None)."""
    match event:
        case PostEvent() | EditEvent() | DeleteEvent():
            return event.message.id in hits.message_ids
        case ReadEvent():
            return event.read.message_id is not None and event.read.message_id in hits.message_ids
        case _:
            if zone is None or zone.key == "UTC":
                return event.occurred_at.date() in hits.days
            return not hits.days.isdisjoint(utc_dates_of(local_date(event.occurred_at, zone), zone))


def _from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _day_of_micros(micros: int) -> date:
    return _from_micros(micros).date()
