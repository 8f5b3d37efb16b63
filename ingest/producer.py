"""Feeding a stream of parsed events (or rejected inputs) into an :class:`EventSink` in chunks.

Progress is reported only after a chunk is durable (committed to staging, or confirmed by the
broker), so whatever a producer reported as accepted survives it being killed; running the
same input again re-sends the rest, and the event ids make the overlap harmless.

Files are read a bounded line at a time: a line longer than :data:`MAX_LINE_BYTES` is
rejected by its number and skipped without ever being held whole, so memory stays bounded
whatever a file holds (one 1 GB line included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ingest.errors import InvalidEvent
from ingest.events import MAX_EVENT_BYTES, Event, admit_event_json, event_to_json
from ingest.sink import EventSink, submit_checked

MAX_LINE_BYTES = MAX_EVENT_BYTES
"""The longest line a producer reads from a file: a line holds one event at most."""
_SKIP_CHUNK = 65536
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Rejected:
    """An input that is not a valid event (or conflicts with a recorded one): where it was and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class Located:
    """A valid event and where it came from (``file:line``), to name it if it conflicts."""

    event: Event
    where: str


@dataclass
class FeedReport:
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    conflicts: list[Rejected] = field(default_factory=list)
    """Events under a recorded event_id with other content: not accepted, the first version kept."""


def feed(
    sink: EventSink,
    items: Iterable[Event | Located | Rejected],
    *,
    chunk_size: int = 1000,
    on_progress: Callable[[FeedReport], None] | None = None,
) -> FeedReport:
    """Submit events to ``sink`` ``chunk_size`` at a time, collecting the rejected inputs."""
    report = FeedReport()
    chunk: list[Event] = []
    places: list[str] = []

    def flush() -> None:
        submitted = submit_checked(sink, chunk)
        report.accepted += submitted.accepted
        report.conflicts.extend(Rejected(places[c.position], c.reason) for c in submitted.conflicts)
        chunk.clear()
        places.clear()
        if on_progress is not None:
            on_progress(report)

    for item in items:
        if isinstance(item, Rejected):
            report.rejected.append(item)
            continue
        if isinstance(item, Located):
            chunk.append(item.event)
            places.append(item.where)
        else:
            chunk.append(item)
            places.append(f"event {item.event_id}")
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return report


@dataclass(frozen=True)
class Overlong:
    """A line longer than the limit, skipped unread: how many bytes it had (its newline excluded)."""

    size: int

    def reason(self, limit: int = MAX_LINE_BYTES) -> str:
        return f"the line is {self.size:,} bytes long; the limit is {limit:,} (one event per line)"


def read_lines(stream: BinaryIO, limit: int = MAX_LINE_BYTES) -> Iterator[bytes | Overlong]:
    """The lines of ``stream`` (newline included), or :class:`Overlong` for each one longer than
    ``limit`` bytes, which is read past in chunks, never held whole."""
    while line := stream.readline(limit + 1):
        if len(line) <= limit or line.endswith(b"\n"):
            yield line
            continue
        size = len(line)
        while not line.endswith(b"\n") and (line := stream.readline(_SKIP_CHUNK)):
            size += len(line)
        yield Overlong(size - line.endswith(b"\n"))


def read_jsonl(path: Path) -> Iterator[Located | Rejected]:
    """Events from a JSON Lines file, one per line; blank lines are skipped, bad ones rejected.
    A UTF-8 byte-order mark before the first line is allowed (editors on Windows write one)."""
    try:
        with path.open("rb") as stream:
            for number, line in enumerate(read_lines(stream), start=1):
                where = f"{path.name}:{number}"
                if isinstance(line, Overlong):
                    yield Rejected(where, line.reason())
                    continue
                if number == 1:
                    line = line.removeprefix(_BOM)
                if not line.strip():
                    continue
                try:
                    yield Located(admit_event_json(line), where)
                except InvalidEvent as error:
                    yield Rejected(where, error.reason)
    except OSError as error:
        yield Rejected(path.name, f"cannot read the file: {error.strerror or error}")


def write_jsonl(events: Iterable[Event], path: Path) -> int:
    """Write events as JSON Lines (the format ``archivist publish`` reads); returns the count."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(event_to_json(event) + "\n")
            count += 1
    return count
