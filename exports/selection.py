"""Which archived events an export holds, read from the archive in export order.

A query names messages (the hits of the search, every one of them). The export holds, for
each hit, its post, every edit and its deletion, and who read it; and, for the conversation
around it, the joins, leaves, files, disclaimers and policy decisions of the same room on the
same UTC day, so that a transcript shows who was there and what they were told.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from adapters.archive import archive_dispositions
from adapters.archive_schema import archive_events
from ingest.db import read_only
from ingest.events import DeleteEvent, EditEvent, Event, PostEvent, ReadEvent, parse_event_json
from search_api.archive_queries import Memberships
from search_api.backends import SearchBackend, every_hit
from search_api.query_ast import Node

_MESSAGE_EVENTS = ("post", "edit", "delete", "read")
_CONTEXT_EVENTS = ("join", "leave", "file_upload", "file_download", "disclaimer", "policy_decision", "room_update")


@dataclass(frozen=True)
class Selection:
    """The hits of a query, as what the export reads back from the archive."""

    message_ids: frozenset[str]
    room_days: frozenset[tuple[str, date]]
    rooms: tuple[str, ...]
    first: datetime | None
    last: datetime | None

    @property
    def messages(self) -> int:
        return len(self.message_ids)


def select_hits(backend: SearchBackend, node: Node, memberships: Memberships | None = None) -> Selection:
    """Every hit of ``node`` (never the top k): the messages and the room-days they fall on."""
    hits = every_hit(backend, node, memberships=memberships)
    message_ids = frozenset(hit.message_id for hit in hits)
    days = frozenset((hit.room_id, _day_of_micros(hit.sent)) for hit in hits)
    times = [hit.sent for hit in hits]
    return Selection(
        message_ids=message_ids,
        room_days=days,
        rooms=tuple(sorted({room for room, _day in days})),
        first=_from_micros(min(times)) if times else None,
        last=_from_micros(max(times)) if times else None,
    )


def selected_events(engine: Engine, selection: Selection, *, chunk: int = 2000) -> Iterator[Event]:
    """The archived events of ``selection`` in export order (room, time, event id), streamed."""
    if not selection.rooms or selection.first is None or selection.last is None:
        return
    columns = archive_events.c
    start = datetime.combine(selection.first.date(), datetime.min.time(), selection.first.tzinfo)
    wanted_types = (*_MESSAGE_EVENTS, *_CONTEXT_EVENTS)
    # Read-only: on SQLite a plain connection would hold the write lock for the whole read,
    # and the job's progress updates (another connection) would wait for it.
    with read_only(engine) as connection:
        for room in selection.rooms:
            # Edits, deletions and reads may come days after the post: everything from the room's
            # first hit day on is read, and what belongs is decided per event below.
            result = connection.execution_options(yield_per=chunk).execute(
                select(columns.payload)
                .outerjoin(archive_dispositions, archive_dispositions.c.event_id == columns.event_id)
                .where(
                    archive_dispositions.c.seq.is_(None),  # disposed by retention: a tombstone now
                    columns.room_id == room,
                    columns.occurred_at >= start,
                    columns.event_type.in_(wanted_types),
                )
                .order_by(columns.occurred_at, columns.event_id)
            )
            for (payload,) in result:
                event = parse_event_json(payload)
                if belongs(event, selection):
                    yield event


def belongs(event: Event, selection: Selection) -> bool:
    match event:
        case PostEvent() | EditEvent() | DeleteEvent():
            return event.message.id in selection.message_ids
        case ReadEvent():
            return event.read.message_id is not None and event.read.message_id in selection.message_ids
        case _:
            return (event.room.id, event.occurred_at.date()) in selection.room_days


def _from_micros(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _day_of_micros(micros: int) -> date:
    return _from_micros(micros).date()
