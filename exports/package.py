"""One export: the hits of a query, written in each requested format into one zip with
``manifest.json`` (every file with its SHA-256 -- but the load files' text files, one per
message and one per document, which ``messages_text.sha256`` and ``documents_text.sha256``
list --, the query, who, when, counts, each format's warnings and losses) and
``chain_of_custody.json`` (who asked, what archive state it was taken from, the manifest's
hash). The zip is written to a temporary name, flushed to disk and renamed, so a reader never
sees half an export; its own SHA-256 goes into the job record and the audit log.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import platform
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from archive.file_store import FileStore
from archive.queries import last_disposition_seq
from archive.record import chain_head
from exports.base import ExportContext, ExportZip, FormatReport, ZipExportFiles, write_format
from exports.documents import DocumentUnit, Numbering
from exports.natives import ExportAttachments
from exports.redaction import ProductionReview, Redactor
from exports.registry import export_format
from exports.review_pass import ReviewPass, only_set_uploads, review_selection, write_privilege_log
from exports.selection import ArchivedJson, Selection, select_hits, selected_events
from exports.thread_links import SelectionThreads
from formats.time_zones import DEFAULT_ZONE, time_zone
from ingest.db import read_only
from ingest.events import Event
from search.backends import SearchBackend
from search.memberships import Memberships
from search.query_parser import parse_query
from search.service import resolve_people

MANIFEST = "manifest.json"
CUSTODY = "chain_of_custody.json"
Progress = Callable[[int, int | None], None]
"""Called with the progress in events, each event counted once however many formats it is
written in: the events written so far over every format divided by the number of formats (so
it ends at the export's event count), and that count once the first format has read every
event (None before)."""


@dataclass(frozen=True)
class ExportRequest:
    export_id: str
    query: str
    formats: tuple[str, ...]
    requested_by: str
    role: str
    case_id: str | None = None
    case_name: str | None = None
    case_number: str | None = None
    custodians: tuple[str, ...] = ()
    time_zone: str = DEFAULT_ZONE
    """The IANA zone times are shown and conversation-days cut in (an unknown name is refused
    before any work, :class:`formats.time_zones.UnknownTimeZone`)."""
    unit: DocumentUnit = "conversation"
    """What one document is (:mod:`exports.documents`)."""
    numbering: Numbering | None = None
    """The production's control numbers (a case's production log reserves them); None: the
    export id's, from 1."""
    recipients: tuple[str, ...] = ()
    review: ProductionReview | None = None
    """A production of a case: the case's redactions, and for a review set's production its
    documents (instead of the query's hits) and what it withholds (:mod:`exports.redaction`)."""


@dataclass
class ExportResult:
    path: Path
    sha256: str
    size: int
    manifest: dict[str, Any]
    reports: list[FormatReport] = field(default_factory=list)
    manifest_sha256: str = ""
    """SHA-256 of ``manifest.json`` as written (the production log and the custody record keep it)."""


def build_export(
    engine: Engine,
    backend: SearchBackend,
    request: ExportRequest,
    destination: Path,
    *,
    memberships: Memberships | None = None,
    progress: Progress = lambda _done, _total: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    file_store: FileStore | None = None,
) -> ExportResult:
    """Write the export to ``destination`` (a .zip); raises on any failure, leaving nothing there.
    ``file_store``: where the uploaded files' natives and extracted texts are read from
    (:mod:`exports.natives`); None exports none, each format naming them as losses."""
    formats = [export_format(name) for name in request.formats]  # unknown names fail before any work
    zone = time_zone(request.time_zone)  # so does an unknown zone
    started = now()
    review = request.review
    if review is not None and review.review_set_id is not None:
        # A review set's production: its documents' messages, not a query's hits.
        selection = review_selection(review.message_hits)
    else:
        # The query's sent: dates are days of the export's zone, like its conversation-days.
        selection = select_hits(backend, resolve_people(engine, parse_query(request.query)), memberships, zone)
    head = chain_head(engine)
    # Each format reads the events anew: all of them read the archive as it was at ``head``
    # (events archived since are left out), and a disposition meanwhile fails the export (it
    # turns a payload into a tombstone, so formats read before and after it would differ).
    disposed_before = _dispositions(engine)
    archived_json = ArchivedJson()
    context = ExportContext(
        export_id=request.export_id,
        created_at=started,
        requested_by=request.requested_by,
        query=request.query,
        case_name=request.case_name,
        case_number=request.case_number,
        custodians=request.custodians,
        archived_json=archived_json,
        time_zone=zone,
        attachments=ExportAttachments(engine, file_store),
        unit=request.unit,
        numbering=request.numbering,
        recipients=request.recipients,
        archive_head=head,
        threads=SelectionThreads(engine, selection),
    )
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    written = 0  # over every format
    total: int | None = None  # the events of the export, once the first format has read them all
    reports: list[FormatReport] = []

    def events_read() -> Iterator[Event]:
        read = selected_events(engine, selection, remember=archived_json.remember, zone=zone, up_to_seq=head["seq"])
        return only_set_uploads(read, review, request.unit)

    reviewed: ReviewPass | None = None
    if review is not None and (review.active or review.review_set_id is not None):
        # Before any format: which documents are withheld, and each one's redactions.
        reviewed = ReviewPass(review, context)
        reviewed.read(
            only_set_uploads(selected_events(engine, selection, zone=zone, up_to_seq=head["seq"]), review, request.unit)
        )
        context.attachments.review = reviewed.attachments
        # The query as the production's files give it: no word a redaction removed.
        request = dataclasses.replace(request, query=reviewed.redact_query(request.query))
        context = dataclasses.replace(context, query=request.query)

    def reviewed_events() -> Iterator[Event]:
        if reviewed is None:
            return events_read()
        # Each format's own redactor: it counts versions as the events come.
        return Redactor(
            reviewed.review.redactions, reviewed.withheld_events, reviewed.withheld_messages, reviewed.hidden_natives
        ).apply(events_read())

    def counted(events: Iterable[Event]) -> Iterator[Event]:
        nonlocal written
        for event in events:
            yield event
            written += 1
            if written % 1000 == 0:
                progress(written // len(formats), total)

    try:
        with fewer_collections(), ExportZip(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            files = ZipExportFiles(archive, started)
            for export in formats:
                reports.append(write_format(export, counted(reviewed_events()), files, context))
                if total is None:
                    total = reports[0].events
                    progress(written // len(formats), total)
            if _dispositions(engine) != disposed_before:
                raise ExportInterrupted(
                    "events were disposed of by retention while the export ran, so its formats would hold "
                    "different events: start it again"
                )
            events = reports[0].events if reports else 0
            progress(events, events)
            if reviewed is not None:
                write_privilege_log(files, reviewed, request)
            manifest = _manifest(request, selection, head, reports, files, started, now())
            manifest["production"] = production_range(context, reports)
            if reviewed is not None:
                manifest["review"] = reviewed.manifest()
            manifest_bytes = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
            with files.create(MANIFEST, "application/json") as out:
                out.write(manifest_bytes)
            manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
            custody = _custody(request, head, manifest_sha256, started, now())
            with files.create(CUSTODY, "application/json") as out:
                out.write(json.dumps(custody, indent=2, ensure_ascii=False).encode())
        _flush_to_disk(partial)
        digest, size = file_sha256(partial)
        os.replace(partial, destination)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return ExportResult(destination, digest, size, manifest, reports, manifest_sha256)


_collections_lock = threading.Lock()
_relaxed = 0
_saved_thresholds: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the garbage collector less often while an export runs.

    An export allocates some 30 objects per event; formats that hold a conversation-day at a
    time (RSMF, Actiance) keep them alive long enough that the default threshold (700) made the
    collector walk them again and again: 10% of an RSMF export, measured. Reference counting
    still frees almost everything at once; only cycles wait longer. The thresholds are process
    wide, so concurrent exports share one relaxation and the last one out restores them."""
    global _relaxed, _saved_thresholds
    with _collections_lock:
        if _relaxed == 0:
            _saved_thresholds = gc.get_threshold()
            gc.set_threshold(50_000, 20, 20)
        _relaxed += 1
    try:
        yield
    finally:
        with _collections_lock:
            _relaxed -= 1
            if _relaxed == 0:
                gc.set_threshold(*_saved_thresholds)


def _manifest(
    request: ExportRequest,
    selection: Selection,
    head: dict[str, Any],
    reports: list[FormatReport],
    files: ZipExportFiles,
    started: datetime,
    finished: datetime,
) -> dict[str, Any]:
    return {
        "export_id": request.export_id,
        "query": request.query,
        "case": {
            "id": request.case_id,
            "number": request.case_number,
            "name": request.case_name,
            "custodians": list(request.custodians),
        },
        "requested_by": request.requested_by,
        "role": request.role,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "archive_head": head,
        "counts": {
            "messages": selection.messages,
            "rooms": len(selection.rooms),
            "events": reports[0].events if reports else 0,
            "first_message_at": selection.first.isoformat() if selection.first else None,
            "last_message_at": selection.last.isoformat() if selection.last else None,
        },
        "time_zone": {
            "name": request.time_zone,
            "conversation_days": f"cut at midnight {request.time_zone}",
            "formats": {r.format: r.times for r in reports},
        },
        "formats": [
            {
                "format": r.format,
                "events": r.events,
                "items": r.items,
                "warnings": r.warnings,
                "losses": [loss.as_json() for loss in r.losses],
            }
            for r in reports
        ],
        "files": [
            {"path": f.path, "size": f.size, "sha256": f.sha256, "media_type": f.media_type} for f in files.written
        ],
    }


class ExportInterrupted(RuntimeError):
    """The archive changed under the export in a way its formats cannot agree on."""


def _dispositions(engine: Engine) -> int:
    with read_only(engine) as connection:
        return last_disposition_seq(connection)


def production_range(context: ExportContext, reports: list[FormatReport]) -> dict[str, Any]:
    """The manifest's ``production``: the unit, the control numbers' prefix and the range the
    formats numbered (every format that numbers documents numbers the same ones: a format that
    disagrees is a fault, and the export fails rather than ship two numberings)."""
    numbering = context.control_numbers
    numbered = {(r.documents.documents, r.documents.first, r.documents.last) for r in reports if r.documents.documents}
    if len(numbered) > 1:
        raise RuntimeError(f"the formats numbered different documents: {sorted(numbered, key=str)}")
    count, first, last = numbered.pop() if numbered else (0, None, None)
    families = max((r.documents.families for r in reports), default=0)
    return {
        "unit": context.unit,
        "prefix": numbering.prefix,
        "width": numbering.width,
        "start": numbering.start,
        "documents": count,
        "families": families,
        "first_number": first,
        "last_number": last,
        "first_control": numbering.control(first) if first is not None else None,
        "last_control": numbering.control(last) if last is not None else None,
        "recipients": list(context.recipients),
    }


def _custody(
    request: ExportRequest, head: dict[str, Any], manifest_sha256: str, started: datetime, finished: datetime
) -> dict[str, Any]:
    return {
        "export_id": request.export_id,
        "statement": (
            "Collected by Archivist from its hash-chained archive of record. Every file of this export is "
            "listed with its SHA-256 in manifest.json, or (the files written one per message or per document: "
            "the load files' TEXTPATH files and each document's PDF) in a checksum list "
            "(*.sha256, which sha256sum -c checks) that manifest.json lists; the manifest's own SHA-256 is below; the "
            "SHA-256 of the zip is recorded in Archivist's audit log."
        ),
        "requested_by": request.requested_by,
        "role": request.role,
        "collected_on": platform.node(),
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "archive_head": head,
        "manifest_sha256": manifest_sha256,
        "custody": [{"at": finished.isoformat(), "by": "archivist", "action": "collected and sealed"}],
    }


def file_sha256(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _flush_to_disk(path: Path) -> None:
    with path.open("rb+") as handle:
        os.fsync(handle.fileno())
