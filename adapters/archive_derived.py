"""Derived archive tables, updated from newly archived events in the append transaction.

Everything here can be rebuilt by replaying ``archive_events`` in order; the archive never
overwrites a message's text without keeping the earlier version, and never forgets a deletion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from adapters.archive_schema import (
    archive_files,
    archive_memberships,
    archive_message_versions,
    archive_messages,
    archive_reads,
    archive_rooms,
)
from ingest.db import insert_ignoring_conflicts
from ingest.events import (
    DeleteEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    JoinEvent,
    LeaveEvent,
    PostEvent,
    ReadEvent,
    RoomUpdateEvent,
)

_messages = archive_messages.c
_intervals = archive_memberships.c
# Built once with bound parameters: building a statement per event cost more than running it.
_MESSAGE_EXISTS = select(_messages.message_id).where(_messages.message_id == bindparam("mid"))
_ONE_MORE_VERSION = (
    update(archive_messages).where(_messages.message_id == bindparam("mid")).values(versions=_messages.versions + 1)
)
_NEWER_TEXT = (
    update(archive_messages)
    .where(
        _messages.message_id == bindparam("mid"),
        or_(_messages.edited_at.is_(None), _messages.edited_at <= bindparam("at")),
    )
    .values(text=bindparam("new_text"), edited_at=bindparam("at"))
)
_MARK_DELETED = (
    update(archive_messages)
    .where(_messages.message_id == bindparam("mid"))
    .values(deleted=True, deleted_at=bindparam("at"), deleted_by=bindparam("by"))
)
_OPEN_INTERVAL = (
    select(_intervals.id)
    .where(
        _intervals.room_id == bindparam("room"),
        _intervals.actor_id == bindparam("actor"),
        _intervals.left_at.is_(None),
        or_(_intervals.joined_at.is_(None), _intervals.joined_at <= bindparam("before")),
    )
    .order_by(_intervals.joined_at.desc().nulls_last())
    .limit(1)
)
_CLOSE_INTERVAL = (
    update(archive_memberships)
    .where(_intervals.id == bindparam("interval"))
    .values(left_at=bindparam("at"), leave_event_id=bindparam("event"))
)


def apply_derived(connection: Connection, events: Sequence[Event]) -> None:
    """Update rooms, messages, versions, memberships, reads and files for ``events`` (in order)."""
    _record_rooms(connection, events)
    inserted_posts = _insert_new_posts(connection, [e for e in events if isinstance(e, PostEvent)])
    versions: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    for event in events:
        match event:
            case PostEvent():
                if event.event_id not in inserted_posts:
                    _record_post(connection, event)
                versions.append(_version(event, "post", event.message.id, event.message.text))
            case EditEvent():
                _record_edit(connection, event)
                versions.append(_version(event, "edit", event.message.id, event.message.text))
            case DeleteEvent():
                _record_delete(connection, event)
            case JoinEvent():
                _record_join(connection, event)
            case LeaveEvent():
                _record_leave(connection, event)
            case ReadEvent():
                reads.append(_read(event))
            case FileUploadEvent() | FileDownloadEvent():
                files.append(_file(event))
            case RoomUpdateEvent():
                _record_room_update(connection, event)
            case _:
                pass  # disclaimers and policy decisions live in archive_events only
    for table, rows in ((archive_message_versions, versions), (archive_reads, reads), (archive_files, files)):
        if rows:
            connection.execute(insert_ignoring_conflicts(connection.dialect.name, table), rows)


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


def _message_exists(connection: Connection, message_id: str) -> bool:
    return connection.execute(_MESSAGE_EXISTS, {"mid": message_id}).first() is not None


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
    } | values


def _insert_new_posts(connection: Connection, posts: Sequence[PostEvent]) -> set[UUID]:
    """Insert, in one statement, the first post of each message not archived yet (the usual case).

    Returns the event ids inserted; any other post goes through :func:`_record_post`.
    """
    if not posts:
        return set()
    ids = list({p.message.id for p in posts})
    existing = set(
        connection.execute(
            select(archive_messages.c.message_id).where(archive_messages.c.message_id.in_(ids))
        ).scalars()
    )
    first_posts: dict[str, PostEvent] = {}
    for post in posts:
        if post.message.id not in existing:
            first_posts.setdefault(post.message.id, post)
    if first_posts:
        connection.execute(insert(archive_messages), [post_row(p) for p in first_posts.values()])
    return {p.event_id for p in first_posts.values()}


def post_row(event: PostEvent) -> dict[str, Any]:
    return _new_message(
        event,
        event.message.id,
        text=event.message.text,
        versions=1,
        posted_at=event.occurred_at,
        post_event_id=str(event.event_id),
        format=event.message.format,
    )


def _record_post(connection: Connection, event: PostEvent) -> None:
    message = event.message
    post = {
        "posted_at": event.occurred_at,
        "post_event_id": str(event.event_id),
        "format": message.format,
        "actor_id": event.actor.id,
    }
    if not _message_exists(connection, message.id):
        connection.execute(insert(archive_messages), post_row(event))
        return
    # An edit or deletion arrived before its post: keep their text, fill in the post's facts.
    connection.execute(
        update(archive_messages)
        .where(archive_messages.c.message_id == message.id)
        .values(versions=archive_messages.c.versions + 1, **post)
    )
    connection.execute(
        update(archive_messages)
        .where(and_(archive_messages.c.message_id == message.id, archive_messages.c.text.is_(None)))
        .values(text=message.text)
    )


def _record_edit(connection: Connection, event: EditEvent) -> None:
    message_id = event.message.id
    if not _message_exists(connection, message_id):
        row = _new_message(event, message_id, text=event.message.text, versions=1, edited_at=event.occurred_at)
        connection.execute(insert(archive_messages), row)
        return
    connection.execute(_ONE_MORE_VERSION, {"mid": message_id})
    # The current text is the newest version; an edit delivered late never replaces a newer one.
    connection.execute(_NEWER_TEXT, {"mid": message_id, "at": event.occurred_at, "new_text": event.message.text})


def _record_delete(connection: Connection, event: DeleteEvent) -> None:
    message_id = event.message.id
    if not _message_exists(connection, message_id):
        marks = {"deleted": True, "deleted_at": event.occurred_at, "deleted_by": event.actor.id}
        connection.execute(insert(archive_messages), _new_message(event, message_id, **marks))
        return
    connection.execute(_MARK_DELETED, {"mid": message_id, "at": event.occurred_at, "by": event.actor.id})


def _open_interval(connection: Connection, room_id: str, actor_id: str, before: datetime) -> int | None:
    found = connection.execute(_OPEN_INTERVAL, {"room": room_id, "actor": actor_id, "before": before}).scalar()
    return None if found is None else int(found)


def _record_join(connection: Connection, event: JoinEvent) -> None:
    if _open_interval(connection, event.room.id, event.actor.id, event.occurred_at) is not None:
        return  # already in the room: a repeated join does not open a second interval
    connection.execute(
        insert(archive_memberships),
        {
            "room_id": event.room.id,
            "actor_id": event.actor.id,
            "actor_name": event.actor.name,
            "joined_at": event.occurred_at,
            "join_event_id": str(event.event_id),
        },
    )


def _record_leave(connection: Connection, event: LeaveEvent) -> None:
    interval = _open_interval(connection, event.room.id, event.actor.id, event.occurred_at)
    if interval is not None:
        connection.execute(
            _CLOSE_INTERVAL, {"interval": interval, "at": event.occurred_at, "event": str(event.event_id)}
        )
        return
    # Left without a recorded join: present since before the archive began (joined_at unknown).
    connection.execute(
        insert(archive_memberships),
        {
            "room_id": event.room.id,
            "actor_id": event.actor.id,
            "actor_name": event.actor.name,
            "joined_at": None,
            "left_at": event.occurred_at,
            "leave_event_id": str(event.event_id),
        },
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
