from __future__ import annotations

import io
import random
import re
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from uuid import uuid4

import pytest
from pypdf import PdfReader

from exports.base import ExportContext, MemoryExportFiles, export_order
from exports.fonts import load_fonts
from exports.pdf_report import PdfReportFormat, wrap
from ingest.events import (
    DeleteEvent,
    DisclaimerEvent,
    EditEvent,
    Event,
    FileUploadEvent,
    JoinEvent,
    PostEvent,
    parse_event,
)
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events

IRC_DIR = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
CONTEXT = ExportContext(
    export_id="exp-7f3a-2026",
    created_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
    requested_by="counsel@example.com",
    query='room:#ubuntu OR "margin call"',
    case_name="Doe v. Example Bank",
    custodians=("alice@example.com",),
)
FOOTER = re.compile(r"Export exp-7f3a-2026 — page (\d+) of (\d+)")


@dataclass
class Rendered:
    events: list[Event]
    report_pdf: bytes
    warnings: list[str]
    items: int
    event_count: int

    @cached_property
    def reader(self) -> PdfReader:
        return PdfReader(io.BytesIO(self.report_pdf))

    @cached_property
    def pages(self) -> list[str]:
        return [page.extract_text() for page in self.reader.pages]

    def outline(self) -> list[tuple[str, int]]:
        """Top-level bookmarks: (title, 1-based page)."""
        found = []
        for item in self.reader.outline:
            if not isinstance(item, list):
                page = self.reader.get_destination_page_number(item)
                assert page is not None
                found.append((str(item.title), page + 1))
        return found

    def room_pages(self, title: str) -> str:
        """The text of a room's transcript pages."""
        outline = self.outline()
        starts = [page for _, page in outline] + [len(self.pages) + 1]
        index = [name for name, _ in outline].index(title)
        return "\n".join(self.pages[starts[index] - 1 : starts[index + 1] - 1])


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
    assert [f.path for f in report.files] == ["report.pdf"]
    assert report.files[0].sha256 == files.written[0].sha256
    assert files.written[0].media_type == "application/pdf"
    return Rendered(events, files.contents["report.pdf"], report.warnings, report.items, report.events)


def _room_titles(events: list[Event]) -> list[str]:
    return list(dict.fromkeys(e.room.name or "" for e in events if e.room.kind == "room"))


def test_counts_messages_as_items(rendered: Rendered) -> None:
    assert rendered.event_count == len(rendered.events)
    assert rendered.items == sum(isinstance(e, PostEvent) for e in rendered.events)


def test_cover_page_names_the_export_and_its_counts(rendered: Rendered) -> None:
    cover = rendered.pages[0]
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


def test_every_page_has_the_export_id_and_its_number_of_the_total(rendered: Rendered) -> None:
    total = len(rendered.pages)
    assert total > 100
    for number, text in enumerate(rendered.pages, start=1):
        match = FOOTER.search(text)
        assert match is not None, f"page {number} has no footer"
        assert (int(match[1]), int(match[2])) == (number, total)


def test_outline_has_one_bookmark_per_room_at_its_first_page(rendered: Rendered) -> None:
    outline = rendered.outline()
    assert len(outline) == len({e.room.id for e in rendered.events})
    assert "#ubuntu" in [title for title, _ in outline]
    pages = [page for _, page in outline]
    assert pages == sorted(pages)
    for title, page in outline:
        assert rendered.pages[page - 1].startswith(title[:20]), title


def test_contents_lists_every_room_with_its_page(rendered: Rendered) -> None:
    contents = rendered.pages[1]
    assert contents.startswith("Contents")
    for title, page in rendered.outline():
        row = re.search(re.escape(title[:15]) + r".*?\n(\d+)\n", contents, re.DOTALL)
        assert row is not None, title
        assert int(row[1]) == page, title


def test_contents_rows_link_to_the_rooms(rendered: Rendered) -> None:
    annotations = rendered.reader.pages[1].get("/Annots") or []
    assert len(annotations) == len(rendered.outline())


def test_irc_messages_are_in_the_ubuntu_transcript_in_time_order(rendered: Rendered) -> None:
    transcript = rendered.room_pages("#ubuntu")
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
    transcript = rendered.room_pages("#ubuntu")
    join = next(e for e in rendered.events if isinstance(e, JoinEvent) and e.room.id == "room:ubuntu")
    assert f"→ {join.actor.name} joined" in transcript
    assert "← " in transcript
    assert "Saturday 25 December 2004" in transcript


def _simulated(rendered: Rendered, kind: type[Event]) -> list[Event]:
    return [e for e in rendered.events if isinstance(e, kind) and e.room.id != "room:ubuntu"]


def _pages_of(rendered: Rendered, event: Event) -> str:
    title = event.room.name or ""
    if not title:
        titles = [t for t, _ in rendered.outline()]
        title = next(t for t in titles if t.startswith("Direct messages"))
    return rendered.room_pages(title)


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
    assert f"✖ deleted by {delete.actor.name} at {delete.occurred_at:%H:%M:%S} UTC" in text
    assert "deleted text: " in text


def test_files_and_disclaimers_are_marked(rendered: Rendered) -> None:
    upload = next(e for e in _simulated(rendered, FileUploadEvent) if e.room.kind == "room")
    assert isinstance(upload, FileUploadEvent)
    text = _pages_of(rendered, upload)
    assert f"⇧ uploaded by {upload.actor.name}: {upload.file.name}" in text
    assert upload.file.sha256[:16] in text
    disclaimer = next(e for e in _simulated(rendered, DisclaimerEvent) if e.room.kind == "room")
    assert isinstance(disclaimer, DisclaimerEvent)
    assert "ℹ Disclaimer shown to" in _pages_of(rendered, disclaimer)


def test_hebrew_names_are_extractable(rendered: Rendered) -> None:
    names = {e.actor.name for e in rendered.events if e.actor.name}
    hebrew = {word for name in names for word in re.findall("[\u0590-\u05ff]+", name)}
    assert hebrew
    everything = "\n".join(rendered.pages)
    # pypdf reorders right-to-left runs on extraction, so words are looked for, not whole names.
    for word in hebrew:
        assert word in everything


def test_emoji_are_drawn_and_kept_in_the_text_layer(rendered: Rendered) -> None:
    assert not any("U+1F44D" in warning for warning in rendered.warnings)
    assert any("👍" in page for page in rendered.pages)
    assert not any("[U+1F44D" in page for page in rendered.pages)


def test_wrap_breaks_long_words_and_keeps_every_character() -> None:
    font = load_fonts().regular
    text = "short words then " + "x" * 400 + " and the end"
    lines = wrap(text, font, 8.5, 200)
    assert len(lines) > 3
    assert all(font.width(line, 8.5) <= 200 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_an_empty_export_still_has_a_cover_and_contents() -> None:
    files = MemoryExportFiles()
    report = PdfReportFormat().write([], files, CONTEXT)
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(files.contents["report.pdf"])).pages]
    assert report.items == 0
    assert len(pages) == 2
    assert "No events matched." in pages[1]


def _posts(count: int) -> Iterator[Event]:
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    for index in range(count):
        yield parse_event(
            {
                "schema_version": 1,
                "event_id": str(uuid4()),
                "type": "post",
                "occurred_at": (start + timedelta(seconds=index)).isoformat(),
                "room": {"id": f"room:{index * 4 // count}", "name": f"#room-{index * 4 // count}"},
                "actor": {"id": f"user:{index % 7}", "name": f"User {index % 7}"},
                "message": {"id": f"m{index}", "text": f"message number {index} about the settlement break"},
            }
        )


def _peak_while_rendering(count: int) -> int:
    files = MemoryExportFiles()
    tracemalloc.start()
    try:
        PdfReportFormat().write(_posts(count), files, CONTEXT)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_hold_the_events() -> None:
    # A generator of events is read once; what stays is the spool on disk and, in reportlab,
    # each page's compressed content until the file is saved (about 0.3 KB an event). Holding
    # the parsed events (each well over 1 KB) would cost far more than that.
    load_fonts()
    small, large = _peak_while_rendering(300), _peak_while_rendering(1200)
    assert large < 5_000_000
    assert large - small < 900 * 600
