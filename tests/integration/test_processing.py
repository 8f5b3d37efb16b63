"""Processors against the real PostgreSQL: several at once, and one killed mid-batch."""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import time
from collections.abc import Sequence
from typing import Any

from adapters.archive import ArchiveAdapter
from adapters.base import DeliveryResult
from adapters.processor import BatchProcessor, ProcessorOptions
from archive.record import archived_count, verify_archive
from ingest.db import create_db_engine
from ingest.events import Event
from ingest.staging import StagingStore, to_row
from tests.factories import posts
from tests.processes import archivist_env, run_archivist, start_archivist, wait_until

Delivery = tuple[str, float, float]


class TimedDeliveries:
    """Records when each event was being delivered, to catch two deliveries at the same time."""

    name = "timed"

    def __init__(self) -> None:
        self.log: list[Delivery] = []

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        started = time.monotonic()
        time.sleep(0.01)
        finished = time.monotonic()
        self.log.extend((str(e.event_id), started, finished) for e in batch)
        return [None] * len(batch)

    def close(self) -> None:
        pass


def _processor_process(url: str, done: Any) -> None:
    engine = create_db_engine(url)
    timed = TimedDeliveries()
    outcome = BatchProcessor(engine, [ArchiveAdapter(engine), timed], ProcessorOptions(batch_size=250)).run(
        interval=0.1, until_empty=True
    )
    done.put((outcome.completed, timed.log))


def test_four_processors_share_the_work_without_overlap(postgres_url: str, postgres_store: StagingStore) -> None:
    events = posts(20_000, run="four")
    postgres_store.insert([to_row(e) for e in events])
    context = multiprocessing.get_context("fork")
    done: Any = context.Queue()
    workers = [context.Process(target=_processor_process, args=(postgres_url, done)) for _ in range(4)]
    for worker in workers:
        worker.start()
    results = [done.get(timeout=300) for _ in workers]
    completed = [count for count, _ in results]
    deliveries: dict[str, list[tuple[float, float]]] = {}
    for _, log in results:
        for event_id, started, finished in log:
            deliveries.setdefault(event_id, []).append((started, finished))
    for worker in workers:
        worker.join(timeout=30)

    assert sum(completed) == 20_000
    assert all(count > 0 for count in completed), f"every processor took part: {completed}"
    assert set(deliveries) == {str(e.event_id) for e in events}
    for event_id, spans in deliveries.items():
        spans.sort()
        for (_, first_end), (second_start, _) in itertools.pairwise(spans):
            assert second_start >= first_end, f"{event_id} was delivered twice at the same time"
    assert postgres_store.counts().staged == 0
    assert archived_count(postgres_store.engine) == 20_000
    assert verify_archive(postgres_store.engine).ok


def test_processor_killed_mid_batch_loses_and_duplicates_nothing(
    postgres_url: str, postgres_store: StagingStore
) -> None:
    events = posts(20_000, run="kill-processor")
    postgres_store.insert([to_row(e) for e in events])
    env = archivist_env(
        database_url=postgres_url,
        adapters="archive",
        process_batch_size="500",
        lease_seconds="2",
        process_interval="0.2",
    )
    processor = start_archivist(["process"], env)
    try:
        wait_until(lambda: archived_count(postgres_store.engine) >= 3_000, timeout=120, what="3,000 archived events")
    finally:
        processor.send_signal(signal.SIGKILL)
        processor.wait(timeout=10)
    assert 0 < postgres_store.counts().staged < 20_000, "the kill must land mid-stream"

    finished = run_archivist(["process", "--until-empty"], env)
    assert finished.returncode == 0, finished.stderr
    assert postgres_store.counts().staged == 0
    assert archived_count(postgres_store.engine) == 20_000
    report = verify_archive(postgres_store.engine)
    assert report.ok
    assert report.checked == 20_000
    verified = run_archivist(["verify"], env)
    assert verified.returncode == 0
    assert "archive chain intact: 20000 entries verified" in verified.stdout
