"""Reviewer's findings on what a redacted or withheld production still gives away (issue 20).

Every entry of the zip is unpacked as deep as it goes (the redaction part's own leak search:
zips in zips, the RSMF MIME message, PDFs' text and inflated streams) and searched byte for byte.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.attachments import record_file_text, record_native
from archive.fs_file_store import FsFileStore
from exports.package import ExportRequest, build_export
from exports.redaction import LoggedDocument, ProductionReview, Redactions, Span, text_sha256
from exports.registry import FORMAT_NAMES
from ingest.events import Event, ExtractedText, parse_event
from ingest.staging import StagingStore
from review.redactions import message_versions
from search.backends import TantivySearchBackend
from tests.review.redaction.leak_search import found_in, zip_blobs
from tests.review.redaction.test_production_redaction import NOTE_SHA, produce, review
from tests.review.redaction.test_production_redaction import archived as archived

DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
FILE_SECRET = "PRIVFILE77"
FILE_NAME = f"{FILE_SECRET} counsel memo on exposure.docx"
FILE_BYTES = b"a privileged memo"
FILE_SHA = hashlib.sha256(FILE_BYTES).hexdigest()


def _payload(index: int, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"reviewer:{kind}:{index}")),
        "type": kind,
        "occurred_at": (DAY + timedelta(seconds=index)).isoformat(),
        "room": {"id": "room:counsel", "name": "#counsel", "kind": "room"},
        "actor": {"id": "user:ann", "name": "Ann Archer", "internal": True},
        **fields,
    }


def _events() -> list[Event]:
    return [
        parse_event(p)
        for p in (
            _payload(0, "post", message={"id": "c0", "text": "deal advice attached"}),
            _payload(1, "file_upload", file={"name": FILE_NAME, "size": len(FILE_BYTES), "sha256": FILE_SHA}),
        )
    ]


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_a_withheld_uploads_file_name_is_not_produced(store: StagingStore, tmp_path: Path, unit: str) -> None:
    events = _events()
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    files = FsFileStore(tmp_path / "files")
    files.put([FILE_BYTES], expected_sha256=FILE_SHA)
    withheld = (
        {"conversation:room:counsel:2026-11-23": LoggedDocument("Attorney-Client", "advice", withhold=True)}
        if unit == "conversation"
        else {
            "message:c0": LoggedDocument("Attorney-Client", "advice", withhold=True),
            f"attachment:{events[1].event_id}": LoggedDocument("Attorney-Client", "advice", withhold=True),
        }
    )
    request = ExportRequest(
        export_id="9a1b2c3d-0000-4000-8000-0000000000a1",
        query="deal",
        formats=FORMAT_NAMES,
        requested_by="legal",
        role="legal",
        case_id="case-1",
        case_name="Acme v. Widget",
        case_number="case-1",
        unit=unit,  # type: ignore[arg-type]
        review=ProductionReview(documents=withheld),
    )
    result = build_export(
        store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "w.zip", file_store=files
    )
    blobs = zip_blobs(str(result.path))
    assert found_in(blobs, "Withheld: Attorney-Client")  # the document was withheld
    assert found_in(blobs, "deal advice attached") == []
    assert found_in(blobs, FILE_SECRET) == [], "file name"
    assert found_in(blobs, FILE_SHA) == []


def test_a_redacted_uploads_hash_is_not_produced(
    store: StagingStore, archived: tuple[Path, FsFileStore], tmp_path: Path
) -> None:
    result = produce(store, archived, tmp_path, "conversation", review("conversation"))
    blobs = zip_blobs(str(result.path))
    assert found_in(blobs, "SECRETCHARLIE789") == []  # the text is redacted
    assert found_in(blobs, NOTE_SHA) == []


EDIT_SECRET = "PRIVEDIT31"


def test_a_withheld_messages_later_edit_is_withheld_too(store: StagingStore, tmp_path: Path) -> None:
    events = [
        parse_event(p)
        for p in (
            _payload(0, "post", message={"id": "c0", "text": "deal advice: settle below the cap"}),
            {
                **_payload(1, "edit", message={"id": "c0", "text": f"deal advice: settle below {EDIT_SECRET}"}),
                "occurred_at": (DAY + timedelta(days=1)).isoformat(),
            },
        )
    ]
    ArchiveAdapter(store.engine).write(events)
    sent = int((DAY - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    review_ = ProductionReview(
        review_set_id="set-1",
        review_set_name="First pass",
        unit="conversation",
        time_zone="UTC",
        documents={"conversation:room:counsel:2026-11-23": LoggedDocument("Attorney-Client", "advice", withhold=True)},
        message_hits={"room:counsel": (("c0", sent),)},
    )
    request = ExportRequest(
        export_id="9a1b2c3d-0000-4000-8000-0000000000a2",
        query="review set set-1",
        formats=FORMAT_NAMES,
        requested_by="legal",
        role="legal",
        case_id="case-1",
        case_name="Acme v. Widget",
        case_number="case-1",
        unit="conversation",
        review=review_,
    )
    result = build_export(store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "e.zip")
    blobs = zip_blobs(str(result.path))
    assert found_in(blobs, "settle below the cap") == []  # the post is withheld
    assert found_in(blobs, EDIT_SECRET) == []


DUP_SECRET = "SECRETDUP64"


def test_an_edit_after_a_repeated_post_is_redacted(store: StagingStore, tmp_path: Path) -> None:
    events = [
        parse_event(p)
        for p in (
            _payload(10, "post", message={"id": "d0", "text": "deal terms to follow"}),
            _payload(11, "post", message={"id": "d0", "text": "deal terms to follow"}),
            _payload(12, "edit", message={"id": "d0", "text": f"deal terms: {DUP_SECRET}"}),
        )
    ]
    ArchiveAdapter(store.engine).write(events)
    (edit,) = [v for v in message_versions(store.engine, "d0") if v.kind == "edit"]
    start = edit.text.index(DUP_SECRET)
    spans = (Span(start, start + len(DUP_SECRET), "PII", edit.text_sha256),)
    sent = int((DAY - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000) + 10_000_000
    review_ = ProductionReview(
        redactions=Redactions(messages={("d0", edit.version): spans}),
        review_set_id="set-1",
        review_set_name="First pass",
        unit="message",
        time_zone="UTC",
        documents={"message:d0": LoggedDocument()},
        message_hits={"room:counsel": (("d0", sent),)},
    )
    request = ExportRequest(
        export_id="9a1b2c3d-0000-4000-8000-0000000000a3",
        query="review set set-1",
        formats=FORMAT_NAMES,
        requested_by="legal",
        role="legal",
        case_id="case-1",
        unit="message",
        review=review_,
    )
    result = build_export(store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "d.zip")
    blobs = zip_blobs(str(result.path))
    assert found_in(blobs, "deal terms to follow")  # the document was produced
    assert found_in(blobs, DUP_SECRET) == []


COPY_SECRET = "SECRETCOPY55"
COPY_TEXT = f"budget: {COPY_SECRET} for the quarter"
COPY_BYTES = COPY_TEXT.encode()
COPY_SHA = hashlib.sha256(COPY_BYTES).hexdigest()


def test_a_copy_of_a_redacted_upload_is_redacted_in_a_production_without_the_original(
    store: StagingStore, tmp_path: Path
) -> None:
    file = {"name": "budget.txt", "size": len(COPY_BYTES), "sha256": COPY_SHA}
    first = {**_payload(20, "file_upload", file=file), "room": {"id": "room:a", "name": "#a", "kind": "room"}}
    events = [
        parse_event(first),
        parse_event({**_payload(21, "post", message={"id": "b0", "text": "deal budget attached"})}),
        parse_event({**_payload(22, "file_upload", file=file)}),
    ]
    ArchiveAdapter(store.engine).write(events)
    files = FsFileStore(tmp_path / "files")
    files.put([COPY_BYTES], expected_sha256=COPY_SHA)
    with store.engine.begin() as connection:
        record_native(connection, COPY_SHA, len(COPY_BYTES), "api")
        for upload in (events[0], events[2]):
            extracted = ExtractedText(
                file_event_id=upload.event_id,
                sha256=COPY_SHA,
                state="extracted",
                extractor="test",
                extractor_version="1",
                text_sha256=COPY_SHA,
                text_chars=len(COPY_TEXT),
            )
            record_file_text(connection, str(uuid.uuid4()), extracted, DAY)
    start = COPY_TEXT.index(COPY_SECRET)
    spans = (Span(start, start + len(COPY_SECRET), "PII", text_sha256(COPY_TEXT)),)
    sent = int((DAY - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000) + 21_000_000
    review_ = ProductionReview(
        redactions=Redactions(files={str(events[0].event_id): spans}),
        review_set_id="set-1",
        review_set_name="First pass",
        unit="conversation",
        time_zone="UTC",
        documents={"conversation:room:counsel:2026-11-23": LoggedDocument()},
        message_hits={"room:counsel": (("b0", sent),)},
    )
    request = ExportRequest(
        export_id="9a1b2c3d-0000-4000-8000-0000000000a4",
        query="review set set-1",
        formats=FORMAT_NAMES,
        requested_by="legal",
        role="legal",
        case_id="case-1",
        unit="conversation",
        review=review_,
    )
    result = build_export(
        store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "c.zip", file_store=files
    )
    blobs = zip_blobs(str(result.path))
    assert found_in(blobs, "deal budget attached")  # the room-day was produced, its upload with it
    assert found_in(blobs, COPY_SECRET) == []


def test_the_query_does_not_carry_a_redacted_string(
    store: StagingStore, archived: tuple[Path, FsFileStore], tmp_path: Path
) -> None:
    result = produce(store, archived, tmp_path, "conversation", review("conversation"), query="deal OR SECRETALPHA123")
    blobs = zip_blobs(str(result.path))
    assert found_in(blobs, "kickoff")  # the redacted message was produced
    assert found_in(blobs, "SECRETALPHA123") == [], found_in(blobs, "SECRETALPHA123")
