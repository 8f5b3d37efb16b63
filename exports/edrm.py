"""EDRM XML 1.2: one ``Document`` per document of the production (:mod:`exports.documents`: a
conversation slice, one room on one day, or with the ``message`` unit one message with its
versions, reads and context), each attachment a child ``Document`` of its message's.

``edrm.xml`` is the load file: ``Root`` (``MajorVersion="1" MinorVersion="2"``, ``Locale``,
``DataInterchangeType="Update"``) > ``Batch`` > ``Documents`` > ``Document`` and
``Relationships``, laid out as Nuix's published EDRM 1.2 example (``canonical_edrm.xml`` of the
public repository Nuix/ProServ-NLI-Builder: element paths and attribute names, ``Files`` before
``Locations``, a ``Location``'s ``Custodian``, ``Description``, ``LocationURI`` in that order),
with EDRM 1.2's ``Tags`` for the fields. Each document:

- ``DocID`` is its control number (``ACME-0000001``: the Bates number every format of the
  production gives it); ``DocType="Message"`` (a chat document: the nearest of EDRM's types) or
  ``"File"`` for an attachment; ``MimeType`` the type of its native.
- ``Files``: two separate files. ``FileType="Native"`` is ``native/<control>.jsonl``: the
  document's events as the archive holds them, one archived JSON per line
  (``ExportContext.archived_json``: the sealed record itself, exact, read back rather than
  serialised again), ``application/x-ndjson``. Chat has no native file of its own; the archived
  events are the nearest to one (what was collected, lossless, every field), where an HTML or
  RSMF rendering would be a second rendering next to the RSMF format's. ``FileType="Text"`` is
  ``text/<control>.txt``: the document's text (:func:`exports.transcript.document_text`, the
  same bytes as the DAT's TEXTPATH and the PDF's custody hash). ``ExternalFile`` has
  ``FilePath``, ``FileName``, ``FileSize``, ``Hash`` (the **SHA-256**, hex, the hash of the
  export's manifest) and ``HashType="SHA256"``; the text's MD5 and SHA-1 are the tags
  ``MD5Hash`` and ``SHA1Hash``, next to ``SHA256Hash``.
- ``Locations``: one ``Location`` per custodian of the document, the case's custodians who took
  part (the senders when the production names none): ``Custodian`` the person as ``Name (id)``,
  ``Description`` the room, ``LocationURI`` the room's channel URI (as in the Lync format). A
  document no custodian of the case took part in has one ``Location`` with an empty
  ``Custodian``. Every participant is in the ``Participants`` tag instead.
- ``Tags``: ``BegAttach``/``EndAttach`` (the family's first and last control number),
  ``From`` (the first sender), ``To`` (every other participant), ``Participants`` (``name <id>``,
  ``; ``-separated; a ``;`` inside a name or id is written U+FF1B, a loss of the report),
  ``DateSent`` (the first message's time, ISO 8601 with the offset of the
  production's zone, named in ``TimeZone``), ``RoomName``, ``RoomId``, ``RoomKind``,
  ``BeginDate``/``EndDate`` (ISO 8601 UTC), ``ParticipantCount``, ``MessageCount`` (posts),
  ``EditCount``, ``DeletionCount``, ``FileCount``, ``EventCount``, the three hashes,
  ``ExportId`` and, for a case, ``CaseName``.
- Characters XML 1.0 cannot carry are escaped reversibly in the load file
  (:mod:`formats.xml_text`); the text and native files keep the exact text.

``Relationships``: each attachment is the child of its message's document (``Relationship
Type="Attachment"``: the family); the documents of one room form a thread (``Type="Thread"``
from the room's first document to each later one).

An attachment document (``DocType="File"``, numbered right after its parent) has as ``Files``
its native (``NATIVES/<sha256><.ext>``, ``Hash`` the SHA-256 the upload sealed) and its
extracted text (``TEXT/<sha256>.txt``), each only when the export has it
(:mod:`exports.natives`); its tags name the file (``FileName``, ``FileSize``, ``ContentType``,
``SHA256Hash``, ``UploadedBy``, ``UploadedAt``, ``EventId``, ``ParentDocId``) and say
``NativeState`` (``included``, or ``pending``, ``missing``, ``altered``, ``not_exported``: then
no Native file, and a loss of the report) and ``ExtractionState``.

Memory: a document at a time (:mod:`exports.documents`); each document's small XML entry is
spooled to a temporary file, as are the relationships, until ``edrm.xml`` is written at the end
(an export zip takes one file at a time, and the text and native files come first). Events must
arrive in export order; a room or day seen again after another has started is an error.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, groupby
from typing import IO, ClassVar
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

from lxml import etree

from exports.base import (
    ChecksumListed,
    ExportContext,
    ExportFiles,
    FormatReport,
    HashingWriter,
    Loss,
    LossTally,
    WrittenFile,
)
from exports.documents import Document
from exports.jsonl import WarningTally, iso_utc, tracked_file
from exports.natives import NativeLosses, Placed
from exports.presence import person
from exports.transcript import document_text
from formats.lync_xml import xml_safe
from formats.time_zones import iso_local, local_date
from formats.xml_text import ESCAPE_EXACT, ESCAPE_LOSS, escape_marks
from ingest.events import (
    Actor,
    DeleteEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    PostEvent,
)

LOAD_FILE = "edrm.xml"
SUMS_FILE = "edrm_files.sha256"
"""Every document's Native and Text file with its SHA-256 (``sha256sum -c`` checks them; each is
also in ``edrm.xml`` with its hashes): the manifest lists this file, not them one by one."""
TEXT_DIR = "text"
NATIVE_DIR = "native"
NATIVE_MEDIA_TYPE = "application/x-ndjson"
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


@dataclass(frozen=True)
class WrittenText:
    """A document's text file, with the MD5 and SHA-1 tools that expect those find as tags."""

    path: str
    size: int
    sha256: str
    md5: str
    sha1: str


# --- the load file ------------------------------------------------------------------------------


def _tag(tags: etree._Element, name: str, value: str, data_type: str = "Text") -> None:
    etree.SubElement(tags, "Tag", TagName=name, TagValue=xml_safe(value), TagDataType=data_type)


def _file(files: etree._Element, file_type: str, path: str, size: int, sha256: str) -> None:
    folder, _, name = path.rpartition("/")
    file = etree.SubElement(files, "File", FileType=file_type)
    etree.SubElement(
        file, "ExternalFile", FilePath=folder, FileName=name, FileSize=str(size), Hash=sha256, HashType="SHA256"
    )


def _named(actor: Actor) -> str:
    return f"{actor.name or actor.id} <{actor.id}>"


_SEMICOLON_SUBSTITUTE = "\uff1b"
"""A ``;`` inside a name or id in the ``; ``-separated To and Participants tags (U+FF1B
FULLWIDTH SEMICOLON), so that splitting them on ``; `` finds each person once."""


def _listed(actor: Actor) -> str:
    named = _named(actor)
    return named.replace(";", _SEMICOLON_SUBSTITUTE) if ";" in named else named


def _list_sender(doc: Document) -> Actor:
    return doc.senders[0] if doc.senders else doc.events[0].actor


def semicolon_tags(doc: Document) -> list[str]:
    """The ``; ``-separated tags of ``doc`` in which a ``;`` of a name or id was written U+FF1B."""
    if not any(";" in _named(actor) for actor in doc.participants):
        return []
    sender = _list_sender(doc)
    to = any(";" in _named(actor) for actor in doc.participants if actor.id != sender.id)
    return ["To", "Participants"] if to else ["Participants"]


def _locations(document: etree._Element, doc: Document) -> None:
    locations = etree.SubElement(document, "Locations")
    room = doc.room
    where = xml_safe(f"chat {room.kind} {room.name or room.id} ({room.id})")
    uri = xml_safe(channel_uri(doc.events[0]))
    for custodian in doc.custodian_people or (None,):
        location = etree.SubElement(locations, "Location")
        etree.SubElement(location, "Custodian").text = xml_safe(person(custodian) if custodian else "")
        etree.SubElement(location, "Description").text = where
        etree.SubElement(location, "LocationURI").text = uri


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return iso_utc(moment) if zone.key == "UTC" else iso_local(moment, zone)


def _people_tags(tags: etree._Element, doc: Document, context: ExportContext) -> None:
    """BegAttach, EndAttach, From, To, DateSent and TimeZone: what a review platform's family,
    e-mail-like and date fields take."""
    _tag(tags, "BegAttach", doc.family_begin)
    _tag(tags, "EndAttach", doc.family_end)
    sender = _list_sender(doc)
    _tag(tags, "From", _named(sender))
    _tag(tags, "To", "; ".join(_listed(actor) for actor in doc.participants if actor.id != sender.id))
    sent = next((e for e in doc.events if isinstance(e, _SENT)), doc.events[0])
    _tag(tags, "DateSent", _when(sent.occurred_at, context.time_zone), "DateTime")
    _tag(tags, "TimeZone", context.time_zone.key)


_SENT = (PostEvent, EditEvent, DeleteEvent, FileUploadEvent)
"""What a document's DateSent is the time of: its first message (or file)."""


def document_entry(
    doc: Document, native: WrittenFile, text: WrittenText, context: ExportContext, counts: Counter[str] | None = None
) -> bytes:
    """The ``Document`` element of one (non-attachment) document, serialised; ``counts``: its
    events by type, when the caller has them."""
    document = etree.Element("Document", DocID=doc.control, DocType="Message", MimeType=NATIVE_MEDIA_TYPE)
    tags = etree.SubElement(document, "Tags")
    files = etree.SubElement(document, "Files")
    _file(files, "Native", native.path, native.size, native.sha256)
    _file(files, "Text", text.path, text.size, text.sha256)
    _locations(document, doc)
    room = doc.room
    _people_tags(tags, doc, context)
    _tag(tags, "RoomName", room.name or room.id)
    _tag(tags, "RoomId", room.id)
    _tag(tags, "RoomKind", room.kind)
    _tag(tags, "BeginDate", iso_utc(doc.events[0].occurred_at), "DateTime")
    _tag(tags, "EndDate", iso_utc(doc.events[-1].occurred_at), "DateTime")
    _tag(tags, "Participants", "; ".join(_listed(actor) for actor in doc.participants))
    _tag(tags, "ParticipantCount", str(len(doc.participants)), "Integer")
    counts = counts if counts is not None else Counter(event.type for event in doc.events)
    _tag(tags, "MessageCount", str(counts.get("post", 0)), "Integer")
    _tag(tags, "EditCount", str(counts.get("edit", 0)), "Integer")
    _tag(tags, "DeletionCount", str(counts.get("delete", 0)), "Integer")
    _tag(tags, "FileCount", str(counts.get("file_upload", 0) + counts.get("file_download", 0)), "Integer")
    _tag(tags, "EventCount", str(len(doc.events)), "Integer")
    _tag(tags, "MD5Hash", text.md5)
    _tag(tags, "SHA1Hash", text.sha1)
    _tag(tags, "SHA256Hash", text.sha256)
    _tag(tags, "ExportId", context.export_id)
    if context.case_name:
        _tag(tags, "CaseName", context.case_name)
    return bytes(etree.tostring(document, encoding="utf-8")) + b"\n"


def attachment_entry(child: Document, native: Placed, text: Placed, context: ExportContext) -> bytes:
    """The ``Document`` of one shared file (``DocType="File"``): its native and extracted text
    as ``Native`` and ``Text`` files when the export has them, and tags saying what it is and,
    when a file is not there, why (``NativeState``, ``ExtractionState``)."""
    event = child.upload
    assert event is not None
    assert child.parent is not None
    info = event.file
    document = etree.Element("Document", DocID=child.control, DocType="File", MimeType=xml_safe(info.content_type))
    tags = etree.SubElement(document, "Tags")
    files = etree.SubElement(document, "Files")
    for file_type, placed in (("Native", native), ("Text", text)):
        if placed.path is not None and placed.sha256 is not None:
            _file(files, file_type, placed.path, placed.size, placed.sha256)
    _locations(document, child)
    _people_tags(tags, child, context)
    _tag(tags, "FileName", info.name)
    _tag(tags, "FileSize", str(info.size), "Integer")
    _tag(tags, "ContentType", info.content_type)
    _tag(tags, "SHA256Hash", info.sha256)
    _tag(tags, "UploadedBy", _named(event.actor))
    _tag(tags, "UploadedAt", iso_utc(event.occurred_at), "DateTime")
    _tag(tags, "EventId", str(event.event_id))
    _tag(tags, "ParentDocId", child.parent.control)
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
    unit = "conversation slice" if context.unit == "conversation" else context.unit
    description = xml_safe(f"Archivist export {context.export_id}{case}: chat, one document per {unit}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<Root MajorVersion="1" MinorVersion="2" Description={quoteattr(description)} '
        'Locale="en-US" DataInterchangeType="Update">\n<Batch>\n<Documents>\n'
    ).encode()


# --- the format ---------------------------------------------------------------------------------


class EdrmFormat:
    """``edrm.xml``, and per document its native (``native/``) and its text (``text/``)."""

    name = "edrm"
    not_carried: ClassVar[dict[str, str]] = {
        "message.format": "an EDRM transcript is plain text: a text/html message is written as its source, unmarked",
        "actor.email": "the transcript and the load file name people by name and id, not e-mail address",
        "actor.internal": "EDRM has no field for whether a participant is internal or external",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`). (The archived events of the Native files carry
    them all; the losses are the load file's and the text's.)"""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        no_url = WarningTally("{count} file events have no URL: the archive holds only the file's metadata")
        thread: tuple[str, str] = ("", "")
        """The current room's id and its first document's DocID."""
        escaped = 0
        natives = NativeLosses(self.name)
        semicolons = LossTally(
            self.name,
            "a ';' inside a person's name or id would split the '; '-separated tag: written as U+FF1B "
            "(fullwidth semicolon)",
            "the document's Native file (its archived events) and its Text",
            unit="documents",
        )
        listed = ChecksumListed(files, SUMS_FILE)
        with tempfile.TemporaryFile() as documents, tempfile.TemporaryFile() as relationships:
            for doc in context.documents(events, report):
                report.events += len(doc.events)
                report.items += 1
                native = _write_native(doc, listed, context)
                text = _write_text(doc, listed, context)
                report.files.append(native)
                report.files.append(WrittenFile(text.path, text.size, text.sha256, TEXT_MEDIA_TYPE))
                counts: Counter[str] = Counter(event.type for event in doc.events)
                if counts["file_upload"] or counts["file_download"]:
                    for event in doc.events:
                        if isinstance(event, FileUploadEvent | FileDownloadEvent) and not event.file.url:
                            no_url.add(str(event.event_id))
                entry = document_entry(doc, native, text, context, counts)
                documents.write(entry)
                for tag in semicolon_tags(doc):
                    semicolons.add(f"{LOAD_FILE}: Tag {tag}", str(doc.events[0].event_id))
                escaped += escape_marks(entry) > 0
                for child in doc.children:
                    # After the document's files: an export zip takes one file at a time.
                    upload = child.upload
                    assert upload is not None
                    report.items += 1
                    placed = context.attachments.native(files, upload)
                    extracted = context.attachments.text(files, upload)
                    natives.add(f"{LOAD_FILE}: File FileType=Native", placed, upload)
                    if context.attachments.enabled:
                        natives.add_text(f"{LOAD_FILE}: File FileType=Text", extracted, upload)
                    child_entry = attachment_entry(child, placed, extracted, context)
                    documents.write(child_entry)
                    if "To" in semicolon_tags(child):  # an attachment has no Participants tag
                        semicolons.add(f"{LOAD_FILE}: Tag To", str(upload.event_id))
                    escaped += escape_marks(child_entry) > 0
                    relationships.write(relationship_entry(doc.control, child.control, "Attachment"))
                if thread[0] == doc.room.id:
                    relationships.write(relationship_entry(thread[1], doc.control))
                else:
                    thread = (doc.room.id, doc.control)
            with tracked_file(files, LOAD_FILE, "application/xml", report) as load_file:
                _write_load_file(load_file, context, documents, relationships)
            listed.commit()  # the export's manifest lists it; the report lists every file
        report.times = (
            f"texts in {context.time_zone.key} (a conversation slice is one day cut at its midnight), each time "
            "followed by the sender's UTC offset when it differs ('(+09:00 as sent)'); DateSent tags with the offset "
            f"of {context.time_zone.key}, BeginDate and EndDate tags in UTC; the Native files are the archived events"
        )
        no_url.report_to(report)
        natives.report_to(report)
        semicolons.report_to(report)
        if escaped:
            field = f"{LOAD_FILE}: Tag values"
            report.losses.append(Loss(self.name, field, escaped, ESCAPE_LOSS, ESCAPE_EXACT, (), "documents"))
        return report


def _write_native(doc: Document, listed: ChecksumListed, context: ExportContext) -> WrittenFile:
    """``native/<control>.jsonl``: the document's events as archived, one per line."""
    archived = context.archived_json
    data = "".join([f"{archived(event)}\n" for event in doc.events]).encode()
    path = f"{NATIVE_DIR}/{doc.control}.jsonl"
    return WrittenFile(path, len(data), listed.add(path, data), NATIVE_MEDIA_TYPE)


def _write_text(doc: Document, listed: ChecksumListed, context: ExportContext) -> WrittenText:
    """``text/<control>.txt``: the document's text, the same bytes wherever it is produced."""
    data = document_text(doc, context.time_zone, context.case_name).encode()
    path = f"{TEXT_DIR}/{doc.control}.txt"
    sha256 = listed.add(path, data)
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    sha1 = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return WrittenText(path, len(data), sha256, md5, sha1)


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
