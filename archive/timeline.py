"""Reading one room's archived events in a span of time: the room, its events in order, how
many there are, where one of them falls, and the activity either side of the span.

The queries read ``archive_events`` through its ``(room_id, occurred_at)`` index; a span is
``start`` (included) to ``end`` (excluded), and ``types`` the event types wanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select

from archive.schema import archive_events, archive_messages, archive_rooms
from ingest.db import read_only


@dataclass(frozen=True)
class RoomEvent:
    """An archived event as a time line shows it; ``payload`` is the event's JSON text."""

    event_id: str
    event_type: str
    occurred_at: datetime
    actor_id: str
    payload: str


def room(engine: Engine, room_id: str) -> dict[str, Any] | None:
    with read_only(engine) as connection:
        row = connection.execute(select(archive_rooms).where(archive_rooms.c.room_id == room_id)).first()
    return dict(row._mapping) if row is not None else None


def latest_activity(engine: Engine, room_id: str) -> datetime | None:
    """When the room's newest archived event happened (None: it has none)."""
    columns = archive_events.c
    with read_only(engine) as connection:
        newest: datetime | None = connection.execute(
            select(func.max(columns.occurred_at)).where(columns.room_id == room_id)
        ).scalar_one_or_none()
    return newest


def _in_span(room_id: str, start: datetime, end: datetime, types: Sequence[str]) -> ColumnElement[bool]:
    columns = archive_events.c
    return and_(
        columns.room_id == room_id,
        columns.occurred_at >= start,
        columns.occurred_at < end,
        columns.event_type.in_(types),
    )


def count_events(engine: Engine, room_id: str, start: datetime, end: datetime, types: Sequence[str]) -> int:
    with read_only(engine) as connection:
        found = connection.execute(
            select(func.count()).select_from(archive_events).where(_in_span(room_id, start, end, types))
        ).scalar_one()
    return int(found)


def events_before(
    engine: Engine, room_id: str, start: datetime, end: datetime, types: Sequence[str], event_id: str
) -> int | None:
    """How many of the span's events come before ``event_id``, or None when it is not in the span."""
    columns = archive_events.c
    with read_only(engine) as connection:
        hit = connection.execute(
            select(columns.occurred_at, columns.seq).where(
                columns.event_id == event_id, _in_span(room_id, start, end, types)
            )
        ).first()
        if hit is None:
            return None
        earlier = or_(
            columns.occurred_at < hit.occurred_at, and_(columns.occurred_at == hit.occurred_at, columns.seq < hit.seq)
        )
        before = connection.execute(
            select(func.count()).select_from(archive_events).where(_in_span(room_id, start, end, types), earlier)
        ).scalar_one()
    return int(before)


def neighbour_activity(
    engine: Engine, room_id: str, start: datetime, end: datetime
) -> tuple[datetime | None, datetime | None]:
    """The room's nearest event before the span and the nearest after it, when each happened."""
    columns = archive_events.c
    with read_only(engine) as connection:
        before: datetime | None = connection.execute(
            select(func.max(columns.occurred_at)).where(columns.room_id == room_id, columns.occurred_at < start)
        ).scalar_one_or_none()
        after: datetime | None = connection.execute(
            select(func.min(columns.occurred_at)).where(columns.room_id == room_id, columns.occurred_at >= end)
        ).scalar_one_or_none()
    return before, after


def events(
    engine: Engine, room_id: str, start: datetime, end: datetime, types: Sequence[str], offset: int, limit: int
) -> list[RoomEvent]:
    """The span's events in time order, ``limit`` of them after the first ``offset``."""
    columns = archive_events.c
    with read_only(engine) as connection:
        rows = connection.execute(
            select(columns.event_id, columns.event_type, columns.occurred_at, columns.actor_id, columns.payload)
            .where(_in_span(room_id, start, end, types))
            .order_by(columns.occurred_at, columns.seq)
            .offset(offset)
            .limit(limit)
        ).all()
    return [RoomEvent(row.event_id, row.event_type, row.occurred_at, row.actor_id, row.payload) for row in rows]


def events_until(
    engine: Engine, room_id: str, start: datetime, last: datetime, types: Sequence[str], limit: int
) -> list[RoomEvent]:
    """The room's events of ``types`` from ``start`` to ``last`` (both included), in time order,
    the first ``limit`` of them."""
    columns = archive_events.c
    with read_only(engine) as connection:
        rows = connection.execute(
            select(columns.event_id, columns.event_type, columns.occurred_at, columns.actor_id, columns.payload)
            .where(
                columns.room_id == room_id,
                columns.event_type.in_(types),
                columns.occurred_at >= start,
                columns.occurred_at <= last,
            )
            .order_by(columns.occurred_at, columns.seq)
            .limit(limit)
        ).all()
    return [RoomEvent(row.event_id, row.event_type, row.occurred_at, row.actor_id, row.payload) for row in rows]


def deleted_texts(engine: Engine, message_ids: Sequence[str]) -> dict[str, str]:
    """The text the archive kept for each deleted message (what a deletion removed from view)."""
    wanted = sorted({message_id for message_id in message_ids if message_id})
    if not wanted:
        return {}
    with read_only(engine) as connection:
        rows = connection.execute(
            select(archive_messages.c.message_id, archive_messages.c.text).where(
                archive_messages.c.message_id.in_(wanted)
            )
        ).all()
    return {row.message_id: row.text for row in rows if row.text is not None}
