"""Threads: which message each message answers, and which thread it belongs to.

``archive_thread_links`` holds one row per posted message (docs/threads.md): ``parent_id`` the
message it answers (None: it starts a thread), ``thread_id`` the first message of its thread,
``source`` ``explicit`` (the platform's ``reply_to``) or ``model`` (reconstructed by a
disentangler in a room whose platform gives no replies), with the model's name and score. The
table is derived and rebuildable (the ``threads`` adapter writes it, ``archivist threads
rebuild`` rewrites it from the archive); this module is the one place that reads or writes it.

A link is kept when the message it names as parent is disposed of: an id is not content, and the
rest of the thread keeps its shape. The link of a disposed message itself goes with its
message row (:func:`forget_messages`, called by :func:`archive.derived.forget_disposed`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_

from archive.payloads import payload_document
from archive.schema import archive_events, archive_messages, archive_thread_links
from ingest.db import among

EXPLICIT = "explicit"
MODEL = "model"

_links = archive_thread_links.c
_messages = archive_messages.c


@dataclass(frozen=True, slots=True)
class ThreadLink:
    message_id: str
    room_id: str
    posted_at: datetime | None
    parent_id: str | None
    thread_id: str
    source: str
    model: str | None = None
    score: float | None = None

    def row(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "room_id": self.room_id,
            "posted_at": self.posted_at,
            "parent_id": self.parent_id,
            "thread_id": self.thread_id,
            "source": self.source,
            "model": self.model,
            "score": self.score,
        }


@dataclass(frozen=True, slots=True)
class RoomMessage:
    """A posted message as a disentangler needs it: who said what, when, as the room showed it."""

    message_id: str
    room_id: str
    posted_at: datetime
    author: str
    """The display name the person had when posting (an IRC nick), else their actor id."""
    text: str
    """What was posted (the post's own text: an edit later does not change what was answered)."""
    reply_to: str | None


def _link(row: Any) -> ThreadLink:
    return ThreadLink(
        row.message_id, row.room_id, row.posted_at, row.parent_id, row.thread_id, row.source, row.model, row.score
    )


def write_links(connection: Connection, links: Sequence[ThreadLink]) -> None:
    """Store ``links``, replacing any earlier link of the same messages (writing the same links
    again leaves the same rows)."""
    if not links:
        return
    rows = list({link.message_id: link.row() for link in links}.values())
    dialect = connection.dialect.name
    connection.execute(
        delete(archive_thread_links).where(among(_links.message_id, [r["message_id"] for r in rows], dialect))
    )
    connection.execute(archive_thread_links.insert(), rows)


def links_of(connection: Connection, message_ids: Iterable[str]) -> dict[str, ThreadLink]:
    """The links of the messages named (those that have one), by message id."""
    ids = list(dict.fromkeys(message_ids))
    if not ids:
        return {}
    found = connection.execute(
        select(archive_thread_links).where(among(_links.message_id, ids, connection.dialect.name))
    )
    return {row.message_id: _link(row) for row in found}


def thread_of(connection: Connection, message_id: str) -> list[ThreadLink] | None:
    """Every link of the thread ``message_id`` belongs to, in time order; None when the message
    has no link (not posted, or not linked yet)."""
    own = links_of(connection, [message_id]).get(message_id)
    if own is None:
        return None
    rows = connection.execute(
        select(archive_thread_links)
        .where(_links.thread_id == own.thread_id)
        .order_by(_links.posted_at, _links.message_id)
    )
    return [_link(row) for row in rows]


def thread_messages(connection: Connection, message_id: str) -> list[dict[str, Any]] | None:
    """The messages of ``message_id``'s thread in time order, each its link beside the message's
    sender, current text and deletion (a message disposed of since keeps only its link: its
    text is None); None when the message has no link."""
    thread = thread_of(connection, message_id)
    if thread is None:
        return None
    ids = [link.message_id for link in thread]
    rows = connection.execute(
        select(
            _messages.message_id,
            _messages.actor_id,
            _messages.text,
            _messages.deleted,
            _messages.versions,
            _messages.post_event_id,
        ).where(among(_messages.message_id, ids, connection.dialect.name))
    )
    found = {row.message_id: row for row in rows}
    out: list[dict[str, Any]] = []
    for link in thread:
        row = found.get(link.message_id)
        out.append(
            link.row()
            | {
                "actor_id": row.actor_id if row is not None else None,
                "text": row.text if row is not None else None,
                "deleted": bool(row.deleted) if row is not None else False,
                "versions": row.versions if row is not None else 0,
                "post_event_id": row.post_event_id if row is not None else None,
            }
        )
    return out


def room_links(connection: Connection, room_id: str, start: datetime, end: datetime) -> list[ThreadLink]:
    """The links of a room's messages posted in ``[start, end)``, in time order (their threads:
    group by ``thread_id``)."""
    rows = connection.execute(
        select(archive_thread_links)
        .where(_links.room_id == room_id, _links.posted_at >= start, _links.posted_at < end)
        .order_by(_links.posted_at, _links.message_id)
    )
    return [_link(row) for row in rows]


def room_has_explicit_links(connection: Connection, room_id: str) -> bool:
    """Whether any message of the room was linked by the platform's ``reply_to``: a room whose
    platform gives replies, where a post without one starts a thread of its own."""
    found = connection.execute(
        select(_links.message_id)
        .where(_links.room_id == room_id, _links.source == EXPLICIT, _links.parent_id.is_not(None))
        .limit(1)
    ).first()
    return found is not None


def room_replies_exist(connection: Connection, room_id: str) -> bool:
    """Whether any archived message of the room carries the platform's ``reply_to`` (what a
    rebuild decides a room by)."""
    found = connection.execute(
        select(_messages.message_id).where(_messages.room_id == room_id, _messages.reply_to.is_not(None)).limit(1)
    ).first()
    return found is not None


def forget_messages(connection: Connection, message_ids: Sequence[str]) -> None:
    """Delete the links of messages that are gone from the archive (disposal)."""
    if message_ids:
        connection.execute(
            delete(archive_thread_links).where(among(_links.message_id, message_ids, connection.dialect.name))
        )


def delete_room_links(connection: Connection, room_id: str | None = None) -> int:
    """Delete every link (of one room, or of all rooms) before a rebuild; returns how many."""
    statement = delete(archive_thread_links)
    if room_id is not None:
        statement = statement.where(_links.room_id == room_id)
    return int(connection.execute(statement).rowcount or 0)


def _room_message(row: Any) -> RoomMessage:
    posted = payload_document(row.payload) if row.payload is not None else {}
    actor, message = posted.get("actor"), posted.get("message")
    name = actor.get("name") if isinstance(actor, dict) else None
    text = message.get("text") if isinstance(message, dict) else None
    return RoomMessage(
        row.message_id,
        row.room_id,
        row.posted_at,
        name if isinstance(name, str) and name else row.actor_id,
        text if isinstance(text, str) else row.text or "",
        row.reply_to,
    )


def _posted_messages() -> Any:
    return (
        select(
            _messages.message_id,
            _messages.room_id,
            _messages.posted_at,
            _messages.actor_id,
            _messages.text,
            _messages.reply_to,
            archive_events.c.payload,
        )
        .select_from(archive_messages.outerjoin(archive_events, archive_events.c.event_id == _messages.post_event_id))
        .where(_messages.posted_at.is_not(None))
    )


def room_history(connection: Connection, room_id: str, before: tuple[datetime, str], limit: int) -> list[RoomMessage]:
    """The room's last ``limit`` posted messages before ``before`` (a ``(posted_at, message_id)``
    position), oldest first."""
    if limit <= 0:
        return []
    statement = (
        _posted_messages()
        .where(_messages.room_id == room_id, tuple_(_messages.posted_at, _messages.message_id) < tuple_(*before))
        .order_by(_messages.posted_at.desc(), _messages.message_id.desc())
        .limit(limit)
    )
    return [_room_message(row) for row in connection.execute(statement)][::-1]


def posted_ids_from_to(
    connection: Connection, room_id: str, first: tuple[datetime, str], last: tuple[datetime, str]
) -> list[str]:
    """The ids of the room's posted messages from ``first`` to ``last`` (positions, inclusive),
    in time order: what lies among a batch's messages."""
    position = tuple_(_messages.posted_at, _messages.message_id)
    return list(
        connection.execute(
            select(_messages.message_id)
            .where(_messages.room_id == room_id, position >= tuple_(*first), position <= tuple_(*last))
            .order_by(_messages.posted_at, _messages.message_id)
        ).scalars()
    )


def posted_messages(connection: Connection, message_ids: Sequence[str]) -> list[RoomMessage]:
    """The posted messages named (those archived), as a disentangler sees them."""
    if not message_ids:
        return []
    statement = _posted_messages().where(among(_messages.message_id, message_ids, connection.dialect.name))
    return [_room_message(row) for row in connection.execute(statement)]


def posted_between(
    connection: Connection, room_id: str, after: tuple[datetime, str], before: tuple[datetime, str]
) -> bool:
    """Whether the room has a posted message strictly between two positions (one index probe)."""
    position = tuple_(_messages.posted_at, _messages.message_id)
    found = connection.execute(
        select(_messages.message_id)
        .where(_messages.room_id == room_id, position > tuple_(*after), position < tuple_(*before))
        .limit(1)
    ).first()
    return found is not None


def room_messages(
    connection: Connection, room_id: str, after: tuple[datetime, str] | None, limit: int
) -> list[RoomMessage]:
    """The room's next ``limit`` posted messages after ``after`` (from the start when None), in
    time order: what a rebuild walks."""
    statement = _posted_messages().where(_messages.room_id == room_id)
    if after is not None:
        statement = statement.where(tuple_(_messages.posted_at, _messages.message_id) > tuple_(*after))
    statement = statement.order_by(_messages.posted_at, _messages.message_id).limit(limit)
    return [_room_message(row) for row in connection.execute(statement)]


def rooms_with_messages(connection: Connection) -> list[str]:
    return list(connection.execute(select(_messages.room_id).distinct().order_by(_messages.room_id)).scalars())
