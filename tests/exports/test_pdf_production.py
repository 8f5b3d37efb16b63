"""The PDF of a production: one PDF per document (attachments a slip sheet), Bates labels on
every page, the OPT image cross-reference, the report's cover, custody pages and index, real
creation dates and PDF/A-2b metadata, read back with pypdf and checked by veraPDF.

The OPT is read by the tests' own reader (:func:`read_opt`), as the issue allows: Opticon's
format is seven comma-separated fields a line (ImageKey, Volume, ImagePath, DocumentBreak,
FolderBreak, BoxBreak, PageCount)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import tempfile
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import pytest
from lxml import etree
from pypdf import PdfReader
from pypdf.generic import DictionaryObject

from exports.base import ExportContext, HashingWriter, MemoryExportFiles, WrittenFile, export_order
from exports.documents import Document, Numbering, documents, every_document, page_label
from exports.fonts import load_fonts
from exports.pdf_archival import ProfileMissing, srgb_profile
from exports.pdf_opt import OPT_PATH
from exports.pdf_report import REPORT_PATH, PdfReportFormat, document_pdf_path
from exports.transcript import document_text
from ingest.events import Event, parse_event

VERAPDF_JAR = Path(
    os.environ.get("ARCHIVIST_TEST_VERAPDF_JAR", "/usr/local/lib/archivist/verapdf-greenfield-1.28.2.jar")
)
_NAMESPACE = uuid.UUID("3f2e1d0c-9b8a-4765-8432-10fedcba9876")
CREATED = datetime(2026, 12, 6, 14, 5, 9, tzinfo=UTC)
CONTEXT = ExportContext(
    export_id="prod-0001",
    created_at=CREATED,
    requested_by="counsel@example.com",
    query='room:trading OR "margin call"',
    case_name="Doe v. Example Bank",
    case_number="case-42",
    custodians=("user:0", "user:1"),
    numbering=Numbering("ACME-", 1),
    archive_head={"seq": 4711, "chain_hash": "c" * 64, "archived_at": "2026-12-06T14:05:08+00:00"},
)


def event(index: int, kind: str, *, room: str = "room:trading", day: int = 0, actor: int = 0, **fields: Any) -> Event:
    names = ("Dana Levi", "Zoë Müller", "Sam")
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{room}:{day}:{index}:{kind}")),
            "type": kind,
            "occurred_at": (datetime(2026, 11, 22, 14, tzinfo=UTC) + timedelta(days=day, seconds=index)).isoformat(),
            "room": {"id": room, "name": "#trading-desk" if room == "room:trading" else None, "kind": "room"},
            "actor": {"id": f"user:{actor}", "name": names[actor]},
            **fields,
        }
    )


def production_events() -> list[Event]:
    """Two rooms; a first day long enough for several pages; a second day with an edit of the
    first day's message, a deletion, reads, a join and a leave; a file upload (an attachment)."""
    events = [event(0, "join", actor=1)]
    for index in range(1, 161):
        events.append(
            event(
                index,
                "post",
                actor=index % 3,
                message={"id": f"m{index}", "text": f"message {index} about the margin call on desk {index % 7}"},
            )
        )
    file_info = {"name": "Q3 forecast.xlsx", "size": 12_345, "sha256": "b" * 64, "content_type": "application/vnd"}
    events.append(event(200, "file_upload", actor=1, file=file_info))
    events.append(event(0, "post", day=1, message={"id": "d2", "text": "second day"}))
    events.append(event(1, "edit", day=1, message={"id": "m1", "text": "message 1, edited the next day"}))
    events.append(event(2, "delete", day=1, actor=1, message={"id": "m2"}))
    events.append(event(3, "read", day=1, actor=2, read={"message_id": "d2"}))
    events.append(event(4, "leave", day=1, actor=2))
    events.append(event(0, "post", room="room:other", actor=2, message={"id": "o1", "text": "other room"}))
    return sorted(events, key=export_order)


@dataclass
class Production:
    files: MemoryExportFiles
    parents: list[Document]
    context: ExportContext

    @property
    def all(self) -> list[Document]:
        return list(every_document(self.parents))

    def reader(self, path: str) -> PdfReader:
        return PdfReader(io.BytesIO(self.files.contents[path]))

    def pages(self, path: str) -> list[str]:
        return [page.extract_text() for page in self.reader(path).pages]


def produce(events: list[Event], context: ExportContext = CONTEXT) -> Production:
    files = MemoryExportFiles()
    report = PdfReportFormat().write(iter(events), files, context)
    parents = list(
        documents(
            events,
            unit=context.unit,
            numbering=context.control_numbers,
            zone=context.time_zone,
            custodians=context.custodians,
        )
    )
    assert report.documents.documents == len(list(every_document(parents)))
    return Production(files, parents, context)


@pytest.fixture(scope="module")
def production() -> Production:
    return produce(production_events())


def read_opt(data: bytes) -> list[list[str]]:
    """The tests' own Opticon reader: CRLF lines of exactly seven comma-separated fields."""
    text = data.decode("utf-8")
    assert text.endswith("\r\n")
    rows = [line.split(",") for line in text[:-2].split("\r\n")]
    assert all(len(row) == 7 for row in rows), rows
    return rows


def _squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_every_document_has_a_pdf_with_its_bates_label_on_every_page(production: Production) -> None:
    docs = production.all
    assert [d.control for d in docs][:2] == ["ACME-0000001", "ACME-0000002"]
    assert any(len(production.reader(document_pdf_path(d.control)).pages) > 2 for d in docs)
    for doc in docs:
        pages = production.pages(document_pdf_path(doc.control))
        for number, text in enumerate(pages, start=1):
            labels = re.findall(r"ACME-\d{7}(?:\.\d{4})?", text)
            assert page_label(doc.control, number) in labels, (doc.control, number)
            assert labels[-1] == page_label(doc.control, number), (doc.control, number, labels)


def test_attachments_are_slip_sheets_naming_the_file_its_hash_and_paths(production: Production) -> None:
    (attachment,) = [d for d in production.all if d.kind == "attachment"]
    assert attachment.parent is not None
    assert attachment.number == attachment.parent.number + 1
    (page,) = production.pages(document_pdf_path(attachment.control))
    squeezed = _squeezed(page)
    for needle in ("Q3 forecast.xlsx", "b" * 64, attachment.control, attachment.parent.control, "NATIVES/" + "b" * 64):
        assert _squeezed(needle) in squeezed, needle


def test_document_pdfs_name_speakers_by_name_and_id_with_the_zone_on_every_time(production: Production) -> None:
    first = next(d for d in production.parents if d.room.id == "room:trading")
    text = "\n".join(production.pages(document_pdf_path(first.control)))
    assert "Zoë Müller (user:1)" in text
    assert "Dana Levi (user:0)" in text
    assert "times in UTC" in text
    times = re.findall(r"\b\d\d:\d\d:\d\d\b(?: [A-Z+\-0-9]+)?", text)
    assert times
    assert all(t.endswith(" UTC") for t in times), [t for t in times if not t.endswith(" UTC")][:5]
    assert "message 160 about the margin call" in text


def test_second_day_shows_the_edit_version_deletion_read_and_leave(production: Production) -> None:
    day_two = next(d for d in production.parents if d.day.day == 23 and d.room.id == "room:trading")
    text = "\n".join(production.pages(document_pdf_path(day_two.control)))
    assert "edited (version 2): message 1, edited the next day" in text
    assert "deleted by Zoë Müller (user:1)" in text
    assert "deleted text: message 2 about the margin call" in text
    assert "Sam (user:2) read" in text
    assert "Sam (user:2) left" in text


def test_time_zone_is_named_and_every_time_carries_its_abbreviation() -> None:
    context = replace(CONTEXT, time_zone=ZoneInfo("America/New_York"))
    made = produce(production_events()[:20], context)
    trading = next(d for d in made.parents if d.room.id == "room:trading")
    text = "\n".join(made.pages(document_pdf_path(trading.control)))
    assert "times in America/New_York" in text
    assert "09:00:01 EST" in text


def test_opt_lists_each_document_pdf_with_its_page_count(production: Production) -> None:
    rows = read_opt(production.files.contents[OPT_PATH])
    docs = production.all
    assert [row[0] for row in rows] == [d.control for d in docs]
    for row, doc in zip(rows, docs, strict=True):
        _key, volume, path, document_break, folder_break, box_break, count = row
        assert path == document_pdf_path(doc.control) == f"PDF/{doc.control}.pdf"
        assert path in production.files.contents
        assert (document_break, folder_break, box_break) == ("Y", "", "")
        assert volume
        assert int(count) == len(production.reader(path).pages)


def test_two_productions_of_a_case_number_on_without_a_gap() -> None:
    events = production_events()
    first = produce(events[:100])
    last = first.all[-1].number
    second_context = replace(CONTEXT, export_id="prod-0002", numbering=Numbering("ACME-", last + 1))
    second = produce(events[100:], second_context)
    labels: list[str] = []
    for made in (first, second):
        for row in read_opt(made.files.contents[OPT_PATH]):
            pages = made.pages(row[2])
            labels.extend(re.findall(r"ACME-\d{7}(?:\.\d{4})?", pages[0])[-1:])
    numbers = [int(label[5:12]) for label in labels]
    assert numbers == list(range(1, len(numbers) + 1))
    assert second.all[0].control == f"ACME-{last + 1:07d}"


def test_cover_names_case_custodians_query_dates_zone_unit_and_bates_range(production: Production) -> None:
    cover = production.pages(REPORT_PATH)[0]
    docs = production.all
    for needle in (
        "Doe v. Example Bank",
        "case-42",
        "Dana Levi (user:0)",
        "Zoë Müller (user:1)",
        'room:trading OR "margin call"',
        "2026-11-22",
        "2026-11-23",
        "UTC",
        "conversation",
        f"{docs[0].control} – {docs[-1].control}",
        "2026-12-06 14:05:09 UTC",
        f"{len(docs)} (1 attachments)",
    ):
        assert needle in cover, needle


def test_custody_pages_hold_every_document_s_hashes(production: Production) -> None:
    pages = production.pages(REPORT_PATH)
    custody = _squeezed("\n".join(pages[1:]))
    for needle in (
        "prod-0001",
        "counsel@example.com",
        _squeezed("2026-12-06 14:05:09 UTC"),
        _squeezed('room:trading OR "margin call"'),
        "chain_of_custody.json",
        "manifest.json",
        "link4711",
        "c" * 64,
    ):
        assert needle in custody, needle
    for doc in production.all:
        pdf = hashlib.sha256(production.files.contents[document_pdf_path(doc.control)]).hexdigest()
        assert pdf in custody, doc.control
        if doc.kind != "attachment":
            text = hashlib.sha256(document_text(doc, CONTEXT.time_zone, CONTEXT.case_name).encode()).hexdigest()
            assert text in custody, doc.control


def test_report_index_lists_each_document_with_its_bates_range(production: Production) -> None:
    index = "\n".join(production.pages(REPORT_PATH))
    for doc in production.all:
        count = len(production.reader(document_pdf_path(doc.control)).pages)
        assert f"{doc.control} – {page_label(doc.control, count)}" in index or count == 1, doc.control
        assert doc.control in index


def test_every_report_page_carries_the_report_label_and_page_of_total(production: Production) -> None:
    pages = production.pages(REPORT_PATH)
    for number, text in enumerate(pages, start=1):
        assert f"Production report prod-0001 — ACME-0000001 – {production.all[-1].control}" in text
        assert f"page {number} of {len(pages)}" in text


def _paths(production: Production) -> list[str]:
    return [REPORT_PATH, *(document_pdf_path(d.control) for d in production.all)]


def test_creation_date_is_the_export_s_in_the_info_and_the_xmp(production: Production) -> None:
    for path in _paths(production):
        reader = production.reader(path)
        assert reader.metadata is not None
        assert reader.metadata.creation_date == CREATED, path
        xmp = _xmp(reader)
        assert xmp["xmp:CreateDate"] == "2026-12-06T14:05:09Z"


_NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
    "xmp": "http://ns.adobe.com/xap/1.0/",
    "xmpMM": "http://ns.adobe.com/xap/1.0/mm/",
    "dc": "http://purl.org/dc/elements/1.1/",
}


def _xmp(reader: PdfReader) -> dict[str, str]:
    metadata: Any = reader.root_object["/Metadata"].get_object()
    assert "/Filter" not in metadata
    root = etree.fromstring(metadata.get_data())
    found: dict[str, str] = {}
    for prefix in ("pdfaid:part", "pdfaid:conformance", "xmp:CreateDate", "xmpMM:DocumentID"):
        element = root.find(f".//{prefix}", _NS)
        assert element is not None, prefix
        assert element.text, prefix
        found[prefix] = element.text
    title = root.find(".//dc:title/rdf:Alt/rdf:li", _NS)
    found["dc:title"] = "" if title is None else title.text or ""
    return found


def test_pdf_a_2b_metadata_output_intent_and_embedded_fonts(production: Production) -> None:
    ids = set()
    for path in _paths(production):
        reader = production.reader(path)
        xmp = _xmp(reader)
        assert (xmp["pdfaid:part"], xmp["pdfaid:conformance"]) == ("2", "B")
        assert reader.metadata is not None
        assert xmp["dc:title"] == reader.metadata.title
        ids.add(xmp["xmpMM:DocumentID"])
        intents: Any = reader.root_object["/OutputIntents"]
        (intent,) = [item.get_object() for item in intents]
        assert intent["/S"] == "/GTS_PDFA1"
        profile = intent["/DestOutputProfile"].get_object()
        assert profile["/N"] == 3
        assert profile.get_data()[36:40] == b"acsp"  # an ICC profile's signature
        for page in reader.pages:
            # Fonts the page draws text with (reportlab selects Helvetica at the start of every
            # page and never draws with it: PDF/A asks only the fonts used for rendering to be
            # embedded).
            contents = page.get_contents()
            assert contents is not None
            used = set(re.findall(rb"/(F[\w+]+) [\d.]+ Tf [\d.]+ TL \(", contents.get_data()))
            resources: Any = page["/Resources"]
            fonts = resources["/Font"]
            assert used
            for name in used:
                descriptor = fonts["/" + name.decode()].get_object()["/FontDescriptor"].get_object()
                assert isinstance(descriptor, DictionaryObject)
                assert "/FontFile2" in descriptor, path
    assert len(ids) == len(_paths(production))


def verapdf(pdf: bytes) -> str:
    """veraPDF's verdict (its text format) on ``pdf`` against PDF/A-2b."""
    if not VERAPDF_JAR.is_file():
        pytest.fail(f"veraPDF is required at {VERAPDF_JAR} (scripts/services.sh installs it from Maven Central)")
    with tempfile.NamedTemporaryFile(suffix=".pdf") as handle:
        handle.write(pdf)
        handle.flush()
        done = subprocess.run(
            ["java", "-cp", str(VERAPDF_JAR), "org.verapdf.apps.GreenfieldCliWrapper", "--flavour", "2b"]
            + ["--format", "text", handle.name],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    return done.stdout + done.stderr


@pytest.mark.timeout(600)
def test_verapdf_passes_the_report_and_the_document_pdfs_as_pdf_a_2b(production: Production) -> None:
    longest = max(production.all, key=lambda d: len(production.reader(document_pdf_path(d.control)).pages))
    attachment = next(d for d in production.all if d.kind == "attachment")
    for path in (REPORT_PATH, document_pdf_path(longest.control), document_pdf_path(attachment.control)):
        verdict = verapdf(production.files.contents[path])
        assert verdict.startswith("PASS "), (path, verdict)


def test_verapdf_passes_every_script_and_emoji() -> None:
    texts = ["日本語のテキスト", "한국어", "مرحبا بالعالم", "שלום עולם", "Привет", "launch 🚀 thumbs 👍"]
    events = [event(i, "post", actor=i % 3, message={"id": f"s{i}", "text": t}) for i, t in enumerate(texts)]
    made = produce(events)
    verdict = verapdf(made.files.contents[document_pdf_path(made.parents[0].control)])
    assert verdict.startswith("PASS "), verdict


def _days(count: int) -> Iterator[Event]:
    """``count`` posts, 50 a room-day: documents of one size, however many there are."""
    for index in range(count):
        yield event(index % 50, "post", day=index // 50, actor=index % 3, message={"id": f"p{index}", "text": "x" * 40})


def _peak(count: int) -> int:
    files = _Discarding()
    tracemalloc.start()
    try:
        PdfReportFormat().write(_days(count), files, CONTEXT)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class _Discarding(MemoryExportFiles):
    """Keeps nothing: every file is hashed and dropped, so what the test measures is the
    format's memory, not the files'."""

    @contextmanager
    def create(self, path: str, media_type: str, *, compressed: bool = False) -> Iterator[IO[bytes]]:
        hashing = HashingWriter(io.BytesIO())
        yield hashing  # type: ignore[misc]
        self.written.append(WrittenFile(path, hashing.size, hashing.digest.hexdigest(), media_type))
        hashing.inner.seek(0)
        hashing.inner.truncate()

    def write_unlisted(self, path: str, data: bytes, *, compressed: bool = False) -> None:
        pass  # each document's PDF: dropped too


def test_memory_stays_flat_as_the_production_grows() -> None:
    load_fonts()
    small, large = _peak(500), _peak(2_000)
    # Four times the documents: the peak is the largest document's, not the export's.
    assert large - small < 1_500_000, (small, large)


def test_message_unit_makes_one_pdf_per_message_with_its_versions() -> None:
    context = replace(CONTEXT, unit="message")
    made = produce(production_events(), context)
    rows = read_opt(made.files.contents[OPT_PATH])
    assert [row[0] for row in rows] == [d.control for d in made.all]
    posts = sum(1 for e in production_events() if e.type == "post")
    uploads = sum(1 for e in production_events() if e.type == "file_upload")
    assert len(rows) == posts + 2 * uploads  # an upload is a message, and its file an attachment of it
    edited = next(d for d in made.parents if d.message_id == "m1")
    text = "\n".join(made.pages(document_pdf_path(edited.control)))
    assert "message 1 about the margin call" in text
    assert "edited (version 2): message 1, edited the next day" in text
    assert "Message in #trading-desk" in text


def test_without_an_srgb_profile_the_pdf_says_which_package_to_install() -> None:
    with pytest.raises(ProfileMissing, match="icc-profiles-free"):
        srgb_profile((Path("/nonexistent/sRGB.icc"),))


def test_every_document_pdf_is_listed_with_its_sha256_in_pdf_sha256_and_not_in_the_manifest(
    production: Production, tmp_path: Path
) -> None:
    listed = production.files.contents["PDF.sha256"].decode()
    pdfs = sorted(path for path in production.files.contents if path.startswith("PDF/"))
    assert sorted(line.split("  ")[1] for line in listed.splitlines()) == pdfs
    assert len(pdfs) == len(production.all)
    for path, data in production.files.contents.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    checked = subprocess.run(["sha256sum", "-c", "PDF.sha256"], cwd=tmp_path, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert {f.path for f in production.files.written}.isdisjoint(pdfs)
