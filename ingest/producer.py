"""Feeding a stream of parsed events (or rejected inputs) into an :class:`EventSink` in chunks.

Progress is reported only after a chunk is durable (committed to staging, or confirmed by the
broker), so whatever a producer reported as accepted survives it being killed; running the
same input again re-sends the rest, and the event ids make the overlap harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.errors import InvalidEvent
from ingest.events import Event, event_to_json, parse_event_json
from ingest.sink import EventSink


@dataclass(frozen=True)
class Rejected:
    """An input that is not a valid event: where it was and why."""

    where: str
    reason: str


@dataclass
class FeedReport:
    accepted: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def feed(
    sink: EventSink,
    items: Iterable[Event | Rejected],
    *,
    chunk_size: int = 1000,
    on_progress: Callable[[FeedReport], None] | None = None,
) -> FeedReport:
    """Submit events to ``sink`` ``chunk_size`` at a time, collecting the rejected inputs."""
    report = FeedReport()
    chunk: list[Event] = []

    def flush() -> None:
        report.accepted += sink.submit(chunk)
        chunk.clear()
        if on_progress is not None:
            on_progress(report)

    for item in items:
        if isinstance(item, Rejected):
            report.rejected.append(item)
            continue
        chunk.append(item)
        if len(chunk) >= chunk_size:
            flush()
    if chunk:
        flush()
    return report


def read_jsonl(path: Path) -> Iterator[Event | Rejected]:
    """Events from a JSON Lines file, one per line; blank lines are skipped, bad ones rejected."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield parse_event_json(line)
            except InvalidEvent as error:
                yield Rejected(f"{path.name}:{number}", error.reason)


def write_jsonl(events: Iterable[Event], path: Path) -> int:
    """Write events as JSON Lines (the format ``archivist publish`` reads); returns the count."""
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(event_to_json(event) + "\n")
            count += 1
    return count
