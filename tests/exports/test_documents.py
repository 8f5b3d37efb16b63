"""The document unit, control numbers and families (exports.documents)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.base import export_order
from exports.documents import (
    BadNumbering,
    Document,
    DocumentCount,
    DocumentUnit,
    Numbering,
    default_numbering,
    documents,
    every_document,
    page_label,
)
from exports.transcript import document_text
from ingest.events import Event, parse_event
from tests.exports.conftest import event_payload

UTC = ZoneInfo("UTC")


def _docs(events: list[Event], unit: DocumentUnit, start: int = 1, custodians: tuple[str, ...] = ()) -> list[Document]:
    return list(documents(events, unit=unit, numbering=Numbering("ACME-", start), zone=UTC, custodians=custodians))


def test_numbering_is_prefix_and_zero_padded_number_and_refuses_bad_prefixes() -> None:
    assert Numbering("ACME-", 1).control(1) == "ACME-0000001"
    assert Numbering("X", 42, width=4).control(42) == "X0042"
    assert default_numbering("5f0c6f3e-8a55").control(3) == "5F0C6F3E-0000003"
    assert page_label("ACME-0000001", 1) == "ACME-0000001"
    assert page_label("ACME-0000001", 2) == "ACME-0000001.0002"
    for bad in ("", "-ACME", "AC ME", "A/B", "x" * 21, "þ"):
        with pytest.raises(BadNumbering):
            Numbering(bad)
    with pytest.raises(BadNumbering):
        Numbering("A", 0)


def test_conversation_slices_are_room_days_with_uploads_as_children(varied_events: list[Event]) -> None:
    parents = _docs(varied_events, "conversation")
    assert [(d.room.id, d.day.isoformat()) for d in parents] == [
        ("im:1:2", "2026-11-22"),
        ("room:trading", "2026-11-22"),
        ("room:trading", "2026-11-23"),
    ]
    numbered = list(every_document(parents))
    assert [d.control for d in numbered] == [f"ACME-{n:07d}" for n in range(1, 5)]
    trading = parents[1]
    (attachment,) = trading.children
    assert attachment.kind == "attachment"
    assert attachment.parent is trading
    assert attachment.upload is not None
    assert attachment.upload.file.name == "Q3 forecast ®.xlsx"
    assert (trading.family_begin, trading.family_end) == ("ACME-0000002", "ACME-0000003")
    assert (attachment.family_begin, attachment.family_end) == ("ACME-0000002", "ACME-0000003")
    assert parents[2].family_begin == parents[2].family_end == "ACME-0000004"
    # edits keep counting across days: msg:0's edit on day two is its fourth version
    assert sorted(parents[2].versions.values()) == [4]


def test_every_event_is_in_exactly_one_document_in_both_units(varied_events: list[Event]) -> None:
    units: tuple[DocumentUnit, ...] = ("conversation", "message")
    for unit in units:
        parents = _docs(varied_events, unit)
        held = [str(e.event_id) for d in parents for e in d.events]
        assert sorted(held) == sorted(str(e.event_id) for e in varied_events)


def test_message_unit_holds_versions_deletion_and_reads_of_one_message(varied_events: list[Event]) -> None:
    parents = _docs(varied_events, "message")
    by_message = {d.message_id: d for d in parents if d.message_id}
    first = by_message["msg:0"]
    assert [e.type for e in first.events].count("edit") == 3  # the day-two edit too
    assert sorted(first.versions.values()) == [2, 3, 4]
    assert by_message["msg:1"].deleted
    assert not first.deleted
    assert "read" in [e.type for e in by_message["msg:2"].events]
    # joins, leaves and reads are never documents of their own
    for document in parents:
        assert any(e.type in ("post", "edit", "delete", "file_upload") for e in document.events)
    upload = next(d for d in parents if d.children)
    assert upload.events[0].type == "file_upload" or "file_upload" in [e.type for e in upload.events]


def test_a_slice_of_nothing_but_context_is_late_context_of_the_previous_document() -> None:
    payloads = [
        event_payload(0, "post", message={"id": "m1", "text": "hello"}),
        event_payload(5, "read", day=2, read={"message_id": "m1"}),
        event_payload(6, "leave", day=2),
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    (only,) = _docs(events, "conversation")
    assert [e.type for e in only.events] == ["post", "read", "leave"]


def test_custodians_are_the_case_custodians_who_took_part_else_the_senders(varied_events: list[Event]) -> None:
    parents = _docs(varied_events, "conversation", custodians=("user:1", "user:nobody"))
    assert all(d.custodians in ((), ("user:1",)) for d in parents)
    trading = parents[1]
    assert trading.custodians == ("user:1",)
    assert {a.id for a in trading.participants} >= {"user:0", "user:1"}
    no_case = _docs(varied_events, "conversation")
    assert no_case[1].custodians == tuple(a.id for a in no_case[1].senders)


def test_document_text_names_control_number_people_with_ids_and_the_zone(varied_events: list[Event]) -> None:
    trading = _docs(varied_events, "conversation")[1]
    text = document_text(trading, ZoneInfo("America/New_York"), "Matter 42")
    assert text.startswith("ACME-0000002 (conversation, case Matter 42)\n")
    assert "times in America/New_York" in text
    assert "Zoë Müller (user:1)" in text
    assert "EDITED [msg:0] (version 3)" in text


_KINDS = st.sampled_from(["post", "edit", "delete", "read", "join", "leave", "file_upload"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(_KINDS, st.integers(0, 3), st.integers(0, 4), st.integers(0, 2)), min_size=1, max_size=40),
    st.sampled_from(["conversation", "message"]),
    st.integers(1, 10_000),
)
def test_numbers_are_contiguous_and_every_event_is_kept(
    draws: list[tuple[str, int, int, int]], unit: DocumentUnit, start: int
) -> None:
    payloads = []
    for index, (kind, day, message, room) in enumerate(draws):
        fields: dict[str, object] = {}
        if kind in ("post", "edit"):
            fields["message"] = {"id": f"m{message}", "text": f"text {index}"}
        elif kind == "delete":
            fields["message"] = {"id": f"m{message}"}
        elif kind == "read":
            fields["read"] = {"message_id": f"m{message}"}
        elif kind == "file_upload":
            fields["file"] = {"name": f"f{index}.txt", "size": 1, "sha256": "b" * 64, "content_type": "text/plain"}
        payloads.append(event_payload(index, kind, day=day, room=f"room:{room}", **fields))
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    count = DocumentCount()
    parents = list(documents(events, unit=unit, numbering=Numbering("P", start), zone=UTC, count=count))
    numbered = list(every_document(parents))
    assert [d.number for d in numbered] == list(range(start, start + len(numbered)))
    assert count.documents == len(numbered)
    assert count.first == start
    assert count.families == len(parents)
    assert sorted(str(e.event_id) for d in parents for e in d.events) == sorted(str(e.event_id) for e in events)
    uploads = sum(1 for e in events if e.type == "file_upload")
    assert sum(len(d.children) for d in parents) == uploads


def test_a_message_names_who_took_part_not_the_whole_audience_but_a_present_custodian_is_its_custodian() -> None:
    payloads = [
        event_payload(0, "join"),  # user:0, present and silent
        event_payload(1, "post", message={"id": "m1", "text": "hello"}),  # user:1
        event_payload(5, "read", read={"message_id": "m1"}),  # user:2 reads it
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    (message,) = _docs(events, "message", custodians=("user:0",))
    assert {a.id for a in message.participants} == {"user:0", "user:1", "user:2"}  # the join is its context
    (message,) = _docs(events[1:], "message", custodians=("user:0",))
    assert {a.id for a in message.participants} == {"user:1", "user:2"}
    assert message.custodians == ()
    joined_earlier = [parse_event(event_payload(0, "join")), *events[1:]]
    slices = _docs(sorted(joined_earlier, key=export_order), "conversation", custodians=("user:0",))
    assert slices[0].custodians == ("user:0",)


def test_a_custodian_present_in_the_room_is_a_custodian_of_a_message_they_took_no_part_in() -> None:
    payloads = [
        event_payload(0, "join"),  # user:0, the custodian, stays silent
        event_payload(1, "post", message={"id": "m0", "text": "first"}),  # user:1
        event_payload(4, "post", message={"id": "m1", "text": "second"}),  # user:1
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    first, second = _docs(events, "message", custodians=("user:0",))
    assert {a.id for a in second.participants} == {"user:1"}
    assert second.custodians == ("user:0",)
    assert first.custodians == ("user:0",)


def test_custodians_come_with_their_names_even_when_only_present() -> None:
    payloads = [
        event_payload(0, "join"),  # user:0 "Dana Levi דנה", present only
        event_payload(1, "post", message={"id": "m0", "text": "first"}),
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    (second,) = _docs(events[1:], "message", custodians=("user:0",))
    assert second.custodian_people == ()
    first_join, *_ = _docs(events, "message", custodians=("user:0", "user:1"))
    assert [a.name for a in first_join.custodian_people] == ["Dana Levi דנה", "Zoë Müller"]
    assert first_join.custodians == ("user:0", "user:1")
