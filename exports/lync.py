"""The Lync / Skype for Business Persistent Chat compliance XML, as the ``xml`` adapter writes it.

One file per conversation-day (room + date in the export's time zone, cut at its midnight), split
after :data:`MAX_EVENTS_PER_FILE` events, rendered by :func:`formats.lync_xml.render` (so the
export and the adapter write the same XML, valid against ``adapters/schemas/lync_compliance.xsd``). Files are named
``lync/pchat-<first event's UTC time>-<room-slug>-<part>.xml``, so they sort by time. Times in
the XML are UTC, as the schema's ``xs:dateTime`` values are written by Lync; the manifest says so.

The format has elements for joins, leaves, posts, reads and file transfers only: edits,
deletions, disclaimers, policy decisions and room updates are not in it, and the report says how
many of each were left out, as losses (the CSV, DAT, JSONL and EDRM exports carry them). An edited or
deleted message cannot be marked either (the schema's message types are JOIN, PART, CHAT,
BACKCHAT, FILEUPLOAD and FILEDOWNLOAD, and a message has no attribute for a change): its ``CHAT``
keeps the text as posted, never rewritten, and the report names every such message by its Lync
id and archive id with what happened to it (edited n times, deleted), so a reviewer can find it
in the transcript (a loss of the report). Characters XML 1.0 cannot carry are escaped
reversibly (:mod:`formats.xml_text`) and the report's losses say in how many files. Memory: at most one file's
events, and the ids of the messages edited or deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from exports.base import ExportContext, ExportFiles, FormatReport, Loss, LossTally
from exports.edrm import conversation_days, room_slug
from exports.jsonl import tracked_file
from exports.natives import NativeLosses, natives_not_carried
from formats.lync_xml import in_format, render, stable_number
from formats.xml_text import ESCAPE_EXACT, ESCAPE_LOSS, escape_marks
from ingest.events import DeleteEvent, EditEvent, Event

LYNC_DIR = "lync"
MAX_EVENTS_PER_FILE = 5_000
MEDIA_TYPE = "application/xml"


def file_stamp(moment: datetime) -> str:
    """``20261122T091502.120000Z``: UTC, sorts as text in time order."""
    u = moment.astimezone(UTC)
    return f"{u.year:04d}{u.month:02d}{u.day:02d}T{u.hour:02d}{u.minute:02d}{u.second:02d}.{u.microsecond:06d}Z"


def file_path(batch: Sequence[Event], part: int) -> str:
    first = batch[0]
    return f"{LYNC_DIR}/pchat-{file_stamp(first.occurred_at)}-{room_slug(first.room.id)}-{part:03d}.xml"


@dataclass
class _Change:
    edits: int = 0
    deleted: bool = False

    def __str__(self) -> str:
        said = [f"edited {self.edits} time{'' if self.edits == 1 else 's'}"] if self.edits else []
        return ", ".join([*said, "deleted"] if self.deleted else said)


def changed_warning(changes: dict[str, _Change]) -> str:
    """The report's line naming every message the transcript shows as first posted though it changed."""
    listed = "; ".join(
        f"{stable_number(message_id)} = {message_id}: {change}" for message_id, change in changes.items()
    )
    return (
        f"the Lync format cannot mark an edit or a deletion; {len(changes)} messages were changed after they "
        f"were posted and read in the transcript as first posted (Lync id = archive message id: changes): {listed}"
    )


class LyncXmlFormat:
    """Lync Persistent Chat compliance XML, one file per conversation-day (or part of one)."""

    name = "lync"
    not_carried: ClassVar[dict[str, str]] = {
        "message.format": "a Lync Message has no attribute for its text's format"
        ": a text/html message is written as its source",
    }
    """Event fields the format cannot carry, and why: each a loss of the report when events have
    them (:func:`exports.base.write_format`)."""

    def __init__(self, max_events_per_file: int = MAX_EVENTS_PER_FILE) -> None:
        if max_events_per_file < 1:
            raise ValueError(f"max_events_per_file must be 1 or more, got {max_events_per_file}")
        self.max_events_per_file = max_events_per_file
        self._escaped_files = 0

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(format=self.name)
        self._escaped_files = 0
        left_out = LossTally(
            self.name,
            "the Lync compliance format has no element for these events (its message types are JOIN, PART, CHAT, "
            "BACKCHAT, FILEUPLOAD and FILEDOWNLOAD)",
            "the archived event (events.jsonl); the CSV, DAT and EDRM exports carry them",
        )
        changes: dict[str, _Change] = {}
        changing_events: list[str] = []
        natives = NativeLosses(self.name)
        events = natives_not_carried(events, natives, "Lync XML: FILEUPLOAD (the file's content)")
        for _first, day_events in conversation_days(events, context.time_zone):
            batch: list[Event] = []
            part = 1
            for event in day_events:
                report.events += 1
                if not in_format(event):
                    left_out.add(f"Lync XML: {event.type} events", str(event.event_id))
                    if isinstance(event, EditEvent):
                        changes.setdefault(event.message.id, _Change()).edits += 1
                    elif isinstance(event, DeleteEvent):
                        changes.setdefault(event.message.id, _Change()).deleted = True
                    if isinstance(event, EditEvent | DeleteEvent) and len(changing_events) < 5:
                        changing_events.append(str(event.event_id))
                    continue
                batch.append(event)
                if len(batch) == self.max_events_per_file:
                    self._write_file(batch, part, files, report)
                    batch, part = [], part + 1
            if batch:
                self._write_file(batch, part, files, report)
        left_out.report_to(report)
        natives.report_to(report)
        report.times = (
            f"UTC, as Lync writes its times (the sender's UTC offset is not carried; see csv, jsonl or rsmf); "
            f"files per conversation-day cut at midnight {context.time_zone.key}"
        )
        if changes:
            report.losses.append(
                Loss(
                    self.name,
                    "Lync XML: Message (CHAT) of a message edited or deleted later",
                    len(changes),
                    changed_warning(changes),
                    "the edit and delete events (events.jsonl; the CSV and DAT rows with VERSION and DELETED, "
                    "TEXTPATH for each version's text)",
                    tuple(changing_events),
                    unit="messages",
                )
            )
        if self._escaped_files:
            report.losses.append(
                Loss(
                    self.name, "Lync XML: Message content", self._escaped_files, ESCAPE_LOSS, ESCAPE_EXACT, unit="files"
                )
            )
        return report

    def _write_file(self, batch: Sequence[Event], part: int, files: ExportFiles, report: FormatReport) -> None:
        content = render(batch)
        with tracked_file(files, file_path(batch, part), MEDIA_TYPE, report) as stream:
            stream.write(content)
        report.items += 1
        if escape_marks(content):
            self._escaped_files += 1
