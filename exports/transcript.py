"""The text of a document: the one transcript every format of a production shares.

A document's text (:func:`document_text`) is what the DAT's ``TEXTPATH`` file holds, what EDRM
loads as the document's ``Text`` and what the PDF's custody page hashes, so that the same
document has the same text, byte for byte, wherever it is produced. UTF-8, ``\\n`` line ends: a
header (control number, room, day, time zone, case), then one line per event with its time in
the production's zone (and the sender's own UTC offset when it differs, ``09:00:00.000 (+09:00
as sent)``): posts with their message id, every edit with its version, deletions, joins, leaves,
reads, files (name, size, SHA-256, URL), disclaimers, policy decisions and room updates. People
are named as the name of the moment and the id (``Ann (user:ann) [m1]: ...``); a direct
message's recipient is said present at the first message of the document that names them
(``* Dora (user:dora) present: a recipient of [m1]``), as a join would. Continuation lines of a
multi-line text are indented: each LF of a text is followed by 16 spaces, and nothing else of
the text changes (a CR stays a CR), so a text comes back exactly when they are taken out.

Everything else written into a line (names, ids, room names, message ids, the case name) is made
single-line by :func:`single_line`, so one event is exactly one line (plus the indented
continuation lines of its text) and a name cannot forge an event line: a backslash is doubled,
``\\n``, ``\\r`` and ``\\t`` stand for LF, CR and tab, and every other C0 or C1 control, DEL,
U+2028 and U+2029 is written ``\\xHH`` or ``\\uHHHH``; undoing these escapes gives the value back
exactly. File names and room-update values are written as Python ``repr`` literals, as before.

An attachment document's text is its file's extracted text (:mod:`exports.natives`), not this.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from exports.documents import Document
from exports.presence import Presence, person
from formats.time_zones import as_sent, local
from ingest.events import (
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
    RoomUpdateEvent,
    SupervisionHitEvent,
)

_CONTINUATION = "\n" + " " * 16
_UNSAFE = re.compile("[\\\\\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""What :func:`single_line` escapes: the backslash (its escape character), C0 and C1 controls
(CR, LF and U+0085 among them), DEL, and the Unicode line and paragraph separators."""
_SHORT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(found: re.Match[str]) -> str:
    char = found.group()
    short = _SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def single_line(value: str) -> str:
    """``value`` on one line, reversibly: a backslash doubled, LF, CR and tab as ``\\n``,
    ``\\r``, ``\\t``, other C0/C1 controls, DEL, U+2028 and U+2029 as ``\\xHH``/``\\uHHHH``.
    Unchanged (and not copied) when it has none of these."""
    return _UNSAFE.sub(_escape, value) if _UNSAFE.search(value) else value


def _who(event: Event) -> str:
    return single_line(person(event.actor))


def _indented(text: str) -> str:
    """``text`` with its continuation lines indented: every LF is followed by 16 spaces, and
    nothing else changes (a CR stays a CR), so removing them gives the text back exactly."""
    return text.replace("\n", _CONTINUATION)


def _file_line(verb: str, event: FileUploadEvent | FileDownloadEvent) -> str:
    info = event.file
    url = info.url or "no URL recorded"
    return (
        f"{_who(event)} {verb} file {info.name!r} ({info.size} bytes, {info.content_type}, sha256 {info.sha256}, {url})"
    )


def transcript_line(event: Event, version: int | None = None) -> str:
    """What one event says in the transcript, without its time; ``version``: an edit's (the post
    is version 1)."""
    match event:
        case PostEvent(message=message):
            return f"{_who(event)} [{single_line(message.id)}]: {_indented(message.text)}"
        case EditEvent(message=message):
            return f"{_who(event)} EDITED [{single_line(message.id)}] (version {version}): {_indented(message.text)}"
        case DeleteEvent(message=message):
            return f"{_who(event)} DELETED [{single_line(message.id)}]"
        case JoinEvent():
            return f"* {_who(event)} joined"
        case LeaveEvent():
            return f"* {_who(event)} left"
        case ReadEvent(read=read):
            seen = f"[{single_line(read.message_id)}]" if read.message_id else "the room's history"
            return f"{_who(event)} read {seen}"
        case FileUploadEvent():
            return _file_line("uploaded", event)
        case FileDownloadEvent():
            return _file_line("downloaded", event)
        case DisclaimerEvent(disclaimer=shown):
            rule = f"{single_line(shown.rule_id)} v{shown.version}, {single_line(shown.locale)}"
            return f"disclaimer shown to {_who(event)} ({rule}): {_indented(shown.text)}"
        case PolicyDecisionEvent(decision=d):
            walls = ", ".join(single_line(w) for w in d.wall_ids) or "none"
            targets = ", ".join(single_line(t) for t in d.targets) or "none"
            detail = f"mode {d.mode}; walls {walls}; targets {targets}"
            return f"policy decision for {_who(event)}: {d.outcome} {d.action} ({detail})"
        case RoomUpdateEvent(room_update=update):
            changes = [f"name {update.name!r}"] if update.name is not None else []
            changes += [f"description {_indented(update.description)!r}"] if update.description is not None else []
            verb = "created the room" if update.created else "updated the room"
            return f"{_who(event)} {verb}: {', '.join(changes) or 'no changes recorded'}"
        case SupervisionHitEvent(hit=hit):
            # Not a chat line: a review artefact, never selected for a production (it is shown
            # only if a caller hands one in), said as what it is.
            terms = ", ".join(dict.fromkeys(single_line(m.term_id) for m in hit.matches)) or "none"
            why = "drawn by sampling" if hit.reason == "sample" else f"lexicon terms {terms}"
            policy = f"{single_line(hit.policy_name)!r} v{hit.policy_version}"
            return f"* supervision policy {policy} made a review item of [{single_line(hit.evaluated_message)}] ({why})"
    raise TypeError(f"no transcript line for {type(event).__name__}")  # pragma: no cover - every type is matched


def recipient_of(event: Event) -> str:
    if isinstance(event, PostEvent):
        return f"a recipient of [{single_line(event.message.id)}]"
    if isinstance(event, FileUploadEvent):
        return f"a recipient of file {event.file.name!r}"
    return "a recipient"  # pragma: no cover - only posts and uploads have recipients


def time_of_day(event: Event, zone: ZoneInfo) -> str:
    """``09:00:10.123`` in UTC; in another zone with its abbreviation (``01:30:00.000 EDT``: the
    hour repeated when clocks go back is told apart); then the sender's own offset when it
    differs from the zone's (``(+09:00 as sent)``)."""
    utc = zone.key == "UTC"
    t = event.occurred_at if utc else local(event.occurred_at, zone)
    shown = f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}.{t.microsecond // 1000:03d}"
    if utc:  # as_sent in UTC, without converting: the zone's offset is +00:00
        sent = event.occurred_offset
        return shown if not sent or sent == "+00:00" else f"{shown} ({sent} as sent)"
    shown += f" {t.tzname()}"
    return shown + as_sent(event.occurred_at, zone, event.occurred_offset)


def document_header(document: Document, zone: ZoneInfo, case_name: str | None = None) -> str:
    room = document.room
    case = f", case {single_line(case_name)}" if case_name else ""
    what = document.kind if document.kind in ("message", "thread") else "conversation"
    return (
        f"{single_line(document.control)} ({what}{case})\n"
        f"{single_line(room.name or room.id)} ({room.kind} {single_line(room.id)})\n"
        f"{document.day.isoformat()}, times in {zone.key}\n\n"
    )


def document_lines(document: Document, zone: ZoneInfo) -> Iterator[str]:
    """The transcript lines of ``document`` (each ending in ``\\n``), without the header."""
    presence = Presence()
    for event in document.events:
        time = time_of_day(event, zone)
        version = document.versions.get(str(event.event_id)) if isinstance(event, EditEvent) else None
        yield f"{time}    {transcript_line(event, version)}\n"
        for recipient in presence.newly_present(event):  # only posts and uploads name any
            yield f"{time}    * {single_line(person(recipient))} present: {recipient_of(event)}\n"


def document_text(document: Document, zone: ZoneInfo, case_name: str | None = None) -> str:
    """The whole text of a (non-attachment) document: header and transcript."""
    return document_header(document, zone, case_name) + "".join(document_lines(document, zone))
