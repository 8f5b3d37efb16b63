"""The PDF of a production: one PDF per document, an OPT cross-reference, and the report.

Every document of the production (:meth:`exports.base.ExportContext.documents`: the same
documents and control numbers as every other format) becomes its own PDF/A-2b file,
``PDF/<control number>.pdf``, each page stamped with its Bates label
(:func:`exports.documents.page_label`: ``ACME-0000001``, ``ACME-0000001.0002``); an attachment
is a one-page slip sheet naming its file, hash and native and text paths. ``production.opt``
(:mod:`exports.pdf_opt`) lists each document's PDF with its page count. ``report.pdf`` is the
cover (case, custodians, query, date range, time zone, unit, Bates range), the custody pages
(every document's PDF and text SHA-256, who, when, what) and the index of documents.

Memory is flat: a document is laid out (:class:`Layout`: each event turned into the lines it
will be drawn as, text wrapped with the fonts' metrics, paginated) and drawn into its own PDF as
soon as it is complete, so what is held is one document; what the report needs of each document
goes to a spool on disk. The texts of the current room's messages are kept in a temporary SQLite
database, for the text of deleted messages and of messages read.

People are named as they were called then, with their id (``Ann (user:ann)``,
:func:`exports.presence.person`); a direct message's recipient is said present at the first
message that names them (``→ Dora (user:dora) present: a recipient of this message``), as a join
is. Every time carries the zone's abbreviation or offset (``09:15:02 UTC``, ``23:30:00 EST``)
and every page names the zone; a time whose sender's clock had another UTC offset is followed,
on the line below it, by that offset in brackets (``(+09:00)``: "as sent").

Page size is A4 (the international default; the constructor takes Letter for US reviewers).
PDF/A-2b: :mod:`exports.pdf_archival` (untagged: reportlab writes no structure tree).
"""

from __future__ import annotations

import hashlib
import io
import marshal
import math
import re
import shutil
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO, Any, ClassVar
from zoneinfo import ZoneInfo

import arabic_reshaper  # type: ignore[import-untyped]
from bidi import get_display  # type: ignore[import-untyped]
from reportlab.lib.colors import Color, HexColor  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from exports.base import (
    ChecksumListed,
    ExportContext,
    ExportFiles,
    FormatReport,
    HashingWriter,
    Loss,
    WrittenFile,
)
from exports.documents import Document, page_label
from exports.fonts import Font, ReportFonts, load_fonts
from exports.natives import NATIVES_DIR, TEXT_DIR, ExportAttachments, native_extension
from exports.pdf_archival import archival, document_id, srgb_profile
from exports.pdf_opt import OPT_MEDIA_TYPE, OPT_PATH, opt_line
from exports.presence import Presence, person
from exports.redaction import MARKER, MARKER_START
from exports.transcript import document_text
from formats.time_zones import as_sent, clock, local
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
    RoomUpdateEvent,
    present_by,
)

REPORT_PATH = "report.pdf"
PDF_SUMS_FILE = "PDF.sha256"
"""Each document's PDF with its SHA-256 (``sha256sum -c`` checks them); the manifest lists this file."""
MEDIA_TYPE = "application/pdf"

BODY_SIZE = 8.5
LEADING = 11.0
TITLE_SIZE = 18.0
HEADER_SIZE = 10.0
FOOTER_SIZE = 7.5

_UTC = ZoneInfo("UTC")
BLACK = HexColor("#000000")
WHITE = HexColor("#FFFFFF")
GREY = HexColor("#666666")
RULE = HexColor("#bbbbbb")
DISCLAIMER_FILL = HexColor("#fff4cc")
POLICY = HexColor("#9a1c1c")
FILE = HexColor("#1f4e8c")
DELETED = HexColor("#8a5a00")

# Line styles: how a spooled line is drawn.
MESSAGE, CONTINUED, META, STRUCK, DISCLAIMER, POLICY_LINE, FILE_LINE, DELETION = (
    "msg",
    "cont",
    "meta",
    "struck",
    "disc",
    "policy",
    "file",
    "del",
)
STYLE_COLORS: dict[str, Color] = {
    MESSAGE: BLACK,
    CONTINUED: BLACK,
    META: GREY,
    STRUCK: GREY,
    DISCLAIMER: BLACK,
    POLICY_LINE: POLICY,
    FILE_LINE: FILE,
    DELETION: DELETED,
}

# Control characters are made visible rather than drawn as boxes or dropped: C0 controls and
# DEL as their control pictures (a CR as "␍"), C1 controls written out ("[U+0085]").
_VISIBLE = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)}
_VISIBLE[9] = "    "
_VISIBLE[0x7F] = "\u2421"
_VISIBLE.update({c: f"[U+{c:04X}]" for c in range(0x80, 0xA0)})
_ONE_LINE = {**_VISIBLE, 10: "\u240a"}
"""Names, ids and room names: as :data:`_VISIBLE`, and a line feed drawn as U+240A too, so a
name is never broken into lines that read as other events (a message's text keeps its LFs)."""
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_ARABIC = re.compile("[\u0600-\u08ff]")


@dataclass(frozen=True)
class Geometry:
    """Where things go on a page (points, origin bottom left)."""

    width: float
    height: float
    margin: float = 16 * mm
    time_width: float = 66.0
    name_width: float = 116.0
    gutter: float = 6.0

    @property
    def time_x(self) -> float:
        return self.margin

    @property
    def name_x(self) -> float:
        return self.time_x + self.time_width

    @property
    def body_x(self) -> float:
        return self.name_x + self.name_width + self.gutter

    @property
    def body_width(self) -> float:
        return self.width - self.margin - self.body_x

    @property
    def wide_width(self) -> float:
        """Lines that span the name and body columns (events without a speaker)."""
        return self.width - self.margin - self.name_x

    @property
    def top(self) -> float:
        """Baseline of the first transcript line (below the header)."""
        return self.height - self.margin - 22.0

    @property
    def bottom(self) -> float:
        return self.margin + 14.0

    @property
    def lines_per_page(self) -> int:
        return int((self.top - self.bottom) // LEADING) + 1


@dataclass
class RoomSummary:
    """The room the layout is in (its messages are in the :class:`MessageStore`)."""

    index: int
    id: str
    name: str | None
    kind: str
    events: int = 0
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class Totals:
    events: int = 0
    messages: int = 0
    edits: int = 0
    deletions: int = 0
    files: int = 0
    disclaimers: int = 0
    policy_decisions: int = 0
    first: datetime | None = None
    last: datetime | None = None
    participants: set[str] = field(default_factory=set)
    missing_glyphs: Counter[str] = field(default_factory=Counter)
    deleted_unknown: int = 0
    missing_fonts: tuple[str, ...] = ()
    controls_shown: int = 0
    """Control characters drawn visibly (control pictures, a tab as spaces, C1 written out)."""
    shaped_texts: int = 0
    """Texts with Arabic letters, drawn (and so in the text layer) in their shaped forms."""

    def losses(self) -> list[Loss]:
        """What the PDF's text layer does not give back exactly (issue 17: none is silent)."""
        exact = "the archived event (events.jsonl), and the DAT's TEXTPATH files when the export has csv"
        found: list[Loss] = []
        if self.controls_shown:
            why = (
                "control characters are drawn visibly, as their control pictures (a CR as \u240d, NUL as "
                "\u2400, DEL as \u2421), a tab as four spaces and a C1 control written out ([U+0085]): "
                "the text layer holds what is drawn"
            )
            found.append(Loss("pdf", "report.pdf: text", self.controls_shown, why, exact, (), "characters"))
        if self.missing_glyphs:
            why = "no installed font has these characters: written out as [U+XXXX NAME] (the cover says which)"
            count = sum(self.missing_glyphs.values())
            found.append(Loss("pdf", "report.pdf: text", count, why, exact, (), "characters"))
        if self.shaped_texts:
            why = (
                "Arabic letters are drawn in their contextual (presentation) forms and right-to-left lines in "
                "visual order, as a PDF must; text extractors give back the presentation forms (NFKC gives the "
                "letters) and their own reading of lines that mix directions"
            )
            found.append(Loss("pdf", "report.pdf: text", self.shaped_texts, why, exact, (), "texts"))
        return found

    def warnings(self) -> list[str]:
        found: list[str] = []
        if self.missing_glyphs:
            count = sum(self.missing_glyphs.values())
            sample = ", ".join(f"U+{ord(ch):04X} {ch}" for ch, _ in self.missing_glyphs.most_common(8))
            found.append(
                f"{count} characters ({len(self.missing_glyphs)} distinct, most common: {sample}) have no glyph in "
                "the installed fonts: they are written out, like [U+1F44D THUMBS UP SIGN], so the PDF's text "
                "layer keeps every character"
                + (
                    f" (not installed: {', '.join(self.missing_fonts)}; scripts/services.sh installs them)"
                    if self.missing_fonts
                    else ""
                )
            )
        if self.deleted_unknown:
            found.append(
                f"{self.deleted_unknown} deletions or edits refer to messages posted outside this export; "
                "their earlier text is not shown"
            )
        return found


Line = tuple[str, str, str, str, str, str]
"""(style, font name, time, speaker, speaker font name, text)."""


class MessageStore:
    """The current room's messages (latest text, version) in a temporary on-disk SQLite
    database, so a room of any size is looked up in flat memory."""

    def __init__(self) -> None:
        self.db = sqlite3.connect("")  # "" is a private temporary on-disk database
        self.db.execute("PRAGMA cache_size = -4000")
        self.db.execute("CREATE TABLE message (id TEXT PRIMARY KEY, text TEXT NOT NULL, version INTEGER)")

    def clear(self) -> None:
        self.db.execute("DELETE FROM message")

    def posted(self, message_id: str, text: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO message VALUES (?, ?, 1)", (message_id, text))

    def edited(self, message_id: str, text: str) -> int | None:
        """Record a new version; its number, or None when the original is not in the export."""
        row = self.db.execute("SELECT version FROM message WHERE id = ?", (message_id,)).fetchone()
        version = None if row is None or row[0] is None else int(row[0]) + 1
        self.db.execute("INSERT OR REPLACE INTO message VALUES (?, ?, ?)", (message_id, text, version))
        return version

    def text(self, message_id: str) -> str | None:
        row = self.db.execute("SELECT text FROM message WHERE id = ?", (message_id,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self.db.close()


_EXCERPT_CHARACTERS = 300
"""How much of an attachment's extracted text the report shows."""


def _hms(moment: datetime) -> str:
    return f"{moment.hour:02}:{moment.minute:02}:{moment.second:02}"


def _stamp(moment: datetime | None, zone: ZoneInfo = _UTC) -> str:
    """``2026-11-22 09:15:02 UTC``, or in ``zone`` with its abbreviation (``... 23:30:00 EST``)."""
    if moment is None:
        return "—"
    return clock(moment, zone)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _has_rtl(text: str) -> bool:
    return not text.isascii() and _RTL.search(text) is not None


def _shaped(text: str) -> str:
    """Arabic letters in the contextual forms they take (initial, medial, final, ligatures),
    still in logical order, so lines are measured and wrapped as they will be drawn."""
    if text.isascii() or _ARABIC.search(text) is None:
        return text
    return str(arabic_reshaper.reshape(text))


def _visual(line: str) -> str:
    """One line in the order it is drawn, left to right (the Unicode bidi algorithm)."""
    return str(get_display(line)) if _has_rtl(line) else line


def wrap(text: str, font: Font, size: float, width: float) -> list[str]:
    """Greedy word wrap to ``width``; words wider than a line are broken between characters. A
    redaction marker is kept on one line (its spaces are no-break ones: :func:`_boxed_runs`)."""
    if MARKER_START in text:
        text = MARKER.sub(lambda found: found.group(0).replace(" ", "\u00a0"), text)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if font.width(paragraph, size) <= width:
            lines.append(paragraph)
            continue
        space = font.width(" ", size)
        line, line_width = "", 0.0
        for word in paragraph.split(" "):
            word_width = font.width(word, size)
            if line and line_width + space + word_width <= width:
                line, line_width = f"{line} {word}", line_width + space + word_width
                continue
            if line:
                lines.append(line)
            if word_width <= width:
                line, line_width = word, word_width
            else:
                pieces = _break_word(word, font, size, width)
                lines.extend(pieces[:-1])
                line, line_width = pieces[-1], font.width(pieces[-1], size)
        lines.append(line)
    return lines


def _boxed_runs(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into plain pieces and redaction markers (a marker's piece is its reason)."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for found in MARKER.finditer(text):
        pieces.append((text[at : found.start()], False))
        pieces.append((found.group(1).replace("\u00a0", " "), True))
        at = found.end()
    pieces.append((text[at:], False))
    return pieces


def _break_word(word: str, font: Font, size: float, width: float) -> list[str]:
    """``word`` cut into pieces that fit ``width``, in one pass over its characters (a word has
    no length bound below the event's size limit, so nothing here may be quadratic)."""
    pieces: list[str] = []
    start, piece_width = 0, 0.0
    widths: dict[str, float] = {}
    for index, ch in enumerate(word):
        ch_width = widths.get(ch)
        if ch_width is None:
            ch_width = widths[ch] = font.width(ch, size)
        if index > start and piece_width + ch_width > width:
            pieces.append(word[start:index])
            start, piece_width = index, 0.0
        piece_width += ch_width
    pieces.append(word[start:])
    return pieces


class Layout:
    """Pass one, per document: turns a document's events into paginated lines (``records``),
    counting as it goes; times and days in ``zone``. One layout serves the whole export (the
    current room's messages are kept for deletions and reads); :meth:`begin` starts a document."""

    def __init__(
        self,
        fonts: ReportFonts,
        geometry: Geometry,
        zone: ZoneInfo = _UTC,
        attachments: ExportAttachments | None = None,
    ) -> None:
        self.zone = zone
        self.attachments = attachments
        self._utc = zone.key == "UTC"
        self.fonts = fonts
        self.geometry = geometry
        self.records: list[tuple[Any, ...]] = []
        self.messages = MessageStore()
        self.totals = Totals(missing_fonts=fonts.missing_packages)
        self.room: RoomSummary | None = None
        self.rooms = 0
        self.pages = 0
        self.lines_left = 0
        self.day: date | None = None
        self.versions: dict[str, int] = {}
        self.presence = Presence()

    def begin(self, versions: dict[str, int], heading: list[str]) -> None:
        """Start a document on a new first page: ``heading`` (its header lines), then its events
        (:meth:`add`); ``versions``: the document's edit versions."""
        self.records = []
        self.pages = 1
        self.lines_left = self.geometry.lines_per_page
        self.day = None
        self.versions = versions
        for text in heading:
            shown = self._text(text)
            font = self.fonts.regular
            self._place([(META, font.name, "", "", "", piece) for piece in wrap(shown, font, BODY_SIZE, self._full)])
        self._place([(META, self.fonts.regular.name, "", "", "", "")])

    @property
    def _full(self) -> float:
        return self.geometry.width - 2 * self.geometry.margin

    def add(self, event: Event) -> None:
        room = self._room_for(event)
        self._count(room, event)
        moment = event.occurred_at if self._utc else local(event.occurred_at, self.zone)
        if moment.date() != self.day:
            self.day = moment.date()
            self._day_heading(self.day)
        self._place(self._sent_offset(event, self._lines(event)))
        for recipient in self.presence.newly_present(event):  # a direct message's recipients
            self._place(self._became_present(event, person(recipient)))

    def _time(self, event: Event) -> str:
        """``09:15:02 UTC``, ``23:30:00 EST``: every time with its zone's abbreviation (or offset)."""
        wall = self._wall(event.occurred_at)
        return f"{_hms(wall)} {wall.tzname()}"

    def _wall(self, moment: datetime) -> datetime:
        return moment if self._utc else local(moment, self.zone)

    def _sent_offset(self, event: Event, lines: list[Line]) -> list[Line]:
        """The sender's UTC offset, ``(+09:00)``, under the time when it differs from the zone's."""
        note = as_sent(event.occurred_at, self.zone, event.occurred_offset)
        if not note:
            return lines
        shown = note.strip().removesuffix(" as sent)") + ")"
        if len(lines) > 1 and not lines[1][2]:
            second = lines[1]
            return [lines[0], (second[0], second[1], shown, second[3], second[4], second[5]), *lines[2:]]
        return [*lines, (META, self.fonts.regular.name, shown, "", "", "")]

    def finish(self) -> None:
        self.messages.close()

    def _room_for(self, event: Event) -> RoomSummary:
        if self.room is not None and self.room.id == event.room.id:
            return self.room
        self.room = RoomSummary(self.rooms, event.room.id, event.room.name, event.room.kind)
        self.rooms += 1
        self.messages.clear()
        return self.room

    def _count(self, room: RoomSummary, event: Event) -> None:
        totals = self.totals
        totals.events += 1
        room.events += 1
        moment = event.occurred_at
        room.first = room.first or moment
        room.last = moment
        totals.first = moment if totals.first is None else min(totals.first, moment)
        totals.last = moment if totals.last is None else max(totals.last, moment)
        totals.participants.add(event.actor.id)
        for recipient in present_by(event)[1:]:  # present from the first message that names them
            totals.participants.add(recipient.id)
        if isinstance(event, PostEvent):
            totals.messages += 1
            room.messages += 1
        elif isinstance(event, EditEvent):
            totals.edits += 1
        elif isinstance(event, DeleteEvent):
            totals.deletions += 1
        elif isinstance(event, FileUploadEvent | FileDownloadEvent):
            totals.files += 1
        elif isinstance(event, DisclaimerEvent):
            totals.disclaimers += 1
        elif isinstance(event, PolicyDecisionEvent):
            totals.policy_decisions += 1

    def _day_heading(self, day: date) -> None:
        if self.lines_left < 3:  # keep a heading with at least one line of its day
            self._page_break()
        self._emit(("D", day.strftime("%A %d %B %Y") + f" ({self.zone.key})"))
        self.lines_left -= 1

    def _place(self, lines: list[Line]) -> None:
        if len(lines) > self.lines_left and len(lines) <= self.geometry.lines_per_page:
            self._page_break()  # keep an event's lines together when they fit on a page
        for line in lines:
            if self.lines_left == 0:
                self._page_break()
            self._emit(("L", *line))
            self.lines_left -= 1

    def _page_break(self) -> None:
        self.pages += 1
        self.lines_left = self.geometry.lines_per_page
        self._emit(("B",))

    def _emit(self, record: tuple[Any, ...]) -> None:
        self.records.append(record)

    @staticmethod
    def _who(event: Event) -> str:
        """``Ann (user:ann)``: the name of the moment and the person's id (:func:`person`)."""
        return person(event.actor).translate(_ONE_LINE)

    def shown(self, text: str) -> str:
        """:meth:`_text` without counting: a title drawn again (page headers, the report's rows)."""
        visible, _ = self.fonts.drawable(text.translate(_VISIBLE))
        return _shaped(visible)

    def _text(self, text: str) -> str:
        """Control characters made visible, characters no font has written out (and counted),
        Arabic shaped."""
        shown = text.translate(_VISIBLE)
        if shown != text:
            self.totals.controls_shown += sum(1 for ch in text if ord(ch) in _VISIBLE)
        visible, missing = self.fonts.drawable(shown)
        if missing:
            self.totals.missing_glyphs.update(missing)
        shaped = _shaped(visible)
        if shaped is not visible:
            self.totals.shaped_texts += 1
        return shaped

    def _lines(self, event: Event) -> list[Line]:
        if isinstance(event, PostEvent):
            self.messages.posted(event.message.id, event.message.text)
            return self._spoken(event, self._text(event.message.text), MESSAGE)
        if isinstance(event, EditEvent):
            return self._edit(event)
        if isinstance(event, DeleteEvent):
            return self._delete(event)
        return self._notice(event)

    def _became_present(self, event: Event, name: str) -> list[Line]:
        """``→ Dora present: a recipient of this message``, at the message's time."""
        what = "file" if isinstance(event, FileUploadEvent) else "message"
        text = self._text(f"→ {name.translate(_ONE_LINE)} present: a recipient of this {what}")
        font = self.fonts.regular
        time = self._time(event)
        wrapped = wrap(text, font, BODY_SIZE, self.geometry.wide_width)
        return [(META, font.name, time if i == 0 else "", "", "", piece) for i, piece in enumerate(wrapped)]

    def _edit(self, event: EditEvent) -> list[Line]:
        known = self.messages.edited(event.message.id, event.message.text)
        version = self.versions.get(str(event.event_id))
        if known is None:
            self.totals.deleted_unknown += 1
        label = f"✎ edited (version {version})" if version else "✎ edited"
        if known is None:
            label += " (earlier versions not in this export)"
        return self._spoken(event, f"{label}: {self._text(event.message.text)}", MESSAGE)

    def _delete(self, event: DeleteEvent) -> list[Line]:
        text = self.messages.text(event.message.id)
        who = self._text(self._who(event))
        heading = self._spoken(event, f"✖ deleted by {who} at {self._time(event)}", DELETION)
        if text is None:
            self.totals.deleted_unknown += 1
            return heading + self._body_lines("(the deleted message is not in this export)", META)
        return heading + self._body_lines(f"deleted text: {self._text(text)}", STRUCK)

    def _notice(self, event: Event) -> list[Line]:
        who = self._text(self._who(event))
        style, text = self._describe(event, who)
        text = self._text(text)  # the parts not written out yet (a file's content type, ...)
        font = self.fonts.regular
        time = self._time(event)
        wrapped = wrap(text, font, BODY_SIZE, self.geometry.wide_width)
        lines = [(style, font.name, time if i == 0 else "", "", "", piece) for i, piece in enumerate(wrapped)]
        if isinstance(event, FileUploadEvent):
            details = self._text(self._attachment(event))
            font = self.fonts.regular
            wrapped = wrap(details, font, BODY_SIZE, self.geometry.wide_width)
            lines += [(META, font.name, "", "", "", piece) for piece in wrapped]
        return lines

    def _attachment(self, event: FileUploadEvent) -> str:
        """An attachment's size in bytes, full SHA-256, extraction state and the start of its text."""
        info = event.file
        shown = f"{info.size:,} bytes · SHA-256 {info.sha256} · text "
        files = self.attachments
        if files is None or not files.enabled:
            return shown + "not exported (no file store)"
        extracted = files.extraction(event)
        if extracted is None:
            return shown + "pending (not extracted yet)"
        shown += extracted.state + (f" ({extracted.reason})" if extracted.reason else "")
        excerpt = files.excerpt(event, _EXCERPT_CHARACTERS)
        if excerpt:
            excerpt = " ".join(excerpt.split())
            cut = "…" if extracted.text_chars > _EXCERPT_CHARACTERS else ""
            shown += f", {extracted.text_chars:,} characters: “{excerpt}{cut}”"
        return shown

    def _describe(self, event: Event, who: str) -> tuple[str, str]:
        if isinstance(event, JoinEvent):
            return META, f"→ {who} joined"
        if isinstance(event, LeaveEvent):
            return META, f"← {who} left"
        if isinstance(event, ReadEvent):
            return META, self._read(event, who)
        if isinstance(event, FileUploadEvent | FileDownloadEvent):
            verb = "⇧ uploaded" if isinstance(event, FileUploadEvent) else "⇩ downloaded"
            info = event.file
            name = self._text(info.name.translate(_ONE_LINE))
            return FILE_LINE, (
                f"{verb} by {who}: {name} ({_size(info.size)}, {info.content_type}, sha256 {info.sha256[:16]}…)"
            )
        if isinstance(event, DisclaimerEvent):
            shown = event.disclaimer
            label = f"Disclaimer shown to {who} (rule {shown.rule_id} v{shown.version}, {shown.locale})"
            return DISCLAIMER, f"ℹ {label}: {self._text(shown.text)}"
        if isinstance(event, PolicyDecisionEvent):
            return POLICY_LINE, self._policy(event, who)
        if isinstance(event, RoomUpdateEvent):
            return META, self._room_update(event, who)
        return META, f"{event.type} by {who}"

    def _read(self, event: ReadEvent, who: str) -> str:
        if event.read.message_id is None:
            return f"✓ {who} viewed the room's history"
        text = self.messages.text(event.read.message_id)
        if text is None:
            return f"✓ {who} read message {event.read.message_id}"
        snippet = text if len(text) <= 60 else text[:59] + "…"
        return f"✓ {who} read “{self._text(snippet)}”"

    def _policy(self, event: PolicyDecisionEvent, who: str) -> str:
        decision = event.decision
        mark = {"deny": "⊘", "allow": "⚠" if decision.mode == "alert" else "ℹ"}[decision.outcome]
        parts = [f"{mark} Policy: {decision.outcome} ({decision.mode}) {decision.action.replace('_', ' ')} by {who}"]
        if decision.wall_ids:
            parts.append("walls " + ", ".join(decision.wall_ids))
        if decision.targets:
            parts.append("targets " + ", ".join(decision.targets))
        return self._text(" — ".join(parts))

    def _room_update(self, event: RoomUpdateEvent, who: str) -> str:
        update = event.room_update
        verb = "created the room" if update.created else "updated the room"
        details = [f"name {update.name}" if update.name else "", update.description or ""]
        shown = "; ".join(d for d in details if d)
        return f"⚙ {who} {verb}" + (f": {self._text(shown)}" if shown else "")

    def _spoken(self, event: Event, text: str, style: str) -> list[Line]:
        """A line with time and speaker, the text wrapped in the body column (a name too wide
        for its column gets lines of its own, in full, wrapped across name and body columns)."""
        who = self._text(self._who(event))
        speaker = self.fonts.best(self.fonts.bold, who)
        time = self._time(event)
        if speaker.width(who, BODY_SIZE) > self.geometry.name_width:
            names = wrap(who, speaker, BODY_SIZE, self.geometry.wide_width)
            heading = [
                (MESSAGE, speaker.name, time if i == 0 else "", name, speaker.name, "") for i, name in enumerate(names)
            ]
            return [*heading, *self._body_lines(text, style)]
        body = self._body_lines(text, style)
        first = body[0]
        return [(first[0], first[1], time, who, speaker.name, first[5]), *body[1:]]

    def _body_lines(self, text: str, style: str) -> list[Line]:
        font = self.fonts.regular
        wrapped = wrap(text, font, BODY_SIZE, self.geometry.body_width)
        continued = CONTINUED if style == MESSAGE else style
        return [(style if i == 0 else continued, font.name, "", "", "", piece) for i, piece in enumerate(wrapped)]


PDF_DIR = "PDF"


def document_pdf_path(control: str) -> str:
    """Where a document's PDF is in the export: ``PDF/<control number>.pdf``."""
    return f"{PDF_DIR}/{control}.pdf"


Entry = tuple[str, str, str, str, str, int, str, str, str]
"""One document in the report: (control, last page's label, kind, title, day, pages, SHA-256 of
its PDF, SHA-256 of its text (or a note), its family range)."""


class Drawer:
    """Pass two: draws laid-out lines and the page furniture (the document PDFs and the report)."""

    def __init__(self, canvas: Canvas, fonts: ReportFonts, geometry: Geometry) -> None:
        self.canvas = canvas
        self.fonts = fonts
        self.geometry = geometry
        self.page = 0
        self.y = 0.0

    def _draw(self, x: float, y: float, text: str, font: Font, size: float) -> None:
        """Draw one line from ``x``: in visual order, each run in the font that has its glyphs;
        a redaction marker as a black box with its reason in white (:mod:`exports.redaction`)."""
        if "[REDACTED:" in text:
            for piece, boxed in _boxed_runs(text):
                if boxed:
                    x = self._box(x, y, piece, font, size)
                elif piece:
                    self._draw(x, y, piece, font, size)
                    x += sum(face.width(run, size) for face, run in font.runs(_visual(piece)))
            return
        c = self.canvas
        runs = font.runs(_visual(text))
        for index, (face, run) in enumerate(runs):
            c.setFont(face.name, size)
            c.drawString(x, y, run)
            if index < len(runs) - 1:
                x += face.width(run, size)

    def _box(self, x: float, y: float, reason: str, font: Font, size: float) -> float:
        """A black box holding ``REDACTED: <reason>`` in white; the x after it."""
        c = self.canvas
        label = f"REDACTED: {reason}"
        runs = font.runs(label)
        width = sum(face.width(run, size) for face, run in runs) + 4
        c.saveState()
        c.setFillColor(BLACK)
        c.rect(x, y - size * 0.25, width, size * 1.15, stroke=0, fill=1)
        c.setFillColor(WHITE)
        at = x + 2
        for face, run in runs:
            c.setFont(face.name, size)
            c.drawString(at, y, run)
            at += face.width(run, size)
        c.restoreState()
        return x + width

    def _day(self, title: str) -> None:
        c, g = self.canvas, self.geometry
        c.setFillColor(BLACK)
        c.setFont(self.fonts.bold.name, BODY_SIZE)
        c.drawString(g.time_x, self.y, title)
        self.y -= LEADING

    def _line(self, style: str, font: str, time: str, who: str, who_font: str, text: str) -> None:
        c, g, y = self.canvas, self.geometry, self.y
        if style == DISCLAIMER:
            c.setFillColor(DISCLAIMER_FILL)
            c.rect(g.name_x - 2, y - 3, g.wide_width + 2, LEADING, stroke=0, fill=1)
        if time:
            c.setFillColor(GREY)
            c.setFont(self.fonts.regular.name, BODY_SIZE - 0.5)
            c.drawString(g.time_x, y, time)
        if who:
            c.setFillColor(BLACK)
            self._draw(g.name_x, y, who, self.fonts.named(who_font), BODY_SIZE)
        if text:
            x = g.body_x if style in (MESSAGE, CONTINUED, STRUCK, DELETION) or who else g.name_x
            if style == META and not time and not who:
                x = g.margin if self.page == 1 and self._heading else g.name_x
            c.setFillColor(STYLE_COLORS[style])
            face = self.fonts.named(font)
            self._draw(x, y, text, face, BODY_SIZE)
            if style == STRUCK:
                c.setStrokeColor(GREY)
                c.setLineWidth(0.6)
                c.line(x, y + BODY_SIZE * 0.3, x + face.width(text, BODY_SIZE), y + BODY_SIZE * 0.3)
        self.y = y - LEADING

    _heading = False


class DocumentDrawer(Drawer):
    """One document's PDF: its laid-out lines, every page headed with the document and the
    zone, and stamped with its Bates label (:func:`exports.documents.page_label`). ``plain``:
    in the regular face only (a slip sheet: one font subset the less in each file)."""

    def __init__(
        self,
        canvas: Canvas,
        fonts: ReportFonts,
        geometry: Geometry,
        context: ExportContext,
        title: str,
        control: str,
        plain: bool = False,
    ) -> None:
        super().__init__(canvas, fonts, geometry)
        self.context = context
        self.control = control
        width = geometry.width - 2 * geometry.margin - 120
        self.strong = fonts.regular if plain else fonts.bold
        font = fonts.best(self.strong, title)
        self.title = _fit(title, font, HEADER_SIZE, width)
        self.title_font = font

    def draw(self, records: list[tuple[Any, ...]]) -> int:
        """Draw ``records`` (a :class:`Layout`'s, for this document); the number of pages."""
        self._new_page()
        self._heading = True
        for record in records:
            kind = record[0]
            if kind == "L":
                self._line(*record[1:])
            elif kind == "B":
                self._new_page()
            elif kind == "D":
                self._heading = False
                self._day(record[1])
        self._end_page()
        return self.page

    def _new_page(self) -> None:
        if self.page:
            self._end_page()
            self._heading = False
        self.page += 1
        c, g = self.canvas, self.geometry
        top = g.height - g.margin
        c.setFillColor(BLACK)
        self._draw(g.margin, top - HEADER_SIZE, self.title, self.title_font, HEADER_SIZE)
        c.setFillColor(GREY)
        c.setFont(self.fonts.regular.name, FOOTER_SIZE)
        c.drawRightString(g.width - g.margin, top - HEADER_SIZE, f"times in {self.context.time_zone.key}")
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.line(g.margin, top - HEADER_SIZE - 5, g.width - g.margin, top - HEADER_SIZE - 5)
        self.y = g.top

    def _end_page(self) -> None:
        c, g, ctx = self.canvas, self.geometry, self.context
        c.setFillColor(GREY)
        c.setFont(self.fonts.regular.name, FOOTER_SIZE)
        left = f"Production {ctx.export_id}" + (f" · {ctx.case_name}" if ctx.case_name else "")
        self._draw(
            g.margin,
            g.margin,
            _fit(left, self.fonts.regular, FOOTER_SIZE, g.width / 2),
            self.fonts.regular,
            FOOTER_SIZE,
        )
        c.setFillColor(BLACK)
        c.setFont(self.strong.name, 9)
        c.drawRightString(g.width - g.margin, g.margin, page_label(self.control, self.page))
        c.showPage()


def _archival_canvas(
    out: IO[bytes] | HashingWriter, geometry: Geometry, context: ExportContext, path: str, title: str, subject: str
) -> Canvas:
    # invariant: no timestamp of the moment inside (the same export gives the same bytes); the
    # creation date is the export's own (archival()).
    canvas = Canvas(out, pagesize=(geometry.width, geometry.height), invariant=1)
    archival(
        canvas,
        title=title,
        author=context.requested_by,
        subject=subject,
        created=context.created_at,
        doc_id=document_id(context.export_id, path),
    )
    return canvas


def _room_label(document: Document) -> str:
    room = document.room
    return (room.name or (f"Direct messages {room.id}" if room.kind == "im" else room.id)).translate(_ONE_LINE)


def _named(actor: Actor) -> str:
    """``Ann (user:ann)`` on one line (:data:`_ONE_LINE`)."""
    return person(actor).translate(_ONE_LINE)


class DocumentPdfs:
    """Writes each document's PDF as the documents come (so memory holds one document), and
    keeps what the report needs of each on a spool on disk."""

    def __init__(self, files: ExportFiles, fonts: ReportFonts, geometry: Geometry, context: ExportContext) -> None:
        self.files = files
        self.fonts = fonts
        self.geometry = geometry
        self.context = context
        self.layout = Layout(fonts, geometry, context.time_zone, context.attachments)
        self.spool: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.opt = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.listed = ChecksumListed(files, PDF_SUMS_FILE)
        """Each document's PDF, listed with its SHA-256 here rather than in the manifest."""
        self.count = 0
        self.custodians: dict[str, str] = {}
        self.documents_first: str | None = None
        self.documents_last: str | None = None
        self.attachments = 0

    def add(self, document: Document) -> None:
        """``document`` (a parent) and its attachments."""
        for custodian in document.custodian_people:
            self.custodians.setdefault(custodian.id, _named(custodian))
        for member in document.family():
            entry = self._attachment(member) if member.kind == "attachment" else self._transcript(member)
            marshal.dump(entry, self.spool)
            self.opt.write(opt_line(member.control, document_pdf_path(member.control), entry[5]))
            self.count += 1
            self.attachments += member.kind == "attachment"
            self.documents_first = self.documents_first or member.control
            self.documents_last = member.control

    def _transcript(self, document: Document) -> Entry:
        ctx, layout = self.context, self.layout
        names = {actor.id: _named(actor) for actor in document.participants}
        custodians = "; ".join(_named(actor) for actor in document.custodian_people) or "none"
        what = document.kind.capitalize() if document.kind in ("message", "thread") else "Conversation"
        room = document.room
        heading = [
            f"{document.control} — {what} in {_room_label(document)} ({room.kind} {room.id.translate(_ONE_LINE)}), "
            f"{document.day.isoformat()}, times in {ctx.time_zone.key}",
            f"Custodians: {custodians}",
            "Participants: " + ("; ".join(names.values()) or "none"),
        ]
        if document.children:
            heading.append(f"Family: {document.family_begin} – {document.family_end} (attachments follow)")
        layout.begin(document.versions, heading)
        for event in document.events:
            layout.add(event)
        path = document_pdf_path(document.control)
        title = f"{document.control} · {_room_label(document)} · {document.day.isoformat()}"
        buffer = io.BytesIO()
        hashing = HashingWriter(buffer)
        canvas = _archival_canvas(hashing, self.geometry, ctx, path, title, f"{what} {document.control}")
        pages = DocumentDrawer(canvas, self.fonts, self.geometry, ctx, layout.shown(title), document.control).draw(
            layout.records
        )
        canvas.save()
        self.listed.add(path, buffer.getvalue(), compressed=True)  # its streams are deflated
        layout.records = []
        text = document_text(document, ctx.time_zone, ctx.case_name).encode("utf-8")
        return (
            document.control,
            page_label(document.control, pages),
            document.kind,
            layout.shown(_room_label(document)),
            document.day.isoformat(),
            pages,
            hashing.digest.hexdigest(),
            hashlib.sha256(text).hexdigest(),
            f"{document.family_begin} – {document.family_end}",
        )

    def _attachment(self, document: Document) -> Entry:
        """A one-page slip sheet: the file, its hash, where its native and text are."""
        ctx, layout = self.context, self.layout
        upload = document.upload
        assert upload is not None
        info = upload.file
        extracted = ctx.attachments.extraction(upload) if ctx.attachments.enabled else None
        text_path = f"{TEXT_DIR}/{extracted.text_sha256}.txt" if extracted and extracted.text_sha256 else None
        text_state = (
            "not exported (no file store)"
            if not ctx.attachments.enabled
            else "pending (not extracted yet)"
            if extracted is None
            else extracted.state + (f" ({extracted.reason})" if extracted.reason else "")
        )
        fields = [
            ("Control number", document.control),
            ("Family", f"{document.family_begin} – {document.family_end} (attachment of {document.family_begin})"),
            ("File name", info.name.translate(_ONE_LINE)),
            ("Size", f"{info.size:,} bytes"),
            ("Content type", info.content_type),
            ("SHA-256", info.sha256),
            ("Uploaded", f"by {_named(upload.actor)} at {clock(upload.occurred_at, ctx.time_zone)}"),
            ("Room", f"{_room_label(document)} ({document.room.id.translate(_ONE_LINE)})"),
            (
                "Native path",
                f"{NATIVES_DIR}/{info.sha256}{native_extension(info.name)} (in the export when it also has csv, "
                "edrm or jsonl, which copy the natives)",
            ),
            ("Text path", text_path or "none"),
            ("Extracted text", text_state),
        ]
        path = document_pdf_path(document.control)
        buffer = io.BytesIO()
        hashing = HashingWriter(buffer)
        canvas = _archival_canvas(hashing, self.geometry, ctx, path, f"{document.control} · {info.name}", "Slip sheet")
        drawer = DocumentDrawer(
            canvas,
            self.fonts,
            self.geometry,
            ctx,
            f"{document.control} · attachment slip sheet",
            document.control,
            plain=True,
        )
        drawer._new_page()
        c, g = canvas, self.geometry
        c.setFillColor(BLACK)
        c.setFont(self.fonts.regular.name, TITLE_SIZE)
        y = g.top - TITLE_SIZE
        c.drawString(g.margin, y, "Attachment produced natively")
        y -= 28
        # One face only (each face is a font subset embedded in every PDF): slip sheets are many.
        _fields(drawer, [(label, layout.shown(value)) for label, value in fields], y, bold=False)
        drawer._end_page()
        canvas.save()
        self.listed.add(path, buffer.getvalue(), compressed=True)  # its streams are deflated
        return (
            document.control,
            document.control,
            document.kind,
            layout.shown(info.name.translate(_ONE_LINE)),
            document.day.isoformat(),
            1,
            hashing.digest.hexdigest(),
            extracted.text_sha256 if extracted and extracted.text_sha256 else "",
            f"{document.family_begin} – {document.family_end}",
        )

    def entries(self) -> Iterator[Entry]:
        self.spool.seek(0)
        while True:
            try:
                yield marshal.load(self.spool)  # noqa: S302 - our own temporary file, written just before
            except EOFError:
                return

    def close(self) -> None:
        self.listed.discard()  # nothing once committed
        self.layout.finish()
        self.spool.close()
        self.opt.close()


def _fields(drawer: Drawer, fields: list[tuple[str, str]], y: float, max_lines: int = 6, bold: bool = True) -> float:
    c, g = drawer.canvas, drawer.geometry
    value_x = g.margin + 110
    for label, value in fields:
        c.setFillColor(GREY)
        c.setFont(drawer.fonts.regular.name, 10)
        c.drawString(g.margin, y, label)
        c.setFillColor(BLACK)
        value_font = drawer.fonts.best(drawer.fonts.bold, value) if bold else drawer.fonts.regular
        lines = wrap(value, value_font, 10, g.width - g.margin - value_x)
        if len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], _fit(lines[max_lines - 1] + " …", value_font, 10, 1e9) + "…"]
        for line in lines:
            drawer._draw(value_x, y, line, value_font, 10)
            y -= 14
    return y


ReportLine = tuple[str, float, str, Color]
"""A line of the report's custody and index pages: (font name, size, text, colour)."""


class ReportDrawer(Drawer):
    """The report: cover, custody pages (every document's hashes), index of documents; each
    page stamped with the report's label, the production's range and its page of the total."""

    def __init__(
        self, canvas: Canvas, fonts: ReportFonts, geometry: Geometry, context: ExportContext, label: str
    ) -> None:
        super().__init__(canvas, fonts, geometry)
        self.context = context
        self.label = label
        self.total = 0

    def _end_page(self) -> None:
        c, g = self.canvas, self.geometry
        c.setFillColor(GREY)
        c.setFont(self.fonts.regular.name, FOOTER_SIZE)
        footer = f"{self.label} — page {self.page} of {self.total}"
        self._draw(
            g.margin,
            g.margin,
            _fit(footer, self.fonts.regular, FOOTER_SIZE, g.width - 2 * g.margin),
            self.fonts.regular,
            FOOTER_SIZE,
        )
        c.showPage()

    def _new_page(self) -> None:
        if self.page:
            self._end_page()
        self.page += 1
        self.y = self.geometry.height - self.geometry.margin - 14

    def flow(self, first: bool, lines: Iterable[ReportLine]) -> None:
        """Lines one below the other, a new page when one is full."""
        g = self.geometry
        for font, size, text, color in lines:
            if first or self.y < g.bottom:
                self._new_page()
                first = False
            self.canvas.setFillColor(color)
            self._draw(g.margin, self.y, text, self.fonts.named(font), size)
            self.y -= LEADING

    def finish(self) -> None:
        self._end_page()


def _fit(text: str, font: Font, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if wider than ``width`` (one pass, like ``_break_word``)."""
    if font.width(text, size) <= width:
        return text
    room = width - font.width("…", size)
    return _break_word(text, font, size, room)[0] + "…" if room > 0 else "…"


class PdfReportFormat:
    """The PDF of a production: one PDF/A-2b file per document (``PDF/<control>.pdf``, Bates on
    every page; an attachment a slip sheet), the OPT image cross-reference, and ``report.pdf``:
    cover, custody pages and the index of documents."""

    name = "pdf"
    not_carried: ClassVar[dict[str, str]] = {
        "message.format": "the report prints a text/html message as its source, unmarked",
        "actor.email": "the report names people by name and id, not e-mail address",
        "actor.internal": "the report does not say whether a participant is internal or external",
        "source.server": "the report does not say which chat server an event came from",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def __init__(self, page_size: tuple[float, float] = A4) -> None:
        self.geometry = Geometry(*page_size)

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        fonts = load_fonts()
        srgb_profile()  # a missing profile fails before any work
        report = FormatReport(format=self.name)
        pdfs = DocumentPdfs(files, fonts, self.geometry, context)
        try:
            for document in context.documents(events, report):
                pdfs.add(document)
            totals = pdfs.layout.totals
            report.events = totals.events
            report.items = totals.messages
            report.warnings.extend(totals.warnings())
            report.losses.extend(totals.losses())
            report.times = (
                f"in {context.time_zone.key}: every time carries the zone's abbreviation (or offset) and every page "
                "names the zone; days cut at its midnight; the sender's UTC offset in brackets under a time when it "
                "differs"
            )
            report.files.append(self._report(pdfs, files, fonts, context, report.warnings))
            pdfs.opt.seek(0)
            with files.create(OPT_PATH, OPT_MEDIA_TYPE) as out:
                hashing = HashingWriter(out)
                shutil.copyfileobj(pdfs.opt, hashing)
            report.files.append(WrittenFile(OPT_PATH, hashing.size, hashing.digest.hexdigest(), OPT_MEDIA_TYPE))
            report.files.append(pdfs.listed.commit())
        finally:
            pdfs.close()
        return report

    def _report(
        self, pdfs: DocumentPdfs, files: ExportFiles, fonts: ReportFonts, context: ExportContext, warnings: list[str]
    ) -> WrittenFile:
        g = self.geometry
        first, last = pdfs.documents_first, pdfs.documents_last
        bates = f"{first} – {last}" if first else "no documents"
        label = f"Production report {context.export_id} — {bates}"
        custody = list(self._custody_statement(context, fonts))
        per_page = int((g.height - g.margin - 14 - g.bottom) // LEADING) + 1
        custody_lines = len(custody) + 2 * max(pdfs.count, 1)
        index_lines = 3 + max(pdfs.count, 1)
        with files.create(REPORT_PATH, MEDIA_TYPE) as stream:
            hashing = HashingWriter(stream)
            title = f"Production {context.export_id}" + (f" — {context.case_name}" if context.case_name else "")
            canvas = _archival_canvas(hashing, g, context, REPORT_PATH, title, context.query)
            drawer = ReportDrawer(canvas, fonts, g, context, label)
            drawer.total = 1 + math.ceil(custody_lines / per_page) + math.ceil(index_lines / per_page)
            drawer._new_page()
            self._cover(drawer, pdfs, context, bates, warnings)
            drawer.flow(True, [*custody, *self._custody_rows(pdfs, fonts)])
            drawer.flow(True, self._index(pdfs, fonts, context))
            drawer.finish()
            canvas.save()
        return WrittenFile(REPORT_PATH, hashing.size, hashing.digest.hexdigest(), MEDIA_TYPE)

    def _cover(
        self, drawer: ReportDrawer, pdfs: DocumentPdfs, ctx: ExportContext, bates: str, warnings: list[str]
    ) -> None:
        c, g, fonts = drawer.canvas, drawer.geometry, drawer.fonts
        totals = pdfs.layout.totals
        zone = ctx.time_zone
        y = g.height - g.margin - TITLE_SIZE
        c.setFillColor(BLACK)
        c.setFont(fonts.bold.name, TITLE_SIZE)
        c.drawString(g.margin, y, "Production report")
        y -= 30
        unit = (
            f"conversation (one room on one day of {zone.key})"
            if ctx.unit == "conversation"
            else "thread (its messages with their edits, deletions, reads and context)"
            if ctx.unit == "thread"
            else "message (with its edits, deletion, reads and context)"
        )
        dates = f"{_stamp(totals.first, zone)} – {_stamp(totals.last, zone)}" if totals.first else "—"
        fields = [
            ("Case", ctx.case_name or "—"),
            ("Case number", ctx.case_number or "—"),
            ("Custodians", "; ".join(pdfs.custodians.get(c, c) for c in ctx.custodians) or "none named"),
            ("Query", ctx.query or "(everything)"),
            ("Date range", dates),
            ("Time zone", f"{zone.key} (every time is shown with its abbreviation)"),
            ("Document unit", unit),
            ("Bates range", bates),
            ("Documents", f"{pdfs.count:,} ({pdfs.attachments:,} attachments), one PDF each under {PDF_DIR}/"),
            ("Requested by", ctx.requested_by),
            ("Created at", _stamp(ctx.created_at, zone)),
            ("Export ID", ctx.export_id),
        ]
        if ctx.recipients:
            fields.append(("Produced to", "; ".join(ctx.recipients)))
        y = _fields(drawer, [(label, drawer_text(pdfs, value)) for label, value in fields], y, max_lines=3)
        counts = (
            f"{totals.events:,} events: {totals.messages:,} messages, {totals.edits:,} edits, {totals.deletions:,} "
            f"deletions, {totals.files:,} files, {totals.disclaimers:,} disclaimers, {totals.policy_decisions:,} "
            f"policy decisions, in {pdfs.layout.rooms:,} rooms, {len(totals.participants):,} participants."
        )
        notes = [
            counts,
            f"All times are in {zone.key}, each with its abbreviation; days begin at midnight {zone.key}. A time "
            "followed by an offset in brackets, e.g. (+09:00), was sent by a clock at that UTC offset. Edits show "
            "every version; deleted messages stay, marked. People are named as they were called then, with their "
            "id: Ann (user:ann).",
            *warnings,
        ]
        c.setFillColor(GREY)
        y -= 8
        for note in notes:
            drawable, _ = fonts.drawable(note)
            for line in wrap(drawable, fonts.regular, 8.5, g.width - 2 * g.margin):
                if y < g.bottom:
                    return
                drawer._draw(g.margin, y, line, fonts.regular, 8.5)
                y -= LEADING

    @staticmethod
    def _custody_statement(ctx: ExportContext, fonts: ReportFonts) -> Iterator[ReportLine]:
        g_width = A4[0] - 2 * 16 * mm
        yield (fonts.bold.name, 14.0, "Chain of custody", BLACK)
        yield (fonts.regular.name, 8.5, "", BLACK)
        statement = (
            f"Export {ctx.export_id}, requested by {ctx.requested_by}, "
            f"created at {_stamp(ctx.created_at, ctx.time_zone)}"
            f" ({ctx.created_at.astimezone(_UTC).isoformat()}), from Archivist's hash-chained archive of record; "
            f"query: {ctx.query or '(everything)'}. Each document below is listed with the SHA-256 of its PDF "
            f"({PDF_DIR}/<control number>.pdf) and of its text (UTF-8: the text the load files' TEXTPATH and EDRM's "
            "Text carry; for an attachment, its extracted text). manifest.json lists every file of the export with "
            "its SHA-256, this report included, and the archive head the export was taken from; the SHA-256 of "
            "manifest.json is recorded in chain_of_custody.json (written after every format, so it cannot be printed "
            "here), and the SHA-256 of the zip in Archivist's audit log."
        )
        head = ctx.archive_head
        if head is not None:
            statement += (
                f" Archive head when the export began: link {head.get('seq')}, chain hash "
                f"{head.get('chain_hash') or '(empty archive)'}, archived at {head.get('archived_at') or '—'}."
            )
        drawable, _ = fonts.drawable(statement)
        for line in wrap(drawable, fonts.regular, 8.5, g_width):
            yield (fonts.regular.name, 8.5, line, BLACK)

    @staticmethod
    def _custody_rows(pdfs: DocumentPdfs, fonts: ReportFonts) -> Iterator[ReportLine]:
        if not pdfs.count:
            yield (fonts.regular.name, 8.5, "No documents.", GREY)
            yield (fonts.regular.name, 8.5, "", GREY)
        for control, _last, kind, _title, _day, pages, pdf_sha, text_sha, _family in pdfs.entries():
            yield (fonts.regular.name, 7.5, f"{control}  ({kind}, {pages} p.)  PDF SHA-256 {pdf_sha}", BLACK)
            shown = f"text SHA-256 {text_sha}" if text_sha else "no extracted text"
            yield (fonts.regular.name, 7.5, f"        {shown}", GREY)

    def _index(self, pdfs: DocumentPdfs, fonts: ReportFonts, ctx: ExportContext) -> Iterator[ReportLine]:
        width = self.geometry.width - 2 * self.geometry.margin
        yield (fonts.bold.name, 14.0, "Index of documents", BLACK)
        yield (fonts.regular.name, 8.5, "", BLACK)
        yield (
            fonts.regular.name,
            8.0,
            f"Bates range — kind, pages — day ({ctx.time_zone.key}) — room or file — family when it has attachments",
            GREY,
        )
        if not pdfs.count:
            yield (fonts.regular.name, 8.5, "No documents.", GREY)
        for control, last, kind, title, day, pages, _pdf, _text, family in pdfs.entries():
            bates = control if last == control else f"{control} – {last}"
            begin, _, end = family.partition(" – ")
            row = f"{bates} — {kind}, {pages} p. — {day} — {title}" + (f" — family {family}" if begin != end else "")
            font = fonts.best(fonts.regular, row)
            yield (font.name, 7.5, _fit(row, font, 7.5, width), BLACK)


def drawer_text(pdfs: DocumentPdfs, value: str) -> str:
    """A cover value as drawn: control characters visible, characters no font has written out."""
    return pdfs.layout.shown(value)
