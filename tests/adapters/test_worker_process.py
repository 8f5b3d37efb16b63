"""Adapters in worker processes (``ARCHIVIST_ADAPTER_PROCESSES``): what they get, and what
happens when a worker dies, raises, refuses to start, or outlives its processor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from adapters.base import AdapterContext, BatchFailed, WritesStagedPayloads
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.registry import UnknownAdapter, build_adapters, factory_location
from adapters.worker_process import AdapterProcess, WorkerSpec, WorkerStartFailed
from adapters.xml_adapter import LyncXmlAdapter
from archive.fs_file_store import FsFileStore
from archive.record import archived_count
from ingest.staging import StagingStore, staged_events, to_row
from ingest.staging_claims import parked_events
from search.tantivy_schema import ATTACHMENT, open_index
from tests import attachment_events
from tests.adapters.worker_fakes import FACTORY, recorded
from tests.factories import posts
from tests.processes import wait_until

QUICK_RETRIES = ProcessorOptions(batch_size=50, backoff_initial=0.01, backoff_maximum=0.05)


def worker(
    store: StagingStore, data_dir: Path, factory: str = FACTORY, name: str = "recording", **options: str
) -> AdapterProcess:
    context = AdapterContext(engine=store.engine, data_dir=data_dir, options=options)
    return AdapterProcess(WorkerSpec.of(name, factory, context))


@pytest.fixture
def closing() -> Iterator[list[AdapterProcess]]:
    """Workers to close at the end of the test, whatever happened."""
    started: list[AdapterProcess] = []
    yield started
    for adapter in started:
        adapter.close()


def test_the_processor_hands_a_worker_the_staged_payloads_and_it_writes_them_in_its_own_process(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    events = posts(120)
    sqlite_store.insert([to_row(e) for e in events])
    record = tmp_path / "record.txt"
    recording = worker(sqlite_store, tmp_path, record=str(record))
    xml = worker(sqlite_store, tmp_path, factory_location("xml"), "xml")
    closing += [recording, xml]
    assert isinstance(recording, WritesStagedPayloads)

    processor = BatchProcessor(
        sqlite_store.engine, [ArchiveAdapter(sqlite_store.engine), recording, xml], QUICK_RETRIES
    )
    total = processor.run(until_empty=True)

    assert (total.claimed, total.completed, total.failed) == (120, 120, 0)
    written = recorded(record)
    assert [event_id for _pid, event_id in written] == [str(e.event_id) for e in events], "once each, in order"
    assert {pid for pid, _event_id in written} != {os.getpid()}, "written by the worker, not by this process"
    assert len(list((tmp_path / "xml").glob("pchat-*.xml"))) == 3, "one file per batch of 50"
    assert archived_count(sqlite_store.engine) == 120
    assert sqlite_store.counts().staged == 0


def test_write_with_parsed_events_goes_through_the_worker_too(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    events = posts(5)
    closing.append(adapter := worker(sqlite_store, tmp_path, record=str(tmp_path / "record.txt")))
    assert adapter.write(events) == [None] * 5
    assert [event_id for _pid, event_id in recorded(tmp_path / "record.txt")] == [str(e.event_id) for e in events]


def test_a_worker_answers_per_event_failures(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    events = posts(4)
    reject = str(events[2].event_id)
    closing.append(adapter := worker(sqlite_store, tmp_path, record=str(tmp_path / "r.txt"), reject=reject))
    results = adapter.write(events)
    assert [r is None for r in results] == [True, True, False, True]
    failure = results[2]
    assert failure is not None
    assert failure.reason == "rejected on purpose"


def test_a_worker_killed_mid_batch_is_replaced_and_the_batch_delivered_in_the_same_cycle(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    """The worker's death raises (an event may have killed it), so the processor writes the
    batch again in halves: a new worker takes them, and nothing waits for a backoff."""
    events = posts(100)
    sqlite_store.insert([to_row(e) for e in events])
    record, marker = tmp_path / "record.txt", tmp_path / "died"
    closing.append(adapter := worker(sqlite_store, tmp_path, record=str(record), die_once=str(marker)))
    processor = BatchProcessor(sqlite_store.engine, [ArchiveAdapter(sqlite_store.engine), adapter], QUICK_RETRIES)

    first = processor.process_batch()
    assert marker.exists(), "the first worker died"
    assert (first.completed, first.failed) == (50, 0)

    total = processor.run(until_empty=True)
    assert total.failed == 0
    assert sqlite_store.counts().staged == 0
    written = recorded(record)
    assert sorted(event_id for _pid, event_id in written) == sorted(str(e.event_id) for e in events), "exactly once"
    assert archived_count(sqlite_store.engine) == 100


def test_an_adapter_that_raises_in_its_worker_fails_the_batch_with_its_message(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    sqlite_store.insert([to_row(e) for e in posts(10)])
    closing.append(
        adapter := worker(sqlite_store, tmp_path, record=str(tmp_path / "r.txt"), **{"raise": "disk on fire"})
    )
    outcome = BatchProcessor(sqlite_store.engine, [adapter], QUICK_RETRIES).process_batch()
    assert (outcome.failed, outcome.per_adapter_failures) == (10, {"recording": 10})
    with sqlite_store.engine.connect() as connection:
        errors = set(connection.execute(select(staged_events.c.last_error)).scalars())
    assert errors == {"recording: RuntimeError: disk on fire"}, "the reason it would have in process"
    pid = adapter._process.pid if adapter._process else None
    with pytest.raises(BatchFailed) as raised:
        adapter.write(posts(1))
    assert raised.value.failure.reason == "RuntimeError: disk on fire"
    assert adapter._process is not None
    assert adapter._process.pid == pid, "the same worker answers the next batch"


def test_a_batch_that_raises_in_its_worker_is_halved_and_only_the_poison_fails(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    events = posts(50)
    sqlite_store.insert([to_row(e) for e in events])
    poison = str(events[20].event_id)
    record = tmp_path / "r.txt"
    closing.append(adapter := worker(sqlite_store, tmp_path, record=str(record), poison=poison))
    options = ProcessorOptions(batch_size=50, max_attempts=1)
    outcome = BatchProcessor(sqlite_store.engine, [adapter], options).process_batch()
    assert (outcome.completed, outcome.failed, outcome.parked) == (49, 1, 1)
    assert [p["last_error"] for p in parked_events(sqlite_store.engine)] == [
        "recording: ValueError: one of these cannot be written"
    ]
    assert [event_id for _pid, event_id in recorded(record)] == [
        str(e.event_id) for e in events if str(e.event_id) != poison
    ]


def test_a_factory_that_fails_in_the_worker_stops_start_up_with_its_reason(
    sqlite_store: StagingStore, tmp_path: Path
) -> None:
    with pytest.raises(
        WorkerStartFailed, match="recording adapter could not start in its worker process: ValueError: no disk"
    ):
        worker(sqlite_store, tmp_path, refuse_start="no disk")


def test_close_ends_the_worker_after_its_adapter_closed(sqlite_store: StagingStore, tmp_path: Path) -> None:
    record = tmp_path / "record.txt"
    adapter = worker(sqlite_store, tmp_path, record=str(record))
    adapter.write(posts(1))
    adapter.close()
    assert recorded(record)[-1][1] == "closed"
    adapter.close()  # twice is harmless


def test_build_adapters_runs_the_named_ones_in_workers_and_never_the_archive(
    sqlite_store: StagingStore, tmp_path: Path
) -> None:
    context = AdapterContext(engine=sqlite_store.engine, data_dir=tmp_path)
    built = build_adapters("archive,xml,index", context, worker_processes=["xml", "actiance"])
    try:
        assert [type(a).__name__ for a in built] == ["ArchiveAdapter", "AdapterProcess", "TantivyIndexAdapter"]
    finally:
        for adapter in built:
            adapter.close()
    with pytest.raises(ValueError, match="cannot run in a worker process"):
        build_adapters("archive,xml", context, worker_processes=["archive"])
    with pytest.raises(UnknownAdapter, match="did you mean 'index'"):
        build_adapters("archive,xml", context, worker_processes=["indx"])


def test_the_xml_adapter_writes_the_same_file_in_a_worker_as_in_process(
    sqlite_store: StagingStore, tmp_path: Path, closing: list[AdapterProcess]
) -> None:
    events = posts(30)
    LyncXmlAdapter(tmp_path / "here").write(events)
    closing.append(
        adapter := worker(sqlite_store, tmp_path, factory_location("xml"), "xml", xml_dir=str(tmp_path / "there"))
    )
    adapter.write(events)
    [here] = (tmp_path / "here").glob("*.xml")
    [there] = (tmp_path / "there").glob("*.xml")
    assert (here.name, here.read_bytes()) == (there.name, there.read_bytes())


PARENT = """
import sys, time
from pathlib import Path
from adapters.base import AdapterContext
from adapters.worker_process import AdapterProcess, WorkerSpec
from ingest.db import create_db_engine

def main():
    engine = create_db_engine(sys.argv[1])
    context = AdapterContext(engine=engine, data_dir=Path(sys.argv[2]), options={"record": sys.argv[3]})
    adapter = AdapterProcess(WorkerSpec.of("recording", "tests.adapters.worker_fakes:create", context))
    print(adapter._process.pid, flush=True)
    time.sleep(600)

if __name__ == "__main__":
    main()
"""


def test_a_worker_ignores_ctrl_c_and_exits_when_its_processor_dies(sqlite_store: StagingStore, tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(PARENT), encoding="utf-8")
    record = tmp_path / "record.txt"
    parent = subprocess.Popen(
        [sys.executable, str(script), str(sqlite_store.engine.url), str(tmp_path), str(record)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        os.kill(child, signal.SIGINT)
        time.sleep(0.5)
        os.kill(child, 0)  # still there: Ctrl-C is the processor's to handle
        parent.kill()
        parent.wait(10)

        def gone() -> bool:
            try:
                os.kill(child, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, timeout=20, what="the orphaned worker to exit")
        assert recorded(record) == [(child, "closed")], "it closed its adapter on the way out"
    finally:
        parent.kill()
        parent.wait(10)


def test_an_adapter_in_a_worker_process_gets_the_file_store(sqlite_store: StagingStore, tmp_path: Path) -> None:
    """The index adapter reads attachment texts from the file store: in a worker process too."""
    files = FsFileStore(tmp_path / "files")
    upload = attachment_events.upload("plan.pdf")
    text = attachment_events.file_text(upload, "the quarterly hedge plan", files)
    context = AdapterContext(engine=sqlite_store.engine, data_dir=tmp_path, file_store=files)
    _archive, index = build_adapters("index", context, worker_processes=["index"])
    assert isinstance(index, AdapterProcess)
    try:
        assert list(index.write([upload, text])) == [None, None]
    finally:
        index.close()
    found = open_index(tmp_path / "index")
    found.reload()
    assert len(found.searcher().search(found.parse_query("hedge", [ATTACHMENT]), 10).hits) == 1
