"""Derived archive tables, updated from newly archived events in the append transaction.

Everything here can be rebuilt by replaying ``archive_events`` in order; the archive never
overwrites a message's text without keeping the earlier version, and never forgets a deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update

from archive.attachments import keep_natives, record_file_texts
from archive.people import record_people
from archive.schema import (
    archive_dispositions,
    archive_events,
    archive_extraction_jobs,
    archive_file_texts,
    archive_files,
    archive_memberships,
    archive_message_versions,
    archive_messages,
    archive_natives,
    archive_people,
    archive_reads,
    archive_rooms,
    archive_thread_links,
)
from archive.threads import forget_messages
from ingest.db import among, insert_ignoring_conflicts
from ingest.events import (
    Actor,
    DeleteEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileTextEvent,
    FileUploadEvent,
    JoinEvent,
    LeaveEvent,
    PostEvent,
    ReadEvent,
    Room,
    RoomUpdateEvent,
    present_by,
)

# One place declares what hangs off an archived event, so disposal cannot miss a table added
# later (tests/archive/test_event_tables.py holds every table of the schema against this list).
EVENT_ROWS: tuple[Table, ...] = (archive_message_versions, archive_reads, archive_files, archive_file_texts)
"""Derived tables whose rows each belong to one event (their ``event_id``): disposing of the
event deletes them (:func:`forget_disposed`)."""
REBUILT_ON_DISPOSAL: tuple[Table, ...] = (archive_messages, archive_thread_links)
"""Derived tables folded from several events: disposal deletes a row whose every version is
gone and otherwise rewrites it from what is left (a message's thread link goes with its row)."""
KEPT_ON_DISPOSAL: tuple[Table, ...] = (archive_memberships, archive_rooms, archive_people)
"""Kept when events are disposed of: membership intervals and the names people were seen with
carry no content, and custodian holds and searches on later events depend on them; a room is
not one event's."""
NATIVE_TABLES: tuple[Table, ...] = (archive_natives, archive_extraction_jobs)
"""The bytes of uploaded files and their extraction's progress, by content: disposal deletes a
native (and its bytes from the file store) only when no remaining event refers to it
(:func:`archive.attachments.references`), since the same bytes may belong to many uploads."""
RECORD_TABLES: tuple[Table, ...] = (archive_events, archive_dispositions)
"""The chained record itself: tombstoned and logged by :func:`archive.record.dispose_events`."""

_messages = archive_messages.c
_intervals = archive_memberships.c
# Built once with bound parameters, run once per batch with every row (executemany).
_UPDATE_MESSAGE = (
    update(archive_messages)
    .where(_messages.message_id == bindparam("mid"))
    .values(
        actor_id=bindparam("u_actor_id"),
        posted_at=bindparam("u_posted_at"),
        post_event_id=bindparam("u_post_event_id"),
        text=bindparam("u_text"),
        format=bindparam("u_format"),
        versions=bindparam("u_versions"),
        edited_at=bindparam("u_edited_at"),
        deleted=bindparam("u_deleted"),
        deleted_at=bindparam("u_deleted_at"),
        deleted_by=bindparam("u_deleted_by"),
        reply_to=bindparam("u_reply_to"),
    )
)
_MUTABLE = ("actor_id", "posted_at", "post_event_id", "text", "format", "versions", "edited_at", "deleted")
_MUTABLE_ALL = (*_MUTABLE, "deleted_at", "deleted_by", "reply_to")
_CLOSE_INTERVAL = (
    update(archive_memberships)
    .where(_intervals.id == bindparam("interval"))
    .values(left_at=bindparam("at"), leave_event_id=bindparam("event"))
)
_MOVE_START = (
    update(archive_memberships)
    .where(_intervals.id == bindparam("interval"))
    .values(joined_at=bindparam("at"), join_event_id=bindparam("event"))
)


_MEMBERSHIP_EVIDENCE = (JoinEvent, LeaveEvent, PostEvent, FileUploadEvent)


def apply_derived(connection: Connection, events: Sequence[Event]) -> None:
    """Update rooms, messages, versions, memberships, reads, files and extracted texts for
    ``events`` (in order).

    The rows a batch touches are read once, changed in memory event by event exactly as a
    batch of one event would change them, and written back with one statement per table
    (the caller holds the chain lock, so nobody else writes these tables meanwhile).
    """
    _record_rooms(connection, events)
    record_people(connection, events)
    messages = _Messages.load(connection, events)
    memberships = _Memberships.load(connection, events)
    versions: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    texts: list[FileTextEvent] = []
    for event in events:
        match event:
            case PostEvent():
                messages.post(event)
                memberships.seen_all(event)
                versions.append(_version(event, "post", event.message.id, event.message.text))
            case EditEvent():
                messages.edit(event)
                versions.append(_version(event, "edit", event.message.id, event.message.text))
            case DeleteEvent():
                messages.delete(event)
            case JoinEvent():
                memberships.join(event)
            case LeaveEvent():
                memberships.leave(event)
            case ReadEvent():
                reads.append(_read(event))
            case FileUploadEvent():
                memberships.seen_all(event)
                files.append(_file(event))
            case FileDownloadEvent():
                files.append(_file(event))
            case FileTextEvent():
                texts.append(event)
            case RoomUpdateEvent():
                _record_room_update(connection, event)
            case _:
                pass  # disclaimers and policy decisions live in archive_events only
    messages.flush(connection)
    memberships.flush(connection)
    for table, rows in ((archive_message_versions, versions), (archive_reads, reads), (archive_files, files)):
        if rows:
            connection.execute(insert_ignoring_conflicts(connection.dialect.name, table), rows)
    # An upload refers to its bytes again: call off a deletion retention marked. Updating the
    # row also locks it until this transaction commits, so a retention run deleting those bytes
    # either finishes first (the upload is then pending) or waits and sees this reference.
    keep_natives(connection, [row["sha256"] for row in files if row["direction"] == "upload"])
    record_file_texts(connection, texts)


class _Messages:
    """The ``archive_messages`` rows a batch touches, changed in memory, written back once."""

    def __init__(self, rows: dict[str, dict[str, Any]], first_posts: set[UUID]) -> None:
        self.rows = rows
        self.stored = {message_id: dict(row) for message_id, row in rows.items()}
        """The rows as the database holds them (to update only what changed)."""
        self.first_posts = first_posts

    @classmethod
    def load(cls, connection: Connection, events: Sequence[Event]) -> _Messages:
        touched = [e for e in events if isinstance(e, PostEvent | EditEvent | DeleteEvent)]
        rows: dict[str, dict[str, Any]] = {}
        if touched:
            ids = list(dict.fromkeys(e.message.id for e in touched))
            found = connection.execute(
                select(archive_messages).where(among(_messages.message_id, ids, connection.dialect.name))
            )
            rows = {row.message_id: dict(row._mapping) for row in found}
        loaded = cls(rows, set())
        # The first post of each message not archived yet is its row (the usual case); a
        # post before it in the batch is impossible, later edits and deletes build on it.
        for event in touched:
            if isinstance(event, PostEvent) and event.message.id not in rows:
                rows[event.message.id] = post_row(event)
                loaded.first_posts.add(event.event_id)
        return loaded

    def post(self, event: PostEvent) -> None:
        if event.event_id in self.first_posts:
            return
        row = self.rows.get(event.message.id)
        if row is None:
            self.rows[event.message.id] = post_row(event)
            return
        # An edit or deletion arrived before its post: keep their text, fill in the post's facts.
        row.update(
            versions=row["versions"] + 1,
            posted_at=event.occurred_at,
            post_event_id=str(event.event_id),
            format=event.message.format,
            actor_id=event.actor.id,
            reply_to=event.message.reply_to,
        )
        if row["text"] is None:
            row["text"] = event.message.text

    def edit(self, event: EditEvent) -> None:
        row = self.rows.get(event.message.id)
        if row is None:
            self.rows[event.message.id] = _new_message(
                event, event.message.id, text=event.message.text, versions=1, edited_at=event.occurred_at
            )
            return
        row["versions"] += 1
        # The current text is the newest version; an edit delivered late never replaces a newer one.
        if row["edited_at"] is None or row["edited_at"] <= event.occurred_at:
            row.update(text=event.message.text, edited_at=event.occurred_at)

    def delete(self, event: DeleteEvent) -> None:
        marks = {"deleted": True, "deleted_at": event.occurred_at, "deleted_by": event.actor.id}
        row = self.rows.get(event.message.id)
        if row is None:
            self.rows[event.message.id] = _new_message(event, event.message.id, **marks)
            return
        row.update(marks)

    def flush(self, connection: Connection) -> None:
        fresh = [row for message_id, row in self.rows.items() if message_id not in self.stored]
        changed = [
            {"mid": message_id, **{f"u_{name}": row[name] for name in _MUTABLE_ALL}}
            for message_id, row in self.rows.items()
            if message_id in self.stored and row != self.stored[message_id]
        ]
        if fresh:
            connection.execute(insert(archive_messages), fresh)
        if changed:
            connection.execute(_UPDATE_MESSAGE, changed)


@dataclass(frozen=True)
class Sighted:
    """One party an event shows present (:func:`ingest.events.present_by`), read by the interval
    bookkeeping as if it were that party's own event."""

    event_id: UUID | str
    occurred_at: datetime
    room: Room | Any
    actor: Actor | Any


@dataclass
class _Interval:
    joined_at: datetime | None
    stored_id: int | None = None
    """The row's id when it is in the database already, None for one opened in this batch."""
    fresh: dict[str, Any] | None = None
    """The row to insert, for an interval opened in this batch."""
    inferred: bool = False
    """Opened by someone speaking in the room with no recorded join: its start is the earliest
    activity seen, and moves earlier when an earlier activity or the join itself arrives."""


class _Memberships:
    """Open membership intervals of the people a batch touches, changed in memory, written once."""

    def __init__(self, open_intervals: dict[tuple[str, str], list[_Interval]]) -> None:
        self.open = open_intervals
        self.fresh: list[dict[str, Any]] = []
        self.closed: list[dict[str, Any]] = []
        self.moved: list[dict[str, Any]] = []

    @classmethod
    def load(cls, connection: Connection, events: Sequence[Event]) -> _Memberships:
        pairs = {(e.room.id, e.actor.id) for e in events if isinstance(e, _MEMBERSHIP_EVIDENCE)}
        pairs |= {(e.room.id, party.id) for e in events for party in present_by(e)}
        open_intervals: dict[tuple[str, str], list[_Interval]] = {}
        if pairs:
            rooms = sorted({room for room, _actor in pairs})
            actors = sorted({actor for _room, actor in pairs})
            dialect = connection.dialect.name
            found = connection.execute(
                select(
                    _intervals.id,
                    _intervals.room_id,
                    _intervals.actor_id,
                    _intervals.joined_at,
                    _intervals.join_event_id,
                )
                .where(
                    among(_intervals.room_id, rooms, dialect),  # (room_id, actor_id) lead an index
                    among(_intervals.actor_id, actors, dialect),
                    _intervals.left_at.is_(None),
                )
                .order_by(_intervals.id)
            )
            for row in found:
                if (row.room_id, row.actor_id) in pairs:
                    inferred = row.join_event_id is None and row.joined_at is not None
                    interval = _Interval(row.joined_at, stored_id=row.id, inferred=inferred)
                    open_intervals.setdefault((row.room_id, row.actor_id), []).append(interval)
        return cls(open_intervals)

    def _open_interval(self, event: Event) -> _Interval | None:
        """The latest interval still open when ``event`` happened (one joined before it, or
        one whose join is unknown), as a single-event batch would find it."""
        candidates = [
            i
            for i in self.open.get((event.room.id, event.actor.id), [])
            if i.joined_at is None or i.joined_at <= event.occurred_at
        ]
        if not candidates:
            return None
        known = [i for i in candidates if i.joined_at is not None]
        if not known:
            return candidates[0]
        return max(known, key=lambda i: i.joined_at or event.occurred_at)

    def join(self, event: JoinEvent) -> None:
        if self._open_interval(event) is not None:
            return  # already in the room: a repeated join does not open a second interval
        later = self._inferred_after(event)
        if later is not None:  # the join of someone already seen speaking arrived late
            self._move_start(later, event, str(event.event_id))
            return
        row = self._row(event, joined_at=event.occurred_at, join_event_id=str(event.event_id))
        self.open.setdefault((event.room.id, event.actor.id), []).append(_Interval(event.occurred_at, fresh=row))

    def seen_all(self, event: PostEvent | FileUploadEvent) -> None:
        """Everyone ``event`` shows present: its actor, and in a direct conversation its recipients."""
        self.seen(event)
        for party in present_by(event)[1:]:
            self.seen(cast(PostEvent, Sighted(event.event_id, event.occurred_at, event.room, party)))

    def seen(self, event: PostEvent | FileUploadEvent) -> None:
        """Someone who speaks in a room is in it, whether or not their join was recorded (IRC
        logs begin with people already present; a chat server may miss a join)."""
        if self._open_interval(event) is not None:
            return
        later = self._inferred_after(event)
        if later is not None:
            self._move_start(later, event, None)
            return
        row = self._row(event, joined_at=event.occurred_at)
        interval = _Interval(event.occurred_at, fresh=row, inferred=True)
        self.open.setdefault((event.room.id, event.actor.id), []).append(interval)

    def _inferred_after(self, event: Event) -> _Interval | None:
        """The open interval inferred from activity that starts after ``event``, if any."""
        later = [
            i
            for i in self.open.get((event.room.id, event.actor.id), [])
            if i.inferred and i.joined_at is not None and i.joined_at > event.occurred_at
        ]
        return min(later, key=lambda i: i.joined_at or event.occurred_at) if later else None

    def _move_start(self, interval: _Interval, event: Event, join_event_id: str | None) -> None:
        interval.joined_at = event.occurred_at
        interval.inferred = join_event_id is None
        if interval.fresh is not None:
            interval.fresh.update(joined_at=event.occurred_at, join_event_id=join_event_id)
        else:
            self.moved.append({"interval": interval.stored_id, "at": event.occurred_at, "event": join_event_id})

    def leave(self, event: LeaveEvent) -> None:
        interval = self._open_interval(event)
        if interval is None:
            # Left without a recorded join: present since before the archive began (joined_at unknown).
            self._row(event, left_at=event.occurred_at, leave_event_id=str(event.event_id))
            return
        self.open[(event.room.id, event.actor.id)].remove(interval)
        if interval.fresh is not None:
            interval.fresh.update(left_at=event.occurred_at, leave_event_id=str(event.event_id))
        else:
            self.closed.append({"interval": interval.stored_id, "at": event.occurred_at, "event": str(event.event_id)})

    def _row(self, event: Event, **values: Any) -> dict[str, Any]:
        row = {
            "room_id": event.room.id,
            "actor_id": event.actor.id,
            "actor_name": event.actor.name,
            "joined_at": None,
            "left_at": None,
            "join_event_id": None,
            "leave_event_id": None,
        } | values
        self.fresh.append(row)
        return row

    def flush(self, connection: Connection) -> None:
        if self.fresh:
            connection.execute(insert(archive_memberships), self.fresh)
        if self.closed:
            connection.execute(_CLOSE_INTERVAL, self.closed)
        if self.moved:
            connection.execute(_MOVE_START, self.moved)


def _record_rooms(connection: Connection, events: Sequence[Event]) -> None:
    first_seen: dict[str, dict[str, Any]] = {}
    for event in events:
        first_seen.setdefault(
            event.room.id,
            {
                "room_id": event.room.id,
                "name": event.room.name,
                "kind": event.room.kind,
                "first_seen_at": event.occurred_at,
            },
        )
    connection.execute(insert_ignoring_conflicts(connection.dialect.name, archive_rooms), list(first_seen.values()))


def _record_room_update(connection: Connection, event: RoomUpdateEvent) -> None:
    changes: dict[str, Any] = {}
    if event.room_update.name is not None:
        changes["name"] = event.room_update.name
    if event.room_update.description is not None:
        changes["description"] = event.room_update.description
    if changes:
        connection.execute(update(archive_rooms).where(archive_rooms.c.room_id == event.room.id).values(**changes))


def _version(event: Event, kind: str, message_id: str, text: str) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "message_id": message_id,
        "kind": kind,
        "text": text,
        "actor_id": event.actor.id,
        "occurred_at": event.occurred_at,
    }


def _new_message(event: Event, message_id: str, **values: Any) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "room_id": event.room.id,
        "actor_id": event.actor.id,
        "posted_at": None,
        "post_event_id": None,
        "text": None,
        "format": None,
        "versions": 0,
        "edited_at": None,
        "deleted": False,
        "deleted_at": None,
        "deleted_by": None,
        "reply_to": None,
    } | values


def post_row(event: PostEvent) -> dict[str, Any]:
    return _new_message(
        event,
        event.message.id,
        text=event.message.text,
        versions=1,
        posted_at=event.occurred_at,
        post_event_id=str(event.event_id),
        format=event.message.format,
        reply_to=event.message.reply_to,
    )


def _read(event: ReadEvent) -> dict[str, Any]:
    return {
        "event_id": str(event.event_id),
        "message_id": event.read.message_id,
        "room_id": event.room.id,
        "actor_id": event.actor.id,
        "read_at": event.occurred_at,
    }


def _file(event: FileUploadEvent | FileDownloadEvent) -> dict[str, Any]:
    info = event.file
    return {
        "event_id": str(event.event_id),
        "direction": "upload" if event.type == "file_upload" else "download",
        "room_id": event.room.id,
        "actor_id": event.actor.id,
        "name": info.name,
        "size": info.size,
        "sha256": info.sha256,
        "content_type": info.content_type,
        "url": info.url,
        "occurred_at": event.occurred_at,
    }


def forget_disposed(connection: Connection, event_ids: Sequence[str]) -> None:
    """Delete what the derived tables keep of disposed events: message versions, read receipts,
    files; a message with no version left is deleted, one with versions left shows the newest."""
    dialect = connection.dialect.name
    versions = archive_message_versions.c
    touched = sorted(
        set(
            connection.execute(
                select(versions.message_id).where(among(versions.event_id, event_ids, dialect))
            ).scalars()
        )
        | set(
            connection.execute(
                select(archive_messages.c.message_id).where(among(archive_messages.c.post_event_id, event_ids, dialect))
            ).scalars()
        )
    )
    for table in EVENT_ROWS:
        connection.execute(delete(table).where(among(table.c.event_id, event_ids, dialect)))
    gone: list[str] = []
    for message_id in touched:
        remaining = connection.execute(
            select(versions.text, versions.occurred_at, func.count().over().label("n"))
            .where(versions.message_id == message_id)
            .order_by(versions.occurred_at.desc())
            .limit(1)
        ).first()
        if remaining is None:
            connection.execute(delete(archive_messages).where(archive_messages.c.message_id == message_id))
            gone.append(message_id)
        else:
            connection.execute(
                update(archive_messages)
                .where(archive_messages.c.message_id == message_id)
                .values(text=remaining.text, versions=remaining.n)
            )
    forget_messages(connection, gone)
