"""RSMF 2.0: every file parsed back with the email package, its headers checked, rsmf.zip opened,
the manifest validated by jsonschema against Relativity's 2.0.0 schema, every archived
event found again; one file per document in both units, named by control number, From, To and
custodians; Unicode, real IRC logs."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import io
import json
import re
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email import base64mime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from exports.base import ExportContext, FormatReport, MemoryExportFiles, export_order
from exports.documents import DocumentUnit, Numbering
from exports.rsmf import (
    _QUICK_FOLD,
    SUMS_FILE,
    RsmfFormat,
    ascii_json,
    encoded_words,
    event_collection_id,
    mailbox,
    mime_boundary,
    mime_message,
    room_slug,
)
from ingest.events import Event, PostEvent, Room, parse_event
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "exports" / "schemas" / "rsmf_schema_2_0_0.json").read_text())
VALIDATOR = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)
"""Relativity's published RSMF 2.0.0 manifest schema (see its LICENSE beside it), with formats checked."""
IRC_LOGS = sorted((ROOT / "archivist" / "demo_data" / "ubuntu-irc").glob("*.raw.txt"))
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
CONTEXT = ExportContext("exp-7", T0, "auditor@example.com", "room:ubuntu", custodians=("user:anna",))
FILE: dict[str, Any] = {
    "name": "תוכנית.pdf",
    "size": 2048,
    "sha256": "e" * 64,
    "url": "https://files.example.com/p.pdf",
}


# --- Relativity's own schema, checked by jsonschema ---------------------------------------------


def test_the_schema_rejects_what_relativity_rejects() -> None:
    bad = {
        "version": "1.0",
        "participants": [{"display": "no id"}],
        "conversations": [{"id": "c", "platform": "", "participants": []}],
        "events": [{"type": "message", "timestamp": "yesterday", "deleted": "yes"}],
    }
    failed = {"/".join(str(p) for p in error.absolute_path) or error.validator for error in VALIDATOR.iter_errors(bad)}
    assert failed == {
        "version",
        "participants/0",
        "conversations/0/platform",
        "events/0/timestamp",
        "events/0/deleted",
    }


# --- reading an export back ------------------------------------------------------------------


@dataclass
class ReadBack:
    path: str
    message: EmailMessage
    manifest: dict[str, Any]
    archive: zipfile.ZipFile


def event(
    kind: str, second: float, actor: str, room: str = "room:ubuntu", room_kind: str = "room", **fields: Any
) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
            "room": {"id": room, "name": "#" + room.split(":")[1], "kind": room_kind},
            "actor": {"id": f"user:{actor}", "name": actor.title(), "email": f"{actor}@example.com"},
            "source": {"server": "chat.example.com"},
            **fields,
        }
    )


def export(events: list[Event], context: ExportContext = CONTEXT) -> tuple[list[ReadBack], FormatReport]:
    files = MemoryExportFiles()
    report = RsmfFormat().write((e for e in sorted(events, key=export_order)), files, context)
    rsmf_files = {path: content for path, content in files.contents.items() if path != SUMS_FILE}
    assert [f.path for f in report.files] == list(rsmf_files)
    assert [(f.size, f.sha256) for f in report.files] == [
        (len(content), hashlib.sha256(content).hexdigest()) for content in rsmf_files.values()
    ]
    # Each file is listed with its SHA-256 in rsmf.sha256 (the manifest lists that file), or, when it
    # carries natives, in the manifest itself.
    listed = dict(line.split("  ")[::-1] for line in files.contents[SUMS_FILE].decode().splitlines())
    in_manifest = {w.path: w.sha256 for w in files.written}
    for f in report.files:
        assert listed.get(f.path, in_manifest.get(f.path)) == f.sha256
    return [read_back(path, content) for path, content in rsmf_files.items()], report


def read_back(path: str, content: bytes) -> ReadBack:
    assert re.fullmatch(r"rsmf/[A-Za-z0-9_.-]+\.rsmf", path), path
    assert b"\r\n" in content
    assert all(len(line) <= 998 for line in content.split(b"\r\n")), "RFC 5322 line length"
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    assert message["X-RSMF-Version"] == "2.0.0"
    attachments = list(message.iter_attachments())
    assert len(attachments) == 1, "exactly one attachment"
    (attachment,) = attachments
    assert attachment.get_filename() == "rsmf.zip"
    assert attachment["Content-Transfer-Encoding"] == "base64"
    assert attachment.get_content_disposition() == "attachment"
    archive = zipfile.ZipFile(io.BytesIO(attachment.get_content()))
    manifest = json.loads(archive.read("rsmf_manifest.json"))
    VALIDATOR.validate(manifest)
    check_references(manifest, archive)
    check_headers(message, manifest)
    assert message["X-Archivist-Control-Number"] == path.removeprefix("rsmf/").removesuffix(".rsmf")
    return ReadBack(path, message, manifest, archive)


def check_references(manifest: dict[str, Any], archive: zipfile.ZipFile) -> None:
    """Every id a manifest names resolves: participants, the conversation, attachments in the zip."""
    people = {p["id"] for p in manifest["participants"]}
    assert len(people) == len(manifest["participants"])
    (conversation,) = manifest["conversations"]
    assert set(conversation["participants"]) <= people
    names = set(archive.namelist())
    for item in manifest["events"]:
        assert item["participant"] in people
        assert item["conversation"] == conversation["id"]
        nested = item.get("edits", []) + item.get("read_receipts", [])
        assert all(n["participant"] in people for n in nested)
        assert all(a["id"] in names for a in item.get("attachments", []))


def check_headers(message: EmailMessage, manifest: dict[str, Any]) -> None:
    events = manifest["events"]
    nested = [n["timestamp"] for e in events for n in e.get("edits", []) + e.get("read_receipts", [])]
    stamps = sorted([e["timestamp"] for e in events] + nested)  # the span of everything in the file
    assert message["X-RSMF-Generator"] == "Archivist"
    assert message["X-RSMF-EventCount"] == str(len(events))
    assert (message["X-RSMF-BeginDate"], message["X-RSMF-EndDate"]) == (stamps[0], stamps[-1])
    displays = ", ".join(p["display"] for p in manifest["participants"])
    # A header has no line breaks: a tab, CR or LF of a name is a space there (the manifest has it).
    assert message["X-RSMF-Participants"] == re.sub("[\t\r\n]", " ", displays)
    attachments = sum(len(e.get("attachments", [])) for e in events)
    assert message["X-RSMF-AttachmentCount"] == str(attachments)
    assert message["X-RSMF-EventCollectionID"] == manifest["eventcollectionid"]
    (conversation,) = manifest["conversations"]
    custodians = str(message["X-RSMF-Custodian"] or "").split(", ")
    if message["X-RSMF-Custodian"]:
        assert conversation["custodian"] == custodians[0]
        assert conversation["custodian"] in conversation["participants"], "maps back to a conversation participant"
    else:
        assert "custodian" not in conversation
    (sender,) = message["From"].addresses
    assert names_a_participant(sender.display_name, manifest)
    to = message["To"].addresses if message["To"] else ()
    assert sender.display_name not in {a.display_name for a in to}
    body = message.get_body(("plain",))
    assert body is not None
    assert f"Events: {len(events)}" in body.get_content()


def sender_id(display_name: str) -> str:
    """The person id of a ``From``/``To`` display name, ``Name (id)``."""
    return display_name.rsplit(" (", 1)[-1].removesuffix(")") if display_name.endswith(")") else display_name


def names_a_participant(display_name: str, manifest: dict[str, Any]) -> bool:
    """``Name (id)`` of a participant; or its first 120 characters, when that is all a header has."""
    people = manifest["participants"]
    if sender_id(display_name) in {p["id"] for p in people}:
        return True
    labels = [p["id"] if p["display"] == p["id"] else f"{p['display']} ({p['id']})" for p in people]
    return len(display_name) == 120 and any(label.startswith(display_name) for label in labels)


def conversation_custodian(manifest: dict[str, Any]) -> str | None:
    (conversation,) = manifest["conversations"]
    value = conversation.get("custodian")
    return str(value) if value is not None else None


def custom(item: dict[str, Any], name: str) -> str | None:
    return next((c["value"] for c in item.get("custom", []) if c["name"] == name), None)


# --- the mapping -----------------------------------------------------------------------------


def test_every_kind_of_event_in_one_day() -> None:
    shown = {"rule_id": "r1", "version": 2, "locale": "en", "text": "Calls are recorded."}
    decision = {"action": "room_post", "outcome": "deny", "mode": "block", "wall_ids": ["w1"]}
    events = [
        event("room_update", 0, "anna", room_update={"name": "#ubuntu", "created": True}),
        event("join", 1, "bob"),
        event("post", 2, "anna", message={"id": "m1", "text": "draft"}),
        event("edit", 3, "anna", message={"id": "m1", "text": "final"}),
        event("read", 4, "bob", read={"message_id": "m1"}),
        event("post", 5, "bob", message={"id": "m2", "text": "oops"}),
        event("delete", 6, "bob", message={"id": "m2"}),
        event("file_upload", 7, "anna", file=FILE),
        event("file_download", 8, "bob", file=FILE),
        event("disclaimer", 9, "bob", disclaimer=shown),
        event("policy_decision", 10, "carl", decision=decision),
        event("edit", 11, "anna", message={"id": "gone", "text": "edit of an older post"}),
        event("read", 12, "carl", read={}),
        event("leave", 13, "bob"),
    ]
    (document,), report = export(events)
    manifest = document.manifest
    by_type = Counter(e["type"] for e in manifest["events"])
    assert by_type == {"message": 4, "history": 4, "join": 1, "leave": 1, "disclaimer": 1}
    m1 = next(e for e in manifest["events"] if e.get("id") == "m1")
    assert m1["body"] == "final"
    assert [(x["previous"], x["new"], x["participant"]) for x in m1["edits"]] == [("draft", "final", "user:anna")]
    assert m1["read_receipts"] == [
        {"participant": "user:bob", "timestamp": "2026-11-22T09:00:04.000000Z", "action": "read"}
    ]
    m2 = next(e for e in manifest["events"] if e.get("id") == "m2")
    assert m2["deleted"] is True
    assert custom(m2, "deleted by") == "user:bob"
    upload = next(e for e in manifest["events"] if e.get("attachments"))
    (attachment,) = upload["attachments"]
    assert (attachment["display"], attachment["size"]) == (FILE["name"], FILE["size"])
    placeholder = document.archive.read(attachment["id"]).decode()
    assert FILE["sha256"] in placeholder
    assert FILE["url"] in placeholder
    lone_edit = next(e for e in manifest["events"] if custom(e, "edit of") == "gone")
    assert lone_edit["edits"] == [
        {"participant": "user:anna", "timestamp": "2026-11-22T09:00:11.000000Z", "new": "edit of an older post"}
    ]
    disclaimer = next(e for e in manifest["events"] if e["type"] == "disclaimer")
    assert (disclaimer["body"], custom(disclaimer, "rule"), custom(disclaimer, "version")) == (
        "Calls are recorded.",
        "r1",
        "2",
    )
    histories = [e["body"] for e in manifest["events"] if e["type"] == "history"]
    assert histories == [
        "created the room; set the name to #ubuntu",
        f"downloaded {FILE['name']}",
        "policy block: room_post deny",
        "read the conversation",
    ]
    standalone = {custom(e, "archivist event id") for e in manifest["events"]}
    merged = {str(e.event_id) for e in events if e.type in ("edit", "read", "delete")}
    assert {str(e.event_id) for e in events} <= standalone | merged, "every archived event is in the file"
    (conversation,) = manifest["conversations"]
    assert conversation == {
        "id": "room:ubuntu",
        "display": "#ubuntu",
        "platform": "chat.example.com",
        "type": "channel",
        "participants": ["user:anna", "user:carl"],  # posted / acted without joining: there from the start
        "custodian": "user:anna",  # the case's custodian who took part
    }
    assert manifest["eventcollectionid"] == event_collection_id("room:ubuntu")
    message = document.message
    assert message["X-RSMF-Custodian"] == "user:anna"
    assert conversation_custodian(manifest) == "user:anna"
    assert [(a.display_name, a.addr_spec) for a in message["From"].addresses] == [
        ("Anna (user:anna)", "anna@example.com")
    ]
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        ("Bob (user:bob)", "bob@example.com"),
        ("Carl (user:carl)", "carl@example.com"),
    ]
    assert message["X-RSMF-Application"] == "chat.example.com"
    assert message["X-RSMF-Participants"] == "Anna, Carl, Bob"
    assert document.path == "rsmf/EXP7-0000001.rsmf"  # the document's control number
    upload_custom = custom(upload, "attachment control number")
    assert upload_custom == "EXP7-0000002", "the file is the document's attachment, numbered after it"
    assert (report.events, report.items) == (len(events), 1)
    assert (report.documents.documents, report.documents.families) == (2, 1)
    assert any("placeholders" in w for w in report.warnings)


def test_one_file_per_room_and_day_and_direct_conversations_list_everyone() -> None:
    events = [
        event("post", 1, "anna", message={"id": "a", "text": "x"}),
        event("post", 86_400 + 1, "bob", message={"id": "b", "text": "y"}),
        event("post", 2, "carl", room="im:carl:dora", room_kind="im", message={"id": "c", "text": "z"}),
        event("post", 3, "dora", room="im:carl:dora", room_kind="im", message={"id": "d", "text": "w"}),
    ]
    documents, report = export(events)
    assert [d.path for d in documents] == ["rsmf/EXP7-0000001.rsmf", "rsmf/EXP7-0000002.rsmf", "rsmf/EXP7-0000003.rsmf"]
    assert [d.message["Subject"] for d in documents] == [
        "#carl 2026-11-22",
        "#ubuntu 2026-11-22",
        "#ubuntu 2026-11-23",
    ]
    direct = documents[0].manifest["conversations"][0]
    assert (direct["type"], direct["participants"]) == ("direct", ["user:carl", "user:dora"])
    second_day = documents[2].manifest["conversations"][0]
    assert second_day["participants"] == ["user:anna", "user:bob"], "presence carries from day to day"
    assert report.items == 3


def test_a_document_of_over_10000_events_is_one_file() -> None:
    # Issue 19: one RSMF per document, named by its control number (a long day is no longer
    # split into parts: the parts had no control number of their own).
    count = 2 * 10_000 + 10

    def long_day() -> Iterator[Event]:
        for i in range(count):
            yield event("post", i * 0.5, f"u{i % 9}", message={"id": f"m{i}", "text": f"message {i}"})

    (document,), report = export(list(long_day()))
    assert document.path == "rsmf/EXP7-0000001.rsmf"
    bodies = [e["body"] for e in document.manifest["events"]]
    assert bodies == [f"message {i}" for i in range(count)]
    assert len(document.manifest["conversations"][0]["participants"]) == 9
    assert report.events == count


def test_unicode_round_trips_in_the_manifest_and_the_headers() -> None:
    text = "שלום עולם 😀👍🏽 👨‍👩‍👧 é\u0301 tab\t nl\n cr\r nul\x00 \ud800"
    payload = event("post", 1, "x", message={"id": "u1", "text": text}).model_dump(mode="json")
    payload["actor"] = {"id": "user:david", "name": "דוד כהן 🎉", "email": "david@example.co.il"}
    payload["room"] = {"id": "room:חדשות", "name": "חדשות 📰"}
    (document,), _ = export([parse_event(payload)])
    (item,) = document.manifest["events"]
    assert item["body"] == text
    assert document.manifest["participants"][0]["display"] == "דוד כהן 🎉"
    assert document.message["X-RSMF-Participants"] == "דוד כהן 🎉"
    (sender,) = document.message["From"].addresses  # RFC 2047 encoded words, read back by the email package
    assert (sender.display_name, sender.addr_spec) == ("דוד כהן 🎉 (user:david)", "david@example.co.il")
    assert document.message["Subject"] == "חדשות 📰 2026-11-22"
    assert document.manifest["conversations"][0]["display"] == "חדשות 📰"


def test_a_long_participant_list_folds_and_reads_back() -> None:
    names = [f"פרטי {i} 😀" for i in range(60)]
    events = []
    for i, name in enumerate(names):
        payload = event("post", i, "x", message={"id": f"m{i}", "text": "t"}).model_dump(mode="json")
        payload["actor"] = {"id": f"user:{i}", "name": name}
        events.append(parse_event(payload))
    (document,), _ = export(events)
    assert document.message["X-RSMF-Participants"] == ", ".join(names)
    to = document.message["To"].addresses  # one mailbox per line, each name in encoded words
    assert [(a.display_name, a.addr_spec) for a in to] == [
        (f"{name} (user:{i})", f"user-{i}@archivist.invalid") for i, name in enumerate(names) if i
    ]


def test_rooms_with_the_same_name_get_different_folders() -> None:
    assert room_slug(Room(id="room:a", name="#ops")) != room_slug(Room(id="room:b", name="#ops"))
    assert room_slug(Room(id="room:c", name="חדשות")).startswith("room-")


def test_an_empty_export_writes_nothing() -> None:
    documents, report = export([])
    assert documents == []
    assert (report.events, report.items, report.warnings) == (0, 0, [])


def test_simulated_traffic_every_post_is_a_message() -> None:
    events = sorted(simulate_events(events=4_000, rooms=6, users=25, seed=5), key=export_order)
    documents, report = export(events)
    assert len(documents) == len({(e.room.id, e.occurred_at.date()) for e in events}) == report.items
    found = {e["id"]: e for d in documents for e in d.manifest["events"] if e["type"] == "message"}
    for post in (e for e in events if isinstance(e, PostEvent)):
        assert post.message.id in found
    total = sum(int(d.message["X-RSMF-EventCount"]) for d in documents)
    kinds = Counter(e.type for e in events)
    merged_edits = sum(
        len(e.get("edits", [])) for d in documents for e in d.manifest["events"] if e["type"] == "message"
    )
    assert merged_edits == kinds["edit"]
    assert total <= len(events)


@pytest.mark.parametrize("log", IRC_LOGS, ids=lambda p: p.name)
def test_real_irc_logs(log: Path) -> None:
    events = sorted(read_irc_file(log), key=export_order)
    documents, report = export(events)
    bodies = [e["body"] for d in documents for e in d.manifest["events"] if e["type"] == "message"]
    assert bodies == [e.message.text for e in events if isinstance(e, PostEvent)]
    joins = sum(1 for d in documents for e in d.manifest["events"] if e["type"] == "join")
    assert joins == sum(1 for e in events if e.type == "join")
    assert report.events == len(events)


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_real_irc_logs_in_both_units_with_case_custodians_and_numbering_from_n(
    irc_events: list[Event], unit: DocumentUnit
) -> None:
    # The message unit over the first 400 events: IRC rooms keep everyone who ever joined present
    # (hundreds of participants in every message's document), which makes each one heavy.
    irc_events = irc_events if unit == "conversation" else irc_events[:400]
    first = next(e.actor for e in irc_events if isinstance(e, PostEvent))
    context = replace(CONTEXT, unit=unit, custodians=(first.id, "user:nobody"), numbering=Numbering("ACME-", start=500))
    documents, report = export(irc_events, context)
    parents = list(context.documents(irc_events, FormatReport("rsmf")))
    assert [d.path for d in documents] == [f"rsmf/{p.control}.rsmf" for p in parents]
    assert [d.path for d in documents] == [f"rsmf/ACME-{n:07d}.rsmf" for n in range(500, 500 + len(parents))]
    assert (report.documents.first, report.documents.documents) == (500, len(parents))
    for document, parent in zip(documents, parents, strict=True):
        assert (document.message["X-RSMF-Custodian"] or "") == ", ".join(parent.custodians)
        if parent.custodians:
            assert conversation_custodian(document.manifest) == parent.custodians[0]
        first_sender = parent.senders[0] if parent.senders else parent.events[0].actor
        (sender,) = document.message["From"].addresses
        assert sender.display_name == f"{first_sender.name} ({first_sender.id})"
        assert sender.addr_spec.endswith("@archivist.invalid"), "IRC people have no e-mail address"
        to = {sender_id(a.display_name) for a in document.message["To"].addresses} if document.message["To"] else set()
        assert to == {p.id for p in parent.participants} - {first_sender.id}
    assert any(d.message["X-RSMF-Custodian"] == first.id for d in documents)
    bodies = sorted(e["body"] for d in documents for e in d.manifest["events"] if e["type"] == "message")
    assert bodies == sorted(e.message.text for e in irc_events if isinstance(e, PostEvent))
    if unit == "message":
        assert len(documents) == sum(1 for e in irc_events if isinstance(e, PostEvent))
    assert report.events == len(irc_events)


def test_message_unit_one_file_per_message_with_its_edits_and_reads_and_no_read_alone() -> None:
    events = [
        event("join", 0, "bob"),
        event("post", 1, "anna", message={"id": "m1", "text": "draft"}),
        event("post", 2, "bob", message={"id": "m2", "text": "reply"}),
        event("edit", 3, "anna", message={"id": "m1", "text": "final"}),
        event("read", 4, "bob", read={"message_id": "m1"}),
        event("file_upload", 5, "bob", file=FILE),
        event("read", 86_400 * 3, "carl", read={"message_id": "m2"}),
    ]
    context = replace(CONTEXT, unit="message", numbering=Numbering("ACME-", start=7))
    documents, report = export(events, context)
    assert [d.path for d in documents] == ["rsmf/ACME-0000007.rsmf", "rsmf/ACME-0000008.rsmf", "rsmf/ACME-0000009.rsmf"]
    m1, m2, upload = (d.manifest for d in documents)
    (post,) = [e for e in m1["events"] if e["type"] == "message"]
    assert (post["id"], post["body"], len(post["edits"]), len(post["read_receipts"])) == ("m1", "final", 1, 1)
    assert [e["type"] for e in m1["events"]] == ["join", "message"], "context before the first message goes with it"
    (reply,) = m2["events"]
    assert reply["read_receipts"][0]["participant"] == "user:carl", "a late read is in its message's document"
    (shared,) = upload["events"]
    assert custom(shared, "attachment control number") == "ACME-0000010"
    assert (report.documents.first, report.documents.last, report.documents.documents) == (7, 10, 4)
    assert [d.message["X-RSMF-Custodian"] for d in documents] == ["user:anna"] * 3, "present in the room"
    assert [a.addr_spec for a in documents[1].message["From"].addresses] == ["bob@example.com"]


def test_a_boundary_is_shaped_as_the_email_generator_shapes_it_and_differs_each_time() -> None:
    boundaries = {mime_boundary() for _ in range(50)}
    assert len(boundaries) == 50
    assert all(re.fullmatch(r"={15}\d{19}==", boundary) for boundary in boundaries)


@pytest.mark.parametrize(
    "value",
    [
        "2.0.0",
        "#compliance 2026-01-05",
        "a  b",
        " leading",
        "trailing ",
        "x" * 60,
        "x" * 90,
        ", ".join(f"Person {n}" for n in range(20)),
        "=?utf-8?b?SW5lcyBTaWx2YSwgWcWra2kgTsO6w7Fleiwg2YXYrdmF?= =?utf-8?b?IFJvc3NpLCBUYXJpcSBQYXRlbA==?=",
        "tab\there",
    ],
)
def test_quick_folding_writes_the_bytes_compat32_writes(value: str) -> None:
    for name in ("Subject", "X-RSMF-Participants"):
        policy = _QUICK_FOLD.clone(linesep="\r\n", max_line_length=78)
        reference = email.policy.compat32.clone(linesep="\r\n", max_line_length=78)
        assert policy.fold_binary(name, value) == reference.fold_binary(name, value)


def _words_character_by_character(text: str, first: int, rest: int) -> list[str]:
    """The reference: characters added one at a time while the word's bytes fit."""
    words: list[str] = []
    chunk: list[str] = []
    size, budget = 0, first
    for character in text:
        length = len(character.encode())
        if size + length > budget and chunk:
            words.append(base64mime.header_encode("".join(chunk), "utf-8"))
            chunk, size, budget = [], 0, rest
        chunk.append(character)
        size += length
    words.append(base64mime.header_encode("".join(chunk), "utf-8"))
    return words


@pytest.mark.parametrize(
    "text",
    ["Zoë", "Inès Silva, Yūki Núñez, محمد Patel, Chloé Kowalski", "😀" * 30, "a" * 44 + "é" * 20, "日本語" * 25],
)
@pytest.mark.parametrize(("first", "rest"), [(30, 45), (45, 45), (4, 45), (3, 5)])
def test_encoded_words_split_on_whole_characters_as_adding_them_one_by_one_does(
    text: str, first: int, rest: int
) -> None:
    words = encoded_words(text.encode(), first, rest)
    assert words == _words_character_by_character(text, first, rest)
    assert "".join(base64.b64decode(word[10:-2]).decode() for word in words) == text


@pytest.mark.parametrize("custodian", ["plain", "Zoë Ünïcode, " * 8])
def test_a_message_written_directly_is_the_bytes_the_email_generator_writes(custodian: str) -> None:
    from email.generator import BytesGenerator
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    headers = [("X-RSMF-Version", "2.0.0"), ("X-RSMF-Custodian", custodian), ("Subject", "#room 2026-01-05")]
    summary, archive, boundary = "Résumé\nline two\n" * 9, bytes(range(256)) * 3, mime_boundary()
    reference = MIMEMultipart()
    for name, value in headers:
        reference[name] = value
    reference.attach(MIMEText(summary, "plain", "utf-8"))
    attachment = MIMEApplication(archive, "zip")
    attachment.add_header("Content-Disposition", "attachment", filename="rsmf.zip")
    reference.attach(attachment)
    reference.set_boundary(boundary)
    expected = io.BytesIO()
    BytesGenerator(expected, mangle_from_=False, maxheaderlen=78).flatten(reference, linesep="\r\n")
    assert mime_message(headers, summary.encode(), archive, boundary) == expected.getvalue()


MANIFEST_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), MANIFEST_VALUES, max_size=5))
@example(
    {
        "del": "\x7f",
        "ctl": "\x00\x01\x1f\b\f\n\r\t",
        "bmp": "é\u2028\uffff",
        "astral": "😀\U0010ffff",
        "q": '"\\',
        "lone": "\ud800",
    }
)
def test_the_manifest_json_is_what_json_dumps_writes_with_ascii_escapes(data: dict[str, Any]) -> None:
    assert ascii_json(data) == json.dumps(data, ensure_ascii=True, separators=(",", ":"))


def _post_by(actor: dict[str, object], second: int, message_id: str) -> Event:
    payload = event("post", second, "x", message={"id": message_id, "text": "hello"}).model_dump(mode="json")
    payload["actor"] = actor
    return parse_event(payload)


@pytest.mark.parametrize(
    "actor",
    [
        {"id": "user:" + "a" * 2000, "name": "Anna"},
        {"id": "user:long", "name": "Long", "email": "x" * 500 + "@example.com"},
        {"id": "user:domain", "name": "Domain", "email": "d@" + ".".join(["example"] * 200) + ".com"},
    ],
)
def test_header_lines_stay_within_rfc5322_for_a_long_id_or_address(actor: dict[str, object]) -> None:
    """From and To name a mailbox whose local part is at most 64 characters (RFC 5321 4.5.3.1.1):
    an over-long id is cut to a readable prefix and a hash of the whole id; an over-long address is
    not used (the manifest keeps it), the id's address at archivist.invalid is."""
    events = [_post_by(actor, 1, "m1"), _post_by({"id": "user:anna", "name": "Anna"}, 2, "m2")]
    (document,), _ = export(events)  # read_back checks every line <= 998 bytes and parses the headers
    (sender,) = document.message["From"].addresses
    (recipient,) = document.message["To"].addresses
    for address in (sender, recipient):
        assert len(address.username) <= 64
        assert len(address.addr_spec) <= 254
    assert sender.domain == "archivist.invalid"
    assert sender.username.startswith(str(actor["id"]).replace(":", "-")[:20])


def test_two_long_ids_with_one_prefix_have_two_addresses() -> None:
    first, second = "user:" + "a" * 100 + "1", "user:" + "a" * 100 + "2"
    assert mailbox(first, None, None) != mailbox(second, None, None)
    assert mailbox(first, None, None) == mailbox(first, None, None)


def test_a_custodian_with_a_long_id_is_a_header_within_rfc5322() -> None:
    """X-RSMF-Custodian names the id whole: a run of over 900 characters without a space is
    written as RFC 2047 encoded words (folded), which the email package decodes to the id."""
    long_id = "user:" + "a" * 2000
    (document,), _ = export(
        [_post_by({"id": long_id, "name": "Anna"}, 1, "m1")], replace(CONTEXT, custodians=(long_id,))
    )
    assert document.message["X-RSMF-Custodian"] == long_id
    assert conversation_custodian(document.manifest) == long_id


def test_the_summary_part_has_one_line_per_item_whatever_the_names() -> None:
    """The text/plain summary names the room, the participants and the query, each on its line:
    a line break in any of them is escaped (exports.transcript.single_line), not followed."""
    forged: dict[str, object] = {"id": "user:mallory", "name": "Mallory\nParticipants (1): Chief Executive"}
    piece = _post_by(forged, 1, "m1")
    payload = piece.model_dump(mode="json")
    payload["room"] = {"id": "room:desk", "name": "#desk\nDocument: FAKE-0000001", "kind": "room"}
    (document,), _ = export([parse_event(payload)], replace(CONTEXT, query="a\nExport forged"))
    body = document.message.get_body(("plain",))
    assert body is not None
    lines = body.get_content().rstrip("\n").split("\n")
    firsts = [line.split(" ", 1)[0].removesuffix(":") for line in lines]
    assert firsts == ["Conversation", "Document", "Day", "From", "Events", "Participants", "Attachments", "Export"]
    assert "Mallory\\nParticipants" in lines[5]
