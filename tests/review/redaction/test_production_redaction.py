"""Redactions and withholding applied in every production format at once (issue 20).

A production with redactions over a post (overlapping spans, a mention and a hashtag among
them), over an edit, and over an uploaded file's extracted text, and with one document withheld,
is written in every format; then every entry of the zip is unpacked as deep as it goes (zips in
zips, the RSMF MIME message and its rsmf.zip, every PDF's text by pypdf and its zlib-inflated
streams) and searched byte for byte: no redacted string survives anywhere, while the text
around each span does, and the markers are there.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from lxml import etree
from pypdf import PdfReader

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.attachments import record_file_text, record_native
from archive.fs_file_store import FsFileStore
from exports.package import ExportRequest, ExportResult, build_export
from exports.redaction import LoggedDocument, ProductionReview, Redactions, Span, text_sha256
from exports.registry import FORMAT_NAMES
from ingest.events import Event, ExtractedText, parse_event
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from tests.review.redaction.leak_search import found_in, zip_blobs

ROOT = Path(__file__).resolve().parents[3]
MANIFEST_SCHEMA = json.loads((ROOT / "exports" / "schemas" / "manifest.schema.json").read_text())
EDRM_XSD = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "edrm-1.2-subset.xsd")))
RSMF_SCHEMA = json.loads((ROOT / "tests" / "exports" / "schemas" / "rsmf_schema_2_0_0.json").read_text())
DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_NAMESPACE = uuid.UUID("3b0a9c1e-5d2f-4a6b-8c7d-9e0f1a2b3c4d")

POST = "deal kickoff: call SECRETALPHA123 tomorrow, ask @secretdelta about #secretecho please"
EDIT = "deal kickoff: call SECRETBRAVO456 now"
NOTE = "Meeting notes: keep SECRETCHARLIE789 quiet until Friday\n"
PRIVILEGED = "deal advice from counsel: PRIVSECRET42 is the exposure"
OTHER = "deal closing visible-tail text"
SECRETS = ("SECRETALPHA123", "SECRETBRAVO456", "SECRETCHARLIE789", "secretdelta", "secretecho", "PRIVSECRET42")
KEPT = ("kickoff", "please", "visible-tail", "Meeting notes", "until Friday", "now")


def _span(text: str, piece: str, reason: str, extra: int = 0) -> Span:
    start = text.index(piece)
    return Span(start, start + len(piece) + extra, reason, text_sha256(text))


def _payload(index: int, kind: str, room: str = "room:deals", **fields: Any) -> dict[str, Any]:
    actor = ("user:ann", "Ann Archer") if index % 2 == 0 else ("user:bob", "Bob Brown")
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{kind}:{index}")),
        "type": kind,
        "occurred_at": (DAY + timedelta(seconds=index)).isoformat(),
        "room": {"id": room, "name": room.replace("room:", "#"), "kind": "room"},
        "actor": {"id": actor[0], "name": actor[1], "internal": True},
        "source": {"server": "chat.example.com"},
        **fields,
    }


NOTE_BYTES = NOTE.encode()
NOTE_SHA = hashlib.sha256(NOTE_BYTES).hexdigest()


def _events() -> list[Event]:
    payloads = [
        _payload(0, "post", message={"id": "m0", "text": POST}),
        _payload(1, "edit", message={"id": "m0", "text": EDIT}),
        _payload(2, "file_upload", file={"name": "notes.txt", "size": len(NOTE_BYTES), "sha256": NOTE_SHA}),
        _payload(3, "post", room="room:legal", message={"id": "m1", "text": PRIVILEGED}),
        _payload(4, "post", message={"id": "m2", "text": OTHER}),
        # The same file uploaded again: its copy must not show what the first upload's redaction hides.
        _payload(5, "file_upload", file={"name": "notes copy.txt", "size": len(NOTE_BYTES), "sha256": NOTE_SHA}),
    ]
    return [parse_event(p) for p in payloads]


EVENTS = _events()
UPLOAD_ID = str(EVENTS[2].event_id)


def review(unit: str) -> ProductionReview:
    redactions = Redactions(
        messages={
            ("m0", 1): (
                _span(POST, "SECRETALPHA123", "PII", extra=len(" tomorrow")),
                _span(POST, "tomorrow", "Confidential"),  # overlaps the first: merged
                _span(POST, "@secretdelta", "PII"),
                _span(POST, "#secretecho", "Privileged - Attorney-Client"),
            ),
            ("m0", 2): (_span(EDIT, "SECRETBRAVO456", "PII"),),
        },
        files={UPLOAD_ID: (_span(NOTE, "SECRETCHARLIE789", "Trade Secret"),)},
    )
    withheld_key = "message:m1" if unit == "message" else "conversation:room:legal:2026-11-23"
    documents = {
        withheld_key: LoggedDocument("Attorney-Client", "advice of outside counsel on exposure", withhold=True)
    }
    return ProductionReview(redactions=redactions, documents=documents)


@pytest.fixture
def archived(store: StagingStore, tmp_path: Path) -> tuple[Path, FsFileStore]:
    ArchiveAdapter(store.engine).write(EVENTS)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(EVENTS)
    index.close()
    files = FsFileStore(tmp_path / "files")
    files.put([NOTE_BYTES], expected_sha256=NOTE_SHA)
    text_sha = files.put([NOTE.encode()]).sha256
    with store.engine.begin() as connection:
        record_native(connection, NOTE_SHA, len(NOTE_BYTES), "api")
        extracted = ExtractedText(
            file_event_id=EVENTS[2].event_id,
            sha256=NOTE_SHA,
            state="extracted",
            extractor="test",
            extractor_version="1",
            text_sha256=text_sha,
            text_chars=len(NOTE),
        )
        record_file_text(connection, str(uuid.uuid5(_NAMESPACE, "text")), extracted, DAY)
        copy = extracted.model_copy(update={"file_event_id": EVENTS[5].event_id})
        record_file_text(connection, str(uuid.uuid5(_NAMESPACE, "text copy")), copy, DAY)
    return tmp_path / "index", files


def produce(
    store: StagingStore,
    archived: tuple[Path, FsFileStore],
    tmp_path: Path,
    unit: str,
    review_: ProductionReview | None,
    query: str = "deal",
) -> ExportResult:
    index, files = archived
    request = ExportRequest(
        export_id="9a1b2c3d-0000-4000-8000-000000000020",
        query=query,
        formats=FORMAT_NAMES,
        requested_by="legal",
        role="legal",
        case_id="case-1",
        case_name="Acme v. Widget",
        case_number="case-1",
        unit=unit,  # type: ignore[arg-type]
        review=review_,
    )
    return build_export(store.engine, TantivySearchBackend(index), request, tmp_path / f"{unit}.zip", file_store=files)


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_no_redacted_string_survives_in_any_file_of_any_format(
    store: StagingStore, archived: tuple[Path, FsFileStore], tmp_path: Path, unit: str
) -> None:
    result = produce(store, archived, tmp_path, unit, review(unit))
    blobs = zip_blobs(str(result.path))
    assert len(blobs) > 50  # every format's files, unpacked
    for secret in SECRETS:
        assert found_in(blobs, secret) == [], secret
    # The text around every span is produced, and the markers say why.
    for kept in KEPT:
        assert found_in(blobs, kept), kept
    # The PDFs' content streams were inflated and searched (not only their text): the boxes are
    # there, black fill, a rectangle, the reason drawn in white.
    boxes = [data for name, data in blobs if "(inflated stream" in name and b"re f" in data and b"1 1 1 rg" in data]
    assert boxes
    with zipfile.ZipFile(result.path) as archive:
        events = [json.loads(line) for line in archive.read("events.jsonl").decode().splitlines()]
        posts = {e["message"]["id"]: e for e in events if e["type"] == "post"}
        assert posts["m0"]["message"]["text"] == (
            "deal kickoff: call [REDACTED: PII; Confidential], ask [REDACTED: PII] about "
            "[REDACTED: Privileged - Attorney-Client] please"
        )
        assert posts["m0"]["message"]["mentions"] == []
        assert posts["m0"]["message"]["hashtags"] == []
        edit = next(e for e in events if e["type"] == "edit")
        assert edit["message"]["text"] == "deal kickoff: call [REDACTED: PII] now"
        assert posts["m1"]["message"]["text"] == "Withheld: Attorney-Client"
        assert posts["m2"]["message"]["text"] == OTHER
        # The CSV's EVENT_SHA256 names the line as produced (the redacted event's JSON).
        lines = archive.read("events.jsonl").decode().splitlines()
        by_id = {json.loads(line)["event_id"]: line for line in lines}
        rows = list(csv.DictReader(io.StringIO(archive.read("messages.csv").decode("utf-8-sig"), newline="")))
        for row in rows:
            assert row["EVENT_SHA256"] == hashlib.sha256(by_id[row["EVENT_ID"]].encode()).hexdigest()
        # The attachment's text is produced redacted, its native withheld.
        texts = [n for n in archive.namelist() if n.startswith("TEXT/")]
        # (one file: the copy's text is the same redacted text)
        assert [archive.read(n).decode() for n in texts] == [
            "Meeting notes: keep [REDACTED: Trade Secret] quiet until Friday\n"
        ]
        assert not [n for n in archive.namelist() if n.startswith("NATIVES/")]
        # The PDF draws each marker as a black box with its reason in white (the text layer holds
        # the reason, never the text).
        pdfs = [n for n in archive.namelist() if n.endswith(".pdf") and n.startswith("PDF/")]
        texts_of_pdfs = " ".join(
            page.extract_text() for name in pdfs for page in PdfReader(io.BytesIO(archive.read(name))).pages
        )
        assert "REDACTED: PII" in texts_of_pdfs.replace("\u00a0", " ")
        log = archive.read("privilege_log.csv").decode("utf-8-sig")
        log_pdf = PdfReader(io.BytesIO(archive.read("privilege_log.pdf")))
        log_pdf_text = " ".join(page.extract_text() for page in log_pdf.pages)
        # Every format still meets its standard: EDRM's XSD (lxml), RSMF's schema (below).
        EDRM_XSD.assertValid(etree.fromstring(archive.read("edrm.xml")))
    manifest = result.manifest
    Draft202012Validator(MANIFEST_SCHEMA).validate(manifest)
    counts = manifest["review"]["redactions"]
    # Post: 3 merged spans, edit: 1, attachment text: 1, and 1 again for its copy.
    assert counts["total"] == 6
    # The post and its edit are one document in either unit; each attachment another.
    assert sorted(counts["documents"].values()) == [1, 1, 4]
    assert len(manifest["review"]["withheld"]) == 1
    log_rows = list(csv.DictReader(io.StringIO(log, newline="")))
    treatments = sorted(row["TREATMENT"] for row in log_rows)
    assert treatments == ["Redacted", "Redacted", "Redacted", "Withheld"]
    withheld_row = next(row for row in log_rows if row["TREATMENT"] == "Withheld")
    assert withheld_row["PRIVILEGE_TYPE"] == "Attorney-Client"
    assert withheld_row["DESCRIPTION"] == "advice of outside counsel on exposure"
    assert withheld_row["AUTHOR"] == "Bob Brown (user:bob)"
    assert withheld_row["CONTROL_NUMBER"] in manifest["review"]["withheld"]
    for row in log_rows:
        assert row["CONTROL_NUMBER"] in log_pdf_text
    assert "Attorney-Client" in log_pdf_text
    # The withheld native is a loss of every format that places natives, saying why.
    for entry in manifest["formats"]:
        if entry["format"] in ("csv", "edrm", "jsonl", "rsmf"):
            withheld = [loss for loss in entry["losses"] if loss["why"].startswith("withheld")]
            assert [loss["count"] for loss in withheld] == [2], entry["format"]  # the upload and its copy
    assert "Withheld" in log_pdf_text


def test_without_redactions_the_secrets_are_there(
    store: StagingStore, archived: tuple[Path, FsFileStore], tmp_path: Path
) -> None:
    """The search itself finds what it must (a search that finds nothing proves nothing)."""
    result = produce(store, archived, tmp_path, "conversation", None)
    blobs = zip_blobs(str(result.path))
    for secret in SECRETS:
        assert found_in(blobs, secret), secret
    assert "review" not in result.manifest
    with zipfile.ZipFile(result.path) as archive:
        assert "privilege_log.csv" not in archive.namelist()


def test_the_rsmf_of_a_redacted_production_is_still_valid(
    store: StagingStore, archived: tuple[Path, FsFileStore], tmp_path: Path
) -> None:
    import email
    import email.policy

    result = produce(store, archived, tmp_path, "conversation", review("conversation"))
    with zipfile.ZipFile(result.path) as archive:
        for name in [n for n in archive.namelist() if n.endswith(".rsmf")]:
            message = email.message_from_bytes(archive.read(name), policy=email.policy.default)
            part = next(p for p in message.iter_attachments() if p.get_filename() == "rsmf.zip")
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            with zipfile.ZipFile(io.BytesIO(payload)) as inner:
                manifest = json.loads(inner.read("rsmf_manifest.json"))
            Draft7Validator(RSMF_SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER).validate(manifest)
