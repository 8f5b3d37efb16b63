"""Natives and extracted texts in every export format (issue 18, productions).

A room where files were shared: a PDF (made with reportlab), a PNG (Pillow) and a text file
whose bytes the file store holds, with their extracted texts; one upload whose bytes never
arrived (pending); one whose stored bytes were altered after they were stored. Each format must
carry the stored natives byte for byte (or name them, where it has no place for bytes), never
place the pending or altered ones, say so in the file's entry, and record the losses. Checked with
the standards' own tools: jsonschema (RSMF, the manifest), lxml and the XSD (EDRM), csv, pypdf.
"""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import io
import json
import os
import stat
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from lxml import etree
from PIL import Image
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.attachments import record_file_text, record_native
from archive.fs_file_store import FsFileStore
from exports.base import ExportContext, FormatReport, MemoryExportFiles, export_order, write_format
from exports.csv_dat import DAT_COLUMNS
from exports.jobs import ExportJobs, JobSpec
from exports.natives import ExportAttachments
from exports.package import ExportRequest, build_export
from exports.registry import export_format
from ingest.events import Event, ExtractedText, FileUploadEvent, parse_event
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from tests.exports.pdf_documents_text import documents_text
from tests.exports.test_csv_dat import parse_dat

ROOT = Path(__file__).resolve().parents[2]
EDRM_XSD = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "edrm-1.2-subset.xsd")))
RSMF_SCHEMA = json.loads((ROOT / "tests" / "exports" / "schemas" / "rsmf_schema_2_0_0.json").read_text())
"""Relativity's published RSMF 2.0.0 manifest schema (issue 19: every manifest checked against it)."""
MANIFEST_SCHEMA = json.loads((ROOT / "exports" / "schemas" / "manifest.schema.json").read_text())
DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_NAMESPACE = uuid.UUID("6a1f4c2e-1b0d-4e8f-9a3c-2d7e5f6a8b90")
PDF_TEXT = "Quarterly forecast: revenue up nine percent"
NOTE_TEXT = "Meeting notes: ship the release on Friday.\nאחרי הצהריים\n"


def _pdf() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, PDF_TEXT)
    canvas.save()
    return buffer.getvalue()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass(frozen=True)
class Upload:
    name: str
    content_type: str
    data: bytes
    stored: bool
    text: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


UPLOADS = (
    Upload("forecast Q3.pdf", "application/pdf", _pdf(), True, PDF_TEXT),
    Upload("chart.png", "image/png", _png(), True),
    Upload("notes.txt", "text/plain", NOTE_TEXT.encode(), True, NOTE_TEXT),
    Upload("contract.docx", "application/vnd.openxmlformats", b"PK never arrived", False),
    Upload("ledger.csv", "text/csv", b"date,amount\n2026-11-23,100\n", True),  # altered in the store below
)
PENDING = UPLOADS[3]
ALTERED = UPLOADS[4]
INCLUDED = UPLOADS[:3]


def _payload(index: int, kind: str, **fields: Any) -> dict[str, Any]:
    actor = ("user:ann", "Ann Archer") if index % 2 == 0 else ("user:bob", "Bob Brown")
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{kind}:{index}")),
        "type": kind,
        "occurred_at": (DAY + timedelta(seconds=index)).isoformat(),
        "room": {"id": "room:deals", "name": "#deals", "kind": "room"},
        "actor": {"id": actor[0], "name": actor[1], "internal": True},
        "source": {"server": "chat.example.com"},
        **fields,
    }


def _events() -> list[Event]:
    payloads = [_payload(0, "post", message={"id": "m0", "text": "files for the forecast review"})]
    for index, upload in enumerate(UPLOADS, start=1):
        info = {"name": upload.name, "size": len(upload.data), "sha256": upload.sha256}
        payloads.append(_payload(index, "file_upload", file={**info, "content_type": upload.content_type}))
    payloads.append(_payload(10, "post", message={"id": "m1", "text": "forecast reviewed, thanks"}))
    return sorted((parse_event(p) for p in payloads), key=export_order)


EVENTS = _events()
UPLOAD_EVENTS = [e for e in EVENTS if isinstance(e, FileUploadEvent)]


def upload_event(upload: Upload) -> FileUploadEvent:
    return next(e for e in UPLOAD_EVENTS if e.file.sha256 == upload.sha256)


@pytest.fixture
def file_store(tmp_path: Path, store: StagingStore) -> FsFileStore:
    """The uploads' bytes and texts stored (but the pending one), then one file altered in place."""
    files = FsFileStore(tmp_path / "files")
    with store.engine.begin() as connection:
        for upload in UPLOADS:
            if not upload.stored:
                continue
            files.put([upload.data], expected_sha256=upload.sha256)
            record_native(connection, upload.sha256, len(upload.data), "api")
            event = upload_event(upload)
            text_sha = None
            if upload.text is not None:
                text_sha = files.put([upload.text.encode()]).sha256
            extracted = ExtractedText(
                file_event_id=event.event_id,
                sha256=upload.sha256,
                state="extracted" if upload.text is not None else "empty",
                extractor="test",
                extractor_version="1",
                text_sha256=text_sha,
                text_chars=len(upload.text or ""),
            )
            record_file_text(connection, str(uuid.uuid5(_NAMESPACE, f"text:{event.event_id}")), extracted, DAY)
    altered = files.path_of(ALTERED.sha256)
    os.chmod(altered, stat.S_IRUSR | stat.S_IWUSR)
    altered.write_bytes(b"date,amount\n2026-11-23,999\n")  # same size, other bytes
    return files


@pytest.fixture
def context(store: StagingStore, file_store: FsFileStore) -> ExportContext:
    return ExportContext(
        export_id="7d2c0a11-0000-4000-8000-000000000018",
        created_at=DAY + timedelta(days=1),
        requested_by="legal@example.com",
        query="forecast",
        attachments=ExportAttachments(store.engine, file_store),
    )


def written(name: str, context: ExportContext) -> tuple[MemoryExportFiles, FormatReport]:
    files = MemoryExportFiles()
    report = write_format(export_format(name), iter(EVENTS), files, context)
    return files, report


def native_losses(report: FormatReport) -> dict[str, int]:
    """Losses in files, by the first word of why (pending, altered, ...)."""
    found: dict[str, int] = {}
    for loss in report.losses:
        if loss.unit == "files":
            states = ("pending", "altered", "missing", "file store", "no place")
            key = next(state for state in states if state in loss.why)
            found[key] = found.get(key, 0) + loss.count
    return found


def assert_natives_in(files: MemoryExportFiles) -> None:
    """Each stored, unaltered native is in the export byte for byte, its text beside it."""
    contents = files.contents
    for upload in INCLUDED:
        matches = [path for path, data in contents.items() if path.startswith("NATIVES/") and data == upload.data]
        assert len(matches) == 1, upload.name
        listed = {f.path: f.sha256 for f in files.written}
        assert listed[matches[0]] == upload.sha256
    assert not any(data in (PENDING.data, b"date,amount\n2026-11-23,999\n") for data in contents.values())
    assert not any(path.endswith(".placeholder.txt") for path in contents)


# --- CSV and DAT ---------------------------------------------------------------------------------


def test_dat_names_natives_and_texts_with_their_family(context: ExportContext) -> None:
    files, report = written("csv", context)
    assert_natives_in(files)
    table = parse_dat(files.contents["messages.dat"])
    assert table[0] == list(DAT_COLUMNS)
    rows = [dict(zip(DAT_COLUMNS, row, strict=True)) for row in table[1:]]
    csv_rows = list(csv.DictReader(io.StringIO(files.contents["messages.csv"].decode("utf-8-sig"), newline="")))
    # Issue 19: the DAT is a row per document; every upload is an attachment document, a child of
    # the document (here a conversation slice) holding its upload, numbered right after it.
    attachments = [r for r in rows if r["DOC_TYPE"] == "attachment"]
    assert len(attachments) == len(UPLOADS)
    by_begdoc = {r["BEGDOC"]: r for r in rows}
    uploads_in_csv = {r["FILE_SHA256"]: r for r in csv_rows if r["TYPE"] == "file_upload"}
    for upload in UPLOADS:
        child = next(r for r in attachments if r["FILE_SHA256"] == upload.sha256)
        parent = by_begdoc[child["PARENT_DOCID"]]
        assert parent["DOC_TYPE"] == "conversation"
        assert uploads_in_csv[upload.sha256]["EVENT_ID"] in parent["EVENT_IDS"].split("; ")
        assert child["EVENT_IDS"] == uploads_in_csv[upload.sha256]["EVENT_ID"]
        assert parent["BEGATTACH"] == parent["BEGDOC"] <= child["BEGDOC"] <= parent["ENDATTACH"]
        assert (child["BEGATTACH"], child["ENDATTACH"]) == (parent["BEGATTACH"], parent["ENDATTACH"])
        assert parent["NATIVEPATH"] == ""
        # The CSV's upload row names the attachment document and the native's state.
        assert uploads_in_csv[upload.sha256]["ATTACHMENT"] == child["BEGDOC"]
        assert uploads_in_csv[upload.sha256]["NATIVE_STATE"] == child["NATIVE_STATE"]
        assert child["SHA256HASH"] == upload.sha256
        if upload in INCLUDED:
            assert child["NATIVE_STATE"] == "included"
            assert files.contents[child["NATIVEPATH"]] == upload.data
            assert child["MD5HASH"] == hashlib.md5(upload.data, usedforsecurity=False).hexdigest()
        else:
            assert (child["NATIVEPATH"], child["MD5HASH"]) == ("", "")
            assert child["NATIVE_STATE"] == ("pending" if upload is PENDING else "altered")
        if upload.text is not None:
            assert child["EXTRACTION_STATE"] == "extracted"
            assert files.contents[child["TEXTPATH"]].decode() == upload.text
        elif upload is PENDING:
            assert (child["EXTRACTION_STATE"], child["TEXTPATH"]) == ("pending", "")
    assert native_losses(report) == {"pending": 1, "altered": 1}
    assert report.items == len(rows)


# --- EDRM ----------------------------------------------------------------------------------------


def found(element: etree._Element, path: str) -> etree._Element:
    match = element.find(path)
    assert match is not None, path
    return match


def test_edrm_has_native_and_text_files_for_each_attachment(context: ExportContext) -> None:
    files, report = written("edrm", context)
    assert_natives_in(files)
    root = etree.fromstring(files.contents["edrm.xml"])
    EDRM_XSD.assertValid(root)
    documents = {d.get("DocID"): d for d in root.findall("Batch/Documents/Document")}
    assert report.items == len(documents)
    relations = root.findall("Batch/Relationships/Relationship[@Type='Attachment']")
    assert len(relations) == len(UPLOADS)
    for relation in relations:
        assert documents[relation.get("ParentDocId")].get("DocType") == "Message"
    children = [documents[r.get("ChildDocId")] for r in relations]
    for upload in UPLOADS:
        child = next(
            d for d in children if d.find(f"Tags/Tag[@TagName='SHA256Hash'][@TagValue='{upload.sha256}']") is not None
        )
        assert child.get("DocType") == "File"
        state = found(child, "Tags/Tag[@TagName='NativeState']").get("TagValue")
        native = child.find("Files/File[@FileType='Native']/ExternalFile")
        if upload in INCLUDED:
            assert state == "included"
            assert native is not None
            assert native.get("Hash") == upload.sha256
            assert native.get("FileSize") == str(len(upload.data))
            assert files.contents[f"{native.get('FilePath')}/{native.get('FileName')}"] == upload.data
        else:
            assert native is None
            assert state == ("pending" if upload is PENDING else "altered")
        text = child.find("Files/File[@FileType='Text']/ExternalFile")
        if upload.text is not None:
            assert text is not None
            data = files.contents[f"{text.get('FilePath')}/{text.get('FileName')}"]
            assert data.decode() == upload.text
            assert text.get("Hash") == hashlib.sha256(data).hexdigest()
        else:
            assert text is None
    assert native_losses(report) == {"pending": 1, "altered": 1}


# --- RSMF ----------------------------------------------------------------------------------------


def _rsmf_zip(data: bytes) -> zipfile.ZipFile:
    message = email.message_from_bytes(data, policy=email.policy.default)
    part = next(p for p in message.iter_attachments() if p.get_filename() == "rsmf.zip")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return zipfile.ZipFile(io.BytesIO(payload))


def test_rsmf_carries_the_natives_as_its_attachments(context: ExportContext) -> None:
    files, report = written("rsmf", context)
    (path,) = [p for p in files.contents if p.endswith(".rsmf")]
    archive = _rsmf_zip(files.contents[path])
    manifest = json.loads(archive.read("rsmf_manifest.json"))
    Draft7Validator(RSMF_SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER).validate(manifest)
    referenced = {a["id"]: (event, a) for event in manifest["events"] for a in event.get("attachments", ())}
    assert len(referenced) == len(UPLOADS)
    for upload in UPLOADS:
        attachment_id, (event, attachment) = next(
            (key, value) for key, value in referenced.items() if value[1]["display"] == upload.name
        )
        custom = {c["name"]: c["value"] for c in event["custom"]}
        assert custom["sha256"] == upload.sha256
        if upload in INCLUDED:
            assert archive.read(attachment_id) == upload.data
            assert attachment["size"] == len(upload.data)
            assert custom["native"] == "included"
            assert "/" not in attachment_id  # Relativity's attachments are at the root of rsmf.zip
        else:
            assert custom["native"] == ("pending" if upload is PENDING else "altered")
            assert upload.data not in archive.read(attachment_id)  # a note saying why, not the bytes
        if upload.text is not None:
            assert custom["extraction"] == "extracted"
    # Already compressed types are stored, not deflated again.
    png = next(i for i in archive.infolist() if i.filename.endswith(".png"))
    assert png.compress_type == zipfile.ZIP_STORED
    assert native_losses(report) == {"pending": 1, "altered": 1}


# --- JSONL ---------------------------------------------------------------------------------------


def test_jsonl_references_each_native_and_text(context: ExportContext) -> None:
    files, report = written("jsonl", context)
    assert_natives_in(files)
    lines = files.contents["events.jsonl"].decode().splitlines()
    assert len(lines) == len(EVENTS)  # the archived events, untouched
    references = [json.loads(line) for line in files.contents["attachments.jsonl"].decode().splitlines()]
    assert [r["event_id"] for r in references] == [str(e.event_id) for e in UPLOAD_EVENTS]
    for upload in UPLOADS:
        entry = next(r for r in references if r["sha256"] == upload.sha256)
        native = entry["native"]
        if upload in INCLUDED:
            assert native["state"] == "included"
            assert (native["sha256"], native["size"]) == (upload.sha256, len(upload.data))
            assert files.contents[native["path"]] == upload.data
        else:
            assert native["path"] is None
            assert native["state"] == ("pending" if upload is PENDING else "altered")
        text = entry["text"]
        if upload.text is not None:
            assert text["state"] == "extracted"
            assert files.contents[text["path"]].decode() == upload.text
        elif upload is PENDING:
            assert (text["state"], text["path"]) == ("pending", None)
        else:
            assert text["state"] in ("empty", "pending")
    assert native_losses(report) == {"pending": 1, "altered": 1}


# --- PDF -----------------------------------------------------------------------------------------


def test_pdf_lists_each_attachment_with_hash_state_and_excerpt(context: ExportContext) -> None:
    files, report = written("pdf", context)
    text = documents_text(files.contents)  # the transcripts, and each attachment's slip sheet
    squeezed = "".join(text.split())
    for upload in UPLOADS:
        assert "".join(upload.name.split()) in squeezed
        assert upload.sha256 in squeezed
        assert f"{len(upload.data):,}bytes" in squeezed
    assert "".join(PDF_TEXT.split()) in squeezed  # the excerpt of the PDF's extracted text
    assert "textextracted" in squeezed
    assert "textpending" in squeezed
    assert native_losses(report) == {}


# --- Lync and Actiance ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["lync", "actiance"])
def test_chat_xml_formats_name_the_natives_they_cannot_carry(name: str, context: ExportContext) -> None:
    files, report = written(name, context)
    assert not any(path.startswith("NATIVES/") for path in files.contents)
    assert native_losses(report) == {"no place": len(UPLOADS)}


def test_without_a_file_store_every_native_is_a_loss() -> None:
    context = ExportContext(
        export_id="7d2c0a11-0000-4000-8000-000000000019", created_at=DAY, requested_by="legal", query="forecast"
    )
    for name in ("csv", "edrm", "rsmf", "jsonl"):
        files, report = written(name, context)
        assert not any(path.startswith("NATIVES/") for path in files.contents), name
        assert native_losses(report) == {"file store": len(UPLOADS)}, name


# --- the whole package ---------------------------------------------------------------------------


@pytest.fixture
def indexed(store: StagingStore, tmp_path: Path) -> Path:
    ArchiveAdapter(store.engine).write(EVENTS)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(EVENTS)
    index.close()
    return tmp_path / "index"


def test_the_manifest_hashes_every_native_and_text(
    store: StagingStore, file_store: FsFileStore, indexed: Path, tmp_path: Path
) -> None:
    request = ExportRequest(
        export_id="7d2c0a11-0000-4000-8000-000000000020",
        query="forecast",
        formats=("csv", "edrm", "jsonl", "rsmf", "pdf"),
        requested_by="legal",
        role="legal",
    )
    result = build_export(
        store.engine, TantivySearchBackend(indexed), request, tmp_path / "out.zip", file_store=file_store
    )
    Draft202012Validator(MANIFEST_SCHEMA).validate(result.manifest)
    listed = {f["path"]: f for f in result.manifest["files"]}
    with zipfile.ZipFile(result.path) as archive:
        names = archive.namelist()
        assert len(names) == len(set(names))
        for upload in INCLUDED:
            (path,) = [p for p in listed if p.startswith("NATIVES/") and listed[p]["sha256"] == upload.sha256]
            assert archive.read(path) == upload.data
            assert listed[path]["size"] == len(upload.data)
        for path, entry in listed.items():
            if path.startswith(("NATIVES/", "TEXT/")):
                assert hashlib.sha256(archive.read(path)).hexdigest() == entry["sha256"]
        png = next(i for i in archive.infolist() if i.filename.startswith("NATIVES/") and i.filename.endswith(".png"))
        assert png.compress_type == zipfile.ZIP_STORED
    # One copy of each native, whichever formats refer to it.
    assert len([p for p in listed if p.startswith("NATIVES/")]) == len(INCLUDED)
    losses = {f["format"]: f["losses"] for f in result.manifest["formats"]}
    for name in ("csv", "edrm", "jsonl", "rsmf"):
        assert sorted(loss["count"] for loss in losses[name] if loss["unit"] == "files") == [1, 1], name


def test_bytes_recorded_as_stored_but_gone_from_the_store_are_missing(store: StagingStore, tmp_path: Path) -> None:
    empty = FsFileStore(tmp_path / "empty-store")
    upload = UPLOADS[0]
    with store.engine.begin() as connection:
        record_native(connection, upload.sha256, len(upload.data), "api")
    attachments = ExportAttachments(store.engine, empty)
    files = MemoryExportFiles()
    placed = attachments.native(files, upload_event(upload))
    assert (placed.state, placed.path) == ("missing", None)
    assert files.contents == {}
    context = ExportContext(
        export_id="7d2c0a11-0000-4000-8000-000000000021",
        created_at=DAY,
        requested_by="legal",
        query="forecast",
        attachments=attachments,
    )
    _, report = written("csv", context)
    assert native_losses(report) == {"missing": 1, "pending": len(UPLOADS) - 1}


def test_an_export_job_reads_natives_from_its_file_store(
    store: StagingStore, file_store: FsFileStore, indexed: Path, tmp_path: Path
) -> None:
    jobs = ExportJobs(store.engine, tmp_path / "exports", lambda: TantivySearchBackend(indexed), file_store=file_store)
    try:
        job = jobs.run_now(JobSpec(query="forecast", formats=("csv",), requested_by="legal", role="legal"))
    finally:
        jobs.shutdown(wait=True)
    assert job["status"] == "done", job["error"]
    listed = {f["sha256"] for f in job["manifest"]["files"] if f["path"].startswith("NATIVES/")}
    assert listed == {upload.sha256 for upload in INCLUDED}


# --- the sealed SHA-256 decides, not the declared size (review finding 3) --------------------------

SIGNED = b"%PDF-1.4 the signed contract\n"


def _misdeclared(store: StagingStore, tmp_path: Path) -> tuple[FsFileStore, FileUploadEvent]:
    """Bytes the store holds whose upload declared another size (a server that rounds sizes)."""
    files = FsFileStore(tmp_path / "files")
    sha = hashlib.sha256(SIGNED).hexdigest()
    event = parse_event(
        _payload(
            1,
            "file_upload",
            file={"name": "contract.pdf", "size": 1024, "sha256": sha, "content_type": "application/pdf"},
        )
    )
    assert isinstance(event, FileUploadEvent)
    stored = files.put([SIGNED], expected_sha256=sha)
    with store.engine.begin() as connection:
        record_native(connection, stored.sha256, stored.size, "api")
    return files, event


def test_a_native_with_a_misdeclared_size_is_still_produced(store: StagingStore, tmp_path: Path) -> None:
    files, event = _misdeclared(store, tmp_path)
    out = MemoryExportFiles()
    placed = ExportAttachments(store.engine, files).native(out, event)
    assert (placed.state, placed.size) == ("included", len(SIGNED))
    assert out.contents[placed.path or ""] == SIGNED
    assert "1,024" in placed.detail
    assert f"{len(SIGNED)}" in placed.detail
    for name in ("rsmf", "jsonl", "edrm", "csv"):
        context = ExportContext(
            export_id="7d2c0a11-0000-4000-8000-000000000022",
            created_at=DAY,
            requested_by="legal",
            query="contract",
            attachments=ExportAttachments(store.engine, files),  # one export per format
        )
        out = MemoryExportFiles()
        report = write_format(export_format(name), iter([event]), out, context)
        assert native_losses(report) == {}, name
        assert any("declared" in warning and str(event.event_id) in warning for warning in report.warnings), name
        if name == "rsmf":
            (path,) = [p for p in out.contents if p.endswith(".rsmf")]
            archive = _rsmf_zip(out.contents[path])
            manifest = json.loads(archive.read("rsmf_manifest.json"))
            Draft7Validator(RSMF_SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER).validate(manifest)
            (entry,) = [e for e in manifest["events"] if e.get("attachments")]
            custom = {c["name"]: c["value"] for c in entry["custom"]}
            assert custom["native"] == "included"
            assert archive.read(entry["attachments"][0]["id"]) == SIGNED
            assert entry["attachments"][0]["size"] == len(SIGNED)  # the size of the file in rsmf.zip
            assert "1,024" in custom["native detail"]
        else:
            assert SIGNED in out.contents.values(), name
        if name == "jsonl":
            (line,) = out.contents["attachments.jsonl"].decode().splitlines()
            native = json.loads(line)["native"]
            assert (native["state"], native["size"]) == ("included", len(SIGNED))
            assert "1,024" in native["detail"]


# --- RSMF names natives by their whole SHA-256 (review finding 8) -----------------------------------


def test_rsmf_keeps_apart_files_whose_sha256_share_a_prefix(store: StagingStore, tmp_path: Path) -> None:
    """Same name, SHA-256s alike in their first 16 digits: each upload keeps its own attachment
    (the one whose bytes the store holds is placed; the other, lost from the store, is missing)."""
    files = FsFileStore(tmp_path / "files")
    data = b"the first version of the contract\n"
    sha = hashlib.sha256(data).hexdigest()
    twin = sha[:16] + ("0" if sha[16] != "0" else "1") + sha[17:]
    events = []
    for index, digest in enumerate((sha, twin), start=1):
        info = {"name": "contract.txt", "size": len(data), "sha256": digest, "content_type": "text/plain"}
        events.append(parse_event(_payload(index, "file_upload", file=info)))
    files.put([data], expected_sha256=sha)
    with store.engine.begin() as connection:
        record_native(connection, sha, len(data), "api")
        record_native(connection, twin, len(data), "api")  # recorded, but the store lost it
    context = ExportContext(
        export_id="7d2c0a11-0000-4000-8000-000000000023",
        created_at=DAY,
        requested_by="legal",
        query="contract",
        attachments=ExportAttachments(store.engine, files),
    )
    out = MemoryExportFiles()
    report = write_format(export_format("rsmf"), iter(events), out, context)
    (path,) = [p for p in out.contents if p.endswith(".rsmf")]
    archive = _rsmf_zip(out.contents[path])
    manifest = json.loads(archive.read("rsmf_manifest.json"))
    Draft7Validator(RSMF_SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER).validate(manifest)
    by_sha = {}
    for entry in manifest["events"]:
        if entry.get("attachments"):
            custom = {c["name"]: c["value"] for c in entry["custom"]}
            by_sha[custom["sha256"]] = (custom["native"], entry["attachments"][0]["id"])
    assert by_sha[sha][0] == "included"
    assert sha in by_sha[sha][1]
    assert archive.read(by_sha[sha][1]) == data
    assert by_sha[twin][0] == "missing"
    assert twin in by_sha[twin][1]
    assert data not in archive.read(by_sha[twin][1])
    assert native_losses(report) == {"missing": 1}
