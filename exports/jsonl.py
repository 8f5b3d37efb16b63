"""JSONL: every event exactly as archived, one per line (``events.jsonl``).

Each line is :func:`ingest.events.event_to_json` of one event (compact JSON, UTC times, derived
mentions and hashtags filled in), so :func:`ingest.events.parse_event_json` reads every line
back to the same event. UTF-8 without a byte-order mark, ``\\n`` line ends (JSON escapes every
newline inside a string, so a line is always one event).

In a production with redactions (:mod:`exports.redaction`), a redacted post or edit is written
as the redacted event (its text with ``[REDACTED: <reason>]`` markers): the manifest's
``review.redactions.events`` names those lines, which are not the archived bytes.

The archived events are not changed to point at files: beside them, ``attachments.jsonl`` (when
the export has uploads and a file store) has one line per ``file_upload`` event, in the same order: ``event_id``,
the file's ``name``, ``size``, ``sha256`` and ``content_type``; ``native``: ``state``
(``included``, or why not: ``pending``, ``missing``, ``altered``, ``not_exported``), ``path`` in
the export (``NATIVES/<sha256><.ext>``, null when not included), ``sha256`` and ``size``; and
``text``: the extraction's ``state`` (``pending`` before extraction), ``path``
(``TEXT/<sha256>.txt``), ``sha256``, ``size``, ``chars``, ``truncated``, ``extractor`` and
``reason`` (:mod:`exports.natives`).

``documents.jsonl`` maps the events to the production's documents (:mod:`exports.documents`),
so that a JSON reader finds each event's control (Bates) number: one line per document, in
control-number order (each parent, then its attachments): ``control``, ``number``, ``kind``
(``conversation``, ``message``, ``thread``, ``attachment``), ``unit``, ``parent`` (an attachment's parent's
control, else null), ``family_begin`` and ``family_end`` (BEGATTACH/ENDATTACH), ``room`` (id,
name, kind), ``day`` (in the production's zone), ``message_id`` (a message document's),
``thread_id`` (a thread document's), ``threads`` (a parent's: for each message posted in it whose
thread is known, in time order, ``message_id``, ``thread_id``, ``parent_id`` (the message it
answers, null when it starts the thread) and ``source``: ``explicit`` (the platform's reply),
``model`` (reconstructed in a flat room) or ``reply_to`` (the event's own ``reply_to``, no link
archived; its ``thread_id`` is then null); docs/threads.md; the lines of ``events.jsonl`` stay
the archived events, unchanged),
``custodians``, ``participants`` and ``senders`` (person ids: the names are in ``events.jsonl``), ``event_ids``
(the ``event_id`` of every line of ``events.jsonl`` the document holds, in time order); a
parent's ``textpath``: where the ``csv`` format puts its text (``documents_text/<control>.txt``,
the DAT's ``TEXTPATH``: in the export when it has that format; the text's SHA-256 is in
``documents_text.sha256`` and the DAT's ``SHA256HASH``; it is not computed here, which would
make this format build every document's transcript); an attachment's ``file``: its upload's
event id, name, size, SHA-256 and content type (its native and extracted text:
``attachments.jsonl``, by that event id).

This module also holds the few helpers the other formats of this package share: a file that
reports its own size and SHA-256, UTC timestamps in ISO 8601, and the aggregation of warnings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from exports.base import ExportContext, ExportFiles, FormatReport, HashingWriter, WrittenFile, spool
from exports.dat import DOCUMENT_TEXT_DIR
from exports.documents import Document, MessageThread, export_prefix
from exports.natives import NATIVES_DIR, TEXT_DIR, NativeLosses
from ingest.events import Event, FileUploadEvent, PostEvent

EVENTS_FILE = "events.jsonl"
DOCUMENTS_FILE = "documents.jsonl"
ATTACHMENTS_FILE = "attachments.jsonl"
_SAMPLE_IDS = 5


@contextmanager
def tracked_file(files: ExportFiles, path: str, media_type: str, report: FormatReport) -> Iterator[HashingWriter]:
    """A new export file whose size and SHA-256 are added to ``report.files`` when the block ends
    (the format needs them itself, e.g. for EDRM's ``Hash``, whatever ``files`` records)."""
    with files.create(path, media_type) as inner:
        hashing = HashingWriter(inner)
        yield hashing
    report.files.append(WrittenFile(path, hashing.size, hashing.digest.hexdigest(), media_type))


def iso_utc(moment: datetime) -> str:
    """``2026-11-22T09:15:02.120000Z``: ISO 8601, UTC, microseconds, four-digit year."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" written as "Z"; the year has 4 digits


def control_prefix(export_id: str) -> str:
    """The prefix of the CSV's row ids: :func:`exports.documents.export_prefix`."""
    return export_prefix(export_id)


@dataclass
class WarningTally:
    """Counts one kind of problem over a whole export and says it once, with a few example ids,
    instead of one warning per event."""

    message: str
    """What happened, for ``count`` events (``{count}`` is filled in)."""
    count: int = 0
    samples: list[str] = field(default_factory=list)

    def add(self, event_id: str) -> None:
        self.count += 1
        if len(self.samples) < _SAMPLE_IDS:
            self.samples.append(event_id)

    def report_to(self, report: FormatReport) -> None:
        if self.count:
            more = ", ..." if self.count > len(self.samples) else ""
            report.warnings.append(f"{self.message.format(count=self.count)} (events {', '.join(self.samples)}{more})")


def event_sha256(event_json: str) -> str:
    """SHA-256 of an event's archived JSON (what ``events.jsonl`` holds for it, without the newline)."""
    return hashlib.sha256(event_json.encode()).hexdigest()


class EditVersions:
    """The version number of each edit: 1 for the post, 2 for its first edit, and so on. Only
    edited message ids are remembered, and only for the current room (events come room by room)."""

    def __init__(self) -> None:
        self.room_id = ""
        self.edits: dict[str, int] = {}

    def of_edit(self, room_id: str, message_id: str) -> int:
        if room_id != self.room_id:
            self.room_id = room_id
            self.edits.clear()
        edits = self.edits.get(message_id, 0) + 1
        self.edits[message_id] = edits
        return edits + 1


class BinarySink(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


class Utf8Writer:
    """Text written as UTF-8 to a binary stream in chunks of about 64 KiB (``csv.writer`` needs a
    ``write(str)``), optionally starting with a byte-order mark; :meth:`flush` at the end."""

    def __init__(self, binary: BinarySink, *, bom: bool = False, chunk: int = 1 << 16) -> None:
        self.binary = binary
        self.chunk = chunk
        self.pending: list[str] = ["\ufeff"] if bom else []
        self.pending_size = len(self.pending)

    def write(self, text: str) -> int:
        self.pending.append(text)
        self.pending_size += len(text)
        if self.pending_size >= self.chunk:
            self.flush()
        return len(text)

    def flush(self) -> None:
        self.binary.write("".join(self.pending).encode())
        self.pending.clear()
        self.pending_size = 0


class JsonlFormat:
    """``events.jsonl``: the raw events, one per line, exactly as archived; ``documents.jsonl``:
    the production's documents, one per line, naming the events each holds."""

    name = "jsonl"

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        uploads: list[FileUploadEvent] = []
        zone = context.time_zone

        with spool(files, DOCUMENTS_FILE, "application/x-ndjson") as documents_spool:
            documents_out = Utf8Writer(documents_spool)
            with tracked_file(files, EVENTS_FILE, "application/x-ndjson", report) as stream:
                lines = _Lines(stream, context.archived_json)

                def passing(events: Iterable[Event]) -> Iterator[Event]:
                    # Each event's line is written as the documents take it: events.jsonl keeps
                    # the export's order whatever the unit groups.
                    for event in events:
                        if isinstance(event, FileUploadEvent):
                            uploads.append(event)
                        lines.add(event)
                        yield event

                for parent in context.documents(passing(events), report):
                    threads = context.threads(parent.room.id)
                    for document in parent.family():
                        entry = document_entry(document, context.unit, threads)
                        documents_out.write(json.dumps(entry) + "\n")  # ASCII: a lone surrogate stays valid
                lines.finish()
                report.events = lines.count
            documents_out.flush()
            report.files.append(documents_spool.commit())
        report.items = report.events
        if uploads and context.attachments.enabled:
            _write_attachments(uploads, files, context, report)
        elif uploads:  # no file store: nothing to refer to
            losses = NativeLosses(self.name)
            for upload in uploads:
                losses.add(f"{NATIVES_DIR}/: native", context.attachments.native(files, upload), upload)
            losses.report_to(report)
        report.times = (
            "UTC, as archived (each line is the archived JSON, whatever the export's zone); occurred_offset: "
            f"the sender's UTC offset, present when it was not UTC; documents.jsonl: day in {zone.key}"
        )
        return report


def document_entry(
    document: Document, unit: str, threads: Mapping[str, MessageThread] | None = None
) -> dict[str, object]:
    """One line of ``documents.jsonl`` (see the module doc); ``threads``: the links of the
    document's room."""
    room = document.room
    entry: dict[str, object] = {
        "control": document.control,
        "number": document.number,
        "kind": document.kind,
        "unit": unit,
        "parent": document.parent.control if document.parent is not None else None,
        "family_begin": document.family_begin,
        "family_end": document.family_end,
        "room": {"id": room.id, "name": room.name, "kind": room.kind},
        "day": document.day.isoformat(),
        "message_id": document.message_id,
        "thread_id": document.thread_id,
        "custodians": list(document.custodians),
        "participants": [actor.id for actor in document.participants],
        "senders": [actor.id for actor in document.senders],
        "event_ids": [str(event.event_id) for event in document.events],
    }
    if document.upload is not None:
        info = document.upload.file
        entry["file"] = {
            "upload_event_id": str(document.upload.event_id),
            "name": info.name,
            "size": info.size,
            "sha256": info.sha256,
            "content_type": info.content_type,
        }
    else:
        entry["textpath"] = f"{DOCUMENT_TEXT_DIR}/{document.control}.txt"
        entry["threads"] = _threads(document, threads or {})
    return entry


def _threads(document: Document, threads: Mapping[str, MessageThread]) -> list[dict[str, str | None]]:
    found: list[dict[str, str | None]] = []
    for event in document.events:
        if not isinstance(event, PostEvent):
            continue
        message_id = event.message.id
        link = threads.get(message_id)
        if link is not None:
            found.append(
                {
                    "message_id": message_id,
                    "thread_id": link.thread_id,
                    "parent_id": link.parent_id,
                    "source": link.source,
                }
            )
        elif event.message.reply_to is not None:
            found.append(
                {"message_id": message_id, "thread_id": None, "parent_id": event.message.reply_to, "source": "reply_to"}
            )
    return found


def _write_attachments(
    uploads: list[FileUploadEvent], files: ExportFiles, context: ExportContext, report: FormatReport
) -> None:
    """``attachments.jsonl``: one line per uploaded file (in ``events.jsonl`` order) naming its
    native and its extracted text in the export (:mod:`exports.natives`), or why not."""
    losses = NativeLosses("jsonl")
    lines: list[str] = []
    for upload in uploads:  # every native first: an export zip takes one file at a time
        native = context.attachments.native(files, upload)
        text = context.attachments.text(files, upload)
        losses.add(f"{NATIVES_DIR}/: native", native, upload)
        losses.add_text(f"{TEXT_DIR}/: extracted text", text, upload)
        extracted = context.attachments.extraction(upload)
        info = upload.file
        entry = {
            "event_id": str(upload.event_id),
            "name": info.name,
            "size": info.size,
            "sha256": info.sha256,
            "content_type": info.content_type,
            "native": {
                "state": native.state,
                "path": native.path,
                "sha256": info.sha256,
                "size": native.size if native.included else info.size,
            }
            | ({"detail": native.detail} if native.detail else {}),
            "text": {
                "state": text.state,
                "path": text.path,
                "sha256": text.sha256,
                "size": text.size if text.included else None,
                "chars": extracted.text_chars if extracted is not None else None,
                "truncated": extracted.truncated if extracted is not None else None,
                "extractor": f"{extracted.extractor} {extracted.extractor_version}" if extracted is not None else None,
                "reason": extracted.reason if extracted is not None else None,
            },
        }
        lines.append(json.dumps(entry))  # ASCII: a lone surrogate in a name stays valid UTF-8
    with tracked_file(files, ATTACHMENTS_FILE, "application/x-ndjson", report) as stream:
        stream.write(("\n".join(lines) + "\n").encode())
    losses.report_to(report)


class _Lines:
    """``events.jsonl`` written one event at a time, ``batch`` lines per write."""

    def __init__(self, stream: BinarySink, archived_json: Callable[[Event], str], batch: int = 256) -> None:
        self.stream = stream
        self.archived_json = archived_json
        self.batch = batch
        self.pending: list[str] = []
        self.count = 0

    def add(self, event: Event) -> None:
        self.pending.append(self.archived_json(event))
        self.count += 1
        if len(self.pending) == self.batch:
            self.finish()

    def finish(self) -> None:
        if self.pending:
            self.stream.write(("\n".join(self.pending) + "\n").encode())
            self.pending.clear()
