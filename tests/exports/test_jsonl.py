"""JSONL: every line is one archived event, read back to the same event."""

from __future__ import annotations

import json
from dataclasses import replace

from exports.base import ExportContext, MemoryExportFiles
from exports.jsonl import DOCUMENTS_FILE, EVENTS_FILE, JsonlFormat, control_prefix, iso_utc
from ingest.events import Event, event_to_json, parse_event_json
from tests.exports.conftest import DAY_ONE


def export_lines(events: list[Event], context: ExportContext) -> list[bytes]:
    files = MemoryExportFiles()
    report = JsonlFormat().write(iter(events), files, context)
    assert (report.format, report.events, report.items, report.warnings) == ("jsonl", len(events), len(events), [])
    assert [(f.path, f.size, f.sha256) for f in report.files] == [(f.path, f.size, f.sha256) for f in files.written]
    data = files.contents[EVENTS_FILE]
    assert data.endswith(b"\n") or not events
    assert not data.startswith(b"\xef\xbb\xbf")
    return data.split(b"\n")[:-1]


def test_every_line_parses_back_to_the_same_event(
    varied_events: list[Event], simulated_events: list[Event], irc_events: list[Event], export_context: ExportContext
) -> None:
    for events in (varied_events, simulated_events, irc_events):
        lines = export_lines(events, export_context)
        assert len(lines) == len(events)
        for line, event in zip(lines, events, strict=True):
            assert parse_event_json(line) == event
            assert line.decode() == event_to_json(event)


def test_no_events_is_an_empty_file(export_context: ExportContext) -> None:
    assert export_lines([], export_context) == []


def test_documents_jsonl_holds_every_event_once_in_both_units(
    simulated_events: list[Event], irc_events: list[Event], export_context: ExportContext
) -> None:
    """Issue 19: beside the archived events, one line per document maps them to control numbers."""
    for events in (simulated_events, irc_events[:3000]):
        for unit in ("conversation", "message"):
            files = MemoryExportFiles()
            context = replace(export_context, unit=unit)
            report = JsonlFormat().write(iter(events), files, context)
            lines = [json.loads(line) for line in files.contents[DOCUMENTS_FILE].decode().splitlines()]
            assert [line["number"] for line in lines] == list(range(1, len(lines) + 1))
            assert report.documents.documents == len(lines)
            held = [event_id for line in lines if line["kind"] != "attachment" for event_id in line["event_ids"]]
            assert sorted(held) == sorted(str(event.event_id) for event in events)
            uploads = [line["file"]["upload_event_id"] for line in lines if line["kind"] == "attachment"]
            assert uploads == [str(e.event_id) for e in events if e.type == "file_upload"]


def test_helpers() -> None:
    assert iso_utc(DAY_ONE.replace(year=987, microsecond=5)) == "0987-11-22T09:00:00.000005Z"
    assert control_prefix("5f0c6f3e-8a55") == "5F0C6F3E"
    assert control_prefix("ab-c") == "ABC"
    assert control_prefix("---") == "ARCHIVIST"
