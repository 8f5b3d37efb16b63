"""The ``thread`` document unit (issue 20): one document per thread, with its messages' edits,
deletions and reads and the context the message unit takes; attachments numbered after it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.documents import (
    DOCUMENT_UNITS,
    Document,
    MessageThread,
    Numbering,
    document_key,
    documents,
    every_document,
    parse_document_key,
)
from exports.transcript import document_text
from ingest.events import Event, parse_event
from tests.exports.conftest import event_payload

UTC = ZoneInfo("UTC")
FILE = {"name": "plan.pdf", "size": 10, "sha256": "b" * 64, "content_type": "application/pdf"}


def ev(index: int, kind: str, room: str = "room:trading", **fields: Any) -> Event:
    return parse_event(event_payload(index, kind, room=room, **fields))


def post(index: int, message_id: str, text: str, reply_to: str | None = None, room: str = "room:trading") -> Event:
    message = {"id": message_id, "text": text, **({"reply_to": reply_to} if reply_to else {})}
    return ev(index, "post", room=room, message=message)


def thread_docs(events: list[Event], links: Mapping[str, MessageThread] | None = None) -> list[Document]:
    given_links = links or {}
    return list(
        documents(
            events,
            unit="thread",
            numbering=Numbering("ACME-", 1),
            zone=UTC,
            threads=lambda _room: given_links,
        )
    )


def ids(document: Document) -> list[str]:
    return [str(getattr(getattr(e, "message", None), "id", e.type)) for e in document.events]


def test_thread_is_a_unit() -> None:
    assert "thread" in DOCUMENT_UNITS


@given(st.text(min_size=1, max_size=40))
def test_a_thread_key_round_trips(name: str) -> None:
    assert parse_document_key(document_key("thread", name)) == ("thread", name, None)


def test_a_document_per_thread_from_the_links_with_edits_deletions_reads_and_context() -> None:
    events = [
        ev(0, "join"),
        post(1, "a", "who has the Q3 numbers?"),
        post(2, "b", "lunch?"),
        post(3, "c", "I do"),
        ev(4, "edit", message={"id": "a", "text": "who has the Q3 numbers? (final)"}),
        post(5, "d", "sure, noon"),
        ev(6, "read", read={"message_id": "c"}),
        ev(7, "delete", message={"id": "b"}),
        ev(8, "leave"),
    ]
    links = {
        "a": MessageThread("a", None),
        "b": MessageThread("b", None),
        "c": MessageThread("a", "a"),
        "d": MessageThread("b", "b"),
    }
    parents = thread_docs(events, links)
    assert [(d.kind, d.thread_id, d.key, d.control) for d in parents] == [
        ("thread", "a", "thread:a", "ACME-0000001"),
        ("thread", "b", "thread:b", "ACME-0000002"),
    ]
    first, second = parents
    # The join before the room's first message goes with it; the read of c with c's thread; the
    # leave after d is context of the room's latest message, d's thread.
    assert ids(first) == ["join", "a", "c", "a", "read"]
    assert ids(second) == ["b", "d", "b", "leave"]
    assert second.deleted
    assert not first.deleted
    assert first.message_id is None
    assert list(first.versions.values()) == [2]
    assert "(thread" in document_text(first, UTC)


def test_without_links_a_reply_joins_the_thread_of_the_message_it_answers() -> None:
    events = [
        post(1, "a", "q"),
        post(2, "b", "other"),
        post(3, "c", "answer", reply_to="a"),
        post(4, "d", "answer to the answer", reply_to="c"),
        post(5, "e", "reply to a root outside the export", reply_to="zz"),
        post(6, "f", "a second one", reply_to="zz"),
    ]
    parents = thread_docs(events)
    assert [(d.thread_id, ids(d)) for d in parents] == [
        ("a", ["a", "c", "d"]),
        ("b", ["b"]),
        ("zz", ["e", "f"]),
    ]


def test_an_upload_is_an_attachment_of_the_thread_of_the_rooms_latest_message() -> None:
    events = [
        post(1, "a", "see the plan"),
        post(2, "b", "unrelated"),
        ev(3, "file_upload", file=FILE),
        post(4, "c", "thanks", reply_to="a"),
    ]
    parents = thread_docs(events, {"a": MessageThread("a", None), "b": MessageThread("b", None)})
    numbered = [(d.control, d.kind, d.family_begin) for d in every_document(parents)]
    assert numbered == [
        ("ACME-0000001", "thread", "ACME-0000001"),
        ("ACME-0000002", "thread", "ACME-0000002"),
        ("ACME-0000003", "attachment", "ACME-0000002"),  # numbered right after its parent
    ]
    assert parents[1].children[0].key.startswith("attachment:")


def test_threads_are_per_room_and_read_once_per_room() -> None:
    asked: list[str] = []

    def links(room: str) -> Mapping[str, MessageThread]:
        asked.append(room)
        return {}

    events = [post(1, "a", "x", room="room:a"), post(2, "b", "y", room="room:a"), post(1, "c", "z", room="room:b")]
    parents = list(documents(events, unit="thread", numbering=Numbering("T", 1), zone=UTC, threads=links))
    assert [d.key for d in parents] == ["thread:a", "thread:b", "thread:c"]
    assert asked == ["room:a", "room:b"]


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_other_units_ignore_the_links(unit: str) -> None:
    events = [post(1, "a", "x"), post(2, "b", "y", reply_to="a")]
    parents = list(
        documents(
            events,
            unit=unit,  # type: ignore[arg-type]
            numbering=Numbering("T", 1),
            zone=UTC,
            threads=lambda _room: {"b": MessageThread("a", "a")},
        )
    )
    assert [d.kind for d in parents] == [unit] * (1 if unit == "conversation" else 2)
