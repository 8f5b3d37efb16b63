"""messages.dat as a production load file: one row per document (issue 19), read back with the
tests' own DAT reader (test_csv_dat.parse_dat), its texts and hashes recomputed with hashlib."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.base import ExportContext, FormatReport, MemoryExportFiles, export_order
from exports.csv_dat import CSV_FILE, DAT_FILE, CsvDatFormat
from exports.dat import DAT_COLUMNS, DAT_FIELDS, DOCUMENT_SUMS_FILE, FIELDS_FILE
from exports.documents import Document, DocumentUnit, Numbering, documents, every_document
from exports.jsonl import DOCUMENTS_FILE, JsonlFormat
from exports.transcript import document_text, time_of_day
from formats.time_zones import as_sent
from ingest.events import Event, parse_event
from tests.exports.conftest import DAY_ONE, event_payload
from tests.exports.test_csv_dat import parse_dat

NEW_YORK = ZoneInfo("America/New_York")


def production(
    context: ExportContext, *, unit: DocumentUnit = "conversation", start: int = 1, zone: ZoneInfo | None = None
) -> ExportContext:
    return replace(context, unit=unit, numbering=Numbering("ACME-", start), time_zone=zone or context.time_zone)


def write_dat(
    events: list[Event], context: ExportContext
) -> tuple[MemoryExportFiles, FormatReport, list[dict[str, str]], list[dict[str, str]]]:
    files = MemoryExportFiles()
    report = CsvDatFormat().write(iter(events), files, context)
    table = parse_dat(files.contents[DAT_FILE])
    assert table[0] == list(DAT_COLUMNS)
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    events_csv = list(csv.DictReader(io.StringIO(files.contents[CSV_FILE].decode("utf-8-sig"), newline="")))
    return files, report, rows, events_csv


def expected_documents(events: list[Event], context: ExportContext) -> list[Document]:
    parents = documents(
        events,
        unit=context.unit,
        numbering=context.control_numbers,
        zone=context.time_zone,
        custodians=context.custodians,
    )
    return list(every_document(parents))


def check_rows(
    files: MemoryExportFiles, rows: list[dict[str, str]], events: list[Event], context: ExportContext
) -> None:
    """What every production's DAT must be, whatever the events."""
    expected = expected_documents(events, context)
    assert [r["BEGDOC"] for r in rows] == [d.control for d in expected]
    assert [r["ENDDOC"] for r in rows] == [r["BEGDOC"] for r in rows]  # document-level numbering
    by_control = {r["BEGDOC"]: r for r in rows}
    held: list[str] = []
    for document, row in zip(expected, rows, strict=True):
        assert row["DOC_TYPE"] == document.kind
        assert row["EVENT_IDS"].split("; ") == [str(e.event_id) for e in document.events]
        assert row["EVENT_COUNT"] == str(len(document.events))
        if document.kind != "attachment":
            held.extend(row["EVENT_IDS"].split("; "))
            # TEXTPATH holds the document's text, byte for byte; the hashes are of those bytes.
            data = files.contents[row["TEXTPATH"]]
            assert data == document_text(document, context.time_zone, context.case_name).encode()
            assert row["SHA256HASH"] == hashlib.sha256(data).hexdigest()
            assert row["MD5HASH"] == hashlib.md5(data, usedforsecurity=False).hexdigest()
            assert row["PARENT_DOCID"] == ""
            assert row["ATTACHMENT_COUNT"] == str(len(document.children))
            # The family is contiguous: BEGATTACH..ENDATTACH covers exactly the children.
            family = [row["BEGDOC"], *[child.control for child in document.children]]
            assert (row["BEGATTACH"], row["ENDATTACH"]) == (family[0], family[-1])
            numbers = [int(control.removeprefix("ACME-")) for control in family]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        else:
            parent = by_control[row["PARENT_DOCID"]]
            assert parent["DOC_TYPE"] != "attachment"
            assert (row["BEGATTACH"], row["ENDATTACH"]) == (parent["BEGATTACH"], parent["ENDATTACH"])
            assert parent["BEGATTACH"] <= row["BEGDOC"] <= parent["ENDATTACH"]
            assert document.upload is not None
            assert row["FILE_SHA256"] == row["SHA256HASH"] == document.upload.file.sha256
            assert row["FILE_NAME"] == document.upload.file.name.replace("®", "(R)").replace("þ", "th")
    # Every event is in exactly one (parent) document: none is dropped, none is a row of its own.
    assert sorted(held) == sorted(str(e.event_id) for e in events)
    # The checksum list names every document text with its SHA-256.
    sums = dict(line.split("  ")[::-1] for line in files.contents[DOCUMENT_SUMS_FILE].decode().splitlines())
    parents = [r for r in rows if r["DOC_TYPE"] != "attachment"]
    assert sums == {r["TEXTPATH"]: hashlib.sha256(files.contents[r["TEXTPATH"]]).hexdigest() for r in parents}


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_one_row_per_document_with_families_texts_and_hashes(
    varied_events: list[Event], export_context: ExportContext, unit: DocumentUnit
) -> None:
    context = production(export_context, unit=unit)
    files, report, rows, _ = write_dat(varied_events, context)
    check_rows(files, rows, varied_events, context)
    assert len(rows) < len(varied_events)  # joins, leaves and reads are not documents
    types = {str(e.event_id): e.type for e in varied_events}
    for row in rows:
        held = {types[event_id] for event_id in row["EVENT_IDS"].split("; ")}
        assert held & {"post", "edit", "delete", "file_upload"}, row["BEGDOC"]
    assert report.items == len(rows) == report.documents.documents
    assert {r["DOC_TYPE"] for r in rows} == {unit, "attachment"}
    (attachment,) = [r for r in rows if r["DOC_TYPE"] == "attachment"]
    # Without a file store the native is not in the export: its state says so, no path.
    assert (attachment["NATIVEPATH"], attachment["NATIVE_STATE"], attachment["MD5HASH"]) == ("", "not_exported", "")
    assert attachment["FILE_SIZE"] == "12345"
    assert attachment["FILE_CONTENT_TYPE"] == "application/vnd"


def test_custodian_from_the_case_and_people_named_with_ids(varied_events: list[Event]) -> None:
    context = ExportContext("x", datetime(2026, 12, 1), "me", "q", case_name="Matter", custodians=("user:1", "user:0"))
    _, _, rows, _ = write_dat(varied_events, production(context))
    trading = next(r for r in rows if r["ROOM_ID"] == "room:trading" and r["DOC_TYPE"] == "conversation")
    # The case's custodians who took part, in the case's order; named "name (id)".
    assert trading["CUSTODIAN"] == "Zoë Müller (user:1)"
    assert trading["ALL_CUSTODIANS"] == "Zoë Müller (user:1); Dana Levi דנה (user:0)"
    assert trading["CONVERSATION"] == "#trading-desk (room:trading)"
    assert "Dana Levi דנה (user:0)" in trading["FROM"].split("; ")
    assert "user:2" in trading["PARTICIPANTS"].split("; ")  # the bot has no name: its id
    senders = set(trading["FROM"].split("; "))
    assert not senders & set(trading["TO"].split("; "))  # TO: those present who did not write


def test_a_message_document_is_from_its_sender_to_everyone_else_present() -> None:
    payloads = [
        event_payload(0, "join"),  # user:0
        event_payload(1, "join"),  # user:1
        event_payload(2, "join"),  # user:2
        event_payload(3, "post", message={"id": "m1", "text": "hello"}),  # user:0
        event_payload(4, "read", read={"message_id": "m1"}),  # user:1
        event_payload(6, "post", message={"id": "m2", "text": "hi"}),  # user:0
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    context = ExportContext("x", datetime(2026, 12, 1), "me", "q", custodians=("user:1",))
    _, _, rows, events_csv = write_dat(events, production(context, unit="message"))
    assert [r["DOC_TYPE"] for r in rows] == ["message", "message"]
    first = rows[0]
    assert (first["MESSAGE_ID"], first["FROM"]) == ("m1", "Dana Levi דנה (user:0)")
    assert first["TO"].split("; ") == ["Zoë Müller (user:1)", "user:2"]
    assert first["PARTICIPANTS"].split("; ") == ["Dana Levi דנה (user:0)", "Zoë Müller (user:1)", "user:2"]
    assert first["CUSTODIAN"] == "Zoë Müller (user:1)"
    assert (first["VERSION_COUNT"], first["EDITED"], first["DELETED"]) == ("1", "N", "N")
    # The read receipt is in m1's document, never a row of its own; in the CSV its reader is
    # named as the reader, and the sender's columns are empty.
    read = next(r for r in events_csv if r["TYPE"] == "read")
    assert read["DOCUMENT"] == first["BEGDOC"]
    assert (read["READER_ID"], read["READER_NAME"]) == ("user:1", "Zoë Müller")
    assert (read["SENDER_ID"], read["SENDER_NAME"], read["SENDER_EMAIL"], read["SENDER_INTERNAL"]) == ("", "", "", "")
    post = next(r for r in events_csv if r["TYPE"] == "post")
    assert (post["SENDER_ID"], post["READER_ID"]) == ("user:0", "")


def test_dates_are_in_the_production_zone_with_the_offset_and_the_zone_named() -> None:
    payloads = [
        # 2026-11-22 09:00:03 UTC is 04:00:03 in New York (EST, -05:00)
        event_payload(3, "post", message={"id": "m1", "text": "first"}),
        event_payload(40, "edit", message={"id": "m1", "text": "first, edited"}),
        event_payload(50, "leave"),
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    context = production(ExportContext("x", datetime(2026, 12, 1), "me", "q"), zone=NEW_YORK)
    files, report, rows, _ = write_dat(events, context)
    (row,) = rows
    assert row["DATE_SENT"] == row["DATE_BEGIN"] == "2026-11-22T04:00:03.123456-05:00"
    assert row["DATE_END"] == "2026-11-22T04:00:50.123456-05:00"
    assert row["TIME_ZONE"] == "America/New_York"
    assert (row["VERSION_COUNT"], row["EDITED"]) == ("2", "Y")
    assert "America/New_York" in report.times
    check_rows(files, rows, events, context)


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_a_deleted_message_is_never_shown_as_not_deleted(unit: DocumentUnit) -> None:
    payloads = [
        event_payload(1, "post", message={"id": "m1", "text": "regret"}),
        event_payload(2, "post", message={"id": "m2", "text": "fine"}),
        event_payload(3, "post", day=1, message={"id": "m3", "text": "next day"}),
        # deleted two days later: a later conversation slice holds the deletion
        event_payload(4, "delete", day=2, message={"id": "m1"}),
        event_payload(5, "post", day=2, message={"id": "m4", "text": "day three"}),
    ]
    events = sorted((parse_event(p) for p in payloads), key=export_order)
    context = production(ExportContext("x", datetime(2026, 12, 1), "me", "q"), unit=unit)
    files, _, rows, events_csv = write_dat(events, context)
    check_rows(files, rows, events, context)
    texts = {r["BEGDOC"]: files.contents[r["TEXTPATH"]].decode() for r in rows}
    (posted_m1,) = [r for r in rows if "[m1]: regret" in texts[r["BEGDOC"]]]
    assert posted_m1["DELETED"] == "Y"  # the slice of the post, though the deletion is days later
    (deleting,) = [r for r in rows if "DELETED [m1]" in texts[r["BEGDOC"]]]
    assert deleting["DELETED"] == "Y"
    untouched = [r for r in rows if "[m1]" not in texts[r["BEGDOC"]]]
    assert untouched
    assert all(r["DELETED"] == "N" for r in untouched)
    # The CSV (a row per event) says Y on the deletion's row and never N on a post's row.
    assert [r["DELETED"] for r in events_csv if r["TYPE"] == "delete"] == ["Y"]
    assert all(r["DELETED"] != "N" for r in events_csv)


def test_numbering_starts_at_n_and_continues_across_two_productions(varied_events: list[Event]) -> None:
    context = ExportContext("x", datetime(2026, 12, 1), "me", "q")
    _, first_report, first, _ = write_dat(varied_events, production(context, start=101))
    assert first[0]["BEGDOC"] == "ACME-0000101"
    last = int(first[-1]["BEGDOC"].removeprefix("ACME-"))
    assert last == 101 + len(first) - 1 == first_report.documents.last
    _, _, second, _ = write_dat(varied_events, production(context, start=last + 1))
    numbers = [int(r["BEGDOC"].removeprefix("ACME-")) for r in first + second]
    assert numbers == list(range(101, 101 + len(numbers)))


def test_the_field_list_documents_every_column(varied_events: list[Event], export_context: ExportContext) -> None:
    files, report, _, _ = write_dat(varied_events, export_context)
    assert FIELDS_FILE in [f.path for f in report.files]  # so in the manifest
    listed = list(csv.DictReader(io.StringIO(files.contents[FIELDS_FILE].decode("utf-8-sig"), newline="")))
    assert [r["FIELD"] for r in listed] == list(DAT_COLUMNS)
    for row in listed:
        assert row["MEANING"]
        assert row["FORMAT"]
        assert row["CONVENTION"]
    by_name = {f.name: f for f in DAT_FIELDS}
    assert "TEXTPATH" in by_name["SHA256HASH"].meaning  # parents: the hash of the text file
    assert "native" in by_name["MD5HASH"].meaning
    # A message's people are who took part (exports/documents.py, "People"), not everyone present.
    for column in ("TO", "PARTICIPANTS"):
        assert "everyone present except" not in by_name[column].meaning
        assert "not the room's whole audience" in by_name[column].meaning
    assert "present in the room at its start" in by_name["CUSTODIAN"].meaning
    assert "U+FF1B" in by_name["FROM"].format


def test_every_event_row_of_the_csv_names_its_document(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    _, _, rows, events_csv = write_dat(varied_events, export_context)
    assert len(events_csv) == len(varied_events)  # one row per event, attachments are not rows
    parents = {r["BEGDOC"]: r for r in rows if r["DOC_TYPE"] != "attachment"}
    for event_row in events_csv:
        assert event_row["EVENT_ID"] in parents[event_row["DOCUMENT"]]["EVENT_IDS"].split("; ")
    upload = next(r for r in events_csv if r["TYPE"] == "file_upload")
    attachment = next(r for r in rows if r["DOC_TYPE"] == "attachment")
    assert upload["ATTACHMENT"] == attachment["BEGDOC"]
    assert (upload["BEGATTACH"], upload["ENDATTACH"]) == (attachment["BEGATTACH"], attachment["ENDATTACH"])


def test_the_real_irc_logs_in_both_units(irc_events: list[Event], export_context: ExportContext) -> None:
    events = irc_events[:4000]
    for unit in ("conversation", "message"):
        context = production(export_context, unit=unit, zone=NEW_YORK)
        files, _, rows, events_csv = write_dat(events, context)
        check_rows(files, rows, events, context)
        assert len(events_csv) == len(events)
        kinds = {r["DOC_TYPE"] for r in rows}
        assert kinds == {unit}
        assert all(r["TIME_ZONE"] == "America/New_York" and r["DATE_SENT"][-6:] in ("-05:00", "-04:00") for r in rows)


def test_documents_jsonl_maps_every_event_to_its_control_number(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    for unit in ("conversation", "message"):
        context = production(export_context, unit=unit, start=7)
        files = MemoryExportFiles()
        report = JsonlFormat().write(iter(varied_events), files, context)
        lines = [json.loads(line) for line in files.contents[DOCUMENTS_FILE].decode().splitlines()]
        expected = expected_documents(varied_events, context)
        assert [line["control"] for line in lines] == [d.control for d in expected]
        assert report.documents.documents == len(lines)
        assert DOCUMENTS_FILE in [f.path for f in report.files]
        for line, document in zip(lines, expected, strict=True):
            assert line["kind"] == document.kind
            assert line["unit"] == unit
            assert line["event_ids"] == [str(e.event_id) for e in document.events]
            assert (line["family_begin"], line["family_end"]) == (document.family_begin, document.family_end)
            assert line["parent"] == (document.parent.control if document.parent else None)
            assert line["room"]["id"] == document.room.id
            assert line["day"] == document.day.isoformat()
            assert line["custodians"] == list(document.custodians)
            assert line["participants"] == [a.id for a in document.participants]
            assert line["senders"] == [a.id for a in document.senders]
            if document.kind == "attachment":
                assert document.upload is not None
                assert line["file"]["sha256"] == document.upload.file.sha256
            else:
                # Where the csv format puts the document's text (its DAT's TEXTPATH).
                assert line["textpath"] == f"documents_text/{document.control}.txt"
        # With the csv format in the same export, textpath is the DAT's TEXTPATH of the document.
        CsvDatFormat().write(iter(varied_events), files, context)
        table = parse_dat(files.contents[DAT_FILE])
        dat = {row[0]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
        for line in lines:
            if "textpath" in line:
                assert line["textpath"] == dat[line["control"]]["TEXTPATH"]
                data = files.contents[line["textpath"]]
                assert hashlib.sha256(data).hexdigest() == dat[line["control"]]["SHA256HASH"]
        # events.jsonl is still every archived event, unchanged.
        assert len(files.contents["events.jsonl"].splitlines()) == len(varied_events)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([None, "+00:00", "+09:00", "-05:00", "+05:30", "-00:30"]),
    st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata"]),
    st.integers(0, 86_400 * 400),
)
def test_the_time_of_a_transcript_line_says_the_senders_own_offset_when_it_differs(
    offset: str | None, zone_name: str, second: int
) -> None:
    """time_of_day's UTC path (no conversion) says what formats.time_zones.as_sent says."""
    payload = event_payload(0, "post", message={"id": "m", "text": "x"})
    moment = DAY_ONE + timedelta(seconds=second)
    payload["occurred_at"] = moment.astimezone(timezone(_delta(offset))).isoformat()
    event = parse_event(payload)
    zone = ZoneInfo(zone_name)
    shown = time_of_day(event, zone)
    assert shown.endswith(as_sent(event.occurred_at, zone, event.occurred_offset))
    wall = event.occurred_at.astimezone(zone)
    assert shown.startswith(f"{wall.hour:02d}:{wall.minute:02d}:{wall.second:02d}.")


def _delta(offset: str | None) -> timedelta:
    if not offset:
        return timedelta(0)
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = (int(part) for part in offset[1:].split(":"))
    return sign * timedelta(hours=hours, minutes=minutes)


def test_a_semicolon_in_a_name_does_not_make_more_people() -> None:
    """'; ' separates the people of a field: a ';' inside a name or id is written U+FF1B, and the
    report names each column so altered (a loss, with where the exact value is)."""
    hostile = event_payload(1, "post", message={"id": "m1", "text": "hello"})
    hostile["actor"] = {"id": "user:anna;x", "name": "Smith; John (user:ceo); Mallory"}
    other = event_payload(2, "post", message={"id": "m2", "text": "hi"})
    other["actor"] = {"id": "user:bob", "name": "Bob"}
    events = sorted((parse_event(p) for p in (hostile, other)), key=export_order)
    context = ExportContext("x", datetime(2026, 12, 1), "me", "q")
    _, report, rows, _ = write_dat(events, production(context, unit="conversation"))
    (row,) = rows
    anna = "Smith\uff1b John (user:ceo)\uff1b Mallory (user:anna\uff1bx)"
    assert row["CUSTODIAN"] == anna
    assert row["ALL_CUSTODIANS"].split("; ") == [anna, "Bob (user:bob)"]
    assert row["FROM"].split("; ") == [anna, "Bob (user:bob)"]
    assert row["PARTICIPANTS"].split("; ") == [anna, "Bob (user:bob)"]
    losses = {loss.field: loss for loss in report.losses}
    for column in ("CUSTODIAN", "ALL_CUSTODIANS", "FROM", "PARTICIPANTS"):
        loss = losses[f"{DAT_FILE}: {column}"]
        assert (loss.count, loss.unit) == (1, "documents")
        assert "events.jsonl" in loss.exact_value_in
    assert f"{DAT_FILE}: TO" not in losses
