"""The ``csv`` format: ``messages.csv``, a spreadsheet with one row per event, and the production's
Concordance load file ``messages.dat``, one row per document (:mod:`exports.dat`), with its
field list ``messages_fields.csv``.

``messages.csv``: RFC 4180 (comma, double quotes where needed, CRLF line ends), UTF-8 with a
byte-order mark, a header row; the text is kept exactly (a newline inside a field stays inside
the quoted field), with one exception, because this file is meant to be opened in a spreadsheet:
a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, which Excel and
LibreOffice would evaluate as a formula (CSV injection), is written with a leading apostrophe
(``'=1+1``), as OWASP recommends. The report's losses (and so the export's manifest) say how
many rows were guarded, per column; the ``TEXTPATH`` files, ``events.jsonl`` and the archive
keep the exact text, and ``EVENT_SHA256`` names the event's exact JSON (in a production with
redactions, a redacted event's JSON as produced: its ``events.jsonl`` line; ``docs/redaction.md``).

Which events get a row: every one, joins, leaves, reads, files, disclaimers, policy decisions and
room updates next to the messages, told apart by ``TYPE``; rows come document by document (the
production's documents, :mod:`exports.documents`), each document's events in time order (in the
conversation unit that is the export's order: room, then time). ``ROW_ID`` is the row's own
number (``<export prefix>-000001`` upward, it names the row's text file; it is not a Bates
number), ``DOCUMENT`` the control (Bates) number of the document the event is in: the
``BEGDOC`` of its row in ``messages.dat``. ``SENDER_*`` is who did it (posted, edited,
deleted, uploaded, joined, left...); a read receipt's reader is in ``READER_ID``,
``READER_NAME``, ``READER_EMAIL`` and ``READER_INTERNAL``, and its ``SENDER_*`` are empty (a
reader sent nothing). An edit is its own row with the edited ``MESSAGE_ID`` and ``VERSION`` n
(the post is version 1; n counts the edits seen in this export, as the document's text does). A
deletion is its own row with ``DELETED`` = ``Y``; the other rows leave ``DELETED`` empty (whether
a message was deleted is its document's ``DELETED`` in the DAT, which never says N for a
deleted message's post). A file event's row carries the file's name, size, SHA-256, content type
and the URL it was shared at; a file event without a URL is reported. An upload's row also names
the attachment document its file became (``ATTACHMENT``), the file's native (``NATIVEPATH``,
``NATIVE_STATE``) and the state of its extracted text (``EXTRACTION_STATE``); ``BEGATTACH`` and
``ENDATTACH`` are the family range of the row's document.

Every row with text (a post, an edit, a disclaimer, a room description) has a ``TEXTPATH``:
``messages_text/<ROW_ID>.txt``, which holds the row's ``TEXT`` exactly (UTF-8 without a
byte-order mark). The text files are listed with their SHA-256 in ``messages_text.sha256``
(``<hex>  <path>`` lines, which ``sha256sum -c`` checks), and that file in the manifest: 100,000
entries in the manifest, each written to the zip through a streaming entry, tripled the export's
time and memory. The DAT's document texts are listed likewise in ``documents_text.sha256``.

Times: ``OCCURRED_AT`` is UTC (the archive's sort key), ``OCCURRED_LOCAL`` the same instant in
the export's time zone with its offset (``2026-03-08T23:30:00.000000-05:00``), ``TIME_ZONE`` that
zone's IANA name, and ``SENT_OFFSET`` the UTC offset the sender's clock had (``UTC+09:00``;
``UTC+00:00`` when sent in UTC, or archived before offsets were kept; written after ``UTC`` so
that no spreadsheet takes it for a formula). Recipients: ``RECIPIENT_IDS`` and
``RECIPIENT_NAMES`` list whom a post or file upload was sent to, as the event recorded them
(``; ``-separated: a ``;`` inside an id or name is written U+FF1B, a loss of the report).

The DAT never alters a field silently: the report's losses name every column it had to alter
(a literal þ, U+0014 or ®; a CR line break; a ";" in a person's name, written U+FF1B), how many
documents, and where the exact value is.

Memory: one document at a time (the message unit: one room's events, held by
:func:`exports.documents.documents`); the DAT rows of a room's conversation slices are held until
the room ends, so that a slice whose message is deleted on a later day says ``DELETED`` = ``Y``.
The CSV, the DAT and the checksum lists are spooled (``exports.base.spool``: deflated on the
other core as they are written) while the text files go into the export, each in one write.
"""

from __future__ import annotations

import csv
import hashlib
import io
import operator
from collections.abc import Iterable, Sequence
from typing import ClassVar
from zoneinfo import ZoneInfo

from exports.base import ExportContext, ExportFiles, FormatReport, LossTally, spool
from exports.dat import (
    BOM,
    DAT_COLUMNS,
    DAT_FILE,
    DELETED_COLUMN,
    DOCUMENT_SUMS_FILE,
    DOCUMENT_TEXT_DIR,
    FIELDS_FILE,
    LINE_END,
    NEWLINE_MARK,
    QUALIFIER,
    SEMICOLON_SUBSTITUTE,
    SEPARATOR,
    attachment_row,
    dat_field,
    dat_line,
    dat_record,
    field_list,
    parent_row,
    read_dat,
    semicolons_substituted,
)
from exports.documents import Document
from exports.jsonl import Utf8Writer, WarningTally, control_prefix, event_sha256, iso_utc, tracked_file
from exports.natives import NATIVES_DIR, NativeLosses, Placed
from exports.transcript import document_text
from formats.time_zones import iso_local
from ingest.events import (
    DeleteEvent,
    DisclaimerEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    PolicyDecisionEvent,
    PostEvent,
    ReadEvent,
    RoomUpdateEvent,
)

CSV_FILE = "messages.csv"
_UTC = ZoneInfo("UTC")
TEXT_DIR = "messages_text"
"""Where each CSV row's exact text is (``TEXTPATH``), next to the load files."""
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
TEXT_SUMS_FILE = "messages_text.sha256"
"""The SHA-256 of every CSV ``TEXTPATH`` file, one ``<hex>  <path>`` line each (``sha256sum -c``
checks them); the manifest lists this file, not the text files one by one."""

COLUMNS: tuple[str, ...] = (
    "ROW_ID",
    "DOCUMENT",
    "EVENT_ID",
    "TYPE",
    "OCCURRED_AT",
    "OCCURRED_LOCAL",
    "TIME_ZONE",
    "SENT_OFFSET",
    "ROOM_ID",
    "ROOM_NAME",
    "ROOM_KIND",
    "SENDER_ID",
    "SENDER_NAME",
    "SENDER_EMAIL",
    "SENDER_INTERNAL",
    "RECIPIENT_IDS",
    "RECIPIENT_NAMES",
    "READER_ID",
    "READER_NAME",
    "READER_EMAIL",
    "READER_INTERNAL",
    "MESSAGE_ID",
    "VERSION",
    "DELETED",
    "TEXT",
    "TEXT_FORMAT",
    "FILE_NAME",
    "FILE_SIZE",
    "FILE_SHA256",
    "FILE_CONTENT_TYPE",
    "FILE_URL",
    "DETAILS",
    "EVENT_SHA256",
    "TEXTPATH",
    "NATIVEPATH",
    "NATIVE_STATE",
    "EXTRACTION_STATE",
    "ATTACHMENT",
    "BEGATTACH",
    "ENDATTACH",
)
"""The columns of ``messages.csv`` (one row per event); the DAT's are :data:`exports.dat.DAT_COLUMNS`."""

FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})
"""First characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list)."""
FORMULA_GUARD = "'"

# One event's columns MESSAGE_ID .. DETAILS.
_Content = tuple[str, str, str, str, str, str, str, str, str, str, str]
_EMPTY_CONTENT: _Content = ("", "", "", "", "", "", "", "", "", "", "")
_NO_READER = ("", "", "", "")

_first_character = operator.itemgetter(slice(0, 1))


def spreadsheet_row(row: Sequence[str]) -> tuple[Sequence[str], bool]:
    """``row`` as ``messages.csv`` writes it: every cell a spreadsheet would evaluate as a formula
    gets a leading apostrophe; and whether any cell did (when none did, ``row`` itself)."""
    # The first characters are looked at in C (map, itemgetter, isdisjoint): most rows need no guard.
    if FORMULA_STARTS.isdisjoint(map(_first_character, row)):
        return row, False
    return [FORMULA_GUARD + value if value[:1] in FORMULA_STARTS else value for value in row], True


def _details(*pairs: tuple[str, str]) -> str:
    return "; ".join(f"{key}={value}" for key, value in pairs)


def _content(event: Event, version: int | None) -> _Content:
    """MESSAGE_ID, VERSION, DELETED, TEXT, TEXT_FORMAT, FILE_NAME, FILE_SIZE, FILE_SHA256,
    FILE_CONTENT_TYPE, FILE_URL, DETAILS for one event (``version``: an edit's)."""
    match event:
        case PostEvent(message=message):
            return (message.id, "1", "", message.text, message.format, "", "", "", "", "", "")
        case EditEvent(message=message):
            return (message.id, str(version or ""), "", message.text, message.format, "", "", "", "", "", "")
        case DeleteEvent(message=message):
            return (message.id, "", "Y", "", "", "", "", "", "", "", "")
        case ReadEvent(read=read):
            details = "" if read.message_id else "viewed the room's history"
            return (read.message_id or "", "", "", "", "", "", "", "", "", "", details)
        case FileUploadEvent(file=info) | FileDownloadEvent(file=info):
            size = str(info.size)
            return ("", "", "", "", "", info.name, size, info.sha256, info.content_type, info.url or "", "")
        case DisclaimerEvent(disclaimer=shown):
            details = _details(("rule_id", shown.rule_id), ("version", str(shown.version)), ("locale", shown.locale))
            return ("", "", "", shown.text, "text/plain", "", "", "", "", "", details)
        case PolicyDecisionEvent(decision=decision):
            details = _details(
                ("action", decision.action),
                ("outcome", decision.outcome),
                ("mode", decision.mode),
                ("wall_ids", ",".join(decision.wall_ids)),
                ("targets", ",".join(decision.targets)),
            )
            return ("", "", "", "", "", "", "", "", "", "", details)
        case RoomUpdateEvent(room_update=update):
            details = _details(("name", update.name or ""), ("created", "true" if update.created else "false"))
            return ("", "", "", update.description or "", "text/plain", "", "", "", "", "", details)
        case _:
            return _EMPTY_CONTENT


def _recipients(event: Event) -> tuple[str, str]:
    """``RECIPIENT_IDS`` and ``RECIPIENT_NAMES``: whom a post or upload was sent to, as sent."""
    recipients = event.recipients if isinstance(event, PostEvent | FileUploadEvent) else None
    if not recipients:
        return "", ""
    if recipient_semicolons(event):  # a ';' inside an id or name: U+FF1B, so '; ' splits them
        return (
            "; ".join(r.id.replace(";", SEMICOLON_SUBSTITUTE) for r in recipients),
            "; ".join((r.name or r.id).replace(";", SEMICOLON_SUBSTITUTE) for r in recipients),
        )
    return "; ".join(r.id for r in recipients), "; ".join(r.name or r.id for r in recipients)


def recipient_semicolons(event: Event) -> tuple[str, ...]:
    """The recipient columns of ``event``'s row in which a ``;`` of an id or name was written
    U+FF1B (``; `` separates the recipients)."""
    recipients = event.recipients if isinstance(event, PostEvent | FileUploadEvent) else None
    if not recipients:
        return ()
    ids = any(";" in r.id for r in recipients)
    names = any(";" in (r.name or r.id) for r in recipients)
    return ("RECIPIENT_IDS",) * ids + ("RECIPIENT_NAMES",) * names


def event_row(
    row_id: str,
    document: str,
    event: Event,
    version: int | None,
    event_json: str,
    zone: ZoneInfo = _UTC,
) -> list[str]:
    """The row of one event, in :data:`COLUMNS` order up to ``EVENT_SHA256`` (``document``: the
    control number of its document; ``version``: an edit's; ``event_json``: its archived JSON;
    ``zone``: the export's, for ``OCCURRED_LOCAL`` and ``TIME_ZONE``); the format adds the rest."""
    room = event.room
    actor = event.actor
    utc = iso_utc(event.occurred_at)
    offset = event.occurred_offset
    person = (actor.id, actor.name or "", actor.email or "", "Y" if actor.internal else "N")
    reader = isinstance(event, ReadEvent)
    return [
        row_id,
        document,
        str(event.event_id),
        event.type,
        utc,
        utc if zone is _UTC else iso_local(event.occurred_at, zone),
        zone.key,
        f"UTC{offset}" if offset else "UTC+00:00",  # "UTC" first: a cell starting with + or - is a formula
        room.id,
        room.name or "",
        room.kind,
        *(_NO_READER if reader else person),
        *_recipients(event),
        *(person if reader else _NO_READER),
        *_content(event, version),
        event_sha256(event_json),
    ]


_TEXT = COLUMNS.index("TEXT")
_ROWS_PER_WRITE = 512


class RowBuffer:
    """CSV rows and DAT lines gathered in memory and written ``batch`` rows at a time."""

    def __init__(self, csv_out: Utf8Writer, dat_out: Utf8Writer, batch: int = _ROWS_PER_WRITE) -> None:
        self.csv_out = csv_out
        self.dat_out = dat_out
        self.batch = batch
        self.text = io.StringIO()
        self.rows = csv.writer(self.text, lineterminator=LINE_END)
        self.lines: list[str] = []
        self.pending = 0

    def add(self, row: Sequence[str], dat: str) -> None:
        self.rows.writerow(row)
        self.lines.append(dat)
        self.pending += 1
        if self.pending >= self.batch:
            self.flush()

    def add_row(self, row: Sequence[str]) -> None:
        """A CSV row only."""
        self.rows.writerow(row)
        self.pending += 1
        if self.pending >= self.batch:
            self.flush()

    def add_line(self, dat: str) -> None:
        """A DAT line only."""
        self.lines.append(dat)
        self.pending += 1
        if self.pending >= self.batch:
            self.flush()

    def flush(self) -> None:
        self.csv_out.write(self.text.getvalue())
        self.text.seek(0)
        self.text.truncate()
        self.dat_out.write("".join(self.lines))
        self.lines.clear()
        self.pending = 0


class _HeldRow:
    """A DAT row waiting for its room to end (see the module doc)."""

    __slots__ = ("messages", "row", "sample")

    def __init__(self, row: list[str], messages: frozenset[str], sample: str) -> None:
        self.row = row
        self.messages = messages
        self.sample = sample


class CsvDatFormat:
    """``messages.csv`` (one row per event) and the production's load file ``messages.dat`` (one
    row per document), with the DAT's field list."""

    name = "csv"
    not_carried: ClassVar[dict[str, str]] = {
        "source.server": "the load files have no column for the chat server an event came from",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        return _Writer(self.name, files, context).write(events)


class _Writer:
    def __init__(self, name: str, files: ExportFiles, context: ExportContext) -> None:
        self.files = files
        self.context = context
        self.zone = context.time_zone
        self.report = FormatReport(format=name)
        self.no_url = WarningTally("{count} file events have no URL: the archive holds only the file's metadata")
        exact = f"{CSV_FILE} and the archived events (EVENT_IDS; events.jsonl holds them)"
        self.substituted = LossTally(
            name,
            "a literal þ, U+0014 or ® is a delimiter of a Concordance load file, which has no escape character: "
            "written as 'th', U+FFFD and '(R)'",
            exact,
            unit="documents",
        )
        self.carriage_returns = LossTally(
            name,
            "the DAT writes every line break as ®, so a CR or CRLF line break reads back as LF",
            exact,
            unit="documents",
        )
        self.semicolons = LossTally(
            name,
            "a ';' inside a person's name or id would split the '; '-separated people fields: written as U+FF1B "
            "(fullwidth semicolon)",
            f"{CSV_FILE} (SENDER_ID and SENDER_NAME, READER_ID and READER_NAME) and the archived events "
            "(EVENT_IDS; events.jsonl holds them)",
            unit="documents",
        )
        self.recipient_semicolons = LossTally(
            name,
            "a ';' inside a recipient's id or name would split the '; '-separated recipients: written as U+FF1B "
            "(fullwidth semicolon)",
            "the archived event (EVENT_SHA256; events.jsonl holds it)",
        )
        text_exact = f"the file TEXTPATH names ({TEXT_DIR}/<ROW_ID>.txt, exact UTF-8)"
        self.formulas = LossTally(
            name,
            "a cell starting with =, +, -, @, tab or CR would run as a formula in a spreadsheet: prefixed with an "
            "apostrophe ('), as OWASP advises against CSV injection",
            f"{DAT_FILE} for the document's fields, and the archived event (EVENT_SHA256; events.jsonl holds it)",
            exact_by_field={f"{CSV_FILE}: TEXT": text_exact},
        )
        self.natives = NativeLosses(name)
        self.prefix = control_prefix(context.export_id)
        self.rows = 0
        self.held: list[_HeldRow] = []
        self.held_room: str | None = None
        self.deleted: set[str] = set()
        """The messages deleted in the held room."""
        self.hold = context.unit == "conversation"

    def write(self, events: Iterable[Event]) -> FormatReport:
        files, report = self.files, self.report
        # Spooled: the text files and natives go into the export while these are written
        # (deflated as they are written, on the other core, when the export is a zip).
        with (
            spool(files, CSV_FILE, "text/csv; charset=utf-8") as csv_spool,
            spool(files, DAT_FILE, "application/octet-stream") as dat_spool,
            spool(files, TEXT_SUMS_FILE, TEXT_MEDIA_TYPE) as sums_spool,
            spool(files, DOCUMENT_SUMS_FILE, TEXT_MEDIA_TYPE) as document_sums_spool,
        ):
            self.dat = Utf8Writer(dat_spool, bom=True)
            self.sums = Utf8Writer(sums_spool)
            self.document_sums = Utf8Writer(document_sums_spool)
            csv_text = Utf8Writer(csv_spool, bom=True)
            # CSV rows go to an in-memory text buffer (csv's C writer writes to it without a
            # Python call per row) and are moved to the spools every _ROWS_PER_WRITE rows.
            self.pending = RowBuffer(csv_text, self.dat)
            self.pending.add(COLUMNS, dat_line(DAT_COLUMNS)[0])
            for parent in self.context.documents(self._counted(events), report):
                if parent.room.id != self.held_room:
                    self._release()
                    self.held_room = parent.room.id
                self._document(parent)
                if not self.hold:
                    self._release()
            self._release()
            self.pending.flush()
            for writer in (csv_text, self.dat, self.sums, self.document_sums):
                writer.flush()
            for spooled in (csv_spool, dat_spool, sums_spool, document_sums_spool):
                report.files.append(spooled.commit())
        with tracked_file(files, FIELDS_FILE, "text/csv; charset=utf-8", report) as out:
            out.write(field_list())
        report.items = report.documents.documents
        self.natives.report_to(report)
        report.times = (
            f"messages.dat: DATE_SENT, DATE_BEGIN and DATE_END in {self.zone.key} with the offset (TIME_ZONE names "
            f"the zone); messages.csv: OCCURRED_AT in UTC, OCCURRED_LOCAL in {self.zone.key} (named in TIME_ZONE), "
            "SENT_OFFSET: the sender's UTC offset as sent"
        )
        self.no_url.report_to(report)
        self.substituted.report_to(report)
        self.carriage_returns.report_to(report)
        self.semicolons.report_to(report)
        self.recipient_semicolons.report_to(report)
        self.formulas.report_to(report)
        return report

    def _counted(self, events: Iterable[Event]) -> Iterable[Event]:
        report = self.report
        for event in events:
            report.events += 1
            yield event

    def _document(self, parent: Document) -> None:
        """The DAT rows of ``parent`` and its attachments (held or written), its text file, and
        the CSV rows of its events."""
        context, zone = self.context, self.zone
        data = document_text(parent, zone, context.case_name).encode()
        textpath = f"{DOCUMENT_TEXT_DIR}/{parent.control}.txt"
        self.files.write_unlisted(textpath, data)
        sha256 = hashlib.sha256(data).hexdigest()
        self.document_sums.write(f"{sha256}  {textpath}\n")
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        messages: set[str] = set()
        if self.hold:  # a conversation slice: a message it holds may be deleted in a later one
            for event in parent.events:
                if isinstance(event, PostEvent | EditEvent):
                    messages.add(event.message.id)
                elif isinstance(event, DeleteEvent):
                    self.deleted.add(event.message.id)
        placed: dict[str, tuple[Document, Placed, Placed]] = {}
        attachments: list[_HeldRow] = []
        for child in parent.children:
            upload = child.upload
            assert upload is not None
            native = context.attachments.native(self.files, upload)
            text = context.attachments.text(self.files, upload)
            self.natives.add(f"{NATIVES_DIR}/: NATIVEPATH", native, upload)
            self.natives.add_text("TEXT/: TEXTPATH", text, upload)
            placed[str(upload.event_id)] = (child, native, text)
            attachments.append(_HeldRow(attachment_row(child, zone, native, text), frozenset(), str(upload.event_id)))
            for column in semicolons_substituted(child):
                self.semicolons.add(f"{DAT_FILE}: {column}", str(upload.event_id))
        event_ids = self._event_rows(parent, placed)
        for column in semicolons_substituted(parent):
            self.semicolons.add(f"{DAT_FILE}: {column}", event_ids[0])
        row = parent_row(parent, zone, textpath, md5, sha256, "; ".join(event_ids))
        self.held.append(_HeldRow(row, frozenset(messages), event_ids[0]))
        self.held.extend(attachments)

    def _event_rows(self, parent: Document, placed: dict[str, tuple[Document, Placed, Placed]]) -> list[str]:
        """Write the CSV rows of ``parent``'s events; their ids (as strings), in order."""
        event_ids: list[str] = []
        archived_json = self.context.archived_json
        zone = self.zone
        control = parent.control
        family = (parent.family_begin, parent.family_end)
        versions = parent.versions
        for event in parent.events:
            self.rows += 1
            row_id = f"{self.prefix}-{self.rows:06d}"
            version = versions.get(str(event.event_id)) if isinstance(event, EditEvent) else None
            row = event_row(row_id, control, event, version, archived_json(event), zone)
            for column in recipient_semicolons(event):
                self.recipient_semicolons.add(f"{CSV_FILE}: {column}", row[2])
            event_ids.append(row[2])  # str(event.event_id), made once by event_row
            text = row[_TEXT]
            if text:
                textpath = f"{TEXT_DIR}/{row_id}.txt"
                data = text.encode()
                self.files.write_unlisted(textpath, data)
                self.sums.write(f"{hashlib.sha256(data).hexdigest()}  {textpath}\n")
                row.append(textpath)
            else:
                row.append("")
            if isinstance(event, FileUploadEvent):
                child, native, extracted = placed[row[2]]  # row[2]: str(event.event_id)
                row.extend((native.path or "", native.state, extracted.state, child.control, *family))
            else:
                row.extend(("", "", "", "", *family))
            if isinstance(event, FileUploadEvent | FileDownloadEvent) and not event.file.url:
                self.no_url.add(row[2])
            cells, guarded = spreadsheet_row(row)
            self.pending.add_row(cells)
            if guarded:
                for index, value in enumerate(row):
                    if value[:1] in FORMULA_STARTS:
                        self.formulas.add(f"{CSV_FILE}: {COLUMNS[index]}", row[2])
        return event_ids

    def _release(self) -> None:
        """Write the held DAT rows: a row holding a version of a message deleted in its room is
        ``DELETED`` = ``Y``, whichever document holds the deletion."""
        deleted = self.deleted
        for held in self.held:
            row = held.row
            if row[DELETED_COLUMN] == "N" and deleted and not deleted.isdisjoint(held.messages):
                row[DELETED_COLUMN] = "Y"
            line, literal, breaks = dat_record(row)
            self.pending.add_line(line)
            for index in literal:
                self.substituted.add(f"{DAT_FILE}: {DAT_COLUMNS[index]}", held.sample)
            for index in breaks:
                self.carriage_returns.add(f"{DAT_FILE}: {DAT_COLUMNS[index]}", held.sample)
        self.held.clear()
        self.deleted.clear()  # the room ended (the message unit: a message's deletion is in its own document)


__all__ = [
    "BOM",
    "COLUMNS",
    "CSV_FILE",
    "DAT_COLUMNS",
    "DAT_FILE",
    "DOCUMENT_SUMS_FILE",
    "FIELDS_FILE",
    "FORMULA_GUARD",
    "FORMULA_STARTS",
    "NEWLINE_MARK",
    "QUALIFIER",
    "SEPARATOR",
    "TEXT_DIR",
    "TEXT_SUMS_FILE",
    "CsvDatFormat",
    "RowBuffer",
    "dat_field",
    "dat_line",
    "dat_record",
    "event_row",
    "read_dat",
    "spreadsheet_row",
]
