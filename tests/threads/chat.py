"""Small rooms of chat for the thread tests: posts with or without ``reply_to``, delivered the way
the processor delivers them (the archive first, then the ``threads`` adapter, one transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from adapters.archive import ArchiveAdapter
from adapters.thread_adapter import ThreadAdapter
from archive.schema import archive_thread_links
from disentangle.model import Disentangler, Link, Utterance
from ingest.events import Event, event_to_json, parse_event

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_NS = uuid.UUID("5b0e8f0a-3c1d-4e7b-9a55-0f6a2d3c4b19")


def say(
    index: int,
    text: str,
    *,
    room: str = "room:irc",
    actor: str = "user:alice",
    name: str | None = "alice",
    reply_to: str | None = None,
    message_id: str | None = None,
    kind: str = "post",
) -> Event:
    """A post ``m<index>`` at ``T0 + index`` seconds (the same index gives the same event)."""
    message: dict[str, Any] = {"id": message_id or f"m{index}", "text": text}
    if reply_to is not None:
        message["reply_to"] = reply_to
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(_NS, f"{room}:{message['id']}:{kind}")),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=index)).isoformat(),
            "room": {"id": room, "name": room.split(":")[-1], "kind": "room"},
            "actor": {"id": actor, **({"name": name} if name is not None else {})},
            "message": message,
        }
    )


def deliver(engine: Engine, batch: Sequence[Event], model: Disentangler | None = None) -> None:
    """What the processor does with both adapters: the archive, then the links, in one transaction."""
    adapter = ThreadAdapter(engine, model)
    with engine.begin() as connection:
        ArchiveAdapter(engine).write_in(connection, batch, [event_to_json(e) for e in batch])
        assert adapter.write_in(connection, batch, ()) == [None] * len(batch)


def links(engine: Engine) -> dict[str, tuple[str | None, str, str]]:
    """message id -> (parent, thread, source)."""
    c = archive_thread_links.c
    with engine.connect() as connection:
        rows = connection.execute(select(c.message_id, c.parent_id, c.thread_id, c.source))
        return {row.message_id: (row.parent_id, row.thread_id, row.source) for row in rows}


def all_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(archive_thread_links).order_by("message_id"))]


class NamedParent:
    """A test disentangler: ``re <id>`` answers that message if it is among the ``window``
    messages before it (history, then the batch), anything else starts a thread. Records what it
    was handed."""

    name = "named-parent"

    def __init__(self, window: int = 3) -> None:
        self.window = window
        self.calls: list[tuple[list[Utterance], list[Utterance]]] = []

    def links(self, history: Sequence[Utterance], new: Sequence[Utterance]) -> list[Link]:
        self.calls.append((list(history), list(new)))
        seen = [u.id for u in history]
        out: list[Link] = []
        for utterance in new:
            words = utterance.text.split()
            near = seen[-self.window :]
            parent = words[1] if len(words) > 1 and words[0] == "re" and words[1] in near else None
            out.append(Link(utterance.id, parent, 0.75 if parent else 0.25))
            seen.append(utterance.id)
        return out
