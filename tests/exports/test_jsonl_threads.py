"""JSONL and threads (issue 20): ``documents.jsonl`` names each posted message's thread and
parent; ``events.jsonl`` stays the archived events, unchanged."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from exports.base import ExportContext, MemoryExportFiles
from exports.documents import MessageThread
from exports.jsonl import DOCUMENTS_FILE, EVENTS_FILE, JsonlFormat
from ingest.events import Event, event_to_json
from tests.exports.test_thread_unit import ev, post

LINKS = {
    "a": MessageThread("a", None, "explicit"),
    "c": MessageThread("a", "a", "explicit"),
    "d": MessageThread("b", "b", "model"),
}


def events() -> list[Event]:
    return [
        post(1, "a", "q"),
        post(2, "b", "other"),
        post(3, "c", "answer", reply_to="a"),
        post(4, "d", "b: yes"),
        post(5, "e", "reply, no link archived", reply_to="a"),
        ev(6, "leave"),
    ]


def lines(unit: str, export_context: ExportContext) -> tuple[list[dict[str, Any]], list[str]]:
    files = MemoryExportFiles()
    context = replace(export_context, unit=unit, threads=lambda _room: LINKS)  # type: ignore[arg-type]
    JsonlFormat().write(iter(events()), files, context)
    documents = [json.loads(line) for line in files.contents[DOCUMENTS_FILE].decode().splitlines()]
    return documents, files.contents[EVENTS_FILE].decode().splitlines()


def test_the_conversation_unit_lists_the_thread_of_every_message(export_context: ExportContext) -> None:
    (document,), archived = lines("conversation", export_context)
    assert document["thread_id"] is None
    assert document["threads"] == [
        {"message_id": "a", "thread_id": "a", "parent_id": None, "source": "explicit"},
        {"message_id": "c", "thread_id": "a", "parent_id": "a", "source": "explicit"},
        {"message_id": "d", "thread_id": "b", "parent_id": "b", "source": "model"},
        {"message_id": "e", "thread_id": None, "parent_id": "a", "source": "reply_to"},
    ]
    assert archived == [event_to_json(event) for event in events()]  # the archived JSON, nothing added


@pytest.mark.parametrize("unit", ["message", "thread"])
def test_each_unit_names_the_threads_of_its_own_messages(unit: str, export_context: ExportContext) -> None:
    documents, _archived = lines(unit, export_context)
    named = {entry["message_id"]: entry["thread_id"] for d in documents for entry in d["threads"]}
    assert named == {"a": "a", "c": "a", "d": "b", "e": None}
    if unit == "thread":
        assert [(d["kind"], d["thread_id"]) for d in documents] == [("thread", "a"), ("thread", "b")]
        assert [len(d["event_ids"]) for d in documents] == [4, 2]  # a, c, e and the leave after e / b, d
    else:
        assert {d["thread_id"] for d in documents} == {None}
