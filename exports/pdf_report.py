"""The PDF report: a cover page, a table of contents, then one transcript per room.

Events arrive once, as a stream, in export order (room, then time), but the cover's counts and
the table of contents' page numbers are needed before the first transcript page. So the
report is made in two passes with flat memory:

1. **Layout.** Each event is turned into the lines it will be drawn as (text wrapped with the
   fonts' metrics, which is deterministic) and the lines are paginated; the laid-out lines go
   to a temporary spool file, so only counts and one summary per room stay in memory. The
   texts of the current room's messages go to a temporary SQLite database, for the version
   numbers of edits and the text of deleted messages.
2. **Drawing.** Knowing every room's first page and the page count, the cover and the table
   of contents are drawn, then the spooled lines, with reportlab's low-level canvas.

Participants (the cover's count, a direct conversation's title) are whoever did anything and the
recipients of direct messages (:func:`ingest.events.present_by`); a recipient is said present at
the first message that names them (``→ Dora present: a recipient of this message``), as a join is.
Lines name people as they were called then; after each room's transcript its people are listed
with every name they had there and their id (``People (...): Ann Archer, Ann (NY) (user:ann)``).

Page size is A4 (the international default; the constructor takes Letter for US reviewers).
Times are shown in the export's time zone (``ExportContext.time_zone``, named on the cover and
on every transcript page) and days are cut at its midnight; a time whose sender's clock had
another UTC offset is followed, on the line below it in the time column, by that offset in
brackets (``(+09:00)``: "as sent"), as the cover explains.
"""

from __future__ import annotations

import marshal
import math
import re
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

from exports.base import ExportContext, ExportFiles, FormatReport, HashingWriter, Loss, WrittenFile
from exports.fonts import Font, ReportFonts, load_fonts
from exports.natives import ExportAttachments
from exports.presence import Presence
from formats.time_zones import as_sent, clock, local
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
    present_by,
)

REPORT_PATH = "report.pdf"
MEDIA_TYPE = "application/pdf"

BODY_SIZE = 8.5
LEADING = 11.0
TITLE_SIZE = 18.0
HEADER_SIZE = 10.0
FOOTER_SIZE = 7.5
TOC_LEADING = 14.0

_UTC = ZoneInfo("UTC")
BLACK = HexColor("#000000")
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
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_ARABIC = re.compile("[\u0600-\u08ff]")


@dataclass(frozen=True)
class Geometry:
    """Where things go on a page (points, origin bottom left)."""

    width: float
    height: float
    margin: float = 16 * mm
    time_width: float = 44.0
    name_width: float = 104.0
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

    def toc_rows(self, first_page: bool) -> int:
        top = self.height - self.margin - (52.0 if first_page else 20.0)
        return int((top - self.bottom) // TOC_LEADING) + 1


@dataclass
class RoomSummary:
    index: int
    id: str
    name: str | None
    kind: str
    first_page: int = 0
    """Page within the transcripts (1 = the first transcript page)."""
    events: int = 0
    messages: int = 0
    first: datetime | None = None
    last: datetime | None = None
    participants: dict[str, str] = field(default_factory=dict)
    """Actor id to the name first seen, for naming direct messages."""
    people: dict[str, dict[str, None]] = field(default_factory=dict)
    """Person id to every name seen in the room (in order), for the room's list of people."""
    label: str = ""

    @property
    def key(self) -> str:
        return f"room-{self.index}"

    def finish(self) -> None:
        """Fix the title (a direct message is named after its people) and drop the name set."""
        if self.name:
            self.label = self.name
        elif self.kind == "im":
            people = sorted(self.participants.values())
            shown = ", ".join(people[:4]) + (f" and {len(people) - 4} more" if len(people) > 4 else "")
            self.label = f"Direct messages: {shown}" if shown else f"Direct messages {self.id}"
        else:
            self.label = self.id
        self.participants = {}


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
    """Greedy word wrap to ``width``; words wider than a line are broken between characters."""
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
    """Pass one: turns events into paginated lines on the spool, counting as it goes; times
    and days in ``zone``."""

    def __init__(
        self,
        fonts: ReportFonts,
        geometry: Geometry,
        spool: IO[bytes],
        zone: ZoneInfo = _UTC,
        attachments: ExportAttachments | None = None,
    ) -> None:
        self.zone = zone
        self.attachments = attachments
        self._utc = zone.key == "UTC"
        self.fonts = fonts
        self.geometry = geometry
        self.spool = spool
        self.messages = MessageStore()
        self.totals = Totals(missing_fonts=fonts.missing_packages)
        self.rooms: list[RoomSummary] = []
        self.pages = 0
        self.lines_left = 0
        self.day: date | None = None
        self.presence = Presence()

    def add(self, event: Event) -> None:
        room = self._room_for(event)
        self._count(room, event)
        moment = event.occurred_at if self._utc else local(event.occurred_at, self.zone)
        if moment.date() != self.day:
            self.day = moment.date()
            self._day_heading(room, self.day)
        self._place(self._sent_offset(event, self._lines(event)))
        for recipient in self.presence.newly_present(event):  # a direct message's recipients
            self._place(self._became_present(event, recipient.name or recipient.id))

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
        if self.rooms:
            self._finish_room(self.rooms[-1])
        self.messages.close()

    def _finish_room(self, room: RoomSummary) -> None:
        self._people_key(room)
        room.finish()
        room.label = self._text(room.label)

    def _room_for(self, event: Event) -> RoomSummary:
        if self.rooms and self.rooms[-1].id == event.room.id:
            return self.rooms[-1]
        if self.rooms:
            self._finish_room(self.rooms[-1])
        room = RoomSummary(len(self.rooms), event.room.id, event.room.name, event.room.kind)
        self.rooms.append(room)
        self.messages.clear()
        self.day = None
        self.pages += 1
        self.lines_left = self.geometry.lines_per_page
        room.first_page = self.pages
        self._emit(("R", room.index))
        return room

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
        room.participants.setdefault(event.actor.id, self._who(event))
        room.people.setdefault(event.actor.id, {})[self._who(event)] = None
        for recipient in present_by(event)[1:]:  # present from the first message that names them
            totals.participants.add(recipient.id)
            name = (recipient.name or recipient.id).translate(_VISIBLE)
            room.participants.setdefault(recipient.id, name)
            room.people.setdefault(recipient.id, {})[name] = None
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

    def _day_heading(self, room: RoomSummary, day: date) -> None:
        if self.lines_left < 3:  # keep a heading with at least one line of its day
            self._page_break()
        self._emit(("D", f"{room.key}-{day.isoformat()}", day.strftime("%A %d %B %Y")))
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
        marshal.dump(record, self.spool)

    @staticmethod
    def _who(event: Event) -> str:
        return (event.actor.name or event.actor.id).translate(_VISIBLE)

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

    def _people_key(self, room: RoomSummary) -> None:
        """After a room's transcript, who its names are: ``People (names as shown above, and
        ids): Ann Archer, Ann (NY) (user:ann); Bob Brown (user:bob)``: the transcript names
        people as they were called at the time, and this ties each name to the person (their id)."""
        if not room.people:
            return
        entries = []
        for person_id, names in sorted(room.people.items()):
            shown = ", ".join(_cut(name) for name in names if name != person_id)
            entries.append(f"{shown} ({_cut(person_id)})" if shown else _cut(person_id))
        text = self._text("People (names as shown above, and ids): " + "; ".join(entries))
        font = self.fonts.best(self.fonts.italic, text)
        wrapped = wrap(text, font, BODY_SIZE, self.geometry.wide_width)
        self._place([(META, font.name, "", "", "", piece) for piece in wrapped])
        room.people = {}

    def _became_present(self, event: Event, name: str) -> list[Line]:
        """``→ Dora present: a recipient of this message``, at the message's time."""
        what = "file" if isinstance(event, FileUploadEvent) else "message"
        text = self._text(f"→ {name.translate(_VISIBLE)} present: a recipient of this {what}")
        font = self.fonts.best(self.fonts.italic, text)
        time = _hms(self._wall(event.occurred_at))
        wrapped = wrap(text, font, BODY_SIZE, self.geometry.wide_width)
        return [(META, font.name, time if i == 0 else "", "", "", piece) for i, piece in enumerate(wrapped)]

    def _edit(self, event: EditEvent) -> list[Line]:
        version = self.messages.edited(event.message.id, event.message.text)
        if version is None:
            self.totals.deleted_unknown += 1
        label = f"✎ edited (version {version})" if version else "✎ edited (earlier versions not in this export)"
        return self._spoken(event, f"{label}: {self._text(event.message.text)}", MESSAGE)

    def _delete(self, event: DeleteEvent) -> list[Line]:
        text = self.messages.text(event.message.id)
        who = self._text(self._who(event))
        wall = self._wall(event.occurred_at)
        heading = self._spoken(event, f"✖ deleted by {who} at {_hms(wall)} {wall.tzname()}", DELETION)
        if text is None:
            self.totals.deleted_unknown += 1
            return heading + self._body_lines("(the deleted message is not in this export)", META)
        return heading + self._body_lines(f"deleted text: {self._text(text)}", STRUCK)

    def _notice(self, event: Event) -> list[Line]:
        who = self._text(self._who(event))
        style, text = self._describe(event, who)
        text = self._text(text)  # the parts not written out yet (a file's content type, ...)
        font = self.fonts.best(self.fonts.italic if style == META else self.fonts.regular, text)
        time = _hms(self._wall(event.occurred_at))
        wrapped = wrap(text, font, BODY_SIZE, self.geometry.wide_width)
        lines = [(style, font.name, time if i == 0 else "", "", "", piece) for i, piece in enumerate(wrapped)]
        if isinstance(event, FileUploadEvent):
            details = self._text(self._attachment(event))
            font = self.fonts.best(self.fonts.italic, details)
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
            name = self._text(info.name)
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
        time = _hms(self._wall(event.occurred_at))
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


def read_spool(spool: IO[bytes]) -> Iterator[tuple[Any, ...]]:
    spool.seek(0)
    while True:
        try:
            yield marshal.load(spool)  # noqa: S302 - our own temporary file, written just before
        except EOFError:
            return


class Renderer:
    """Pass two: draws the cover, the table of contents and the spooled transcripts."""

    def __init__(self, canvas: Canvas, fonts: ReportFonts, geometry: Geometry, context: ExportContext) -> None:
        self.canvas = canvas
        self.fonts = fonts
        self.geometry = geometry
        self.context = context
        self.page = 0
        self.total_pages = 0
        self.room: RoomSummary | None = None
        self.titles: tuple[str, str] = ("", "")
        """The current room's header, cut to fit, for its first and its continued pages."""
        self.y = 0.0

    def render(self, layout: Layout, spool: IO[bytes], warnings: list[str]) -> None:
        rooms = layout.rooms
        toc_pages = self.toc_page_count(len(rooms))
        offset = 1 + toc_pages
        self.total_pages = offset + layout.pages
        self._cover(layout.totals, len(rooms), warnings)
        self._contents(rooms, offset)
        self._transcripts(rooms, spool)
        self._end_page()

    def _draw(self, x: float, y: float, text: str, font: Font, size: float) -> None:
        """Draw one line from ``x``: in visual order, each run in the font that has its glyphs."""
        c = self.canvas
        runs = font.runs(_visual(text))
        for index, (face, run) in enumerate(runs):
            c.setFont(face.name, size)
            c.drawString(x, y, run)
            if index < len(runs) - 1:
                x += face.width(run, size)

    def toc_page_count(self, rooms: int) -> int:
        first = self.geometry.toc_rows(first_page=True)
        if rooms <= first:
            return 1
        return 1 + math.ceil((rooms - first) / self.geometry.toc_rows(first_page=False))

    def _new_page(self) -> None:
        if self.page:
            self._end_page()
        self.page += 1

    def _end_page(self) -> None:
        if not self.page:
            return
        c = self.canvas
        g = self.geometry
        c.setFillColor(GREY)
        c.setFont(self.fonts.regular.name, FOOTER_SIZE)
        footer = f"Export {self.context.export_id} — page {self.page} of {self.total_pages}"
        c.drawCentredString(g.width / 2, g.margin, footer)
        c.showPage()

    def _cover(self, totals: Totals, rooms: int, warnings: list[str]) -> None:
        self._new_page()
        c, g, ctx = self.canvas, self.geometry, self.context
        y = g.height - g.margin - TITLE_SIZE
        c.setFont(self.fonts.bold.name, TITLE_SIZE)
        c.drawString(g.margin, y, "Archivist export report")
        y -= 30
        fields = [
            ("Case", ctx.case_name or "—"),
            ("Query", ctx.query or "(everything)"),
            ("Requested by", ctx.requested_by),
            ("Created at", _stamp(ctx.created_at, ctx.time_zone)),
            ("Export ID", ctx.export_id),
            ("Time zone", ctx.time_zone.key),
        ]
        if ctx.case_number:
            fields.insert(1, ("Case number", ctx.case_number))
        if ctx.custodians:
            fields.append(("Custodians", ", ".join(ctx.custodians)))
        y = self._fields(fields, y)
        y -= 12
        c.setFont(self.fonts.bold.name, 12)
        c.drawString(g.margin, y, "Contents of this export")
        y -= 20
        counts = [
            ("Events", f"{totals.events:,}"),
            ("Messages", f"{totals.messages:,}"),
            ("Edits", f"{totals.edits:,}"),
            ("Deletions", f"{totals.deletions:,}"),
            ("Files", f"{totals.files:,}"),
            ("Disclaimers", f"{totals.disclaimers:,}"),
            ("Policy decisions", f"{totals.policy_decisions:,}"),
            ("Rooms", f"{rooms:,}"),
            ("Participants", f"{len(totals.participants):,}"),
            ("First event", _stamp(totals.first, ctx.time_zone)),
            ("Last event", _stamp(totals.last, ctx.time_zone)),
        ]
        y = self._fields(counts, y)
        zone = ctx.time_zone.key
        notes = [
            f"All times are in {zone}; days begin at midnight {zone}. A time followed by an offset in "
            "brackets, e.g. (+09:00), was sent by a clock at that UTC offset. Edits show every version; "
            "deleted messages stay, marked.",
            *warnings,
        ]
        self._notes(notes, y - 12)

    def _fields(self, fields: list[tuple[str, str]], y: float) -> float:
        c, g = self.canvas, self.geometry
        value_x = g.margin + 110
        for label, value in fields:
            c.setFillColor(GREY)
            c.setFont(self.fonts.regular.name, 10)
            c.drawString(g.margin, y, label)
            c.setFillColor(BLACK)
            value_font = self.fonts.best(self.fonts.bold, value)
            lines = wrap(value, value_font, 10, g.width - g.margin - value_x)
            for line in lines[:6]:
                self._draw(value_x, y, line, value_font, 10)
                y -= 14
        return y

    def _notes(self, notes: list[str], y: float) -> None:
        c, g = self.canvas, self.geometry
        c.setFillColor(GREY)
        for note in notes:
            drawable, _ = self.fonts.drawable(note)
            for line in wrap(drawable, self.fonts.regular, 8.5, g.width - 2 * g.margin):
                if y < g.bottom:
                    return
                self._draw(g.margin, y, line, self.fonts.regular, 8.5)
                y -= LEADING

    def _contents(self, rooms: list[RoomSummary], offset: int) -> None:
        g = self.geometry
        index = 0
        first = True
        while first or index < len(rooms):
            self._new_page()
            y = self._contents_title(first)
            for _ in range(g.toc_rows(first)):
                if index == len(rooms):
                    break
                self._contents_row(rooms[index], rooms[index].first_page + offset, y)
                index += 1
                y -= TOC_LEADING
            if first and not rooms:
                self.canvas.drawString(g.margin, y, "No events matched.")
            first = False

    def _contents_title(self, first: bool) -> float:
        c, g = self.canvas, self.geometry
        c.setFillColor(BLACK)
        top = g.height - g.margin
        if first:
            c.setFont(self.fonts.bold.name, 14)
            c.drawString(g.margin, top - 14, "Contents")
            c.bookmarkPage("contents")
            c.setFont(self.fonts.regular.name, 8)
            c.setFillColor(GREY)
            c.drawString(g.margin, top - 30, f"Room — messages — first and last event ({self.context.time_zone.key})")
            c.drawRightString(g.width - g.margin, top - 30, "Page")
            return top - 52
        return top - 20

    def _contents_row(self, room: RoomSummary, page: int, y: float) -> None:
        c, g = self.canvas, self.geometry
        zone = self.context.time_zone
        span = f"{_stamp(room.first, zone)[:16]} – {_stamp(room.last, zone)[:16]}"
        detail = f"{room.messages:,} messages, {span}"
        right = g.width - g.margin
        detail_x = right - 40 - self.fonts.regular.width(detail, 8)
        # Drawn left to right, so text extraction reads a row in order.
        title_font = self.fonts.best(self.fonts.bold, room.label)
        c.setFillColor(BLACK)
        self._draw(g.margin, y, _fit(room.label, title_font, 10, detail_x - g.margin - 8), title_font, 10)
        c.setFillColor(GREY)
        c.setFont(self.fonts.regular.name, 8)
        c.drawString(detail_x, y, detail)
        c.setFillColor(BLACK)
        c.setFont(self.fonts.regular.name, 10)
        c.drawRightString(right, y, str(page))
        c.linkRect("", room.key, (g.margin, y - 3, right, y + 10), relative=0)

    def _transcripts(self, rooms: list[RoomSummary], spool: IO[bytes]) -> None:
        for record in read_spool(spool):
            kind = record[0]
            if kind == "L":
                self._line(*record[1:])
            elif kind == "R":
                self.room = rooms[record[1]]
                font = self.fonts.best(self.fonts.bold, self.room.label)
                width = self.geometry.width - 2 * self.geometry.margin - 80
                label = self.room.label
                self.titles = (
                    _fit(label, font, HEADER_SIZE, width),
                    _fit(f"{label} (continued)", font, HEADER_SIZE, width),
                )
                self._transcript_page(continued=False)
                self.canvas.bookmarkPage(self.room.key)
                self.canvas.addOutlineEntry(self.room.label, self.room.key, level=0, closed=True)
            elif kind == "B":
                self._transcript_page(continued=True)
            elif kind == "D":
                self._day(record[1], record[2])

    def _transcript_page(self, continued: bool) -> None:
        assert self.room is not None
        self._new_page()
        c, g = self.canvas, self.geometry
        top = g.height - g.margin
        font = self.fonts.best(self.fonts.bold, self.room.label)
        c.setFillColor(BLACK)
        self._draw(g.margin, top - HEADER_SIZE, self.titles[1] if continued else self.titles[0], font, HEADER_SIZE)
        c.setFillColor(GREY)
        c.setFont(self.fonts.regular.name, FOOTER_SIZE)
        c.drawRightString(g.width - g.margin, top - HEADER_SIZE, f"times {self.context.time_zone.key}")
        c.setStrokeColor(RULE)
        c.setLineWidth(0.5)
        c.line(g.margin, top - HEADER_SIZE - 5, g.width - g.margin, top - HEADER_SIZE - 5)
        self.y = g.top

    def _day(self, key: str, title: str) -> None:
        c, g = self.canvas, self.geometry
        c.setFillColor(BLACK)
        c.setFont(self.fonts.bold.name, BODY_SIZE)
        c.drawString(g.time_x, self.y, title)
        c.bookmarkHorizontal(key, 0, self.y + LEADING)
        c.addOutlineEntry(title, key, level=1)
        self.y -= LEADING

    def _line(self, style: str, font: str, time: str, who: str, who_font: str, text: str) -> None:
        c, g, y = self.canvas, self.geometry, self.y
        if style == DISCLAIMER:
            c.setFillColor(DISCLAIMER_FILL)
            c.rect(g.name_x - 2, y - 3, g.wide_width + 2, LEADING, stroke=0, fill=1)
        if time:
            c.setFillColor(GREY)
            c.setFont(self.fonts.mono.name, BODY_SIZE - 0.5)
            c.drawString(g.time_x, y, time)
        if who:
            c.setFillColor(BLACK)
            self._draw(g.name_x, y, who, self.fonts.named(who_font), BODY_SIZE)
        if text:
            x = g.body_x if style in (MESSAGE, CONTINUED, STRUCK, DELETION) or who else g.name_x
            c.setFillColor(STYLE_COLORS[style])
            face = self.fonts.named(font)
            self._draw(x, y, text, face, BODY_SIZE)
            if style == STRUCK:
                c.setStrokeColor(GREY)
                c.setLineWidth(0.6)
                c.line(x, y + BODY_SIZE * 0.3, x + face.width(text, BODY_SIZE), y + BODY_SIZE * 0.3)
        self.y = y - LEADING


_KEY_NAME = 200
"""A name or id longer than this is cut in a room's list of people (the transcript has it whole)."""


def _cut(name: str) -> str:
    return name if len(name) <= _KEY_NAME else name[: _KEY_NAME - 1] + "…"


def _fit(text: str, font: Font, size: float, width: float) -> str:
    """``text``, cut with an ellipsis if wider than ``width`` (one pass, like ``_break_word``)."""
    if font.width(text, size) <= width:
        return text
    room = width - font.width("…", size)
    return _break_word(text, font, size, room)[0] + "…" if room > 0 else "…"


class PdfReportFormat:
    """A paginated PDF for reviewers: cover, contents, then every room's transcript."""

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
        report = FormatReport(format=self.name)
        with tempfile.TemporaryFile() as spool:
            layout = Layout(fonts, self.geometry, spool, context.time_zone, context.attachments)
            try:
                for event in events:
                    layout.add(event)
            finally:
                layout.finish()
            spool.flush()
            report.events = layout.totals.events
            report.items = layout.totals.messages
            report.warnings.extend(layout.totals.warnings())
            report.losses.extend(layout.totals.losses())
            report.times = (
                f"in {context.time_zone.key} (named on the cover and every transcript page), days cut at its "
                "midnight; the sender's UTC offset in brackets under a time when it differs"
            )
            report.files.append(self._draw(layout, spool, files, fonts, context, report.warnings))
        return report

    def _draw(
        self,
        layout: Layout,
        spool: IO[bytes],
        files: ExportFiles,
        fonts: ReportFonts,
        context: ExportContext,
        warnings: list[str],
    ) -> WrittenFile:
        with files.create(REPORT_PATH, MEDIA_TYPE) as stream:
            hashing = HashingWriter(stream)
            # invariant: no creation timestamp inside, so the same export gives the same bytes.
            canvas = Canvas(hashing, pagesize=(self.geometry.width, self.geometry.height), invariant=1)
            canvas.setTitle(f"Export {context.export_id}" + (f" — {context.case_name}" if context.case_name else ""))
            canvas.setAuthor(context.requested_by)
            canvas.setCreator("Archivist")
            canvas.setSubject(context.query)
            canvas.showOutline()
            Renderer(canvas, fonts, self.geometry, context).render(layout, spool, warnings)
            canvas.save()
        return WrittenFile(REPORT_PATH, hashing.size, hashing.digest.hexdigest(), MEDIA_TYPE)
