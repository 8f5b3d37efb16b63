"""The ``actiance`` export format: Actiance XML (:mod:`formats.actiance_xml`), one conversation per
room per day, in files of at most :data:`~formats.actiance_xml.MAX_EVENTS` events. Days are cut
at midnight in the export's time zone; times are written in UTC (``DateTimeUTC``, as the format
requires), and the manifest says so."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from exports.base import ExportContext, ExportFiles, FormatReport, HashingWriter, Loss, WrittenFile
from exports.natives import NativeLosses, natives_not_carried
from formats.actiance_xml import (
    DOCUMENT_END,
    DOCUMENT_START,
    LAST_MILLISECOND,
    MAX_EVENTS,
    MEDIA_TYPE,
    Period,
    Rendered,
    render_conversation,
)
from formats.time_zones import day_span, local_date
from formats.xml_text import ESCAPE_EXACT, ESCAPE_LOSS
from ingest.events import Actor, Event, Room

# --- the export format ---------------------------------------------------------------------


def _day_bounds(day: date, zone: ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """The first and the last millisecond of ``day`` in ``zone`` (UTC when None), in UTC (no day
    after it is needed in UTC: 9999-12-31 works)."""
    if zone is None or zone.key == "UTC":
        return datetime.combine(day, time(tzinfo=UTC)), datetime.combine(day, LAST_MILLISECOND)
    start, after = day_span(day, zone)
    return start, after - timedelta(milliseconds=1)


class _ChunkedFiles:
    """``actiance/actiance_<n>.xml`` files of at most :data:`MAX_EVENTS` events each."""

    def __init__(self, files: ExportFiles) -> None:
        self.files = files
        self.written: list[WrittenFile] = []
        self.count = 0
        self.events_in_file = 0
        self._stack: ExitStack | None = None
        self._stream: HashingWriter | None = None

    def add(self, xml: str, events: int) -> None:
        if self._stream is None or self.events_in_file + events > MAX_EVENTS:
            self._next_file()
        assert self._stream is not None
        self._stream.write(xml.encode())
        self.events_in_file += events

    def ensure_file(self) -> None:
        """An export with no events still gets one (empty) ``FileDump``, as Mattermost writes."""
        if self.count == 0:
            self._next_file()

    def _next_file(self) -> None:
        self.close()
        self.count += 1
        path = f"actiance/actiance_{self.count}.xml"
        self._stack = ExitStack()
        self._stream = HashingWriter(self._stack.enter_context(self.files.create(path, MEDIA_TYPE)))
        self.written.append(WrittenFile(path, media_type=MEDIA_TYPE))
        self._stream.write(DOCUMENT_START.encode())
        self.events_in_file = 0

    def close(self) -> None:
        """Finish the open file (its closing tag, then the stream)."""
        if self._stream is None or self._stack is None:
            return
        self._stream.write(DOCUMENT_END.encode())
        self._stack.close()
        self.written[-1].size = self._stream.size
        self.written[-1].sha256 = self._stream.digest.hexdigest()
        self._stream = self._stack = None


FORMAT = "actiance"


@dataclass
class _Totals:
    conversations: int = 0
    replaced_characters: int = 0
    without_element: Counter[str] = field(default_factory=Counter)
    deletions_without_text: int = 0

    def add(self, rendered: Rendered) -> None:
        self.conversations += 1
        self.replaced_characters += rendered.replaced_characters
        self.without_element.update(rendered.without_element)
        self.deletions_without_text += rendered.deletions_without_text

    def losses(self) -> list[Loss]:
        found: list[Loss] = []
        if self.replaced_characters:
            found.append(
                Loss(
                    FORMAT,
                    "Actiance XML: any element's text",
                    self.replaced_characters,
                    ESCAPE_LOSS,
                    ESCAPE_EXACT,
                    (),
                    "characters",
                )
            )
        for kind, count in sorted(self.without_element.items()):
            found.append(
                Loss(
                    FORMAT,
                    f"Actiance XML: {kind} events",
                    count,
                    "Actiance has no element for these events (they count for presence only)",
                    "the archived event (events.jsonl); the CSV, DAT and EDRM exports carry them",
                )
            )
        if self.deletions_without_text:
            found.append(
                Loss(
                    FORMAT,
                    "Actiance XML: Content of a Deleted message",
                    self.deletions_without_text,
                    "the message was posted before its conversation, and the format carries a deleted text only "
                    "in the Message of the deletion, which has nothing to take it from: Content is empty",
                    "the post, in the conversation of its day when the export holds it; the archived post event "
                    "(events.jsonl; the CSV and DAT row of the post, its TEXTPATH)",
                )
            )
        return found


def _room_days(
    events: Iterable[Event], zone: ZoneInfo | None = None
) -> Iterator[tuple[Room, date, list[Event], bool, bool]]:
    """(room, day, part, first part of the day?, last part of the day?) in export order, days
    in ``zone`` (UTC when None)."""
    buffer: list[Event] = []
    key: tuple[str, date] | None = None
    first = True
    utc = zone is None or zone.key == "UTC"
    for event in events:
        day = event.occurred_at.date() if utc or zone is None else local_date(event.occurred_at, zone)
        event_key = (event.room.id, day)
        if key is not None and event_key != key:
            yield buffer[0].room, key[1], buffer, first, True
            buffer, first = [], True
        elif len(buffer) == MAX_EVENTS:
            yield buffer[0].room, event_key[1], buffer, first, False
            buffer, first = [], False
        key = event_key
        buffer.append(event)
    if key is not None:
        yield buffer[0].room, key[1], buffer, first, True


class ActianceFormat:
    """Actiance XML: ``actiance/actiance_<n>.xml``, each of at most 10,000 events."""

    name = FORMAT
    not_carried: ClassVar[dict[str, str]] = {
        "message.format": "an Actiance Message has no element for its text's format"
        ": a text/html message is written as its source",
        "source.server": "Actiance XML has no element for the chat server an event came from",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        totals = _Totals()
        chunks = _ChunkedFiles(files)
        natives = NativeLosses(self.name)
        events = natives_not_carried(events, natives, "Actiance XML: FileTransfer (the file's content)")
        try:
            room_id: str | None = None
            present: dict[str, Actor] = {}
            zone = context.time_zone
            for room, day, part, first, last in _room_days(events, zone):
                if room.id != room_id:
                    room_id, present = room.id, {}
                day_start, day_end = _day_bounds(day, zone)
                start = day_start if first else part[0].occurred_at
                end = day_end if last else part[-1].occurred_at
                rendered = render_conversation(Period(room, start, end, part, present))
                present = rendered.present_at_end
                chunks.add(rendered.xml, len(part))
                totals.add(rendered)
                report.events += len(part)
            chunks.ensure_file()
        finally:
            chunks.close()
        report.files = chunks.written
        report.items = totals.conversations
        report.losses.extend(totals.losses())
        natives.report_to(report)
        report.times = (
            "UTC (Actiance's DateTimeUTC and StartTimeUTC/EndTimeUTC; the sender's UTC offset is not carried); "
            f"one Conversation per room and day cut at midnight {context.time_zone.key}"
        )
        return report
