from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import pytest

from exports.base import ExportContext, MemoryExportFiles, export_order
from exports.documents import Document, documents, every_document
from exports.fonts import load_fonts
from exports.pdf_report import PdfReportFormat, document_pdf_path, wrap
from ingest.events import (
    DeleteEvent,
    DisclaimerEvent,
    EditEvent,
    Event,
    FileUploadEvent,
    JoinEvent,
    PostEvent,
)
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events
from tests.exports.pdf_documents_text import pdf_pages

IRC_DIR = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
CONTEXT = ExportContext(
    export_id="exp-7f3a-2026",
    created_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
    requested_by="counsel@example.com",
    query='room:#ubuntu OR "margin call"',
    case_name="Doe v. Example Bank",
    custodians=("alice@example.com",),
)
REPORT_FOOTER = re.compile(r"Production report exp-7f3a-2026 — \S+ – \S+ — page (\d+) of (\d+)")


@dataclass
class Rendered:
    events: list[Event]
    contents: dict[str, bytes]
    warnings: list[str]
    items: int
    event_count: int

    @cached_property
    def report(self) -> list[str]:
        """The text of report.pdf's pages."""
        return pdf_pages(self.contents["report.pdf"])

    @cached_property
    def documents(self) -> list[Document]:
        return list(
            every_document(
                documents(self.events, unit=CONTEXT.unit, numbering=CONTEXT.control_numbers, zone=CONTEXT.time_zone)
            )
        )

    @cached_property
    def texts(self) -> dict[str, str]:
        """Each document's control number -> the text of its PDF."""
        return {d.control: "\n".join(pdf_pages(self.contents[document_pdf_path(d.control)])) for d in self.documents}

    def room_pages(self, room_id: str) -> str:
        """The text of a room's document PDFs, in number order."""
        return "\n".join(self.texts[d.control] for d in self.documents if d.room.id == room_id)


def _sample_events() -> list[Event]:
    events: list[Event] = []
    for path in sorted(IRC_DIR.glob("*.raw.txt")):
        events.extend(read_irc_file(path))
    events.extend(simulate_events(events=1500, rooms=4, users=30, seed=11))
    return sorted(events, key=export_order)


@pytest.fixture(scope="module")
def rendered() -> Rendered:
    events = _sample_events()
    files = MemoryExportFiles()
    report = PdfReportFormat().write(iter(events), files, CONTEXT)
    assert [f.path for f in report.files] == ["report.pdf", "production.opt", "PDF.sha256"]
    written = {f.path: f for f in files.written}
    assert report.files[0].sha256 == written["report.pdf"].sha256
    assert {f.media_type for f in files.written if f.path.endswith(".pdf")} == {"application/pdf"}
    return Rendered(events, files.contents, report.warnings, report.items, report.events)


def _room_titles(events: list[Event]) -> list[str]:
    return list(dict.fromkeys(e.room.name or "" for e in events if e.room.kind == "room"))


def test_counts_messages_as_items(rendered: Rendered) -> None:
    assert rendered.event_count == len(rendered.events)
    assert rendered.items == sum(isinstance(e, PostEvent) for e in rendered.events)


def test_cover_page_names_the_export_and_its_counts(rendered: Rendered) -> None:
    cover = rendered.report[0]
    posts = sum(isinstance(e, PostEvent) for e in rendered.events)
    participants = len({e.actor.id for e in rendered.events})
    first = min(e.occurred_at for e in rendered.events)
    for value in (
        "Doe v. Example Bank",
        'room:#ubuntu OR "margin call"',
        "counsel@example.com",
        "2026-03-04 09:30:00 UTC",
        "exp-7f3a-2026",
        f"{len(rendered.events):,}",
        f"{posts:,}",
        f"{participants:,}",
        first.strftime("%Y-%m-%d %H:%M:%S UTC"),
    ):
        assert value in cover, value


def test_every_report_page_has_the_production_label_and_its_number_of_the_total(rendered: Rendered) -> None:
    # Was: every page of the one PDF had "Export <id> — page N of M". The transcripts are now one
    # PDF per document, Bates-stamped (test_pdf_production.py); the report's own pages say this.
    total = len(rendered.report)
    assert total > 3
    for number, text in enumerate(rendered.report, start=1):
        match = REPORT_FOOTER.search(text)
        assert match is not None, f"page {number} has no footer"
        assert (int(match[1]), int(match[2])) == (number, total)


def test_every_room_has_its_documents_in_the_index(rendered: Rendered) -> None:
    # Was: one bookmark and one contents row per room. The index lists every document, with its
    # room (or file) and Bates range, in number order.
    everything = "\n".join(rendered.report)
    index = everything[everything.index("Index of documents") :]
    rows = [re.search(f"^{re.escape(d.control)} ", index, re.MULTILINE) for d in rendered.documents]
    positions = [row.start() if row else -1 for row in rows]
    assert -1 not in positions
    assert positions == sorted(positions)
    assert len({d.room.id for d in rendered.documents}) == len({e.room.id for e in rendered.events})
    assert "#ubuntu" in index


def test_irc_messages_are_in_the_ubuntu_transcript_in_time_order(rendered: Rendered) -> None:
    transcript = rendered.room_pages("room:ubuntu")
    posts = [e for e in rendered.events if isinstance(e, PostEvent) and e.room.id == "room:ubuntu"]
    sample = [p for p in random.Random(5).sample(posts, 40) if len(p.message.text) > 25][:12]
    sample.sort(key=export_order)
    positions = []
    for post in sample:
        needle = post.message.text[:25]
        assert needle in transcript, needle
        positions.append(transcript.index(needle))
    assert len(sample) >= 5
    assert positions == sorted(positions)


def test_joins_leaves_and_days_are_marked(rendered: Rendered) -> None:
    transcript = rendered.room_pages("room:ubuntu")
    join = next(e for e in rendered.events if isinstance(e, JoinEvent) and e.room.id == "room:ubuntu")
    assert f"→ {join.actor.name} ({join.actor.id}) joined" in transcript
    assert "← " in transcript
    assert "Saturday 25 December 2004" in transcript


def _simulated(rendered: Rendered, kind: type[Event]) -> list[Event]:
    return [e for e in rendered.events if isinstance(e, kind) and e.room.id != "room:ubuntu"]


def _pages_of(rendered: Rendered, event: Event) -> str:
    """The text of the PDF of the document that holds ``event``."""
    return next(rendered.texts[d.control] for d in rendered.documents if event in d.events and d.kind != "attachment")


def test_edits_show_each_version(rendered: Rendered) -> None:
    edit = next(e for e in _simulated(rendered, EditEvent) if e.room.kind == "room")
    assert isinstance(edit, EditEvent)
    text = _pages_of(rendered, edit)
    assert re.search(r"✎ edited \(version \d+\): " + re.escape(edit.message.text[:15]), text)


def test_deletions_keep_the_deleted_text(rendered: Rendered) -> None:
    delete = next(e for e in _simulated(rendered, DeleteEvent) if e.room.kind == "room")
    assert isinstance(delete, DeleteEvent)
    original = next(
        e for e in rendered.events if isinstance(e, PostEvent | EditEvent) and e.message.id == delete.message.id
    )
    assert isinstance(original, PostEvent | EditEvent)
    text = _pages_of(rendered, delete)
    assert f"✖ deleted by {delete.actor.name} ({delete.actor.id}) at {delete.occurred_at:%H:%M:%S} UTC" in text
    assert "deleted text: " in text


def test_files_and_disclaimers_are_marked(rendered: Rendered) -> None:
    upload = next(e for e in _simulated(rendered, FileUploadEvent) if e.room.kind == "room")
    assert isinstance(upload, FileUploadEvent)
    text = _pages_of(rendered, upload)
    assert f"⇧ uploaded by {upload.actor.name} ({upload.actor.id}): {upload.file.name}" in text
    assert upload.file.sha256[:16] in text
    disclaimer = next(e for e in _simulated(rendered, DisclaimerEvent) if e.room.kind == "room")
    assert isinstance(disclaimer, DisclaimerEvent)
    assert "ℹ Disclaimer shown to" in _pages_of(rendered, disclaimer)


def test_hebrew_names_are_extractable(rendered: Rendered) -> None:
    names = {e.actor.name for e in rendered.events if e.actor.name}
    hebrew = {word for name in names for word in re.findall("[\u0590-\u05ff]+", name)}
    assert hebrew
    everything = "\n".join(rendered.texts.values())
    # pypdf reorders right-to-left runs on extraction, so words are looked for, not whole names.
    for word in hebrew:
        assert word in everything


def test_emoji_are_drawn_and_kept_in_the_text_layer(rendered: Rendered) -> None:
    assert not any("U+1F44D" in warning for warning in rendered.warnings)
    assert any("👍" in text for text in rendered.texts.values())
    assert not any("[U+1F44D" in text for text in rendered.texts.values())


def test_wrap_breaks_long_words_and_keeps_every_character() -> None:
    font = load_fonts().regular
    text = "short words then " + "x" * 400 + " and the end"
    lines = wrap(text, font, 8.5, 200)
    assert len(lines) > 3
    assert all(font.width(line, 8.5) <= 200 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_an_empty_export_still_has_a_cover_custody_page_and_index() -> None:
    files = MemoryExportFiles()
    report = PdfReportFormat().write([], files, CONTEXT)
    pages = pdf_pages(files.contents["report.pdf"])
    assert report.items == 0
    assert len(pages) == 3
    assert "No documents." in pages[1]
    assert "No documents." in pages[2]
    assert files.contents["production.opt"] == b""
