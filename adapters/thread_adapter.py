"""The ``threads`` adapter: the thread of every posted message (``archive_thread_links``).

For each batch, room by room in time order (docs/threads.md):

- a post with the platform's ``reply_to`` answers that message; its thread is the parent's
  thread (the parent itself when the parent has no link yet: Slack, Mattermost and Teams name
  the thread's root);
- in a room whose platform gives replies (a message of it ever carried ``reply_to``), a post
  without one starts a thread of its own;
- in a flat room (IRC), the disentangler (:func:`disentangle.model.default_disentangler`)
  names the parent among the room's previous ``window`` messages, read from the archive (the
  messages before the batch's first in that room) and the batch itself; the author is the name
  the person had when posting (the event's ``actor.name``, the nick the IRC importer records).

It writes inside the processor's transaction, after the archive (so the history is the
archive's), and is idempotent: the model reads the room as the archive has it (the ``window``
messages before the batch's first of the room, and any archived message that falls among the
batch's), so the same batch gives the same links again, however the messages were batched. A
message archived late (before messages already linked) does not relink those: :func:`rebuild`
recomputes a room from the archive, as ``archivist threads rebuild`` does.

Disposal needs nothing of the adapter: a disposed message's link is deleted with its message row
in the retention run's own transaction (:func:`archive.derived.forget_disposed`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import AdapterContext, DeliveryResult, Failure, all_succeeded
from archive.threads import (
    EXPLICIT,
    MODEL,
    RoomMessage,
    ThreadLink,
    delete_room_links,
    links_of,
    posted_between,
    posted_ids_from_to,
    posted_messages,
    room_has_explicit_links,
    room_history,
    room_messages,
    room_replies_exist,
    rooms_with_messages,
    write_links,
)
from disentangle.model import Disentangler, Utterance, default_disentangler
from ingest.events import Event, PostEvent

log = logging.getLogger(__name__)


def _utterance(message: RoomMessage) -> Utterance:
    text = message.text
    action = text.startswith("/me ")
    return Utterance(
        message.message_id, message.author, text[4:] if action else text, message.posted_at.timestamp(), action
    )


def _room_message(event: PostEvent) -> RoomMessage:
    return RoomMessage(
        event.message.id,
        event.room.id,
        event.occurred_at,
        event.actor.name or event.actor.id,
        event.message.text,
        event.message.reply_to,
    )


def link_room(
    connection: Connection,
    model: Disentangler,
    new: Sequence[RoomMessage],
    *,
    explicit: bool,
    history: Sequence[RoomMessage] | None = None,
) -> list[ThreadLink]:
    """The links of ``new`` (one room's messages, in time order). ``explicit``: the room's
    platform gives replies. ``history``: the room's messages before ``new`` (at most the
    model's window); None reads them from the archive."""
    if not new:
        return []
    links: dict[str, ThreadLink] = {}
    guessed: dict[str, tuple[str | None, float]] = {}
    before: list[RoomMessage] = []
    if not explicit:
        if history is None:
            first = new[0]
            before = room_history(connection, first.room_id, (first.posted_at, first.message_id), model.window)
        else:
            before = list(history[-model.window :]) if model.window > 0 else []
        for found in model.links([_utterance(m) for m in before], [_utterance(m) for m in new]):
            guessed[found.id] = (found.parent, found.score)
    parents = {m.reply_to for m in new if m.reply_to} | {p for p, _s in guessed.values() if p}
    known = links_of(connection, [p for p in parents if p not in {m.message_id for m in new}])

    def thread(parent: str) -> str:
        found = links.get(parent) or known.get(parent)
        return found.thread_id if found is not None else parent

    for message in new:
        if message.reply_to:
            parent: str | None = message.reply_to
            link = ThreadLink(
                message.message_id, message.room_id, message.posted_at, parent, thread(message.reply_to), EXPLICIT
            )
        elif explicit:
            link = ThreadLink(
                message.message_id, message.room_id, message.posted_at, None, message.message_id, EXPLICIT
            )
        else:
            parent, score = guessed[message.message_id]
            link = ThreadLink(
                message.message_id,
                message.room_id,
                message.posted_at,
                parent,
                thread(parent) if parent else message.message_id,
                MODEL,
                model.name,
                score,
            )
        links[message.message_id] = link
    return list(links.values())


class ThreadAdapter:
    name = "threads"

    def __init__(self, engine: Engine, model: Disentangler | None = None) -> None:
        self.engine = engine
        self.model = model if model is not None else default_disentangler()
        self._explicit_rooms: dict[str, bool] = {}
        """Whether a room's platform gives replies, as first read (a room that has replies keeps
        them; a room that gains them is marked so by the batch that brings them)."""
        self._recent: dict[str, list[RoomMessage]] = {}
        """Each flat room's last ``window`` messages as of the last batch: the next batch's
        history when nothing was archived in the room between them (one index probe instead of
        reading and parsing ``window`` archived posts)."""

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        try:
            with self.engine.begin() as connection:
                return self.write_in(connection, batch, ())
        except SQLAlchemyError as error:
            reason = f"thread links failed: {error.__class__.__name__}: {getattr(error, 'orig', error)}"
            log.warning("%s", reason)
            return [Failure(reason)] * len(batch)

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        rooms: dict[str, dict[str, RoomMessage]] = {}
        for event in batch:
            if isinstance(event, PostEvent):
                rooms.setdefault(event.room.id, {}).setdefault(event.message.id, _room_message(event))
        links: list[ThreadLink] = []
        for room_id, by_id in rooms.items():
            new = sorted(by_id.values(), key=lambda m: (m.posted_at, m.message_id))
            if self._explicit(connection, room_id, new):
                self._recent.pop(room_id, None)
                links.extend(link_room(connection, self.model, new, explicit=True))
                continue
            history = self._history(connection, room_id, new[0])
            sequence = self._with_interleaved(connection, room_id, new)
            room_links = link_room(connection, self.model, sequence, explicit=False, history=history)
            links.extend(link for link in room_links if link.message_id in by_id)
            if self.model.window > 0:
                self._recent[room_id] = [*history, *sequence][-self.model.window :]
        write_links(connection, links)
        return all_succeeded(batch)

    @staticmethod
    def _with_interleaved(connection: Connection, room_id: str, new: list[RoomMessage]) -> list[RoomMessage]:
        """``new`` with the room's archived messages that fall among them but are not in the batch
        (delivered by an earlier batch out of order, or by another processor): the model reads
        the room as it is, so a batch's links do not depend on how the messages were batched."""
        first, last = new[0], new[-1]
        ids = posted_ids_from_to(
            connection, room_id, (first.posted_at, first.message_id), (last.posted_at, last.message_id)
        )
        batch = {m.message_id for m in new}
        others = posted_messages(connection, [i for i in ids if i not in batch])
        if not others:
            return new
        return sorted([*new, *others], key=lambda m: (m.posted_at, m.message_id))

    def _history(self, connection: Connection, room_id: str, first: RoomMessage) -> list[RoomMessage]:
        """The room's last ``window`` messages before ``first``: the cached ones when they end
        before it and the archive has nothing between, else read from the archive."""
        start = (first.posted_at, first.message_id)
        cached = self._recent.get(room_id)
        if cached:
            last = (cached[-1].posted_at, cached[-1].message_id)
            if last < start and not posted_between(connection, room_id, last, start):
                return cached
        return room_history(connection, room_id, start, self.model.window)

    def _explicit(self, connection: Connection, room_id: str, new: Sequence[RoomMessage]) -> bool:
        if any(m.reply_to for m in new):
            self._explicit_rooms[room_id] = True
            return True
        known = self._explicit_rooms.get(room_id)
        if known is None:
            known = self._explicit_rooms[room_id] = room_has_explicit_links(connection, room_id)
        return known

    def close(self) -> None:
        """The engine belongs to the caller."""


def create(context: AdapterContext) -> ThreadAdapter:
    return ThreadAdapter(context.engine)


@dataclass
class RebuildReport:
    rooms: int = 0
    messages: int = 0
    explicit: int = 0
    """Links from the platform's replies (or posts of such rooms that start a thread)."""
    modelled: int = 0
    by_room: dict[str, int] = field(default_factory=dict)


REBUILD_CHUNK = 5_000


def rebuild(
    engine: Engine,
    model: Disentangler | None = None,
    *,
    room_id: str | None = None,
    chunk: int = REBUILD_CHUNK,
    progress: Callable[[str, int], None] | None = None,
) -> RebuildReport:
    """Rewrite the links of every room (or of one) from the archive, one transaction per room
    (the links are derived: nothing is lost); run it after changing the model, or after
    messages arrived late, with the processors stopped. A room is one whose platform gives
    replies when any of its messages carries ``reply_to``."""
    chosen = model if model is not None else default_disentangler()
    report = RebuildReport()
    with engine.connect() as connection:
        rooms = [room_id] if room_id is not None else rooms_with_messages(connection)
    for room in rooms:
        count = 0
        with engine.begin() as connection:
            delete_room_links(connection, room)
            explicit = room_replies_exist(connection, room)
            history: list[RoomMessage] = []
            after = None
            while True:
                messages = room_messages(connection, room, after, chunk)
                if not messages:
                    break
                links = link_room(connection, chosen, messages, explicit=explicit, history=history)
                write_links(connection, links)
                count += len(links)
                report.modelled += sum(1 for link in links if link.source == MODEL)
                report.explicit += sum(1 for link in links if link.source == EXPLICIT)
                history = (history + messages)[-max(chosen.window, 0) :] if chosen.window > 0 else []
                after = (messages[-1].posted_at, messages[-1].message_id)
        report.rooms += 1
        report.messages += count
        report.by_room[room] = count
        if progress is not None:
            progress(room, count)
    return report
