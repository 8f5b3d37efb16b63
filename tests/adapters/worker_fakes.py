"""An adapter for worker-process tests: it records what it is given in a file (a worker's
memory is out of the test's reach) and can die, raise or refuse to start on request."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from adapters.base import AdapterContext, DeliveryResult, Failure
from ingest.events import Event

FACTORY = "tests.adapters.worker_fakes:create"


class FileRecordingAdapter:
    """Appends ``<pid> <event id>`` per event it writes to ``record``.

    ``die_once``: the first batch that finds this file missing creates it and kills the process
    (exit code 9) before writing anything. ``raise_message``: every batch raises it.
    ``reject``: event ids answered with a failure. ``poison``: event ids that make any batch
    holding one raise (without saying which)."""

    name = "recording"

    def __init__(
        self, record: Path, die_once: Path | None, raise_message: str, reject: set[str], poison: set[str]
    ) -> None:
        self.record = record
        self.die_once = die_once
        self.raise_message = raise_message
        self.reject = reject
        self.poison = poison

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        if self.die_once is not None and not self.die_once.exists():
            self.die_once.touch()
            os._exit(9)
        if self.raise_message:
            raise RuntimeError(self.raise_message)
        if any(str(e.event_id) in self.poison for e in batch):
            raise ValueError("one of these cannot be written")
        results: list[DeliveryResult] = []
        with self.record.open("a", encoding="utf-8") as out:
            for event in batch:
                if str(event.event_id) in self.reject:
                    results.append(Failure("rejected on purpose"))
                else:
                    out.write(f"{os.getpid()} {event.event_id}\n")
                    results.append(None)
        return results

    def close(self) -> None:
        with self.record.open("a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} closed\n")


def create(context: AdapterContext) -> FileRecordingAdapter:
    options = context.options
    if "refuse_start" in options:
        raise ValueError(options["refuse_start"])
    die_once = options.get("die_once")
    return FileRecordingAdapter(
        Path(options["record"]),
        Path(die_once) if die_once else None,
        options.get("raise", ""),
        set(filter(None, options.get("reject", "").split(","))),
        set(filter(None, options.get("poison", "").split(","))),
    )


def recorded(record: Path) -> list[tuple[int, str]]:
    """What the adapter wrote, as (process id, event id or "closed")."""
    if not record.exists():
        return []
    return [(int(pid), what) for pid, what in (line.split(" ", 1) for line in record.read_text().splitlines())]
