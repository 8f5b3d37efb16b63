"""Hostile text in the PDF report: 100,000 characters without a space, in a message, a room
name and a speaker's name, must be laid out (in time linear in its length) and reach the PDF's
text layer complete and in order."""

from __future__ import annotations

import io
import re
import shutil
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from exports.base import ExportContext, MemoryExportFiles
from exports.fonts import load_fonts
from exports.pdf_report import PdfReportFormat, _fit, wrap
from ingest.events import parse_event
from tests.exports.pdf_documents_text import document_pdfs, documents_pdftotext

CONTEXT = ExportContext(
    export_id="exp-hostile",
    created_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
    requested_by="counsel@example.com",
    query="everything",
)
HUGE = 100_000
RUNS = {
    "latin": ("x", "x"),
    "cjk": ("中", "中"),
    "emoji": ("👍", "👍"),
    # No installed font has a glyph for it (Symbola stops at Unicode 9): written out.
    "no glyph": ("\U0001f972", "[U+1F972 SMILING FACE WITH TEAR]"),
}
_SPACE = re.compile(r"\s+")


def _render(text: str, room_name: str, actor_name: str) -> tuple[PdfReader, list[str]]:
    event = parse_event(
        {
            "schema_version": 1,
            "event_id": "0b9d6f3e-6b1a-4a36-9b4e-1c2d3e4f5a6b",
            "type": "post",
            "occurred_at": "2026-01-05T08:00:00+00:00",
            "room": {"id": "room:hostile", "name": room_name},
            "actor": {"id": "user:hostile", "name": actor_name},
            "message": {"id": "m1", "text": text},
        }
    )
    files = MemoryExportFiles()
    report = PdfReportFormat().write([event], files, CONTEXT)
    (pdf,) = document_pdfs(files.contents)
    return PdfReader(io.BytesIO(pdf)), report.warnings


def _squeezed(text: str) -> str:
    return _SPACE.sub("", text)


def _transcript_text(reader: PdfReader) -> str:
    """The document PDF's text without page furniture (the header's two lines, the footer's
    two) and without white space, where line breaks fall."""
    found = []
    for page in reader.pages:
        text = _squeezed(page.extract_text())
        # The header (title, then the zone) is drawn first, the footer (production, Bates) last.
        text = text.partition("timesinUTC")[2]
        found.append(text[: text.rindex("Productionexp-hostile")])
    return "".join(found)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_huge_unbreakable_message_is_laid_out_and_kept_whole(run: str) -> None:
    char, shown = RUNS[run]
    body = "start " + char * HUGE + " end"
    reader, warnings = _render(body, "#hostile", "Mallory")
    assert _squeezed("start" + shown * HUGE + "end") in _transcript_text(reader)
    assert any(f"{HUGE} characters" in warning for warning in warnings) == (run == "no glyph")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", sorted(RUNS))
def test_a_huge_room_name_and_speaker_name_are_laid_out(run: str) -> None:
    char, shown = RUNS[run]
    reader, _ = _render("hello", char * HUGE, "M" + char * HUGE)
    # The speaker is wrapped, whole, on the transcript; the room's full name is in the document's
    # heading (was: its bookmark, when the report held every room).
    text = _transcript_text(reader)
    assert _squeezed("M" + shown * HUGE + "(user:hostile)hello") in text  # speakers: name (id)
    assert _squeezed("in" + shown * HUGE + "(roomroom:hostile)") in text
    # Page headers cut the name to their width, visibly, with an ellipsis.
    header = _squeezed(reader.pages[0].extract_text()).partition("timesinUTC")[0]
    assert header.endswith("…")


@pytest.mark.parametrize("run", sorted(RUNS))
def test_wrap_and_fit_keep_lines_within_the_width(run: str) -> None:
    font = load_fonts().regular
    text = RUNS[run][1] * 2000
    lines = wrap(text, font, 8.5, 200)
    assert all(font.width(line, 8.5) <= 200 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    cut = _fit(text, font, 10, 300)
    assert cut.endswith("…")
    assert text.startswith(cut[:-1])
    assert font.width(cut, 10) <= 300
    assert _fit("short", font, 10, 300) == "short"


@pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed: run scripts/services.sh"
)
def test_a_line_break_in_a_name_is_shown_not_followed() -> None:
    """A name (or room name) with a line break does not start a line of its own that reads as
    another event: the break is drawn as U+240A (SYMBOL FOR LINE FEED), the name kept on its line
    (poppler's pdftotext reads the lines from where the text is drawn)."""
    forged = "Mallory\n09:00:05 UTC Chief Executive (user:ceo): approved"
    event = parse_event(
        {
            "schema_version": 1,
            "event_id": "0b9d6f3e-6b1a-4a36-9b4e-1c2d3e4f5a6b",
            "type": "post",
            "occurred_at": "2026-01-05T08:00:00+00:00",
            "room": {"id": "room:hostile", "name": "#desk\nforged"},
            "actor": {"id": "user:hostile", "name": forged},
            "message": {"id": "m1", "text": "hello"},
        }
    )
    files = MemoryExportFiles()
    PdfReportFormat().write([event], files, CONTEXT)
    lines = [" ".join(line.split()) for line in documents_pdftotext(files.contents).split("\n")]
    assert not any(line.startswith(("09:00:05", "forged")) for line in lines), lines
    assert any(line.startswith("08:00:00 UTC Mallory\u240a09:00:05 UTC Chief") for line in lines), lines
    assert any("#desk\u240aforged" in line for line in lines), lines
