"""RSMF ``parent`` (issue 20): a reply names the message it answers, validated against
Relativity's 2.0.0 schema with jsonschema (Draft 7); the thread unit is one file per thread."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from exports.documents import MessageThread, Numbering
from tests.exports.test_rsmf import CONTEXT, VALIDATOR, custom, event, export


def post(second: float, actor: str, message_id: str, text: str, reply_to: str | None = None) -> Any:
    message = {"id": message_id, "text": text, **({"reply_to": reply_to} if reply_to else {})}
    return event("post", second, actor, message=message)


def messages(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in manifest["events"] if e["type"] == "message"}


def test_a_reply_carries_parent_when_its_parent_is_in_the_file() -> None:
    events = [
        post(1, "anna", "m1", "deploy tonight?"),
        post(2, "bob", "m2", "yes", reply_to="m1"),
        post(3, "carl", "m3", "reply to a message of another day", reply_to="old"),
    ]
    (document,), _report = export(events)
    found = messages(document.manifest)
    assert "parent" not in found["m1"]
    assert found["m2"]["parent"] == "m1"
    # The specification: parent maps to another event of the same conversation; this one is not.
    assert "parent" not in found["m3"]
    assert custom(found["m3"], "reply to") == "old"
    VALIDATOR.validate(document.manifest)


def test_links_from_the_archive_give_parent_and_say_whether_the_model_made_them() -> None:
    events = [post(1, "anna", "m1", "hello"), post(2, "bob", "m2", "anna: hi")]
    links = {"m1": MessageThread("m1", None, "model"), "m2": MessageThread("m1", "m1", "model")}
    context = replace(CONTEXT, threads=lambda _room: links)
    (document,), _report = export(events, context)
    found = messages(document.manifest)
    assert found["m2"]["parent"] == "m1"
    assert (custom(found["m2"], "thread id"), custom(found["m2"], "thread link")) == ("m1", "model")
    VALIDATOR.validate(document.manifest)


def test_the_thread_unit_is_one_file_per_thread_with_its_replies() -> None:
    events = [
        post(1, "anna", "m1", "q1"),
        post(2, "bob", "m2", "q2"),
        post(3, "carl", "m3", "a1", reply_to="m1"),
        post(4, "anna", "m4", "a2", reply_to="m2"),
        event("edit", 5, "carl", message={"id": "m3", "text": "a1 (edited)"}),
    ]
    links: Mapping[str, MessageThread] = {}
    context = replace(CONTEXT, unit="thread", numbering=Numbering("T-", 1), threads=lambda _room: links)
    documents, report = export(events, context)
    assert [d.path for d in documents] == ["rsmf/T-0000001.rsmf", "rsmf/T-0000002.rsmf"]
    first, second = (messages(d.manifest) for d in documents)
    assert sorted(first) == ["m1", "m3"]
    assert first["m3"]["parent"] == "m1"
    assert first["m3"]["body"] == "a1 (edited)"
    assert sorted(second) == ["m2", "m4"]
    assert second["m4"]["parent"] == "m2"
    assert documents[0].message["Subject"].endswith("thread m1")
    assert report.documents.documents == 2
