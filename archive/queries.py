"""Reading the archive of record for the API: messages with their versions, conversation
context, who read a message, rooms (and their names, to offer), and who was in a room at a given
instant."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, func, or_, select

from archive.schema import (
    archive_dispositions,
    archive_events,
    archive_files,
    archive_memberships,
    archive_message_versions,
    archive_messages,
    archive_reads,
    archive_rooms,
)
from ingest.db import read_only


def message(engine: Engine, message_id: str) -> dict[str, Any] | None:
    """The message as archived now, with every version in time order, or None."""
    with engine.connect() as connection:
        row = connection.execute(select(archive_messages).where(archive_messages.c.message_id == message_id)).first()
        if row is None:
            return None
        versions = connection.execute(
            select(
                archive_message_versions.c.kind,
                archive_message_versions.c.text,
                archive_message_versions.c.actor_id,
                archive_message_versions.c.occurred_at,
                archive_message_versions.c.event_id,
            )
            .where(archive_message_versions.c.message_id == message_id)
            .order_by(archive_message_versions.c.occurred_at)
        ).all()
    return dict(row._mapping) | {"history": [dict(v._mapping) for v in versions]}


def context(engine: Engine, message_id: str, around: int) -> list[dict[str, Any]] | None:
    """``around`` messages before and after ``message_id`` in the same room, in time order."""
    found = message(engine, message_id)
    if found is None or found["posted_at"] is None:
        return None
    room, at = found["room_id"], found["posted_at"]
    columns = (
        archive_messages.c.message_id,
        archive_messages.c.actor_id,
        archive_messages.c.post_event_id,
        archive_messages.c.posted_at,
        archive_messages.c.text,
        archive_messages.c.deleted,
        archive_messages.c.versions,
    )
    same_room = archive_messages.c.room_id == room
    key = (archive_messages.c.posted_at, archive_messages.c.message_id)
    earlier = or_(key[0] < at, and_(key[0] == at, key[1] < message_id))
    later = or_(key[0] > at, and_(key[0] == at, key[1] > message_id))
    with engine.connect() as connection:
        before = connection.execute(
            select(*columns).where(same_room, earlier).order_by(key[0].desc(), key[1].desc()).limit(around)
        ).all()
        after = connection.execute(select(*columns).where(same_room, later).order_by(*key).limit(around)).all()
        hit = connection.execute(select(*columns).where(archive_messages.c.message_id == message_id)).one()
    rows = [*reversed(before), hit, *after]
    return [dict(r._mapping) | {"is_hit": r.message_id == message_id} for r in rows]


def readers(engine: Engine, message_id: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(archive_reads.c.actor_id, archive_reads.c.read_at)
            .where(archive_reads.c.message_id == message_id)
            .order_by(archive_reads.c.read_at)
        ).all()
    return [dict(r._mapping) for r in rows]


def rooms(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        counts: dict[str, int] = {
            room: count
            for room, count in connection.execute(
                select(archive_messages.c.room_id, func.count()).group_by(archive_messages.c.room_id)
            )
        }
        files: dict[str, int] = {
            room: count
            for room, count in connection.execute(
                select(archive_files.c.room_id, func.count()).group_by(archive_files.c.room_id)
            )
        }
        rows = connection.execute(select(archive_rooms).order_by(archive_rooms.c.room_id)).all()
    return [dict(r._mapping) | {"messages": counts.get(r.room_id, 0), "files": files.get(r.room_id, 0)} for r in rows]


def room_names(engine: Engine, *, limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` rooms by id: (id, name), the name empty when the room has none."""
    query = select(archive_rooms.c.room_id, archive_rooms.c.name).order_by(archive_rooms.c.room_id).limit(limit)
    with engine.connect() as connection:
        return [(row.room_id, row.name or "") for row in connection.execute(query)]


def members_at(engine: Engine, room_id: str, instant: datetime) -> list[str]:
    """Who was in ``room_id`` at ``instant``: an interval open then (unknown joins count as
    'since before the archive began')."""
    interval = archive_memberships.c
    with read_only(engine) as connection:
        rows = connection.execute(
            select(interval.actor_id)
            .where(
                interval.room_id == room_id,
                or_(interval.joined_at.is_(None), interval.joined_at <= instant),
                or_(interval.left_at.is_(None), interval.left_at > instant),
            )
            .distinct()
            .order_by(interval.actor_id)
        ).all()
    return [r.actor_id for r in rows]


def changes(engine: Engine, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """For each of ``message_ids`` that was edited or deleted: every version (the post and each
    edit, in time order) and who deleted it when (None when it was not)."""
    wanted = sorted(set(message_ids))
    if not wanted:
        return {}
    kept = archive_messages.c
    version = archive_message_versions.c
    with read_only(engine) as connection:
        rows = connection.execute(
            select(kept.message_id, kept.deleted_at, kept.deleted_by).where(
                kept.message_id.in_(wanted), or_(kept.versions > 1, kept.deleted)
            )
        ).all()
        found = {r.message_id: {"versions": [], "deleted_at": r.deleted_at, "deleted_by": r.deleted_by} for r in rows}
        versions = connection.execute(
            select(version.message_id, version.kind, version.text, version.actor_id, version.occurred_at)
            .where(version.message_id.in_(sorted(found)))
            .order_by(version.occurred_at, version.event_id)
        ).all()
    for v in versions:
        found[v.message_id]["versions"].append(dict(v._mapping))
    return found


def message_texts(connection: Connection, message_ids: Sequence[str]) -> dict[str, str]:
    """The text of each of ``message_ids`` as archived now (after its edits), by message id; a
    message with no text (a deletion before its post arrived) is left out. Read in chunks of 1,000."""
    wanted = sorted(set(message_ids))
    kept = archive_messages.c
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 1000):
        rows = connection.execute(
            select(kept.message_id, kept.text).where(kept.message_id.in_(wanted[start : start + 1000]))
        )
        found.update((message_id, text) for message_id, text in rows if text is not None)
    return found


LAST_BATCH_LOOK_BACK = 10_000


def last_batch(engine: Engine) -> dict[str, Any] | None:
    """When the newest batch reached the archive and how many events it held (every event of
    a batch shares its ``archived_at``; counted among the newest ``LAST_BATCH_LOOK_BACK`` rows),
    or None for an empty archive."""
    newest_first = archive_events.c.seq.desc()
    recent = select(archive_events.c.archived_at).order_by(newest_first).limit(LAST_BATCH_LOOK_BACK).subquery()
    with read_only(engine) as connection:
        at: datetime | None = connection.execute(
            select(archive_events.c.archived_at).order_by(newest_first).limit(1)
        ).scalar_one_or_none()
        if at is None:
            return None
        events = connection.execute(
            select(func.count()).select_from(recent).where(recent.c.archived_at == at)
        ).scalar_one()
    return {"archived_at": at, "events": int(events), "at_least": int(events) >= LAST_BATCH_LOOK_BACK}


def policy_decisions(engine: Engine, limit: int) -> list[dict[str, Any]]:
    """The latest archived ``policy_decision`` events, newest first: when, by whom, in which
    room, and the decision as recorded (ones still in staging are not here yet)."""
    columns = archive_events.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(columns.occurred_at, columns.actor_id, columns.room_id, columns.payload)
            .where(columns.event_type == "policy_decision")
            .order_by(columns.occurred_at.desc(), columns.seq.desc())
            .limit(limit)
        ).all()
    return [
        {
            "at": row.occurred_at,
            "actor": row.actor_id,
            "room": row.room_id,
            "decision": json.loads(row.payload).get("decision", {}),
        }
        for row in rows
    ]


def last_disposition_seq(connection: Connection) -> int:
    """The newest disposition's sequence number (0 before any): an export compares it before and
    after it reads, since a disposition turns an archived payload into a tombstone."""
    return int(connection.execute(select(func.max(archive_dispositions.c.seq))).scalar_one_or_none() or 0)


def room_payloads_since(
    connection: Connection,
    room_id: str,
    start: datetime,
    event_types: Sequence[str],
    chunk: int,
    up_to_seq: int | None = None,
) -> Iterator[str]:
    """The stored JSON of one room's events of ``event_types`` from ``start`` on, in time order
    (event id breaking ties), streamed ``chunk`` rows at a time; disposed events (tombstones
    now) are left out. ``up_to_seq``: only events archived at or before that chain link (the
    archive as it was then, however many events arrived since)."""
    columns = archive_events.c
    conditions = [
        archive_dispositions.c.seq.is_(None),
        columns.room_id == room_id,
        columns.occurred_at >= start,
        columns.event_type.in_(event_types),
    ]
    if up_to_seq is not None:
        conditions.append(columns.seq <= up_to_seq)
    result = connection.execution_options(yield_per=chunk).execute(
        select(columns.payload)
        .outerjoin(archive_dispositions, archive_dispositions.c.event_id == columns.event_id)
        .where(*conditions)
        .order_by(columns.occurred_at, columns.event_id)
    )
    for (payload,) in result:
        yield payload


def intervals_of_actors(connection: Connection, actor_ids: Sequence[str]) -> Iterator[Row[Any, Any, Any, Any]]:
    """Every membership interval of ``actor_ids`` (exact ids): ``room_id``, ``actor_id``,
    ``joined_at``, ``left_at``."""
    interval = archive_memberships.c
    yield from connection.execute(
        select(interval.room_id, interval.actor_id, interval.joined_at, interval.left_at).where(
            interval.actor_id.in_(actor_ids)
        )
    )


def sent_offsets(engine: Engine, message_ids: Sequence[str]) -> dict[str, str]:
    """message id -> the UTC offset its post was sent with, for the posts not sent in UTC (read
    from the archived payload, where ``occurred_offset`` keeps it beside the UTC time)."""
    wanted = sorted(set(message_ids))
    if not wanted:
        return {}
    found: dict[str, str] = {}
    with read_only(engine) as connection:
        rows = connection.execute(
            select(archive_messages.c.message_id, archive_events.c.payload)
            .join(archive_events, archive_events.c.event_id == archive_messages.c.post_event_id)
            .where(archive_messages.c.message_id.in_(wanted))
        )
        for message_id, payload in rows:
            if '"occurred_offset"' not in payload:  # most posts were sent in UTC: no parse
                continue
            offset = json.loads(payload).get("occurred_offset")
            if isinstance(offset, str):
                found[message_id] = offset
    return found


def room_membership_intervals(
    connection: Connection, room_ids: Iterable[str], start: datetime | None = None, end: datetime | None = None
) -> dict[str, list[tuple[str, datetime | None, datetime | None]]]:
    """The membership intervals (actor id, joined, left; None: unknown join, still in) of each of
    ``room_ids`` that overlap ``[start, end]`` (all of them when a bound is None), in one query
    per 500 rooms: what supervision reads to know who took part in a conversation."""
    interval = archive_memberships.c
    found: dict[str, list[tuple[str, datetime | None, datetime | None]]] = {}
    wanted = sorted(set(room_ids))
    for at in range(0, len(wanted), 500):
        query = select(interval.room_id, interval.actor_id, interval.joined_at, interval.left_at).where(
            interval.room_id.in_(wanted[at : at + 500])
        )
        if end is not None:
            query = query.where(or_(interval.joined_at.is_(None), interval.joined_at <= end))
        if start is not None:
            query = query.where(or_(interval.left_at.is_(None), interval.left_at > start))
        for row in connection.execute(query):
            found.setdefault(row.room_id, []).append((row.actor_id, row.joined_at, row.left_at))
    return found


@dataclass(frozen=True, slots=True)
class ArchivedVersion:
    """One version of a message as archived (its post or an edit), with its room."""

    event_id: str
    kind: str
    message_id: str
    text: str
    actor_id: str
    occurred_at: datetime
    room_id: str
    room_name: str | None
    room_kind: str


def message_versions_between(
    connection: Connection, start: datetime, end: datetime, chunk: int = 5_000
) -> Iterator[list[ArchivedVersion]]:
    """Every post and edit archived with a time in ``[start, end)``, in chunks of ``chunk``,
    streamed (one query, read as it goes: no query per row), in no particular order."""
    versions, messages, rooms = archive_message_versions.c, archive_messages.c, archive_rooms.c
    query = (
        select(
            versions.event_id,
            versions.kind,
            versions.message_id,
            versions.text,
            versions.actor_id,
            versions.occurred_at,
            messages.room_id,
            rooms.name,
            rooms.kind.label("room_kind"),
        )
        .select_from(
            archive_message_versions.join(archive_messages, messages.message_id == versions.message_id).outerjoin(
                archive_rooms, rooms.room_id == messages.room_id
            )
        )
        .where(versions.occurred_at >= start, versions.occurred_at < end, versions.kind.in_(("post", "edit")))
    )
    result = connection.execution_options(stream_results=True, yield_per=chunk).execute(query)
    for part in result.partitions(chunk):
        yield [
            ArchivedVersion(
                row.event_id,
                row.kind,
                row.message_id,
                row.text,
                row.actor_id,
                row.occurred_at,
                row.room_id,
                row.name,
                row.room_kind or "room",
            )
            for row in part
        ]


def all_room_ids(connection: Connection) -> list[str]:
    """Every room the archive knows."""
    return list(connection.execute(select(archive_rooms.c.room_id)).scalars())
