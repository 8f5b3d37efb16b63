"""RSMF 2.0 (Relativity Short Message Format): what review platforms expect for chat.

One file per document of the production (:mod:`exports.documents`: a conversation slice, one
room on one day, or with the ``message`` unit one message with its edits, deletion, reads and
context), named by the document's control number: ``rsmf/<control number>.rsmf`` (the
production convention of natives named by their control number; the header
``X-Archivist-Control-Number`` says it too). A document's attachments (its uploads' child
documents) are not files of their own here: their natives are in its ``rsmf.zip``, and the
upload's event names the attachment's control number in ``custom`` (``attachment control
number``). Each file is an RFC 5322
message (the ``email`` package, CRLF line ends) with the ``X-RSMF-*`` headers of Relativity's
specification, a text/plain summary, and exactly one base64 attachment ``rsmf.zip`` holding
``rsmf_manifest.json`` (Relativity's 2.0.0 manifest schema) and the shared files. The
extension is ``.rsmf`` because Relativity's specification requires it (the content is an
ordinary ``.eml``). Days are cut at midnight in the export's time zone, and every timestamp
(events, edits, read receipts, ``X-RSMF-BeginDate``/``EndDate``) is ISO 8601 with that zone's
offset (``2026-03-08T23:30:00.000000-05:00``; ``Z`` in UTC), as the specification allows. An
event whose sender's clock had another offset names it in ``custom`` as ``sent offset``.

How archived events become manifest events:

* post: ``message`` (id = the message id); a later edit in the same file adds to its ``edits``
  (``previous`` / ``new``) and its ``body`` becomes the latest text; a deletion in the same file
  sets ``deleted``; a read receipt naming it adds to its ``read_receipts``; a reply names the
  message it answers in ``parent`` (RSMF 2.0) when that message is in the same file, else in
  ``custom`` (``reply to``); ``custom`` also names its ``thread id`` and whether the link is the
  platform's or the model's (``thread link``: ``explicit`` or ``model``; docs/threads.md);
* an edit, deletion or read whose message is not in the file: its own event (``message`` with
  ``edits`` / ``deleted``, or ``history``), naming the message in ``custom``;
* join, leave, disclaimer: ``join``, ``leave``, ``disclaimer``;
* file upload: ``message`` with one attachment, whose ``id`` is the file's name in ``rsmf.zip``:
  the native itself, at the root of the zip (``<sha256>-<name>``; stored when
  compressed already, else deflated), copied from the file store and checked against the
  upload's SHA-256 (:mod:`exports.natives`). When the bytes are not there (``pending``,
  ``missing``, ``altered``, or no file store) the attachment is a small text note instead
  (``attachments/<...>.placeholder.txt``: name, size, SHA-256, URL and why), and the report's
  losses count it. The event's ``custom`` says ``native`` (``included`` or why not) and
  ``extraction`` (the extracted text's state; RSMF has no place for the text itself);
* file download, policy decision, room update: ``history``.

The people of a document, as e-mail headers (Relativity's processing reads an RSMF's ``From``
and ``To`` as it reads an e-mail's): ``From`` is its first sender (who first posted, edited or
shared a file; the first actor of a document without any), ``To`` every other participant of
the document (:attr:`exports.documents.Document.participants`), each as ``Name (id)
<address>``: the actor's address when it is a plain one, else ``<id's letters>@archivist.invalid``
(RFC 2606's reserved ``.invalid``: plainly not an address; the id is in the display name). A
local part is at most 64 characters (RFC 5321): a longer id's letters are cut, ending in a hash
of the whole id, and a longer address is not used (the manifest has it). One mailbox per line.
``X-RSMF-Custodian`` (RSMF 2.0: who the data was collected from) is the
document's custodians, the case's custodians who took part (ids, ``, ``-separated); the
manifest's conversation names the first of them as its ``custodian`` (RSMF 2.0 schema:
one participant id, a participant of the conversation, so a custodian who was not present at
the start of a channel's document is added to its ``participants``).

Every standalone event names its archive event id in ``custom``. Conversation ``participants``
are, for a channel, those present at the start of the file's period (the Actiance presence rule,
:func:`formats.actiance_xml.present_at_start`, carried from day to day within a room), and for a
direct conversation everyone in it. ``X-RSMF-Participants`` is the comma-separated display names
of every participant of the file, as Relativity's field reference describes it.

A participant's ``email`` is the actor's address when it is one (``local@domain``, no spaces or
control characters); anything else the producer sent as an address is kept in ``custom`` as
``email as recorded``. The manifest is JSON with non-ASCII escaped (``\\uXXXX``): every text, lone surrogates included,
round-trips exactly.
"""

from __future__ import annotations

import base64
import email.utils
import functools
import hashlib
import io
import json
import random
import re
import shutil
import sys
import tempfile
import time
import unicodedata
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.policy import Compat32
from typing import IO, Any, ClassVar
from zoneinfo import ZoneInfo

import orjson

from exports.base import (
    ChecksumListed,
    ExportContext,
    ExportFiles,
    ExportZip,
    FormatReport,
    HashingWriter,
    WrittenFile,
)
from exports.documents import Document, MessageThread
from exports.jsonl import BinarySink
from exports.natives import ExportAttachments, NativeLosses, Placed, Verified, is_compressed, size_note
from exports.presence import person
from exports.transcript import single_line
from formats.actiance_xml import PRESENCE_EVIDENCE, present_at_start
from formats.time_zones import iso_local
from ingest.events import (
    Actor,
    DeleteEvent,
    DisclaimerEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    JoinEvent,
    LeaveEvent,
    PolicyDecisionEvent,
    PostEvent,
    ReadEvent,
    Room,
    RoomUpdateEvent,
    present_by,
)

RSMF_VERSION = "2.0.0"
GENERATOR = "Archivist"
MANIFEST_NAME = "rsmf_manifest.json"
MEDIA_TYPE = "message/rfc822"
SUMS_FILE = "rsmf.sha256"
"""Each RSMF file with its SHA-256 (``sha256sum -c`` checks them): the manifest lists this file rather
than every document's; an RSMF file that carries natives is streamed and listed in the manifest itself."""
_COLLECTION_NAMESPACE = uuid.UUID("1f0c6a52-3e1b-4c7e-9d52-8f1d2b7e6a40")
_UNSAFE_HEADER = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")
_MAX_HEADER_LINE = 78
_ENCODED_WORD_BYTES = 45
"""Bytes per encoded word: ``=?utf-8?b?`` + 60 base64 characters + ``?=`` stays within 75."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_PLAIN_HEADER = re.compile(r"[!-~]+(?: [!-~]+)*")
"""A header value that ``compat32`` folding leaves as it is when it fits on its line."""
_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_ADDRESS = re.compile(r"[^\s@\x00-\x1f\x7f]+@[^\s@\x00-\x1f\x7f]+")
"""What goes into a participant's ``email`` (an ``idn-email`` in Relativity's schema)."""

Json = dict[str, Any]


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with microseconds and a ``Z`` (events are already in UTC)."""
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" written as "Z"


def room_slug(room: Room) -> str:
    """A path-safe, readable, collision-free folder name for a room (name plus a hash of its id)."""
    ascii_name = unicodedata.normalize("NFKD", room.name or room.id).encode("ascii", "ignore").decode()
    readable = _SLUG_DROP.sub("-", ascii_name.lower()).strip("-")[:40].strip("-") or "room"
    return f"{readable}-{hashlib.sha256(room.id.encode()).hexdigest()[:8]}"


def header_safe(value: str) -> str:
    """A header value with no line breaks, controls or lone surrogates (they become spaces or U+FFFD)."""
    return _UNSAFE_HEADER.sub(lambda m: " " if m.group() in "\t\r\n" else "\ufffd", value)


@dataclass(frozen=True)
class Slice:
    """One document's events (a room's events of one day in ``zone``, or one message's)."""

    document: Document
    present_before: Mapping[str, Actor] = field(default_factory=dict)
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    threads: Mapping[str, MessageThread] = field(default_factory=dict)
    """The thread links of the room's messages (:attr:`exports.base.ExportContext.threads`)."""

    @property
    def room(self) -> Room:
        return self.document.room

    @property
    def day(self) -> date:
        return self.document.day

    @property
    def events(self) -> Sequence[Event]:
        return self.document.events

    def iso(self, moment: datetime) -> str:
        """A timestamp of this slice: ISO 8601 with the offset of its zone."""
        return iso(moment) if self.zone.key == "UTC" else iso_local(moment, self.zone)

    @property
    def path(self) -> str:
        return f"rsmf/{self.document.control}.rsmf"


@dataclass
class Attachment:
    zip_name: str
    content: bytes
    """A text note's bytes (a file not in the export); empty for a native."""
    native: FileUploadEvent | None = None
    """The upload whose stored bytes are this file (checked against its SHA-256 when copied)."""
    entries: list[Json] = field(default_factory=list)
    """The manifest events that refer to it (a native that cannot be placed turns them to a note)."""
    uploads: list[FileUploadEvent] = field(default_factory=list)
    """The upload events of those entries, in the same order."""


@dataclass
class Manifest:
    """The manifest of one slice, and the files of ``rsmf.zip`` it references."""

    data: Json
    attachments: list[Attachment]
    present_at_end: dict[str, Actor]
    natives: list[tuple[FileUploadEvent, Placed]] = field(default_factory=list)
    """Each upload of the slice and what became of its native (``included``, or why not)."""


def _custom(**values: str) -> list[Json]:
    return [{"name": name.replace("_", " "), "value": value} for name, value in values.items() if value]


def _event_id_custom(event: Event) -> list[Json]:
    """``_custom(archivist_event_id=...)``, for every event, without the keyword round trip,
    and the sender's UTC offset when it was not UTC (``sent offset``)."""
    if event.occurred_offset:
        return [
            {"name": "archivist event id", "value": str(event.event_id)},
            {"name": "sent offset", "value": event.occurred_offset},
        ]
    return [{"name": "archivist event id", "value": str(event.event_id)}]


class _ManifestBuilder:
    def __init__(self, piece: Slice, files: ExportAttachments | None = None) -> None:
        self.slice = piece
        self.files = files if files is not None else ExportAttachments()
        self.iso = iso if piece.zone.key == "UTC" else piece.iso  # Slice.iso, without its test per event
        self.conversation = piece.room.id
        self.participants: dict[str, Json] = {}
        self.events: list[Json] = []
        self.posts: dict[str, Json] = {}
        self.attachments: list[Attachment] = []
        self.natives: list[tuple[FileUploadEvent, Placed]] = []
        self.children = {str(child.upload.event_id): child.control for child in piece.document.children if child.upload}

    def build(self) -> Manifest:
        piece = self.slice
        present = present_at_start(piece.events, piece.present_before)
        at_start = [self._participant(actor) for actor in present.values()]
        for event in piece.events:
            self._event(event)
            _track_presence(event, present)
        manifest = Manifest(self._document(at_start), self.attachments, present)
        manifest.natives = self.natives
        return manifest

    def _document(self, at_start: list[str]) -> Json:
        room = self.slice.room
        # A direct conversation lists everyone in it; a channel, who was there at its start.
        members = list(self.participants) if room.kind == "im" else at_start
        conversation: Json = {
            "id": self.conversation,
            "display": room.name or room.id,
            "platform": _platform(self.slice.events),
            "type": "direct" if room.kind == "im" else "channel",
            "participants": members,
        }
        custodians = self.slice.document.custodian_people
        if custodians:
            actor = custodians[0]  # maybe present without taking part: a participant all the same
            custodian = self._participant(actor)
            if custodian not in members:
                members.append(custodian)
            conversation["custodian"] = custodian
        return {
            "version": RSMF_VERSION,
            "eventcollectionid": event_collection_id(room.id),
            "participants": list(self.participants.values()),
            "conversations": [conversation],
            "events": self.events,
        }

    def _participant(self, actor: Actor) -> str:
        if actor.id not in self.participants:
            entry: Json = {"id": actor.id, "display": actor.name or actor.id, "account_id": actor.id}
            if actor.email and _ADDRESS.fullmatch(actor.email):
                entry["email"] = actor.email
            entry["custom"] = _custom(internal="true" if actor.internal else "false")
            if actor.email and "email" not in entry:  # not an address: kept, where the schema takes any text
                entry["custom"] += _custom(email_as_recorded=actor.email)
            self.participants[actor.id] = entry
        return actor.id

    def _base(self, event: Event, kind: str, body: str | None = None, event_id: str | None = None) -> Json:
        entry: Json = {
            "id": event_id or str(event.event_id),
            "type": kind,
            "participant": self._participant(event.actor),
            "conversation": self.conversation,
            "timestamp": self.iso(event.occurred_at),
        }
        if body is not None:
            entry["body"] = body
        self.events.append(entry)
        return entry

    def _event(self, event: Event) -> None:
        match event:
            case PostEvent():
                entry = self._base(event, "message", event.message.text, event.message.id)
                entry["custom"] = _event_id_custom(event) + self._thread(event, entry)
                self.posts[event.message.id] = entry
            case EditEvent():
                self._edit(event)
            case DeleteEvent():
                self._delete(event)
            case ReadEvent():
                self._read(event)
            case JoinEvent() | LeaveEvent():
                self._standalone(event, event.type)
            case DisclaimerEvent():
                shown = event.disclaimer
                custom = _custom(rule=shown.rule_id, version=str(shown.version), locale=shown.locale)
                self._standalone(event, "disclaimer", shown.text, custom)
            case FileUploadEvent():
                self._upload(event)
            case FileDownloadEvent():
                self._standalone(event, "history", f"downloaded {event.file.name}", _file_custom(event))
            case PolicyDecisionEvent():
                self._standalone(event, "history", _describe_decision(event), _decision_custom(event))
            case RoomUpdateEvent():
                self._standalone(event, "history", _describe_room_update(event))

    def _thread(self, event: PostEvent, entry: Json) -> list[Json]:
        """RSMF's ``parent``: the message this one answers, when that message is an event of
        this file (the specification: it maps to another event of the same conversation);
        otherwise, and for a parent reconstructed by the model, ``custom`` says which."""
        link = self.slice.threads.get(event.message.id)
        parent = link.parent_id if link is not None else event.message.reply_to
        if parent is None:
            return _custom(thread_id=link.thread_id) if link is not None and link.thread_id != event.message.id else []
        custom: list[Json] = []
        if parent in self.posts:
            entry["parent"] = parent
        else:
            custom += _custom(reply_to=parent)
        if link is not None:
            custom += _custom(thread_id=link.thread_id, thread_link=link.source)
        return custom

    def _standalone(self, event: Event, kind: str, body: str | None = None, custom: list[Json] | None = None) -> Json:
        entry = self._base(event, kind, body)
        entry["custom"] = _event_id_custom(event) + (custom or [])
        return entry

    def _edit(self, event: EditEvent) -> None:
        edit: Json = {"participant": self._participant(event.actor), "timestamp": self.iso(event.occurred_at)}
        original = self.posts.get(event.message.id)
        if original is None:
            edit["new"] = event.message.text
            entry = self._standalone(event, "message", event.message.text, _custom(edit_of=event.message.id))
            entry["edits"] = [edit]
            return
        edit["previous"] = original["body"]
        edit["new"] = event.message.text
        original.setdefault("edits", []).append(edit)
        original["body"] = event.message.text
        original["custom"] += _custom(archivist_edit_event_id=str(event.event_id))

    def _delete(self, event: DeleteEvent) -> None:
        original = self.posts.get(event.message.id)
        deleted = _custom(deleted_by=event.actor.id, deleted_at=self.iso(event.occurred_at))
        if original is None:
            entry = self._standalone(event, "message", "", _custom(deletes=event.message.id) + deleted)
        else:
            entry = original
            entry["custom"] += deleted + _custom(archivist_delete_event_id=str(event.event_id))
        entry["deleted"] = True

    def _read(self, event: ReadEvent) -> None:
        message_id = event.read.message_id
        original = self.posts.get(message_id) if message_id else None
        if original is None:
            body = f"read message {message_id}" if message_id else "read the conversation"
            self._standalone(event, "history", body, _custom(read=message_id or ""))
            return
        receipt = {
            "participant": self._participant(event.actor),
            "timestamp": self.iso(event.occurred_at),
            "action": "read",
        }
        original.setdefault("read_receipts", []).append(receipt)

    def _upload(self, event: FileUploadEvent) -> None:
        file = event.file
        entry = self._standalone(event, "message", "", _file_custom(event))
        child = self.children.get(str(event.event_id))
        if child is not None:
            entry["custom"] += _custom(attachment_control_number=child)
        if self.files.enabled:
            extracted = self.files.extraction(event)
            entry["custom"] += _custom(extraction=extracted.state if extracted is not None else "pending")
        if self.files.enabled and self.files.is_stored(file.sha256):
            # The native, at the root of rsmf.zip; checked when copied (see _write_zip).
            zip_name = native_name(event)
            entry["attachments"] = [{"id": zip_name, "display": file.name, "size": file.size}]
            entry["custom"] += _custom(native="included")
            found = next((a for a in self.attachments if a.zip_name == zip_name), None)
            if found is None:
                self.attachments.append(Attachment(zip_name, b"", event, [entry], [event]))
            else:
                found.entries.append(entry)
                found.uploads.append(event)
            return
        state = "pending" if self.files.enabled else "not_exported"
        entry["custom"] += _custom(native=state)
        self.natives.append((event, Placed(state)))
        zip_name = placeholder_name(event)
        entry["attachments"] = [{"id": zip_name, "display": file.name, "size": file.size}]
        if all(a.zip_name != zip_name for a in self.attachments):
            self.attachments.append(Attachment(zip_name, _placeholder(event, Placed(state))))


def _track_presence(event: Event, present: dict[str, Actor]) -> None:
    if isinstance(event, LeaveEvent):
        present.pop(event.actor.id, None)
    elif isinstance(event, (JoinEvent, *PRESENCE_EVIDENCE)):
        present[event.actor.id] = event.actor
    for recipient in present_by(event)[1:]:  # the recipients of a direct message, from it on
        present.setdefault(recipient.id, recipient)


def _platform(events: Sequence[Event]) -> str:
    source = events[0].source
    return source.server if source and source.server else "archivist"


def _file_slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name)[:60] or "file"


def native_name(event: FileUploadEvent) -> str:
    """A native's name in ``rsmf.zip`` (its manifest ``id``): at the root, as Relativity's
    attachments are, unique by content and readable by name."""
    return f"{event.file.sha256}-{_file_slug(event.file.name)}"


def placeholder_name(event: FileUploadEvent) -> str:
    """The text note standing for a file whose bytes are not in the export."""
    return f"attachments/{event.file.sha256}-{_file_slug(event.file.name)}.placeholder.txt"


def _file_custom(event: FileUploadEvent | FileDownloadEvent) -> list[Json]:
    file = event.file
    return _custom(file_name=file.name, sha256=file.sha256, content_type=file.content_type, url=file.url or "")


_NOT_PLACED = {
    "not_exported": "This export was made without the archive's file store: the file's content is not part of it.",
    "pending": "The file's bytes have not reached the archive yet (pending): the content is not part of this export.",
    "missing": "The archive's file store does not hold this file's bytes: the content is not part of this export.",
    "altered": "The stored bytes of this file do not match the SHA-256 the archive sealed: they were not placed.",
    "withheld": "This file is withheld from this production (privileged, or its text redacted): see the privilege log.",
}


def _placeholder(event: FileUploadEvent, why: Placed) -> bytes:
    file = event.file
    lines = [
        _NOT_PLACED.get(why.state, _NOT_PLACED["missing"]),
        *([f"detail: {why.detail}"] if why.detail else []),
        f"name: {file.name}",
        f"size: {file.size}",
        f"sha256: {file.sha256}",
        f"content type: {file.content_type}",
        f"url: {file.url or '-'}",
        f"uploaded by: {event.actor.name or event.actor.id} at {iso(event.occurred_at)}",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace")


def _describe_decision(event: PolicyDecisionEvent) -> str:
    decision = event.decision
    return f"policy {decision.mode}: {decision.action} {decision.outcome}"


def _decision_custom(event: PolicyDecisionEvent) -> list[Json]:
    decision = event.decision
    return _custom(walls=", ".join(decision.wall_ids), targets=", ".join(decision.targets))


def _describe_room_update(event: RoomUpdateEvent) -> str:
    update = event.room_update
    parts = ["created the room"] if update.created else []
    if update.name is not None:
        parts.append(f"set the name to {update.name}")
    if update.description is not None:
        parts.append(f"set the description to {update.description}")
    return "; ".join(parts) or "updated the room"


def event_collection_id(room_id: str) -> str:
    """The same id for every RSMF file of one room, so a review platform can keep them together."""
    return str(uuid.uuid5(_COLLECTION_NAMESPACE, room_id))


def build_manifest(piece: Slice, files: ExportAttachments | None = None) -> Manifest:
    return _ManifestBuilder(piece, files).build()


_NON_ASCII = re.compile(r"[^\x00-\x7e]")
"""What json.dumps escapes that orjson writes as it is: DEL and everything beyond ASCII."""


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # outside the BMP: a UTF-16 surrogate pair, as json.dumps writes it
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def ascii_json(data: Json) -> str:
    """``json.dumps(data, ensure_ascii=True, separators=(",", ":"))``, five times as fast: orjson
    writes the same compact JSON for documents of strings, booleans, nulls and 64-bit integers
    (a manifest has no floats), and non-ASCII characters are then escaped as json.dumps does.
    What orjson refuses (a lone surrogate in a string) goes to json.dumps itself."""
    try:
        text = orjson.dumps(data).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text if text.isascii() and "\x7f" not in text else _NON_ASCII.sub(_escaped, text)


def _zip(manifest: Manifest) -> bytes:
    """``rsmf.zip``: the manifest deflated; the placeholder files, a few hundred bytes each,
    stored (deflating each cost a compressor for nothing: a third of the zip's time)."""
    buffer = io.BytesIO()
    # Each entry's header written once, sizes and CRC known (ExportZip): what writestr writes,
    # without its header rewritten after the data.
    with ExportZip(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        stamp = time.localtime(time.time())[:6]
        date_time = (stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5])
        archive.write_deflated_bytes(MANIFEST_NAME, ascii_json(manifest.data).encode(), date_time)
        for attachment in manifest.attachments:
            archive.write_stored(attachment.zip_name, attachment.content, date_time)
    return buffer.getvalue()


def _summary(piece: Slice, manifest: Manifest, context: ExportContext) -> str:
    data = manifest.data
    counts = Counter(e["type"] for e in data["events"])
    names = ", ".join(single_line(p["display"]) for p in data["participants"])
    room = piece.room
    lines = [  # one line each: a name, id or query with a line break is escaped (single_line)
        f"Conversation: {single_line(room.name or room.id)} ({single_line(room.id)})",
        f"Document: {piece.document.control} ({piece.document.kind})",
        f"Day ({piece.zone.key}): {piece.day.isoformat()}",
        f"From {piece.iso(piece.events[0].occurred_at)} to {piece.iso(piece.events[-1].occurred_at)}",
        f"Events: {len(data['events'])} ({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})",
        f"Participants ({len(data['participants'])}): {names}",
        _attachments_line(manifest),
        f"Export {context.export_id} for {single_line(context.requested_by)}, query: {single_line(context.query)}",
    ]
    return _encodable("\n".join(lines)) + "\n"


def _attachments_line(manifest: Manifest) -> str:
    notes = sum(1 for a in manifest.attachments if a.native is None)
    return (
        f"Attachments: {len(manifest.attachments)} ({len(manifest.attachments) - notes} files; {notes} text notes "
        "standing for files whose content is not in this export)"
    )


def _encodable(text: str) -> str:
    """``text`` with lone surrogates replaced (a text/plain part must encode as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text)


def _headers(piece: Slice, data: Json, context: ExportContext) -> dict[str, str]:
    attachment_count = sum(len(e.get("attachments", ())) for e in data["events"])
    collection = data["eventcollectionid"]
    document = piece.document
    sender = document.senders[0] if document.senders else document.events[0].actor
    to = [mailbox(a.id, a.name, a.email) for a in document.participants if a.id != sender.id]
    return {
        "X-RSMF-Version": RSMF_VERSION,
        "X-RSMF-Generator": GENERATOR,
        "X-RSMF-Application": data["conversations"][0]["platform"],
        "X-RSMF-BeginDate": piece.iso(piece.events[0].occurred_at),
        "X-RSMF-EndDate": piece.iso(piece.events[-1].occurred_at),
        "X-RSMF-EventCount": str(len(data["events"])),
        "X-RSMF-Participants": ", ".join(p["display"] for p in data["participants"]),
        "X-RSMF-AttachmentCount": str(attachment_count),
        "X-RSMF-EventCollectionID": collection,
        "X-RSMF-Custodian": ", ".join(document.custodians),
        "X-Archivist-Control-Number": document.control,
        "From": mailbox(sender.id, sender.name, sender.email),
        "To": _ADDRESS_SEPARATOR.join(to),
        "Subject": _subject(document),
        "Date": email.utils.format_datetime(_wall_clock(piece.events[0].occurred_at, piece.zone)),
        "Message-ID": f"<{collection}.{document.control}@archivist>",
    }


_ADDRESS_SEPARATOR = ",\r\n "
"""Between two mailboxes of ``To``: one per line (folded after the comma), so no folding is needed."""
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_MAILBOX_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
"""An address written in a header as it is (RFC 5322 dot-atom, ASCII)."""
_NOT_LOCAL = re.compile(r"[^A-Za-z0-9_+=-]+")
_MAX_DISPLAY = 120
"""Characters of a display name in a header (the manifest has the whole name)."""
_MAX_LOCAL_PART = 64
_MAX_ADDRESS = 254
"""RFC 5321 4.5.3.1: a local part of at most 64 octets, a path of at most 256 (an address of 254
between its angle brackets): a longer address is not used in a header (the manifest has it)."""
_ID_HASH = 12
"""Hex digits of the id's SHA-256 that end a local part made from a longer id."""


def _local_part(actor_id: str) -> str:
    """The id's letters (``user:ann`` -> ``user-ann``); for an id whose letters are more than 64,
    a readable prefix, ``-`` and the first 12 hex digits of the id's SHA-256 (two ids sharing the
    prefix keep two addresses)."""
    local = _NOT_LOCAL.sub("-", actor_id).strip("-") or "unknown"
    if len(local) <= _MAX_LOCAL_PART:
        return local
    digest = hashlib.sha256(actor_id.encode("utf-8", "surrogatepass")).hexdigest()[:_ID_HASH]
    return f"{local[: _MAX_LOCAL_PART - _ID_HASH - 1].rstrip('-')}-{digest}"


@functools.lru_cache(maxsize=8192)
def mailbox(actor_id: str, name: str | None, address: str | None) -> str:
    """``Name (id) <address>`` as an RFC 5322 mailbox (RFC 2047 encoded words for a name that
    is not ASCII): the actor's address when it is a plain one, else one made of the id's letters
    at ``archivist.invalid`` (RFC 2606: reserved, never an address), the id being in the name
    (:func:`_local_part`: at most 64 characters); an address longer than RFC 5321 allows (a local
    part over 64 characters, or over 254 in all) is not a plain one."""
    if not (
        address
        and len(address) <= _MAX_ADDRESS
        and address.find("@") <= _MAX_LOCAL_PART
        and _MAILBOX_ADDRESS.fullmatch(address)
    ):
        address = f"{_local_part(actor_id)}@archivist.invalid"
    display = header_safe(person(Actor(id=actor_id, name=name)))[:_MAX_DISPLAY]
    return email.utils.formataddr((display, address), charset="utf-8")


def _subject(document: Document) -> str:
    room = document.room.name or document.room.id
    subject = f"{room} {document.day.isoformat()}"
    if document.message_id is not None:
        return f"{subject} message {document.message_id}"
    if document.thread_id is not None:
        return f"{subject} thread {document.thread_id}"
    if document.kind == "message" and document.children and document.children[0].upload is not None:
        return f"{subject} file {document.children[0].upload.file.name}"
    return subject


_MAX_WORD = 900
"""The longest run without a space an ASCII header value is written with as it is: folding
happens at spaces, so a longer one (an id of thousands of characters) is written as encoded
words, and every line stays within RFC 5322's 998 characters."""


def _header_value(name: str, value: str) -> str:
    """ASCII as is (unless it has a run of over :data:`_MAX_WORD` characters without a space);
    anything else as RFC 2047 encoded words (UTF-8, base64), separated by spaces
    for the generator to fold at, the first sized to fit on the header's own line. Each word holds
    whole characters; decoders join adjacent words without the space. (``email.header.Header``
    does the same, at a cost that dominated the time of a file.)"""
    safe = header_safe(value)
    if safe.isascii() and (len(safe) <= _MAX_WORD or all(len(word) <= _MAX_WORD for word in safe.split(" "))):
        return safe
    first_line = _MAX_HEADER_LINE - len(name) - len(": ") - len("=?utf-8?b??=")
    return " ".join(encoded_words(safe.encode(), min(_ENCODED_WORD_BYTES, first_line // 4 * 3)))


def encoded_words(data: bytes, first: int, rest: int = _ENCODED_WORD_BYTES) -> list[str]:
    """UTF-8 ``data`` as RFC 2047 base64 encoded words: each holds as many whole characters as
    fit in ``first`` bytes (the first word) or ``rest`` (the others), at least one."""
    words: list[str] = []
    start, budget = 0, first
    while start < len(data):
        end = min(start + budget, len(data))
        while start < end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        if end == start:  # one character longer than the budget: a word of its own
            end += 1
            while end < len(data) and data[end] & 0xC0 == 0x80:
                end += 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start, budget = end, rest
    return words


class _QuickFold(Compat32):
    """``compat32``, writing a header that fits on one line (printable ASCII, single spaces)
    as it is, with no ``email.header.Header`` built to fold it (the same bytes, for a fraction
    of the time); any other header is folded by ``compat32`` itself."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (
            isinstance(value, str)
            and self.max_line_length is not None
            and len(name) + 2 + len(value) <= self.max_line_length
            and _PLAIN_HEADER.fullmatch(value)
        ):
            return f"{name}: {value}{self.linesep}"
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


_QUICK_FOLD = _QuickFold()


def mime_boundary() -> str:
    """A boundary as the ``email`` generator makes one. Every part is base64, whose alphabet
    has no ``-``, so no line of a part can be ``--`` + boundary: the generator's search of the
    parts for it (a regular expression compiled per file) is not needed."""
    return "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="


def render_rsmf(piece: Slice, context: ExportContext) -> tuple[bytes, Manifest]:
    """The ``.rsmf`` file of one slice, and its manifest (in memory: see :func:`write_rsmf`)."""
    buffer = io.BytesIO()
    manifest = write_rsmf(piece, context, buffer)
    return buffer.getvalue(), manifest


def write_rsmf(piece: Slice, context: ExportContext, out: BinarySink) -> Manifest:
    """Write the ``.rsmf`` file of one slice to ``out``; its manifest.

    The bytes the ``email`` package's MIME classes and ``BytesGenerator`` write (the
    ``compat32`` policy, CRLF line ends, two base64 parts), written directly: building and
    flattening the message objects cost more than the manifest itself. A slice with natives
    builds its ``rsmf.zip`` in a temporary file, the natives streamed from the file store and
    checked (:mod:`exports.natives`), and streams it out in base64: never whole in memory.
    """
    manifest = build_manifest(piece, context.attachments)
    if not any(a.native is not None for a in manifest.attachments):
        out.write(mime_message(_mime_headers(piece, manifest, context), _summary_bytes(piece, manifest, context),
                               _zip(manifest), mime_boundary()))  # fmt: skip
        return manifest
    with tempfile.TemporaryFile() as archive:
        _write_zip(manifest, archive, context.attachments)
        boundary = mime_boundary()
        part = f"--{boundary}\r\n".encode()
        out.write(_message_head(_mime_headers(piece, manifest, context), boundary))
        out.write(part + _TEXT_PART_HEADERS + _base64_lines(_summary_bytes(piece, manifest, context)) + b"\r\n")
        out.write(part + _ZIP_PART_HEADERS)
        archive.seek(0)
        while chunk := archive.read(_BASE64_CHUNK):
            out.write(_base64_lines(chunk))
        out.write(f"\r\n--{boundary}--\r\n".encode())
    return manifest


_BASE64_CHUNK = 57 * 1150
"""Bytes encoded at a time: a multiple of 57, so every line but the last has 76 characters."""


def _mime_headers(piece: Slice, manifest: Manifest, context: ExportContext) -> list[tuple[str, str]]:
    return [
        (name, value if name in _ADDRESS_HEADERS else _header_value(name, value))
        for name, value in _headers(piece, manifest.data, context).items()
        if value
    ]


_ADDRESS_HEADERS = frozenset({"From", "To"})
"""Written as :func:`mailbox` makes them (ASCII, one mailbox per line), not encoded or folded again."""


def _summary_bytes(piece: Slice, manifest: Manifest, context: ExportContext) -> bytes:
    return _summary(piece, manifest, context).encode("utf-8")


def _write_zip(manifest: Manifest, out: IO[bytes], files: ExportAttachments) -> None:
    """``rsmf.zip`` with natives: each copied from the file store when its bytes are the sealed
    ones (stored when compressed already, else deflated), otherwise a text note in its place and
    the manifest's events pointed at it; the manifest last, once it says what is where."""
    stamp = time.localtime(time.time())[:6]
    date_time = (stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5])
    with ExportZip(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for attachment in list(manifest.attachments):
            upload = attachment.native
            if upload is None:
                if attachment.zip_name not in archive.NameToInfo:
                    archive.write_stored(attachment.zip_name, attachment.content, date_time)
                continue
            with files.verified(upload.file.sha256, upload.file.size) as found:
                if isinstance(found, Verified):
                    entry = zipfile.ZipInfo(attachment.zip_name, date_time)
                    stored = is_compressed(upload.file.name)
                    entry.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
                    with archive.open(entry, "w", force_zip64=found.size > 1 << 30) as target:
                        shutil.copyfileobj(found.file, target, 1 << 20)
                    for event, event_entry in zip(attachment.uploads, attachment.entries, strict=True):
                        # The size of the file in rsmf.zip; a declared size that differs is noted.
                        event_entry["attachments"][0]["size"] = found.size
                        note = size_note(event.file.size, found.size)
                        event_entry["custom"] += _custom(native_detail=note)
                        placed = Placed("included", attachment.zip_name, upload.file.sha256, found.size, note)
                        manifest.natives.append((event, placed))
                    continue
            note = placeholder_name(upload)
            attachment.zip_name, attachment.content, attachment.native = note, _placeholder(upload, found), None
            for event_entry in attachment.entries:
                event_entry["attachments"][0]["id"] = note
                for custom in event_entry["custom"]:
                    if custom["name"] == "native":
                        custom["value"] = found.state
            manifest.natives.extend((event, found) for event in attachment.uploads)
            if note not in archive.NameToInfo:
                archive.write_stored(note, attachment.content, date_time)
        archive.write_deflated_bytes(MANIFEST_NAME, ascii_json(manifest.data).encode(), date_time)


def _message_head(headers: Sequence[tuple[str, str]], boundary: str) -> bytes:
    content_type = ("Content-Type", f'multipart/mixed; boundary="{boundary}"')
    return _header_block([content_type, ("MIME-Version", "1.0"), *headers])


def mime_message(headers: Sequence[tuple[str, str]], summary: bytes, archive: bytes, boundary: str) -> bytes:
    """A multipart/mixed message: ``headers``, a UTF-8 text/plain ``summary`` and ``archive``
    as the attachment ``rsmf.zip``, both base64, exactly as ``BytesGenerator`` writes them."""
    part = f"--{boundary}\r\n".encode()
    return b"".join(
        (
            _message_head(headers, boundary),
            part,
            _TEXT_PART_HEADERS,
            _base64_lines(summary),
            b"\r\n",
            part,
            _ZIP_PART_HEADERS,
            _base64_lines(archive),
            f"\r\n--{boundary}--\r\n".encode(),
        )
    )


_CRLF_FOLD = _QUICK_FOLD.clone(linesep="\r\n", max_line_length=_MAX_HEADER_LINE)


def _header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    """Headers folded as ``compat32`` folds them (an address header as it is, already folded one
    mailbox per line), and the empty line that ends them."""
    return (
        b"".join(
            f"{name}: {value}\r\n".encode("ascii") if name in _ADDRESS_HEADERS else _CRLF_FOLD.fold_binary(name, value)
            for name, value in headers
        )
        + b"\r\n"
    )


_TEXT_PART_HEADERS = _header_block(
    [
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "base64"),
    ]
)
_ZIP_PART_HEADERS = _header_block(
    [
        ("Content-Type", "application/zip"),
        ("MIME-Version", "1.0"),
        ("Content-Transfer-Encoding", "base64"),
        ("Content-Disposition", 'attachment; filename="rsmf.zip"'),
    ]
)
"""The headers of the two parts, the same in every file: folded once."""


def _base64_lines(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, each ended by CRLF (MIME's body encoding)."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _wall_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` in ``zone``, or in UTC where that would leave the representable range."""
    try:
        return moment.astimezone(zone)
    except OverflowError:
        return moment.astimezone(UTC)


class RsmfFormat:
    """RSMF 2.0: one ``.rsmf`` file per document (its attachments in its ``rsmf.zip``)."""

    name = "rsmf"
    not_carried: ClassVar[dict[str, str]] = {
        "message.format": "an RSMF event body is plain text (RSMF 2.0 has no field for its format)"
        ": a text/html message is written as its source",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        placeholders = 0
        losses = NativeLosses(self.name)
        room_id: str | None = None
        present: dict[str, Actor] = {}
        zone = context.time_zone
        listed = ChecksumListed(files, SUMS_FILE)
        for document in context.documents(events, report):
            if document.room.id != room_id:
                room_id, present = document.room.id, {}
            piece = Slice(document, present, zone, context.threads(document.room.id))
            if document.children:
                # Its natives are inside: streamed into the export (never whole in memory), so
                # listed in the manifest itself.
                with files.create(piece.path, MEDIA_TYPE, compressed=True) as stream:
                    hashing = HashingWriter(stream)
                    manifest = write_rsmf(piece, context, hashing)
                report.files.append(WrittenFile(piece.path, hashing.size, hashing.digest.hexdigest(), MEDIA_TYPE))
            else:
                buffer = io.BytesIO()
                manifest = write_rsmf(piece, context, buffer)
                data = buffer.getvalue()
                report.files.append(WrittenFile(piece.path, len(data), listed.add(piece.path, data), MEDIA_TYPE))
            present = manifest.present_at_end
            report.events += len(document.events)
            report.items += 1
            placeholders += sum(1 for a in manifest.attachments if a.native is None)
            for upload, placed in manifest.natives:
                losses.add("rsmf.zip: attachments", placed, upload)
        report.times = (
            f"ISO 8601 with the offset of {zone.key}, files per day cut at its midnight; the sender's UTC offset, "
            "when it differs from UTC, in each event's custom field 'sent offset'"
        )
        if placeholders:
            report.warnings.append(
                f"{placeholders} shared files are represented in rsmf.zip by text placeholders (name, size, "
                "SHA-256, URL, and why): their content is not in this export (the losses say why)"
            )
        listed.commit()  # the export's manifest lists it; the report lists every RSMF file
        losses.report_to(report)
        return report
