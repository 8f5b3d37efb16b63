"""Issue 17, finding 4: every export takes a time zone, says it, cuts conversation-days at that
zone's midnight (the 23:30 New York message stays on its New York day; the daylight saving days
of 2026 are 23 and 25 hours long) and keeps the sender's own UTC offset visible. Each format is
checked with its own schema (lxml for the XSDs, jsonschema for RSMF 2.0) and the PDF through
pypdf's text layer."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from lxml import etree
from pypdf import PdfReader

from exports.actiance import ActianceFormat
from exports.base import ExportContext, MemoryExportFiles, export_order
from exports.csv_dat import COLUMNS, CSV_FILE, CsvDatFormat
from exports.edrm import EdrmFormat
from exports.jsonl import EVENTS_FILE, JsonlFormat
from exports.lync import LyncXmlFormat
from exports.pdf_report import PdfReportFormat
from exports.rsmf import RsmfFormat
from formats.time_zones import time_zone
from ingest.events import Event, parse_event, parse_event_json
from tests.exports.pdf_documents_text import documents_text

ROOT = Path(__file__).resolve().parents[2]
RSMF_SCHEMA = json.loads((ROOT / "tests" / "exports" / "schemas" / "rsmf_schema_2_0_0.json").read_text())
ACTIANCE_XSD = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "actiance.xsd")))
EDRM_XSD = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "edrm-1.2-subset.xsd")))
LYNC_XSD = etree.XMLSchema(etree.parse(str(ROOT / "adapters" / "schemas" / "lync_compliance.xsd")))
NEW_YORK = "America/New_York"

SENT = (
    # (message id, the time as its sender's clock wrote it)
    ("tokyo", "2026-11-22T09:00:00+09:00"),  # 00:00Z on the 22nd: 19:00 EST on the 21st
    ("late", "2026-11-22T23:30:00-05:00"),  # 04:30Z on the 23rd: still the 22nd in New York
    ("next", "2026-11-23T08:00:00-05:00"),
    ("spring-before", "2026-03-08T00:30:00-05:00"),  # the day clocks go forward (23 hours)
    ("spring-late", "2026-03-08T23:30:00-04:00"),  # 03:30Z on the 9th
    ("fall-first", "2026-11-01T01:30:00-04:00"),  # the day clocks go back (25 hours): 01:30 twice
    ("fall-second", "2026-11-01T01:30:00-05:00"),
    ("fall-late", "2026-11-01T23:30:00-05:00"),  # 04:30Z on the 2nd
)
NEW_YORK_DAYS = {
    "tokyo": "2026-11-21",
    "late": "2026-11-22",
    "next": "2026-11-23",
    "spring-before": "2026-03-08",
    "spring-late": "2026-03-08",
    "fall-first": "2026-11-01",
    "fall-second": "2026-11-01",
    "fall-late": "2026-11-01",
}


def _event(message_id: str, sent: str) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, message_id)),
            "type": "post",
            "occurred_at": sent,
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:ny", "name": "Nora York"},
            "message": {"id": message_id, "text": f"message {message_id}"},
        }
    )


@pytest.fixture
def events() -> list[Event]:
    return sorted((_event(message_id, sent) for message_id, sent in SENT), key=export_order)


def context(zone: str = NEW_YORK) -> ExportContext:
    return ExportContext(
        "tz-1", datetime(2026, 12, 1, tzinfo=UTC), "legal@example.com", "room:desk", time_zone=time_zone(zone)
    )


def test_the_sender_offset_is_in_the_archived_event() -> None:
    late = _event("late", "2026-11-22T23:30:00-05:00")
    assert late.occurred_at == datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    assert late.occurred_offset == "-05:00"


def test_csv_and_dat_write_utc_the_chosen_zone_and_the_senders_offset(events: list[Event]) -> None:
    files = MemoryExportFiles()
    report = CsvDatFormat().write(iter(events), files, context())
    rows = list(csv.reader(io.StringIO(files.contents[CSV_FILE].decode("utf-8-sig"), newline="")))
    assert rows[0] == list(COLUMNS)
    records = {row[COLUMNS.index("TEXT")].split()[-1]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    late = records["late"]
    assert late["OCCURRED_AT"] == "2026-11-23T04:30:00.000000Z"
    assert late["OCCURRED_LOCAL"] == "2026-11-22T23:30:00.000000-05:00"
    assert late["TIME_ZONE"] == NEW_YORK
    assert late["SENT_OFFSET"] == "UTC-05:00"
    assert records["tokyo"]["OCCURRED_LOCAL"] == "2026-11-21T19:00:00.000000-05:00"
    assert records["tokyo"]["SENT_OFFSET"] == "UTC+09:00"
    assert records["fall-first"]["OCCURRED_LOCAL"] == "2026-11-01T01:30:00.000000-04:00"
    assert records["fall-second"]["OCCURRED_LOCAL"] == "2026-11-01T01:30:00.000000-05:00"
    assert report.warnings == []  # no offset cell is taken for a formula
    assert NEW_YORK in report.times


def test_jsonl_keeps_the_archived_json_with_the_senders_offset(events: list[Event]) -> None:
    files = MemoryExportFiles()
    JsonlFormat().write(iter(events), files, context())
    lines = files.contents[EVENTS_FILE].decode().splitlines()
    back = [parse_event_json(line) for line in lines]
    assert back == events
    assert {json.loads(line)["occurred_offset"] for line in lines} == {"+09:00", "-05:00", "-04:00"}


def test_edrm_documents_are_new_york_days_with_new_york_times(events: list[Event]) -> None:
    files = MemoryExportFiles()
    report = EdrmFormat().write(iter(events), files, context())
    EDRM_XSD.assertValid(etree.fromstring(files.contents["edrm.xml"]))
    # Issue 19: the text files are named by control number; each says its day in its header.
    texts = [data.decode() for path, data in files.contents.items() if path.startswith("text/")]
    transcripts = {f"{text.splitlines()[2].split(',')[0]}.txt": text for text in texts}
    days = sorted(name.removesuffix(".txt") for name in transcripts)
    assert days == sorted(set(NEW_YORK_DAYS.values()))
    day = transcripts["2026-11-22.txt"]
    assert "2026-11-22, times in America/New_York\n" in day
    assert "23:30:00.000 EST    Nora York (user:ny) [late]: message late" in day
    assert "19:00:00.000 EST (+09:00 as sent)    Nora York (user:ny) [tokyo]" in transcripts["2026-11-21.txt"]
    fall = transcripts["2026-11-01.txt"]
    assert "01:30:00.000 EDT    Nora York (user:ny) [fall-first]" in fall
    assert "01:30:00.000 EST    Nora York (user:ny) [fall-second]" in fall
    assert "23:30:00.000 EST    Nora York (user:ny) [fall-late]" in fall
    assert "America/New_York" in report.times


def test_rsmf_files_are_new_york_days_with_offsets_and_valid_against_rsmf_2(events: list[Event]) -> None:
    files = MemoryExportFiles()
    RsmfFormat().write(iter(events), files, context())
    validator = Draft7Validator(RSMF_SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)
    found: dict[str, tuple[str, list[dict[str, Any]]]] = {}
    for path, data in files.contents.items():
        if not path.endswith(".rsmf"):
            continue  # rsmf.sha256
        message = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        attachment = next(part for part in message.iter_attachments() if part.get_filename() == "rsmf.zip")
        payload = attachment.get_payload(decode=True)
        assert isinstance(payload, bytes)
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            manifest = json.loads(archive.read("rsmf_manifest.json"))
        assert sorted(error.message for error in validator.iter_errors(manifest)) == []
        summary = next(part for part in message.walk() if part.get_content_type() == "text/plain")
        assert "Day (America/New_York): " in summary.get_content()
        # Issue 19: the files are named by control number; the summary says the day.
        day = summary.get_content().split("Day (America/New_York): ", 1)[1][:10]
        found[day] = (str(message["X-RSMF-BeginDate"]), manifest["events"])
    assert sorted(found) == sorted(set(NEW_YORK_DAYS.values()))
    by_id = {entry["id"]: (day, entry) for day, (_begin, entries) in found.items() for entry in entries}
    for message_id, day in NEW_YORK_DAYS.items():
        assert by_id[message_id][0] == day, message_id
    assert by_id["late"][1]["timestamp"] == "2026-11-22T23:30:00.000000-05:00"
    assert by_id["spring-late"][1]["timestamp"] == "2026-03-08T23:30:00.000000-04:00"
    tokyo = by_id["tokyo"][1]
    assert tokyo["timestamp"] == "2026-11-21T19:00:00.000000-05:00"
    assert {"name": "sent offset", "value": "+09:00"} in tokyo["custom"]
    assert found["2026-11-22"][0] == "2026-11-22T23:30:00.000000-05:00"


def test_rsmf_in_utc_is_unchanged_and_says_utc(events: list[Event]) -> None:
    files = MemoryExportFiles()
    RsmfFormat().write(iter(events), files, context("UTC"))
    days = sorted(
        str(email.message_from_bytes(data)["Subject"]).rsplit(" ", 1)[1]
        for path, data in files.contents.items()
        if path.endswith(".rsmf")
    )
    assert "2026-11-23" in days
    assert "2026-11-21" not in days


def test_actiance_keeps_utc_times_and_cuts_conversations_at_new_york_midnight(events: list[Event]) -> None:
    files = MemoryExportFiles()
    report = ActianceFormat().write(iter(events), files, context())
    document = etree.fromstring(files.contents["actiance/actiance_1.xml"])
    ACTIANCE_XSD.assertValid(document)
    starts = [element.text for element in document.iter("StartTimeUTC")]
    assert len(starts) == len(set(NEW_YORK_DAYS.values()))
    # Each conversation starts at New York midnight, written as UTC (epoch milliseconds).
    expected = {
        int(datetime(2026, 3, 8, 5, tzinfo=UTC).timestamp() * 1000),  # EST midnight
        int(datetime(2026, 11, 1, 4, tzinfo=UTC).timestamp() * 1000),  # EDT midnight
        int(datetime(2026, 11, 21, 5, tzinfo=UTC).timestamp() * 1000),
        int(datetime(2026, 11, 22, 5, tzinfo=UTC).timestamp() * 1000),
        int(datetime(2026, 11, 23, 5, tzinfo=UTC).timestamp() * 1000),
    }
    assert {int(start or 0) for start in starts} == expected
    ends = [int(element.text or 0) for element in document.iter("EndTimeUTC")]
    day_lengths = sorted(
        (end + 1 - start) // 3_600_000 for start, end in zip(sorted(expected), sorted(ends), strict=True)
    )
    assert day_lengths == [23, 24, 24, 24, 25]
    assert "UTC" in report.times
    assert NEW_YORK in report.times


def test_lync_files_follow_new_york_days_with_utc_times(events: list[Event]) -> None:
    files = MemoryExportFiles()
    report = LyncXmlFormat().write(iter(events), files, context())
    for data in files.contents.values():
        LYNC_XSD.assertValid(etree.fromstring(data))
    assert len(files.contents) == len(set(NEW_YORK_DAYS.values()))
    assert report.times.startswith("UTC")


def test_pdf_shows_new_york_times_days_and_says_so(events: list[Event]) -> None:
    files = MemoryExportFiles()
    report = PdfReportFormat().write(iter(events), files, context())
    reader = PdfReader(io.BytesIO(files.contents["report.pdf"]))
    cover = reader.pages[0].extract_text()
    assert "Time zone" in cover
    assert NEW_YORK in cover
    assert "All times are in America/New_York" in cover
    text = documents_text(files.contents)  # one PDF per conversation-day, in number order
    assert "times in America/New_York" in text
    # The 23:30 message is under Sunday 22 November, not Monday 23.
    sunday = text.index("Sunday 22 November 2026")
    monday = text.index("Monday 23 November 2026")
    assert sunday < text.index("message late") < monday
    assert "23:30:00 EST" in text[sunday:monday]
    assert "(+09:00)" in text  # the Tokyo sender's offset, under the time
    fall = text.index("Sunday 01 November 2026")
    assert fall < text.index("message fall-late") < text.index("Saturday 21 November 2026")
    assert text.count("Sunday 08 March 2026") == 1
    assert NEW_YORK in report.times
