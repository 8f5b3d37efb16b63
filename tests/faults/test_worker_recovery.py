"""The workers wait for a server that is down instead of exiting: quick checks, no servers needed.

``test_pipeline_faults.py`` shows the same with real kills; these pin the two fixes it found.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from adapters.processor import BatchProcessor
from ingest.consumer import ConsumerOptions, StagingConsumer
from ingest.db import create_db_engine
from ingest.staging import StagingStore
from tests.faults.servers import free_port

DOWN_FOR = 1.5


def _keeps_running(target: Callable[[], object], stop: Callable[[], None]) -> list[BaseException]:
    """Run ``target`` on a thread for DOWN_FOR seconds; it must still run, then stop when asked.
    Returns what it raised (nothing, when it behaves)."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as error:
            raised.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(DOWN_FOR)
    assert thread.is_alive(), f"it gave up while the server was down: {raised!r}"
    stop()
    thread.join(timeout=20)
    assert not thread.is_alive(), "it did not stop when asked"
    return raised


def test_a_consumer_waits_for_a_broker_that_refuses_connections(sqlite_store: StagingStore) -> None:
    # kombu raises its own OperationalError for a refused connect; the consumer used to exit on it.
    consumer = StagingConsumer(
        f"amqp://guest:guest@127.0.0.1:{free_port()}//", sqlite_store, options=ConsumerOptions(batch_timeout=0.1)
    )
    assert _keeps_running(consumer.run, consumer.stop) == []
    assert consumer.stats.reconnects >= 1


def test_a_processor_waits_for_a_database_that_is_down(tmp_path: Path) -> None:
    # The first query fails to connect; the processor used to exit with the database error.
    engine = create_db_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/archivist")
    processor = BatchProcessor(engine, [])
    try:
        assert _keeps_running(lambda: processor.run(interval=0.05), processor.stop) == []
    finally:
        engine.dispose()
