"""The batch processor against SQLite and PostgreSQL staging, with adapters that fail on purpose."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from adapters import processor as processor_module
from adapters.archive import ArchiveAdapter
from adapters.base import AdapterContext, DeliveryResult
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.registry import UnknownAdapter, build_adapters, parse_adapter_names
from adapters.xml_adapter import LyncXmlAdapter
from archive.record import archived_count, verify_archive
from ingest.events import Event, PostEvent
from ingest.staging import StagingStore, staged_deliveries, staged_events, to_row
from ingest.staging_claims import parked_events, retry_parked
from tests.adapters.fakes import RecordingAdapter
from tests.factories import posts


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def stage(store: StagingStore, events: list[Event]) -> None:
    store.insert([to_row(e) for e in events])


def staged_attempts(store: StagingStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(staged_events.c.event_id, staged_events.c.attempts)).all()
    return {event_id: attempts for event_id, attempts in rows}


def test_every_adapter_gets_the_batch_and_staging_empties(store: StagingStore) -> None:
    events = posts(250)
    stage(store, events)
    recording = RecordingAdapter()
    processor = BatchProcessor(
        store.engine, [ArchiveAdapter(store.engine), recording], ProcessorOptions(batch_size=100)
    )
    total = processor.run(until_empty=True)
    assert (total.claimed, total.completed, total.failed) == (250, 250, 0)
    assert [len(b) for b in recording.batches] == [100, 100, 50]
    assert recording.delivered == [str(e.event_id) for e in events], "occurrence order"
    assert store.counts().staged == 0
    assert archived_count(store.engine) == 250
    with store.engine.connect() as connection:
        assert connection.execute(select(staged_deliveries)).all() == []


def test_a_partial_failure_keeps_only_the_failed_events(store: StagingStore) -> None:
    events = posts(20)
    stage(store, events)
    failing = {str(e.event_id) for e in events[5:8]}
    flaky = RecordingAdapter("flaky", fail_event=lambda e: "rejected" if str(e.event_id) in failing else None)
    steady = RecordingAdapter("steady")
    clock = FakeClock()
    processor = BatchProcessor(store.engine, [steady, flaky], clock=clock)

    first = processor.process_batch()
    assert (first.completed, first.failed, first.per_adapter_failures) == (17, 3, {"flaky": 3})
    assert set(store.event_ids()) == failing

    clock.advance(0.5)
    assert processor.process_batch().claimed == 0, "failed events wait for their backoff"

    flaky.fail_event = lambda _e: None
    clock.advance(5)
    second = processor.process_batch()
    assert (second.claimed, second.completed) == (3, 3)
    assert len(steady.delivered) == 20, "the adapter that had succeeded is not called again"
    assert sorted(flaky.batches[-1]) == sorted(failing)
    assert store.counts().staged == 0


def test_an_adapter_down_three_times_then_back_delivers_everything(store: StagingStore) -> None:
    events = posts(50)
    stage(store, events)
    clock = FakeClock()
    down = RecordingAdapter("down", fail_calls=3)
    processor = BatchProcessor(
        store.engine, [ArchiveAdapter(store.engine), down], ProcessorOptions(max_attempts=5), clock=clock
    )
    for attempt in range(1, 4):
        outcome = processor.process_batch()
        assert outcome.failed == 50
        assert set(staged_attempts(store).values()) == {attempt}
        clock.advance(3600)
    final = processor.process_batch()
    assert final.completed == 50
    assert store.counts().staged == 0
    assert archived_count(store.engine) == 50, "the archive kept its first delivery; no duplicates"
    assert sorted(down.delivered) == sorted(str(e.event_id) for e in events)


def test_backoff_doubles_and_is_capped() -> None:
    options = ProcessorOptions(backoff_initial=2, backoff_maximum=30)
    assert [options.backoff(n).total_seconds() for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]


def test_events_are_parked_after_max_attempts_and_can_be_retried(store: StagingStore) -> None:
    stage(store, posts(4))
    clock = FakeClock()
    broken = RecordingAdapter("broken", fail_event=lambda _e: "disk full")
    processor = BatchProcessor(store.engine, [broken], ProcessorOptions(max_attempts=3), clock=clock)
    for _ in range(3):
        processor.process_batch()
        clock.advance(3600)
    assert store.counts().parked == 4
    assert store.counts().staged == 0
    assert processor.process_batch().claimed == 0, "parked events are not retried by themselves"
    parked = parked_events(store.engine)
    assert len(parked) == 4
    assert all(p["last_error"] == "broken: disk full" and p["attempts"] == 3 for p in parked)

    assert retry_parked(store.engine) == 4
    broken.fail_event = lambda _e: None
    assert processor.process_batch().completed == 4
    assert store.counts().parked == store.counts().staged == 0


def test_a_wrong_number_of_results_fails_the_batch(store: StagingStore) -> None:
    stage(store, posts(3))

    class Sloppy(RecordingAdapter):
        def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
            return [None]

    outcome = BatchProcessor(store.engine, [Sloppy("sloppy")]).process_batch()
    assert outcome.failed == 3
    assert store.counts().staged == 3


def test_a_leased_batch_is_not_claimed_twice(store: StagingStore) -> None:
    stage(store, posts(10))
    clock = FakeClock()
    first = BatchProcessor(store.engine, [RecordingAdapter()], ProcessorOptions(batch_size=6), owner="a", clock=clock)
    claimed = first._claim()
    second = BatchProcessor(store.engine, [RecordingAdapter()], ProcessorOptions(batch_size=6), owner="b", clock=clock)
    other = second._claim()
    assert len(claimed) == 6
    assert len(other) == 4
    assert not {c.event_id for c in claimed} & {c.event_id for c in other}
    clock.advance(301)
    assert len(second._claim()) == 6, "an expired lease is claimed again"


class Slow(RecordingAdapter):
    """Succeeds, but only after another processor has taken the batch over (a lease expired)."""

    def __init__(self, takeover: Callable[[], None], name: str = "recording") -> None:
        super().__init__(name)
        self.takeover = takeover

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        self.takeover()
        return super().write(batch)


@pytest.mark.parametrize("second_fails", [False, True])
def test_a_batch_whose_lease_was_taken_over_is_left_to_the_new_holder(store: StagingStore, second_fails: bool) -> None:
    stage(store, posts(5))
    clock = FakeClock()
    options = ProcessorOptions(batch_size=10, lease_seconds=60)
    fail = (lambda _e: "down") if second_fails else (lambda _e: None)
    second = BatchProcessor(store.engine, [RecordingAdapter(fail_event=fail)], options, owner="b", clock=clock)
    taken: list[int] = []

    def takeover() -> None:
        clock.advance(61)
        taken.append(second.process_batch().claimed)

    first = BatchProcessor(store.engine, [Slow(takeover)], options, owner="a", clock=clock)
    outcome = first.process_batch()
    assert taken == [5]
    assert (outcome.claimed, outcome.completed, outcome.failed) == (5, 0, 0)
    assert store.counts().staged == (5 if second_fails else 0), "only the new holder decides"
    if second_fails:
        assert set(staged_attempts(store).values()) == {1}


def test_a_processor_that_stops_gives_back_the_batch_it_claimed_ahead(store: StagingStore) -> None:
    stage(store, posts(12))
    clock = FakeClock()
    options = ProcessorOptions(batch_size=5)
    processor: list[BatchProcessor] = []

    def stop_after_this_batch(_event: Event) -> str | None:
        processor[0].stop()
        return None

    stopping = RecordingAdapter(fail_event=stop_after_this_batch)
    processor.append(BatchProcessor(store.engine, [stopping], options, owner="a", clock=clock))
    total = processor[0].run(until_empty=True)
    assert (total.claimed, total.completed) == (5, 5)
    with store.engine.connect() as connection:
        leases = connection.execute(select(staged_events.c.lease_owner)).scalars().all()
    assert leases == [None] * 7, "the batch claimed with the first one's outcome is given back"
    other = BatchProcessor(store.engine, [RecordingAdapter()], options, owner="b", clock=clock)
    assert other.run(until_empty=True).completed == 7
    assert store.counts().staged == 0


def test_a_batch_claimed_ahead_is_parsed_on_the_parsing_thread_in_occurrence_order(store: StagingStore) -> None:
    events = posts(30)
    stage(store, list(reversed(events)))
    parsed_on: set[str] = set()
    real_parse = processor_module._parse

    def watched(payload: str) -> Event | None:
        parsed_on.add(threading.current_thread().name)
        return real_parse(payload)

    recording = RecordingAdapter()
    processor = BatchProcessor(store.engine, [recording], ProcessorOptions(batch_size=10))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(processor_module, "_parse", watched)
        total = processor.run(until_empty=True)
    assert total.completed == 30
    assert recording.delivered == [str(e.event_id) for e in events], "occurrence order in and across batches"
    assert threading.current_thread().name in parsed_on, "the first batch is claimed and parsed in line"
    assert any(name.startswith("parse") for name in parsed_on), "the next ones while their claim commits"


def test_archive_is_always_first_and_present() -> None:
    assert parse_adapter_names("xml,index") == ["archive", "xml", "index"]
    assert parse_adapter_names("index, archive ,index") == ["archive", "index"]


def test_unknown_adapter_names_fail_with_a_suggestion(sqlite_store: StagingStore, tmp_path: Path) -> None:
    context = AdapterContext(engine=sqlite_store.engine, data_dir=tmp_path)
    with pytest.raises(UnknownAdapter, match=r"did you mean 'xml'\?.*known adapters: .*archive.*xml"):
        build_adapters("archive,xlm", context)


def test_processing_keeps_the_archive_chain_verifiable(store: StagingStore) -> None:
    stage(store, posts(300))
    BatchProcessor(store.engine, [ArchiveAdapter(store.engine)], ProcessorOptions(batch_size=64)).run(until_empty=True)
    report = verify_archive(store.engine)
    assert report.ok
    assert report.checked == 300


def test_adapters_receive_whole_events(store: StagingStore) -> None:
    events = posts(5)
    stage(store, events)
    recording = RecordingAdapter()
    BatchProcessor(store.engine, [recording]).process_batch()
    assert recording.events == events
    assert all(isinstance(e, PostEvent) for e in recording.events)


def test_an_unwritable_xml_directory_holds_events_for_xml_only(store: StagingStore, tmp_path: Path) -> None:
    """The archive gets its events at once; staging keeps them for xml until it can write."""
    events = posts(40)
    stage(store, events)
    xml_dir = tmp_path / "xml"
    xml_dir.write_text("a file where the directory should be")
    clock = FakeClock()
    processor = BatchProcessor(store.engine, [ArchiveAdapter(store.engine), LyncXmlAdapter(xml_dir)], clock=clock)

    blocked = processor.process_batch()
    assert (blocked.failed, blocked.per_adapter_failures) == (40, {"xml": 40})
    assert archived_count(store.engine) == 40
    assert store.counts().staged == 40
    with store.engine.connect() as connection:
        delivered = connection.execute(select(staged_deliveries.c.adapter).distinct()).scalars().all()
    assert delivered == ["archive"]

    xml_dir.unlink()
    clock.advance(60)
    recovered = processor.process_batch()
    assert recovered.completed == 40
    assert store.counts().staged == 0
    assert archived_count(store.engine) == 40, "the archive was not written twice"
    assert len(list(xml_dir.glob("*.xml"))) == 1


def test_deliveries_failures_and_parking_are_counted_in_metrics(store: StagingStore) -> None:
    from prometheus_client import REGISTRY

    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = (
        sample("archivist_events_delivered_total", adapter="steady"),
        sample("archivist_delivery_failures_total", adapter="broken"),
        sample("archivist_events_parked_total"),
    )
    stage(store, posts(6))
    broken = RecordingAdapter("broken", fail_event=lambda _e: "no")
    BatchProcessor(store.engine, [RecordingAdapter("steady"), broken], ProcessorOptions(max_attempts=1)).process_batch()
    after = (
        sample("archivist_events_delivered_total", adapter="steady"),
        sample("archivist_delivery_failures_total", adapter="broken"),
        sample("archivist_events_parked_total"),
    )
    assert [b - a for a, b in zip(before, after, strict=True)] == [6, 6, 6]


class ArchiveThatFailsAfterWriting(ArchiveAdapter):
    """Writes the whole batch to the archive tables, then fails: its rows must not stay."""

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        super().write_in(connection, batch, payloads)
        raise RuntimeError("disk full after the insert")


def test_a_failed_archive_write_rolls_back_alone_and_the_outcome_is_still_recorded(store: StagingStore) -> None:
    events = posts(20)
    stage(store, events)
    recording = RecordingAdapter()
    processor = BatchProcessor(store.engine, [ArchiveThatFailsAfterWriting(store.engine), recording])
    outcome = processor.process_batch()
    assert (outcome.claimed, outcome.completed, outcome.failed) == (20, 0, 20)
    assert outcome.per_adapter_failures == {"archive": 20}
    assert archived_count(store.engine) == 0, "the archive's savepoint was rolled back"
    assert staged_attempts(store) == {str(e.event_id): 1 for e in events}
    with store.engine.connect() as connection:
        progress = set(connection.execute(select(staged_deliveries.c.adapter)).scalars())
        errors = set(connection.execute(select(staged_events.c.last_error)).scalars())
    assert progress == {"recording"}, "the other adapter's success is kept, so it is not re-delivered"
    assert errors == {"archive: RuntimeError: disk full after the insert"}


def test_the_archive_and_staging_change_in_one_transaction(
    store: StagingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A processor that dies after the archive write but before the record commits leaves
    neither: the events are still staged and not archived (no window where both hold them)."""
    events = posts(10)
    stage(store, events)

    def die(*_args: object, **_kwargs: object) -> None:
        raise KeyboardInterrupt("killed between the archive write and the staging record")

    monkeypatch.setattr(BatchProcessor, "_record_in", die)
    with pytest.raises(KeyboardInterrupt):
        BatchProcessor(store.engine, [ArchiveAdapter(store.engine)]).process_batch()
    assert archived_count(store.engine) == 0
    assert store.counts().staged == 10
    monkeypatch.undo()
    after_the_lease = datetime.now(UTC) + timedelta(seconds=ProcessorOptions().lease_seconds + 1)
    BatchProcessor(store.engine, [ArchiveAdapter(store.engine)], clock=lambda: after_the_lease).run(until_empty=True)
    assert archived_count(store.engine) == 10
    assert verify_archive(store.engine).ok


class _MeetingAdapter:
    """Succeeds only if every adapter sharing ``barrier`` is inside write at the same time;
    notes whether two of its own calls ever overlapped."""

    def __init__(self, name: str, barrier: threading.Barrier) -> None:
        self.name = name
        self.barrier = barrier
        self.busy = threading.Lock()
        self.overlapped = False
        self.calls = 0

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        if not self.busy.acquire(blocking=False):
            self.overlapped = True
            self.busy.acquire()
        try:
            self.calls += 1
            self.barrier.wait()  # raises BrokenBarrierError unless the other adapter is here too
            return [None] * len(batch)
        finally:
            self.busy.release()

    def close(self) -> None:
        pass


def test_adapters_outside_the_archive_are_delivered_at_the_same_time(store: StagingStore) -> None:
    stage(store, posts(300))
    barrier = threading.Barrier(2, timeout=10)
    first, second = _MeetingAdapter("first", barrier), _MeetingAdapter("second", barrier)
    processor = BatchProcessor(
        store.engine, [ArchiveAdapter(store.engine), first, second], ProcessorOptions(batch_size=100)
    )
    total = processor.run(until_empty=True)
    assert (total.completed, total.failed) == (300, 0), "each batch met both adapters inside write at once"
    assert (first.calls, second.calls) == (3, 3)
    assert not first.overlapped, "an adapter never gets a batch while busy with one"
    assert not second.overlapped
    assert archived_count(store.engine) == 300


def test_a_delivery_thread_that_fails_is_recorded_like_any_failure(store: StagingStore) -> None:
    stage(store, posts(50))
    lonely = _MeetingAdapter("lonely", threading.Barrier(2, timeout=0.2))  # nobody else ever arrives
    processor = BatchProcessor(store.engine, [ArchiveAdapter(store.engine), lonely], ProcessorOptions())
    outcome = processor.process_batch()
    processor.close()
    assert (outcome.completed, outcome.failed) == (0, 50)
    assert outcome.per_adapter_failures == {"lonely": 50}
    assert archived_count(store.engine) == 50, "the archive's part is kept"


class _HeldAdapter:
    """An adapter outside the archive whose first write waits until the test lets it answer
    (a slow search engine); later writes answer at once."""

    name = "held"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.release.wait(60), "the test never released the held delivery"
        return [None] * len(batch)

    def close(self) -> None:
        pass


def test_a_processor_waiting_for_a_slow_adapter_holds_no_lock_another_processor_needs(store: StagingStore) -> None:
    """Two processors: while the first waits for an adapter outside the archive (a network
    round trip), the second archives its batch, records it and commits: the first holds
    neither the archive chain's lock (PostgreSQL) nor the write lock (SQLite) meanwhile."""
    events = posts(20)
    stage(store, events)
    held = _HeldAdapter()
    first = BatchProcessor(store.engine, [ArchiveAdapter(store.engine), held], ProcessorOptions(batch_size=10))
    second = BatchProcessor(store.engine, [ArchiveAdapter(store.engine)], ProcessorOptions(batch_size=10))
    outcomes: dict[str, int] = {}

    def process(name: str, processor: BatchProcessor) -> None:
        outcomes[name] = processor.process_batch().completed

    waiting = threading.Thread(target=process, args=("first", first))
    waiting.start()
    try:
        assert held.entered.wait(30), "the first processor never delivered to the held adapter"
        other = threading.Thread(target=process, args=("second", second))
        other.start()
        other.join(20)
        finished_while_held = not other.is_alive()
    finally:
        held.release.set()
        waiting.join(60)
    other.join(60)
    first.close()
    second.close()
    assert finished_while_held, "the second processor waited for the first one's slow adapter"
    assert outcomes == {"first": 10, "second": 10}
    assert archived_count(store.engine) == 20
    assert verify_archive(store.engine).ok
    assert store.counts().staged == 0
