"""Processor throughput per adapter and all together, beside the raw limit of the same stores.

    python -m bench.process [--events 50000] [--write]

For each backend (embedded SQLite, PostgreSQL) the same simulated events are staged, then one
processor delivers them to one adapter (archive, index, xml) or to all three. The raw limit is
what the stores take with nothing but the writes: the rows of the archive tables inserted
directly (1000 per transaction) plus the same Tantivy documents added and committed once.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, insert

from adapters.archive import chained_rows
from adapters.archive_derived import post_row
from adapters.archive_schema import archive_events, archive_messages
from adapters.base import AdapterContext
from adapters.hashchain import GENESIS
from adapters.index_adapter import posted_message, to_document
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.registry import build_adapters
from adapters.tantivy_schema import open_index
from archivist.migrate import upgrade
from bench.common import drop_postgres, fresh_postgres, write_section
from ingest.db import create_db_engine
from ingest.events import Event, PostEvent
from ingest.simulate import simulate_events
from ingest.staging import StagingStore, to_row

POSTGRES_URL = os.environ.get("ARCHIVIST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BEGIN, END = "<!-- bench/process.py begin -->", "<!-- bench/process.py end -->"


@dataclass
class Figure:
    backend: str
    name: str
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


class Backend:
    """A fresh database (and data directory) per measurement."""

    def __init__(self, kind: str, scratch: Path) -> None:
        self.kind = kind
        self.scratch = scratch
        self.created: list[str] = []

    def fresh(self) -> tuple[Engine, Path]:
        directory = self.scratch / uuid.uuid4().hex[:8]
        directory.mkdir()
        if self.kind == "sqlite":
            url = f"sqlite:///{directory / 'archivist.sqlite3'}"
            upgrade(create_db_engine(url))
        else:
            url = fresh_postgres(POSTGRES_URL)
            self.created.append(url)
        return create_db_engine(url), directory

    def drop_all(self) -> None:
        for url in self.created:
            drop_postgres(url, POSTGRES_URL)


def through_processor(backend: Backend, events: list[Event], adapters: str) -> Figure:
    engine, directory = backend.fresh()
    StagingStore(engine).insert([to_row(e) for e in events])
    context = AdapterContext(engine=engine, data_dir=directory)
    built = build_adapters(adapters, context)
    if adapters != "archive":  # the archive is always first; measure the others on their own
        built = [a for a in built if a.name in adapters.split(",")]
    processor = BatchProcessor(engine, built, ProcessorOptions(batch_size=1000))
    started = time.perf_counter()
    outcome = processor.run(until_empty=True)
    elapsed = time.perf_counter() - started
    for adapter in built:
        adapter.close()
    engine.dispose()
    if outcome.completed != len(events):
        raise RuntimeError(f"{adapters}: delivered {outcome.completed} of {len(events)}")
    return Figure(backend.kind, f"processor -> {adapters.replace(',', ' + ')}", len(events), elapsed)


def raw_archive_insert(backend: Backend, events: list[Event]) -> float:
    """Seconds to insert the archive rows (events, chain hashes precomputed, messages) directly."""
    engine, _ = backend.fresh()
    event_rows = chained_rows(events, GENESIS, datetime.now(UTC))
    seen: set[str] = set()
    message_rows = []
    for event in events:
        if isinstance(event, PostEvent) and event.message.id not in seen:
            seen.add(event.message.id)
            message_rows.append(post_row(event))
    started = time.perf_counter()
    for start in range(0, len(event_rows), 1000):
        with engine.begin() as connection:
            connection.execute(insert(archive_events), event_rows[start : start + 1000])
            messages = message_rows[start : start + 1000]
            if messages:
                connection.execute(insert(archive_messages), messages)
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def raw_tantivy(scratch: Path, events: list[Event]) -> float:
    """Seconds to add the same message documents to a fresh index and commit them."""
    documents = [to_document(posted_message(e)) for e in events if isinstance(e, PostEvent)]
    index = open_index(scratch / f"raw-index-{uuid.uuid4().hex[:6]}")
    started = time.perf_counter()
    writer = index.writer(heap_size=128_000_000, num_threads=1)
    for document in documents:
        writer.add_document(document)
    writer.commit()
    writer.wait_merging_threads()
    return time.perf_counter() - started


def measure(backend: Backend, events: list[Event]) -> list[Figure]:
    figures = [through_processor(backend, events, name) for name in ("archive", "index", "xml", "archive,index,xml")]
    archive_seconds = raw_archive_insert(backend, events)
    tantivy_seconds = raw_tantivy(backend.scratch, events)
    figures.append(Figure(backend.kind, "raw: archive tables insert", len(events), archive_seconds))
    figures.append(Figure(backend.kind, "raw: Tantivy add + commit", len(events), tantivy_seconds))
    figures.append(Figure(backend.kind, "raw limit: archive + Tantivy", len(events), archive_seconds + tantivy_seconds))
    return figures


def report(figures: list[Figure], count: int) -> str:
    lines = [
        BEGIN,
        "## Processing (`bench/process.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {count:,} simulated events, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; batches of 1,000, one processor.",
        "",
        "| backend | path | events/s | seconds |",
        "| --- | --- | ---: | ---: |",
        *[f"| {f.backend} | {f.name} | {f.rate:,.0f} | {f.seconds:.2f} |" for f in figures],
        "",
    ]
    for backend in dict.fromkeys(f.backend for f in figures):
        together = next(f for f in figures if f.backend == backend and f.name.endswith("archive + index + xml"))
        limit = next(f for f in figures if f.backend == backend and f.name.startswith("raw limit"))
        lines.append(
            f"- {backend}: archive + index + xml together at **{together.rate / limit.rate:.0%}** of the raw "
            "limit (target: 50% or more)."
        )
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    events = list(simulate_events(events=args.events, rooms=20, users=200, seed=11))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("sqlite", "postgresql"):
            backend = Backend(kind, Path(scratch))
            try:
                figures.extend(measure(backend, events))
            finally:
                backend.drop_all()
    section = report(figures, args.events)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


if __name__ == "__main__":
    main()
