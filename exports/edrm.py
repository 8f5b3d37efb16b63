"""EDRM XML 1.2: one document per conversation-day, its transcript a text file of the export.

``edrm.xml`` is the load file: ``Root`` (``MajorVersion="1" MinorVersion="2"``, ``Locale``,
``DataInterchangeType="Update"``) > ``Batch`` > ``Documents`` > ``Document`` (``DocID``,
``DocType="Message"``: a conversation is a set of messages, the nearest of EDRM's document
types) and ``Relationships``. Each document has:

- ``Files``: the transcript ``text/<room-slug>/<yyyy-mm-dd>.txt`` as an ``ExternalFile``, twice:
  ``FileType="Native"`` (a chat day has no other native form) and ``FileType="Text"`` (the
  searchable text review platforms load). ``Hash`` is the file's **SHA-256** (hex), the hash the
  export's manifest uses; EDRM tools that expect MD5 or SHA-1 find them as the tags ``MD5Hash``
  and ``SHA1Hash``, next to ``SHA256Hash``.
- ``Locations``: one ``Location`` per participant of the day (whoever did anything in the room
  that day, and the recipients its direct messages named: :func:`ingest.events.present_by`),
  with ``LocationURI`` the room's channel URI (as in the Lync format) and ``Custodian`` the
  person's name (their id when they have none): chat is held by everyone in the conversation,
  so each participant is a custodian of it.
- Characters XML 1.0 cannot carry are escaped reversibly in the load file
  (:mod:`formats.xml_text`); the transcripts keep the exact text.
- ``Tags``: ``RoomName``, ``RoomId``, ``RoomKind``, ``BeginDate``/``EndDate`` (DateTime, ISO
  8601 UTC), ``Participants`` (``name <id>``, ``; ``-separated), ``ParticipantCount``,
  ``MessageCount`` (posts), ``EditCount``, ``DeletionCount``, ``FileCount``, ``EventCount``,
  the three hashes, ``ExportId`` and, for a case, ``CaseName``.

``Relationships``: the days of one room form a thread: ``Relationship Type="Thread"`` from the
room's first document (``ParentDocId``) to each later one (``ChildDocId``).

Each file uploaded that day is a document of its own (``DocType="File"``, the DocIDs right after
its day's), the child of its conversation-day (``Relationship Type="Attachment"``). Its ``Files``
are its native (``FileType="Native"``, ``NATIVES/<sha256><.ext>``, ``Hash`` the SHA-256 the
upload sealed) and its extracted text (``FileType="Text"``, ``TEXT/<sha256>.txt``), each only
when the export has it (:mod:`exports.natives`); its tags name the file (``FileName``,
``FileSize``, ``ContentType``, ``SHA256Hash``, ``UploadedBy``, ``UploadedAt``, ``EventId``,
``ParentDocId``) and say ``NativeState`` (``included``, or ``pending``, ``missing``, ``altered``,
``not_exported``: then no Native file, and a loss of the report) and ``ExtractionState``. An
export made without a file store (tests, benchmarks) has no such documents; its losses count
every upload's native.

Conversation-days are cut at midnight in the export's time zone. The transcript (UTF-8, ``\\n``
line ends) lists every event of the day with its time in that zone (and the sender's own UTC
offset when it differs, ``09:00:00.000 (+09:00 as sent)``):
posts with their message id, every edit as its own line with its version, deletions, joins,
leaves, reads, files (name, size, SHA-256, URL; the file itself is its own document), the
disclaimers shown, policy decisions and room updates. People are named as the name of the moment
and the id (``Ann (user:ann) [m1]: ...``, ``* Ann (user:ann) joined``); a direct message's
recipient is said present at the first message that names them (``* Dora (user:dora) present: a
recipient of [m1]``), as a join would. Continuation lines of a multi-line message
are indented: each LF of a text is followed by 16 spaces, and nothing else of the text changes (a
CR stays a CR), so a text comes back exactly when they are taken out.

Memory stays flat: events are streamed into the open transcript (nothing of a day is held but
its counters and participants), and each document's small XML entry is spooled to a temporary
file, as are the relationships, until ``edrm.xml`` is written at the end (an export zip takes one
file at a time, and the transcripts come first). Events must arrive in export order; a room or
day seen again after another has started is an error.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, groupby
from typing import IO, ClassVar
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

from lxml import etree

from exports.base import ExportContext, ExportFiles, FormatReport, HashingWriter, Loss
from exports.jsonl import BinarySink, EditVersions, Utf8Writer, WarningTally, control_prefix, iso_utc, tracked_file
from exports.natives import NativeLosses, Placed
from exports.presence import Presence, person
from exports.transcript import recipient_of, time_of_day, transcript_line
from formats.lync_xml import xml_safe
from formats.time_zones import local_date
from formats.xml_text import ESCAPE_EXACT, ESCAPE_LOSS, escape_marks
from ingest.events import (
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    Room,
    present_by,
)

LOAD_FILE = "edrm.xml"
TEXT_DIR = "text"
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
_SLUG_UNSAFE = re.compile(r"[^a-z0-9]+")


def room_slug(room_id: str) -> str:
    """A file-name-safe, unique folder name for a room: readable part + 8 hex of its id's SHA-256
    (``room:ubuntu`` -> ``room-ubuntu-<hash>``; two ids that read alike still differ)."""
    readable = _SLUG_UNSAFE.sub("-", room_id.lower()).strip("-")[:60] or "room"
    return f"{readable}-{hashlib.sha256(room_id.encode()).hexdigest()[:8]}"


def channel_uri(event: Event) -> str:
    """The room's URI, as the Lync format writes it: ``ma-chan://<server>/<room id>``."""
    server = event.source.server if event.source and event.source.server else "archivist"
    return f"ma-chan://{server}/{event.room.id}"


def day_key(event: Event, zone: ZoneInfo | None = None) -> tuple[str, date]:
    """The conversation-day of ``event``: its room and its date in ``zone`` (UTC when None)."""
    if zone is None or zone.key == "UTC":
        return event.room.id, event.occurred_at.date()
    return event.room.id, local_date(event.occurred_at, zone)


class ExportOrderCheck:
    """Fails when conversation-days do not come as export order promises (each room once, its
    days ascending), which would otherwise write a day's file twice."""

    def __init__(self) -> None:
        self.finished_rooms: set[str] = set()
        self.current: tuple[str, date] | None = None

    def enter(self, key: tuple[str, date]) -> None:
        room_id, day = key
        if self.current is not None and self.current[0] != room_id:
            self.finished_rooms.add(self.current[0])
        if room_id in self.finished_rooms or (self.current is not None and key <= self.current):
            raise ValueError(f"events are not in export order: room {room_id!r} on {day} came again")
        self.current = key


def conversation_days(events: Iterable[Event], zone: ZoneInfo | None = None) -> Iterator[tuple[Event, Iterator[Event]]]:
    """Each conversation-day (room + date in ``zone``, cut at that zone's midnight; UTC when
    None) as its first event and an iterator over all of its events (the first included),
    streamed: consume one day's iterator before asking for the next."""
    order = ExportOrderCheck()
    for key, day_events in groupby(events, key=lambda event: day_key(event, zone)):
        order.enter(key)
        stream = iter(day_events)
        first = next(stream)
        yield first, chain((first,), stream)


def _header(first: Event, day: date, context: ExportContext) -> str:
    room = first.room
    case = f", case {context.case_name}" if context.case_name else ""
    return (
        f"{room.name or room.id} ({room.kind} {room.id})\n"
        f"{day.isoformat()}, times in {context.time_zone.key}\n"
        f"Export {context.export_id}{case}\n\n"
    )


@dataclass
class DaySummary:
    """What the EDRM entry of one conversation-day says about it."""

    room: Room
    day: date
    location_uri: str
    first: Event
    last: Event
    participants: dict[str, str] = field(default_factory=dict)
    """Person id -> name (the first name seen that day): whoever did anything that day, and the
    recipients of its direct messages (:func:`ingest.events.present_by`)."""
    counts: dict[str, int] = field(default_factory=dict)
    """Events by type."""
    events: int = 0

    def add(self, event: Event) -> None:
        self.last = event
        self.events += 1
        self.counts[event.type] = self.counts.get(event.type, 0) + 1
        self.participants.setdefault(event.actor.id, event.actor.name or event.actor.id)
        for recipient in present_by(event)[1:]:
            self.participants.setdefault(recipient.id, recipient.name or recipient.id)


class _DigestingSink:
    """Passes bytes on while taking their MD5 and SHA-1 (for tools that expect those)."""

    def __init__(self, inner: BinarySink) -> None:
        self.inner = inner
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha1 = hashlib.sha1(usedforsecurity=False)

    def write(self, data: bytes) -> int:
        self.md5.update(data)
        self.sha1.update(data)
        self.inner.write(data)
        return len(data)


# --- the load file ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextFile:
    path: str
    size: int
    sha256: str
    md5: str
    sha1: str


def _tag(tags: etree._Element, name: str, value: str, data_type: str = "Text") -> None:
    etree.SubElement(tags, "Tag", TagName=name, TagValue=xml_safe(value), TagDataType=data_type)


def document_entry(doc_id: str, summary: DaySummary, text: TextFile, context: ExportContext) -> bytes:
    """The ``Document`` element of one conversation-day, serialised."""
    document = etree.Element("Document", DocID=doc_id, DocType="Message")
    files = etree.SubElement(document, "Files")
    folder, _, name = text.path.rpartition("/")
    for file_type in ("Native", "Text"):
        file = etree.SubElement(files, "File", FileType=file_type)
        etree.SubElement(
            file, "ExternalFile", FilePath=folder, FileName=name, FileSize=str(text.size), Hash=text.sha256
        )
    locations = etree.SubElement(document, "Locations")
    for custodian in summary.participants.values():
        location = etree.SubElement(locations, "Location")
        etree.SubElement(location, "LocationURI").text = xml_safe(summary.location_uri)
        etree.SubElement(location, "Custodian").text = xml_safe(custodian)
    tags = etree.SubElement(document, "Tags")
    room = summary.room
    _tag(tags, "RoomName", room.name or room.id)
    _tag(tags, "RoomId", room.id)
    _tag(tags, "RoomKind", room.kind)
    _tag(tags, "BeginDate", iso_utc(summary.first.occurred_at), "DateTime")
    _tag(tags, "EndDate", iso_utc(summary.last.occurred_at), "DateTime")
    _tag(tags, "Participants", "; ".join(f"{name} <{pid}>" for pid, name in summary.participants.items()))
    _tag(tags, "ParticipantCount", str(len(summary.participants)), "Integer")
    counts = summary.counts
    _tag(tags, "MessageCount", str(counts.get("post", 0)), "Integer")
    _tag(tags, "EditCount", str(counts.get("edit", 0)), "Integer")
    _tag(tags, "DeletionCount", str(counts.get("delete", 0)), "Integer")
    _tag(tags, "FileCount", str(counts.get("file_upload", 0) + counts.get("file_download", 0)), "Integer")
    _tag(tags, "EventCount", str(summary.events), "Integer")
    _tag(tags, "MD5Hash", text.md5)
    _tag(tags, "SHA1Hash", text.sha1)
    _tag(tags, "SHA256Hash", text.sha256)
    _tag(tags, "ExportId", context.export_id)
    if context.case_name:
        _tag(tags, "CaseName", context.case_name)
    return bytes(etree.tostring(document, encoding="utf-8")) + b"\n"


def attachment_entry(
    doc_id: str, parent_id: str, summary: DaySummary, event: FileUploadEvent, native: Placed, text: Placed
) -> bytes:
    """The ``Document`` of one shared file (``DocType="File"``): its native and extracted text
    as ``Native`` and ``Text`` files when the export has them, and tags saying what it is and,
    when a file is not there, why (``NativeState``, ``ExtractionState``)."""
    document = etree.Element("Document", DocID=doc_id, DocType="File")
    files = etree.SubElement(document, "Files")
    for file_type, placed in (("Native", native), ("Text", text)):
        if placed.path is not None and placed.sha256 is not None:
            folder, _, name = placed.path.rpartition("/")
            file = etree.SubElement(files, "File", FileType=file_type)
            etree.SubElement(
                file, "ExternalFile", FilePath=folder, FileName=name, FileSize=str(placed.size), Hash=placed.sha256
            )
    locations = etree.SubElement(document, "Locations")
    location = etree.SubElement(locations, "Location")
    etree.SubElement(location, "LocationURI").text = xml_safe(summary.location_uri)
    etree.SubElement(location, "Custodian").text = xml_safe(event.actor.name or event.actor.id)
    tags = etree.SubElement(document, "Tags")
    info = event.file
    _tag(tags, "FileName", info.name)
    _tag(tags, "FileSize", str(info.size), "Integer")
    _tag(tags, "ContentType", info.content_type)
    _tag(tags, "SHA256Hash", info.sha256)
    _tag(tags, "UploadedBy", f"{event.actor.name or event.actor.id} <{event.actor.id}>")
    _tag(tags, "UploadedAt", iso_utc(event.occurred_at), "DateTime")
    _tag(tags, "EventId", str(event.event_id))
    _tag(tags, "ParentDocId", parent_id)
    _tag(tags, "NativeState", native.state)
    if native.detail:  # why not included, or a declared size that differs (exports.natives.size_note)
        _tag(tags, "NativeStateDetail", native.detail)
    _tag(tags, "ExtractionState", text.state)
    if info.url:
        _tag(tags, "URL", info.url)
    return bytes(etree.tostring(document, encoding="utf-8")) + b"\n"


def relationship_entry(parent: str, child: str, kind: str = "Thread") -> bytes:
    element = etree.Element("Relationship", Type=kind, ParentDocId=parent, ChildDocId=child)
    return bytes(etree.tostring(element, encoding="utf-8")) + b"\n"


def load_file_opening(context: ExportContext) -> bytes:
    case = f", case {context.case_name}" if context.case_name else ""
    description = xml_safe(f"Archivist export {context.export_id}{case}: chat, one document per conversation-day")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Root MajorVersion="1" MinorVersion="2" Description={quoteattr(description)} '
        'Locale="en-US" DataInterchangeType="Update">\n<Batch>\n<Documents>\n'
    ).encode()


# --- the format ---------------------------------------------------------------------------------


class EdrmFormat:
    """``edrm.xml`` and one transcript per conversation-day under ``text/``."""

    name = "edrm"
    not_carried: ClassVar[dict[str, str]] = {
        "message.format": "an EDRM transcript is plain text: a text/html message is written as its source, unmarked",
        "actor.email": "the transcript and the load file name people by name and id, not e-mail address",
        "actor.internal": "EDRM has no field for whether a participant is internal or external",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        no_url = WarningTally("{count} file events have no URL: the archive holds only the file's metadata")
        prefix = control_prefix(context.export_id)
        versions = EditVersions()
        presence = Presence()
        thread: tuple[str, str] = ("", "")
        """The current room's id and its first document's DocID."""
        escaped = 0
        natives = NativeLosses(self.name)
        with tempfile.TemporaryFile() as documents, tempfile.TemporaryFile() as relationships:
            for first, day_events in conversation_days(events, context.time_zone):
                doc_id = f"{prefix}-D{report.items + 1:06d}"
                uploads: list[FileUploadEvent] = []
                summary, text = self._write_transcript(
                    first, day_events, files, context, report, versions, no_url, presence, uploads
                )
                report.events += summary.events
                report.items += 1
                entry = document_entry(doc_id, summary, text, context)
                documents.write(entry)
                escaped += escape_marks(entry) > 0
                for upload in uploads if not context.attachments.enabled else ():
                    natives.add(f"{LOAD_FILE}: File FileType=Native", context.attachments.native(files, upload), upload)
                for upload in uploads if context.attachments.enabled else ():
                    # After the transcript: an export zip takes one file at a time.
                    report.items += 1
                    child_id = f"{prefix}-D{report.items:06d}"
                    native = context.attachments.native(files, upload)
                    extracted = context.attachments.text(files, upload)
                    natives.add(f"{LOAD_FILE}: File FileType=Native", native, upload)
                    natives.add_text(f"{LOAD_FILE}: File FileType=Text", extracted, upload)
                    child = attachment_entry(child_id, doc_id, summary, upload, native, extracted)
                    documents.write(child)
                    escaped += escape_marks(child) > 0
                    relationships.write(relationship_entry(doc_id, child_id, "Attachment"))
                if thread[0] == first.room.id:
                    relationships.write(relationship_entry(thread[1], doc_id))
                else:
                    thread = (first.room.id, doc_id)
            with tracked_file(files, LOAD_FILE, "application/xml", report) as load_file:
                _write_load_file(load_file, context, documents, relationships)
        report.times = (
            f"transcripts in {context.time_zone.key}, one per day cut at its midnight, each time followed by the "
            "sender's UTC offset when it differs ('(+09:00 as sent)'); BeginDate and EndDate tags in UTC"
        )
        no_url.report_to(report)
        natives.report_to(report)
        if escaped:
            field = f"{LOAD_FILE}: Tag values"
            report.losses.append(Loss(self.name, field, escaped, ESCAPE_LOSS, ESCAPE_EXACT, (), "documents"))
        return report

    @staticmethod
    def _write_transcript(
        first: Event,
        day_events: Iterator[Event],
        files: ExportFiles,
        context: ExportContext,
        report: FormatReport,
        versions: EditVersions,
        no_url: WarningTally,
        presence: Presence,
        uploads: list[FileUploadEvent],
    ) -> tuple[DaySummary, TextFile]:
        """The day's transcript; its uploads are added to ``uploads`` (their natives go into the
        export once the transcript is closed)."""
        day = day_key(first, context.time_zone)[1]
        path = f"{TEXT_DIR}/{room_slug(first.room.id)}/{day.isoformat()}.txt"
        summary = DaySummary(first.room, day, channel_uri(first), first, first)
        with tracked_file(files, path, TEXT_MEDIA_TYPE, report) as stream:
            digests = _DigestingSink(stream)
            out = Utf8Writer(digests)
            out.write(_header(first, day, context))
            zone = context.time_zone
            for event in day_events:
                summary.add(event)
                time = time_of_day(event, zone)
                version = versions.of_edit(event.room.id, event.message.id) if isinstance(event, EditEvent) else None
                out.write(f"{time}    {transcript_line(event, version)}\n")
                for recipient in presence.newly_present(event):  # only posts and uploads name any
                    out.write(f"{time}    * {person(recipient)} present: {recipient_of(event)}\n")
                if isinstance(event, FileUploadEvent):
                    uploads.append(event)
                if isinstance(event, FileUploadEvent | FileDownloadEvent) and not event.file.url:
                    no_url.add(str(event.event_id))
            out.flush()
        written = report.files[-1]
        return summary, TextFile(path, written.size, written.sha256, digests.md5.hexdigest(), digests.sha1.hexdigest())


def _write_load_file(
    sink: HashingWriter, context: ExportContext, documents: IO[bytes], relationships: IO[bytes]
) -> None:
    sink.write(load_file_opening(context))
    documents.seek(0)
    shutil.copyfileobj(documents, sink, 1 << 20)
    sink.write(b"</Documents>\n")
    if relationships.tell():
        sink.write(b"<Relationships>\n")
        relationships.seek(0)
        shutil.copyfileobj(relationships, sink, 1 << 20)
        sink.write(b"</Relationships>\n")
    sink.write(b"</Batch>\n</Root>\n")
