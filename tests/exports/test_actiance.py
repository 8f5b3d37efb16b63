"""Actiance XML: every file valid against the XSD, every message and file transfer read back, the
participant entered/left rules, the 10,000-event split, streaming, Unicode, real IRC logs."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from exports.actiance import ActianceFormat
from exports.base import ExportContext, FormatReport, MemoryExportFiles, export_order
from formats.actiance_xml import MAX_EVENTS, millis, render_batch
from formats.xml_text import unescape_xml_text
from ingest.events import Event, PostEvent, parse_event
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "actiance.xsd")))
IRC_LOGS = sorted((ROOT / "archivist" / "demo_data" / "ubuntu-irc").glob("*.raw.txt"))
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
DAY_START = datetime(2026, 11, 22, tzinfo=UTC)
CONTEXT = ExportContext("exp-1", T0, "auditor@example.com", "room:ubuntu")
FILE = {"name": "report.pdf", "size": 10, "sha256": "c" * 64, "url": "https://files.example.com/r.pdf"}


def event(kind: str, second: float, actor: str = "kazuto", room: str = "room:ubuntu", **fields: Any) -> Event:
    internal = actor != "ext"
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
            "room": {"id": room, "name": "#" + room.split(":")[1], "kind": "room"},
            "actor": {"id": f"user:{actor}", "name": actor, "email": f"{actor}@example.com", "internal": internal},
            **fields,
        }
    )


def at(second: float) -> int:
    """Unix milliseconds of ``second`` seconds after T0."""
    return millis(T0 + timedelta(seconds=second))


def post(second: float, text: str, actor: str = "kazuto", message_id: str | None = None, **kw: Any) -> Event:
    return event("post", second, actor, message={"id": message_id or f"m{second}", "text": text}, **kw)


def export(events: list[Event]) -> tuple[list[etree._Element], FormatReport]:
    """Write ``events`` (as a generator, in export order) and parse every file, validating each."""
    files = MemoryExportFiles()
    report = ActianceFormat().write((e for e in sorted(events, key=export_order)), files, CONTEXT)
    documents = []
    for path in sorted(files.contents, key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0])):
        assert path.startswith("actiance/actiance_")
        document = etree.fromstring(files.contents[path])
        SCHEMA.assertValid(document)
        documents.append(document)
    assert [f.path for f in report.files] == list(files.contents)
    assert [f.sha256 for f in report.files] == [w.sha256 for w in files.written]
    return documents, report


def conversations(documents: list[etree._Element]) -> list[etree._Element]:
    return [c for d in documents for c in d.iterfind("Conversation")]


def timeline(conversation: etree._Element) -> list[tuple[str, str, int]]:
    """(element, login, time) for every child between StartTimeUTC and EndTimeUTC."""
    return [
        (str(child.tag), child.findtext("LoginName") or "", int(child.findtext("DateTimeUTC") or 0))
        for child in conversation
        if child.tag not in ("RoomID", "StartTimeUTC", "EndTimeUTC")
    ]


def check_presence_rules(conversation: etree._Element) -> None:
    """Entered only when absent, Left only when present, everyone left at EndTimeUTC, and every
    message and file transfer by someone present."""
    start = int(conversation.findtext("StartTimeUTC") or 0)
    end = int(conversation.findtext("EndTimeUTC") or 0)
    assert start <= end
    present: set[str] = set()
    for tag, login, moment in timeline(conversation):
        assert start <= moment <= end or tag == "Message", (tag, login, moment)
        if tag == "ParticipantEntered":
            assert login not in present
            present.add(login)
        elif tag == "ParticipantLeft":
            assert login in present
            present.remove(login)
        else:
            assert login in present, (tag, login)
    assert not present
    lefts = [child for child in conversation.iterfind("ParticipantLeft")]
    assert all(int(c.findtext("DateTimeUTC") or 0) <= end for c in lefts)


def test_presence_messages_edits_deletes_and_files() -> None:
    events = [
        post(1, "hello", actor="anna", message_id="a1"),  # present from the start: posted, never joined
        event("join", 2, actor="bob"),
        post(3, "hi anna", actor="bob", message_id="b1"),
        event("edit", 4, actor="bob", message={"id": "b1", "text": "hi Anna"}),
        event("delete", 5, actor="anna", message={"id": "a1"}),
        event("file_upload", 6, actor="bob", file=FILE),
        event("read", 7, actor="carl", read={"message_id": "b1"}),  # present from the start: read
        event("leave", 8, actor="dora"),  # present from the start: left
        event("leave", 9, actor="bob"),
        event("join", 10, actor="ext"),
        event("policy_decision", 11, actor="zed", decision={"action": "room_post", "outcome": "deny", "mode": "block"}),
    ]
    documents, report = export(events)
    (conversation,) = conversations(documents)
    check_presence_rules(conversation)
    start, end = millis(DAY_START), millis(DAY_START + timedelta(days=1)) - 1
    assert conversation.get("Perspective") == "#ubuntu"
    assert conversation.findtext("RoomID") == "room - #ubuntu - room:ubuntu"
    assert (conversation.findtext("StartTimeUTC"), conversation.findtext("EndTimeUTC")) == (str(start), str(end))
    # No one is entered at StartTimeUTC: the export knows of no one present before this day, so
    # each party is entered at their first event of the day (dora at her leave), never at 00:00.
    assert timeline(conversation) == [
        ("ParticipantEntered", "anna@example.com", at(1)),
        ("Message", "anna@example.com", at(1)),
        ("ParticipantEntered", "bob@example.com", at(2)),
        ("Message", "bob@example.com", at(3)),
        ("Message", "bob@example.com", at(3)),  # the edit: dated as the post, as Mattermost does
        ("Message", "anna@example.com", at(1)),  # the deletion
        ("FileTransferStarted", "bob@example.com", at(6)),
        ("FileTransferEnded", "bob@example.com", at(6)),
        ("ParticipantEntered", "carl@example.com", at(7)),  # his read: the first sign of him
        ("ParticipantEntered", "dora@example.com", at(8)),  # her leave: the first sign of her
        ("ParticipantLeft", "dora@example.com", at(8)),
        ("ParticipantLeft", "bob@example.com", at(9)),
        ("ParticipantEntered", "ext@example.com", at(10)),
        ("ParticipantLeft", "anna@example.com", end),
        ("ParticipantLeft", "carl@example.com", end),
        ("ParticipantLeft", "ext@example.com", end),
    ]
    messages = [
        (m.findtext("MessageId"), m.findtext("Content"), m.findtext("UpdatedType"), m.findtext("UpdatedDateTimeUTC"))
        for m in conversation.iterfind("Message")
    ]
    assert messages == [
        ("a1", "hello", None, None),
        ("b1", "hi anna", None, None),
        ("b1", "hi Anna", "EditedNewMsg", str(at(4))),
        ("a1", "hello", "Deleted", str(at(5))),  # the deleted text exactly: nothing added
    ]
    ended = conversation.find("FileTransferEnded")
    assert ended is not None
    assert [ended.findtext(n) for n in ("UserFileName", "FileName", "Status")] == [
        "report.pdf",
        FILE["url"],
        "Completed",
    ]
    entered = conversation.find("ParticipantEntered")
    assert entered is not None
    assert [entered.findtext(n) for n in ("InternalFlag", "ConversationID", "CorporateEmailID")] == [
        "true",
        "room:ubuntu",
        "anna@example.com",
    ]
    ext = [e for e in conversation.iterfind("ParticipantEntered") if e.findtext("LoginName") == "ext@example.com"]
    assert ext[0].findtext("InternalFlag") == "false"
    assert (report.events, report.items) == (len(events), 1)
    # Issue 17: events the format has no element for are losses, one per kind.
    left_out = {loss.field: loss.count for loss in report.losses if "no element" in loss.why}
    assert left_out == {"Actiance XML: policy_decision events": 1, "Actiance XML: read events": 1}


def test_an_edit_or_deletion_of_an_earlier_post_stands_alone() -> None:
    documents, report = export(
        [
            event("edit", 4, message={"id": "old", "text": "fixed"}),
            event("delete", 5, message={"id": "older"}),
        ]
    )
    messages = [
        (m.findtext("MessageId"), m.findtext("Content"), m.findtext("DateTimeUTC"), m.findtext("UpdatedType"))
        for m in conversations(documents)[0].iterfind("Message")
    ]
    # The deleted text is not in this conversation: Content is empty (no invented text) and the
    # report says so.
    assert messages == [("old", "fixed", str(at(4)), "EditedNewMsg"), ("older", "", str(at(5)), "Deleted")]
    # Issue 17: a loss of the format, with where the deleted text is.
    [loss] = report.losses
    assert (loss.field, loss.count) == ("Actiance XML: Content of a Deleted message", 1)
    assert "posted before its conversation" in loss.why
    assert "archived post event" in loss.exact_value_in


def test_presence_carries_from_day_to_day_within_a_room() -> None:
    next_day = 86_400
    documents, _ = export(
        [
            event("join", 1, actor="anna"),
            post(2, "day one", actor="bob"),
            event("leave", 3, actor="bob"),
            post(next_day + 5, "day two", actor="carl"),
            post(10, "other room", actor="anna", room="room:linux"),
        ]
    )
    linux, day_one, day_two = conversations(documents)  # export order: room id, then time
    assert linux.findtext("RoomID") == "room - #linux - room:linux"
    entered_day_two = [(e.findtext("LoginName"), e.findtext("DateTimeUTC")) for e in day_two.iter("ParticipantEntered")]
    day_two_start = str(millis(DAY_START + timedelta(days=1)))
    # anna was present at the end of day one; carl is first seen at his post of day two.
    assert entered_day_two == [("anna@example.com", day_two_start), ("carl@example.com", str(at(next_day + 5)))]
    for conversation in (linux, day_one, day_two):
        check_presence_rules(conversation)
    assert [e.findtext("LoginName") for e in linux.iter("ParticipantEntered")] == ["anna@example.com"]


def im_event(kind: str, second: float, actor: str, **fields: Any) -> Event:
    """An event in the direct conversation ``im:19:76``, which has no name."""
    payload = event(kind, second, actor, **fields).model_dump(mode="json")
    return parse_event(payload | {"room": {"id": "im:19:76", "kind": "im"}})


def test_a_direct_conversation_names_its_room_once_and_invents_no_entry_at_midnight() -> None:
    documents, report = export(
        [
            im_event("post", 1, "u19", message={"id": "im1", "text": "Edit 0: call me"}),
            im_event("edit", 2, "u19", message={"id": "im1", "text": "Edit 2: let's talk by phone"}),
            im_event("post", 3, "u76", message={"id": "im2", "text": "ok"}),
            im_event("delete", 4, "u19", message={"id": "im1"}),
        ]
    )
    (conversation,) = conversations(documents)
    check_presence_rules(conversation)
    assert conversation.findtext("RoomID") == "direct - im:19:76"
    assert conversation.get("Perspective") == "im:19:76"
    assert conversation.findtext("StartTimeUTC") == str(millis(DAY_START))
    entered = [
        (e.findtext("LoginName"), int(e.findtext("DateTimeUTC") or 0)) for e in conversation.iter("ParticipantEntered")
    ]
    assert entered == [("u19@example.com", at(1)), ("u76@example.com", at(3))]
    contents = [(m.findtext("Content"), m.findtext("UpdatedType")) for m in conversation.iterfind("Message")]
    assert contents == [
        ("Edit 0: call me", None),
        ("Edit 2: let's talk by phone", "EditedNewMsg"),
        ("ok", None),
        ("Edit 2: let's talk by phone", "Deleted"),
    ]
    assert not any("Deleted" in loss.field for loss in report.losses)


def test_a_named_direct_conversation_keeps_its_name_between_kind_and_id() -> None:
    payload = post(1, "hi").model_dump(mode="json")
    named = parse_event(payload | {"room": {"id": "im:1:2", "name": "anna, bob", "kind": "im"}})
    same = parse_event(payload | {"room": {"id": "room:x", "name": "room:x"}})
    documents, _ = export([named, same])
    assert [c.findtext("RoomID") for c in conversations(documents)] == ["direct - anna, bob - im:1:2", "room - room:x"]


def long_day(count: int) -> Iterator[Event]:
    for i in range(count):
        yield post(i * 0.5, f"message {i}", actor=f"u{i % 7}", message_id=f"m{i}")


def test_a_day_over_10000_events_is_split_into_files_of_at_most_10000() -> None:
    count = 2 * MAX_EVENTS + 500
    documents, report = export(list(long_day(count)))
    parts = conversations(documents)
    assert len(documents) == len(parts) == 3
    assert [len(p.findall("Message")) for p in parts] == [MAX_EVENTS, MAX_EVENTS, 500]
    assert [m.findtext("Content") for p in parts for m in p.iterfind("Message")] == [
        f"message {i}" for i in range(count)
    ]
    for part in parts:
        check_presence_rules(part)
    first, second = parts[0], parts[1]
    assert first.findtext("EndTimeUTC") == first.xpath("string(Message[last()]/DateTimeUTC)")
    assert second.findtext("StartTimeUTC") == second.xpath("string(Message[1]/DateTimeUTC)")
    assert len(second.findall("ParticipantEntered")) == 7, "everyone present at the part's start, no one twice"
    assert report.events == count


def test_files_hold_whole_conversations_of_at_most_10000_events() -> None:
    rooms = [f"room:r{i}" for i in range(5)]
    events = [post(i, f"t{i}", room=rooms[i % 5], message_id=f"m{i}") for i in range(5 * 3_000)]
    documents, _ = export(events)
    sizes = [sum(len(c.findall("Message")) for c in d.iterfind("Conversation")) for d in documents]
    assert sizes == [9_000, 6_000]


def test_the_input_is_consumed_as_a_stream() -> None:
    """The writer pulls events one at a time and never holds more than a conversation part."""
    pulled = 0

    def source() -> Iterator[Event]:
        nonlocal pulled
        for item in long_day(3 * MAX_EVENTS):
            pulled += 1
            yield item

    files = MemoryExportFiles()
    events = source()
    ActianceFormat().write(events, files, CONTEXT)
    assert pulled == 3 * MAX_EVENTS
    assert len(files.contents) == 3


def test_unicode_survives_and_illegal_characters_are_escaped_reversibly_with_a_warning() -> None:
    text = "שלום 😀👍🏽 é\u0301 <b>&amp;</b> tab\t cr\r nl\n \x07bell \ud800 ␇ ␦"
    name_event = parse_event(
        post(1, text).model_dump(mode="json")
        | {"actor": {"id": "user:david", "name": "דוד", "email": "דוד@example.co.il"}, "room": {"id": "room:חדר"}}
    )
    documents, report = export([name_event])
    message = conversations(documents)[0].find("Message")
    assert message is not None
    content = message.findtext("Content") or ""
    assert content.endswith("\u2407bell \u2426D800 \u2426\u2407 \u2426\u2426")
    assert unescape_xml_text(content) == text
    assert message.findtext("LoginName") == "דוד@example.co.il"
    assert conversations(documents)[0].get("Perspective") == "room:חדר"
    [loss] = report.losses
    assert (loss.field, loss.count, loss.unit) == ("Actiance XML: any element's text", 4, "characters")
    assert loss.why.startswith("XML 1.0 cannot carry C0 control characters")
    assert "unescape_xml_text" in loss.exact_value_in


def test_an_empty_export_writes_one_empty_file_dump() -> None:
    documents, report = export([])
    assert len(documents) == 1
    assert documents[0].tag == "FileDump"
    assert len(documents[0]) == 0
    assert (report.events, report.items) == (0, 0)


def test_simulated_traffic_every_post_and_transfer_is_written() -> None:
    events = sorted(simulate_events(events=4_000, rooms=6, users=25, seed=11), key=export_order)
    documents, report = export(events)
    found = conversations(documents)
    for conversation in found:
        check_presence_rules(conversation)
    originals = [m for c in found for m in c.iterfind("Message") if m.find("UpdatedType") is None]
    posts = [e for e in events if isinstance(e, PostEvent)]
    assert [(m.findtext("MessageId"), m.findtext("Content")) for m in originals] == [
        (p.message.id, p.message.text) for p in posts
    ]
    updated = Counter(m.findtext("UpdatedType") for c in found for m in c.iterfind("Message[UpdatedType]"))
    for conversation in found:  # a deletion carries the text current when it was deleted, nothing else
        current: dict[str, str] = {}
        for message in conversation.iterfind("Message"):
            message_id, content = message.findtext("MessageId") or "", message.findtext("Content") or ""
            if message.findtext("UpdatedType") == "Deleted":
                assert content == current.get(message_id, ""), (message_id, content)
            else:
                current[message_id] = content
    kinds = Counter(e.type for e in events)
    assert updated == {"EditedNewMsg": kinds["edit"], "Deleted": kinds["delete"]}
    transfers = sum(len(c.findall("FileTransferEnded")) for c in found)
    assert transfers == kinds["file_upload"] + kinds["file_download"]
    assert len(found) == len({(e.room.id, e.occurred_at.date()) for e in events}) == report.items


@pytest.mark.parametrize("log", IRC_LOGS, ids=lambda p: p.name)
def test_real_irc_logs(log: Path) -> None:
    events = sorted(read_irc_file(log), key=export_order)
    documents, report = export(events)
    found = conversations(documents)
    for conversation in found:
        check_presence_rules(conversation)
    contents = [unescape_xml_text(m.findtext("Content") or "") for c in found for m in c.iterfind("Message")]
    assert contents == [e.message.text for e in events if isinstance(e, PostEvent)]
    first_day = found[0].iter("ParticipantEntered")
    entered = [(e.findtext("LoginName"), int(e.findtext("DateTimeUTC") or 0)) for e in first_day]
    for join in (e for e in events if e.type == "join" and e.occurred_at.date() == events[0].occurred_at.date()):
        login, moment = join.actor.email or join.actor.id, millis(join.occurred_at)
        assert any(who == login and when <= moment for who, when in entered), "a joiner is present by the join"
    assert report.events == len(events)


def test_render_batch_is_one_document_with_a_conversation_per_room() -> None:
    batch = [post(1, "a"), post(2, "b", room="room:linux"), post(3, "c")]
    document = etree.fromstring(render_batch(batch))
    SCHEMA.assertValid(document)
    found = document.findall("Conversation")
    assert [c.get("Perspective") for c in found] == ["#ubuntu", "#linux"]
    assert found[0].findtext("StartTimeUTC") == str(millis(T0 + timedelta(seconds=1)))
    assert found[0].findtext("EndTimeUTC") == str(millis(T0 + timedelta(seconds=3)))
    for conversation in found:
        check_presence_rules(conversation)
