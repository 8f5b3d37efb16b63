"""CSV and Concordance DAT load files: one row per event, the same columns in both.

``messages.csv``: RFC 4180 (comma, double quotes where needed, CRLF line ends), UTF-8 with a
byte-order mark, a header row; the text is kept exactly (a newline inside a field stays inside
the quoted field), with one exception, because this file is meant to be opened in a spreadsheet:
a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, which Excel and
LibreOffice would evaluate as a formula (CSV injection), is written with a leading apostrophe
(``'=1+1``), as OWASP recommends. The report's losses (and so the export's manifest) say how
many rows were guarded, per column; the ``TEXTPATH`` files, ``messages.dat``, ``events.jsonl``
and the archive keep the exact text, and ``EVENT_SHA256`` names the event's exact JSON.

``messages.dat``: a Concordance DAT load file: UTF-8 with a byte-order mark, a header row, every
field between text qualifiers ``þ`` (U+00FE), fields separated by U+0014, CRLF line ends, and a
line break inside a field written as ``®`` (U+00AE; ``\\r\\n``, ``\\r`` and ``\\n`` each become one
``®``, so a reader gets ``\\n`` back). Concordance has no escape character, so the three
characters that carry structure cannot appear literally in a field: a literal ``þ`` is written
``th`` (its usual transliteration), U+0014 is written U+FFFD, and a literal ``®`` is written
``(R)``; and a CR or CRLF line break reads back as LF.

So that nothing is lost, every row with text (a post, an edit, a disclaimer, a room description)
has a ``TEXTPATH``: the path, relative to the load file's folder, of
``messages_text/<BEGDOC>.txt``, which holds the row's ``TEXT`` exactly (UTF-8 without a
byte-order mark, line breaks and every other character as archived); it is what a review
platform loads as the document's extracted text. A row without text has an empty ``TEXTPATH``.
The text files are listed with their SHA-256 in ``messages_text.sha256`` (``<hex>  <path>`` lines,
which ``sha256sum -c`` checks), and that file in the manifest: 100,000 entries in the manifest,
each written to the zip through a streaming entry, tripled the export's time and memory. The DAT
never alters a field silently: the report's losses (and so the export's manifest) name every
column the DAT had to alter, how many rows, and where the exact value is (``TEXTPATH`` for the
text; ``messages.csv`` and the archived event, ``EVENT_SHA256``, for every field).

Times: ``OCCURRED_AT`` is UTC (the archive's sort key), ``OCCURRED_LOCAL`` the same instant in
the export's time zone with its offset (``2026-03-08T23:30:00.000000-05:00``), ``TIME_ZONE`` that
zone's IANA name, and ``SENT_OFFSET`` the UTC offset the sender's clock had (``UTC+09:00``;
``UTC+00:00`` when sent in UTC, or archived before offsets were kept; written after ``UTC`` so
that no spreadsheet takes it for a formula).

Recipients: ``RECIPIENT_IDS`` and ``RECIPIENT_NAMES`` (after the sender's columns) list whom a
post or file upload was sent to, as the event recorded them (``; ``-separated, in the same order;
a recipient without a name is named by their id); empty when the event names none. In a direct
conversation they are participants from the first message that names them
(:func:`ingest.events.present_by`); the archived event (``events.jsonl``) has them exactly.

Which events get a row: every one. A reviewer wants the whole conversation (who joined, who read
what, which disclaimer was shown), so joins, leaves, reads, files, disclaimers, policy decisions
and room updates get rows next to the messages, told apart by ``TYPE``. An edit is its own row
with the edited ``MESSAGE_ID`` and ``VERSION`` n (the post is version 1; n counts the edits seen
in this export, so an edit whose earlier versions fall outside it still gets n >= 2). A deletion
is its own row with ``DELETED`` = ``Y``; the earlier rows of that message stay as they were
written (streaming cannot go back to mark them). A file event's row carries the file's name,
size, SHA-256, content type and the URL it was shared at; a file event without a URL is reported.

Uploaded files are families (``PARENT_BATES``, ``BEGATTACH``, ``ENDATTACH``, the Concordance
convention). The rule: **the parent of a chat attachment is the message that shared it**, which
in the archive is the ``file_upload`` event itself (a chat upload is a message whose content is
the file). So an upload gives two rows: its own (``TYPE`` ``file_upload``, the parent document),
then the attachment's (``TYPE`` ``attachment``, the next control number, the same ``EVENT_ID``
and file columns, ``PARENT_BATES`` the parent's ``BEGDOC``); both have ``BEGATTACH`` = the
parent's ``BEGDOC`` and ``ENDATTACH`` = the attachment's. The attachment's ``NATIVEPATH`` names
its native in ``NATIVES/`` and its ``TEXTPATH`` its extracted text in ``TEXT/`` (both
:mod:`exports.natives`, listed with their SHA-256 in the manifest); ``NATIVE_STATE`` says
``included`` or why not (``pending``, ``missing``, ``altered``, ``not_exported``: then
``NATIVEPATH`` is empty and the report's losses count it), ``EXTRACTION_STATE`` the text's
(``extracted``, ``empty``, ``unsupported``, ``failed``, or ``pending`` before extraction). Other
rows leave these six columns empty. An export made without a file store (``store=None``: tests,
benchmarks) has no attachment rows, and the report's losses count every upload's native.
``BEGDOC`` is a control number,
``<export prefix>-000001`` upward; ``EVENT_SHA256`` is the SHA-256 of the event's archived JSON
(the line of ``events.jsonl``).

Memory: one row at a time (plus, per room, the ids of messages edited so far, for ``VERSION``).
The CSV, the DAT and the checksum list are spooled (``exports.base.spool``: deflated on the
other core as they are written) while the text files go into the export, each in one write (an
export zip takes one file at a time), then appended.
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
from exports.jsonl import (
    EditVersions,
    Utf8Writer,
    WarningTally,
    control_prefix,
    event_sha256,
    iso_utc,
)
from exports.natives import NATIVES_DIR, NativeLosses
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
DAT_FILE = "messages.dat"
TEXT_DIR = "messages_text"
"""Where each row's exact text is (``TEXTPATH``), next to the load files."""
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
TEXT_SUMS_FILE = "messages_text.sha256"
"""The SHA-256 of every ``TEXTPATH`` file, one ``<hex>  <path>`` line each (``sha256sum -c``
checks them); the manifest lists this file, not the text files one by one."""

COLUMNS: tuple[str, ...] = (
    "BEGDOC",
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
    "PARENT_BATES",
    "BEGATTACH",
    "ENDATTACH",
)

BOM = "\ufeff"
QUALIFIER = "\u00fe"
SEPARATOR = "\u0014"
NEWLINE_MARK = "\u00ae"
LINE_END = "\r\n"
_FIELD_JOIN = QUALIFIER + SEPARATOR + QUALIFIER
_STRUCTURAL = (QUALIFIER, SEPARATOR, NEWLINE_MARK)
_LITERAL_SUBSTITUTES = str.maketrans({QUALIFIER: "th", SEPARATOR: "\ufffd", NEWLINE_MARK: "(R)"})
_NEWLINES_TO_MARK = str.maketrans({"\n": NEWLINE_MARK, "\r": NEWLINE_MARK})
FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})
"""First characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list)."""
FORMULA_GUARD = "'"

# One event's columns after BEGDOC .. SENDER_INTERNAL: MESSAGE_ID .. DETAILS.
_Content = tuple[str, str, str, str, str, str, str, str, str, str, str]
_EMPTY_CONTENT: _Content = ("", "", "", "", "", "", "", "", "", "", "")


def dat_field(value: str) -> tuple[str, bool]:
    """``value`` as a DAT field (without qualifiers), and whether a literal þ, U+0014 or ® in it
    had to be substituted."""
    substituted = any(ch in value for ch in _STRUCTURAL)
    if substituted:
        value = value.translate(_LITERAL_SUBSTITUTES)
    if "\r" in value or "\n" in value:
        value = value.replace("\r\n", "\n").translate(_NEWLINES_TO_MARK)
    return value, substituted


_NOTHING: tuple[int, ...] = ()


def dat_record(fields: Sequence[str]) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """One DAT line (CRLF included); the indexes of the fields in which a literal þ, U+0014 or ®
    had to be substituted; and of those whose CR or CRLF line break reads back as LF."""
    joined = _FIELD_JOIN.join(fields)
    separators = len(fields) - 1
    plain = (
        joined.count(SEPARATOR) == separators
        and joined.count(QUALIFIER) == 2 * separators
        and NEWLINE_MARK not in joined
        and "\n" not in joined
        and "\r" not in joined
    )
    if plain:
        return QUALIFIER + joined + QUALIFIER + LINE_END, _NOTHING, _NOTHING
    cleaned = [dat_field(value) for value in fields]
    line = QUALIFIER + _FIELD_JOIN.join(value for value, _ in cleaned) + QUALIFIER + LINE_END
    substituted = tuple(index for index, (_, literal) in enumerate(cleaned) if literal)
    carriage_returns = tuple(index for index, value in enumerate(fields) if "\r" in value)
    return line, substituted, carriage_returns


def dat_line(fields: Sequence[str]) -> tuple[str, bool]:
    """One DAT line (CRLF included), and whether any field needed a literal substitution."""
    line, substituted, _ = dat_record(fields)
    return line, bool(substituted)


def read_dat(text: str) -> list[list[str]]:
    """Rows of a DAT load file as this module writes it (BOM optional; ``®`` read as ``\\n``)."""
    rows = []
    for line in text.removeprefix(BOM).split(LINE_END):
        if not line:
            continue
        if not (line.startswith(QUALIFIER) and line.endswith(QUALIFIER)):
            raise ValueError(f"a DAT line must begin and end with the qualifier: {line[:80]!r}")
        rows.append([value.replace(NEWLINE_MARK, "\n") for value in line[1:-1].split(_FIELD_JOIN)])
    return rows


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


def _content(event: Event, versions: EditVersions) -> _Content:
    """MESSAGE_ID, VERSION, DELETED, TEXT, TEXT_FORMAT, FILE_NAME, FILE_SIZE, FILE_SHA256,
    FILE_CONTENT_TYPE, FILE_URL, DETAILS for one event."""
    match event:
        case PostEvent(message=message):
            return (message.id, "1", "N", message.text, message.format, "", "", "", "", "", "")
        case EditEvent(message=message):
            version = str(versions.of_edit(event.room.id, message.id))
            return (message.id, version, "N", message.text, message.format, "", "", "", "", "", "")
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
    return "; ".join(r.id for r in recipients), "; ".join(r.name or r.id for r in recipients)


def event_row(
    control_number: str, event: Event, versions: EditVersions, event_json: str, zone: ZoneInfo = _UTC
) -> list[str]:
    """The row of one event, in :data:`COLUMNS` order up to ``EVENT_SHA256`` (``event_json``: its
    archived JSON; ``zone``: the export's, for ``OCCURRED_LOCAL`` and ``TIME_ZONE``); the format
    adds ``TEXTPATH``."""
    room = event.room
    actor = event.actor
    utc = iso_utc(event.occurred_at)
    offset = event.occurred_offset
    return [
        control_number,
        str(event.event_id),
        event.type,
        utc,
        utc if zone is _UTC else iso_local(event.occurred_at, zone),
        zone.key,
        f"UTC{offset}" if offset else "UTC+00:00",  # "UTC" first: a cell starting with + or - is a formula
        room.id,
        room.name or "",
        room.kind,
        actor.id,
        actor.name or "",
        actor.email or "",
        "Y" if actor.internal else "N",
        *_recipients(event),
        *_content(event, versions),
        event_sha256(event_json),
    ]


_NO_FAMILY = ("", "", "", "", "", "")
"""``NATIVEPATH`` .. ``ENDATTACH`` of a row that is not part of a family."""
_TYPE = COLUMNS.index("TYPE")
_MESSAGE_ID = COLUMNS.index("MESSAGE_ID")
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

    def add(self, row: Sequence[str], dat: str) -> None:
        self.rows.writerow(row)
        self.lines.append(dat)
        if len(self.lines) >= self.batch:
            self.flush()

    def flush(self) -> None:
        self.csv_out.write(self.text.getvalue())
        self.text.seek(0)
        self.text.truncate()
        self.dat_out.write("".join(self.lines))
        self.lines.clear()


class CsvDatFormat:
    """``messages.csv`` and the Concordance load file ``messages.dat``, one row per event."""

    name = "csv"
    not_carried: ClassVar[dict[str, str]] = {
        "source.server": "the load files have no column for the chat server an event came from",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        no_url = WarningTally("{count} file events have no URL: the archive holds only the file's metadata")
        exact = f"{CSV_FILE} and the archived event (its SHA-256 is EVENT_SHA256; events.jsonl holds it)"
        text_exact = f"the file TEXTPATH names ({TEXT_DIR}/<BEGDOC>.txt, exact UTF-8)"
        substituted = LossTally(
            self.name,
            "a literal þ, U+0014 or ® is a delimiter of a Concordance load file, which has no escape character: "
            "written as 'th', U+FFFD and '(R)'",
            exact,
            exact_by_field={f"{DAT_FILE}: TEXT": text_exact},
        )
        carriage_returns = LossTally(
            self.name,
            "the DAT writes every line break as ®, so a CR or CRLF line break reads back as LF",
            exact,
            exact_by_field={f"{DAT_FILE}: TEXT": text_exact},
        )
        formulas = LossTally(
            self.name,
            "a cell starting with =, +, -, @, tab or CR would run as a formula in a spreadsheet: prefixed with an "
            "apostrophe ('), as OWASP advises against CSV injection",
            f"{DAT_FILE} (bar its own alterations) and the archived event (EVENT_SHA256; events.jsonl holds it)",
            exact_by_field={f"{CSV_FILE}: TEXT": text_exact},
        )
        text_column = COLUMNS.index("TEXT")
        # Spooled: the text files go into the export while these are written (deflated as they
        # are written, on the other core, when the export is a zip).
        with (
            spool(files, CSV_FILE, "text/csv; charset=utf-8") as csv_spool,
            spool(files, DAT_FILE, "application/octet-stream") as dat_spool,
            spool(files, TEXT_SUMS_FILE, TEXT_MEDIA_TYPE) as sums_spool,
        ):
            dat = Utf8Writer(dat_spool, bom=True)
            sums = Utf8Writer(sums_spool)
            csv_text = Utf8Writer(csv_spool, bom=True)
            # Rows go to an in-memory text buffer (csv's C writer writes to it without a Python
            # call per row) and are moved to the spools every _ROWS_PER_WRITE rows.
            pending = RowBuffer(csv_text, dat)
            pending.add(COLUMNS, dat_line(COLUMNS)[0])
            prefix = control_prefix(context.export_id)
            versions = EditVersions()
            archived_json = context.archived_json
            zone = context.time_zone
            rows = 0
            natives = NativeLosses(self.name)

            def add_row(row: list[str]) -> None:
                line, literal, breaks = dat_record(row)
                cells, guarded = spreadsheet_row(row)
                pending.add(cells, line)
                event_id = row[1]  # str(event.event_id), made once by event_row
                if literal:
                    for index in literal:
                        substituted.add(f"{DAT_FILE}: {COLUMNS[index]}", event_id)
                if breaks:
                    for index in breaks:
                        carriage_returns.add(f"{DAT_FILE}: {COLUMNS[index]}", event_id)
                if guarded:
                    for index, value in enumerate(row):
                        if value[:1] in FORMULA_STARTS:
                            formulas.add(f"{CSV_FILE}: {COLUMNS[index]}", event_id)

            for event in events:
                report.events += 1
                rows += 1
                control_number = f"{prefix}-{rows:06d}"
                row = event_row(control_number, event, versions, archived_json(event), zone)
                text = row[text_column]
                if text:
                    textpath = f"{TEXT_DIR}/{control_number}.txt"
                    data = text.encode()
                    files.write_unlisted(textpath, data)
                    sums.write(f"{hashlib.sha256(data).hexdigest()}  {textpath}\n")
                    row.append(textpath)
                else:
                    row.append("")
                if isinstance(event, FileUploadEvent) and not context.attachments.enabled:
                    natives.add(f"{NATIVES_DIR}/: NATIVEPATH", context.attachments.native(files, event), event)
                    row.extend(_NO_FAMILY)
                    add_row(row)
                elif isinstance(event, FileUploadEvent):
                    rows += 1
                    child_number = f"{prefix}-{rows:06d}"
                    row.extend(("", "", "", "", control_number, child_number))
                    add_row(row)
                    add_row(self._attachment_row(row, child_number, event, files, context, natives))
                else:
                    row.extend(_NO_FAMILY)
                    add_row(row)
                if isinstance(event, FileUploadEvent | FileDownloadEvent) and not event.file.url:
                    no_url.add(row[1])
            pending.flush()
            csv_text.flush()
            dat.flush()
            sums.flush()
            for spooled in (csv_spool, dat_spool, sums_spool):
                report.files.append(spooled.commit())
        report.items = rows
        natives.report_to(report)
        report.times = (
            f"OCCURRED_AT in UTC; OCCURRED_LOCAL in {zone.key} (named in TIME_ZONE); "
            "SENT_OFFSET: the sender's UTC offset as sent"
        )
        no_url.report_to(report)
        substituted.report_to(report)
        carriage_returns.report_to(report)
        formulas.report_to(report)
        return report

    @staticmethod
    def _attachment_row(
        parent: list[str],
        control_number: str,
        event: FileUploadEvent,
        files: ExportFiles,
        context: ExportContext,
        losses: NativeLosses,
    ) -> list[str]:
        """The row of an uploaded file, the child of its upload's row (see the module doc): the
        upload's columns, ``TYPE`` ``attachment``, its native and extracted text."""
        native = context.attachments.native(files, event)
        text = context.attachments.text(files, event)
        losses.add(f"{NATIVES_DIR}/: NATIVEPATH", native, event)
        losses.add_text("TEXT/: TEXTPATH", text, event)
        row = parent[: COLUMNS.index("TEXTPATH")]
        row[0] = control_number
        row[_TYPE] = "attachment"
        row[_MESSAGE_ID] = ""
        return [
            *row,
            text.path or "",
            native.path or "",
            native.state,
            text.state,
            parent[0],
            parent[0],
            control_number,
        ]
