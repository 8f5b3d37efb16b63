"""An outage of an adapter's store never parks events (issue 21's fault test: with the defaults a
search node down for about two minutes parked everything its processor claimed, and an operator
had to run ``archivist retry-parked``). Parking is for events at fault; an unreachable store is
waited out, backing off up to ``backoff_maximum``, and the events are delivered when it is back."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.base import AdapterUnavailable, DeliveryResult, Failure
from adapters.processor import BatchProcessor, ProcessorOptions
from ingest.events import Event
from ingest.staging import StagingStore
from tests.adapters.fakes import RecordingAdapter
from tests.adapters.test_processor import FakeClock, stage, staged_attempts
from tests.factories import posts

ATTEMPTS = 3


class Unreachable(RecordingAdapter):
    """Answers every event with an ``unreachable`` failure (what the search engine adapter does
    on a connection error) while ``down``; raises AdapterUnavailable instead with ``raising``."""

    def __init__(self, *, raising: bool = False) -> None:
        super().__init__("engine")
        self.down = True
        self.raising = raising

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        if not self.down:
            return super().write(batch)
        if self.raising:
            raise AdapterUnavailable("engine: connection refused")
        return [Failure("engine unavailable: ConnectionError", unreachable=True)] * len(batch)


def _outlast_the_attempts(store: StagingStore, adapter: Unreachable) -> tuple[BatchProcessor, FakeClock]:
    clock = FakeClock()
    processor = BatchProcessor(
        store.engine, [adapter], ProcessorOptions(max_attempts=ATTEMPTS, backoff_maximum=60), clock=clock
    )
    for _ in range(ATTEMPTS * 3):
        processor.process_batch()
        clock.advance(3600)
    return processor, clock


def test_an_unreachable_store_answered_per_event_never_parks(store: StagingStore) -> None:
    stage(store, posts(5))
    adapter = Unreachable()
    processor, _clock = _outlast_the_attempts(store, adapter)
    assert store.counts().parked == 0
    assert all(attempts == ATTEMPTS * 3 for attempts in staged_attempts(store).values()), "attempts still counted"
    adapter.down = False
    assert processor.process_batch().completed == 5
    assert store.counts().staged == 0


def test_an_adapter_raising_unavailable_never_parks(store: StagingStore) -> None:
    stage(store, posts(5))
    adapter = Unreachable(raising=True)
    processor, _clock = _outlast_the_attempts(store, adapter)
    assert store.counts().parked == 0
    adapter.down = False
    assert processor.process_batch().completed == 5


def test_an_event_at_fault_still_parks_even_during_an_outage_of_another_adapter(store: StagingStore) -> None:
    """Parking is decided per failure: one adapter down, another refusing the event, parks it."""
    stage(store, posts(2))
    refusing = RecordingAdapter("refusing", fail_event=lambda _e: "no room for this one")
    clock = FakeClock()
    processor = BatchProcessor(
        store.engine, [Unreachable(), refusing], ProcessorOptions(max_attempts=ATTEMPTS), clock=clock
    )
    for _ in range(ATTEMPTS):
        processor.process_batch()
        clock.advance(3600)
    assert store.counts().parked == 2


class _Canceled(Exception):
    sqlstate = "57014"


class _Lost(Exception):
    sqlstate = "08006"  # connection failure


def test_a_statement_timeout_is_the_events_fault_and_parks_but_a_lost_connection_does_not(
    store: StagingStore,
) -> None:
    """One huge event can make a statement run past ``statement_timeout``: that failure is halved
    and parks like any other; a lost connection is an outage."""
    from sqlalchemy.exc import OperationalError

    from adapters.processor import failure_of

    timeout = failure_of(OperationalError("INSERT ...", {}, _Canceled("canceling statement due to statement timeout")))
    lost = failure_of(OperationalError("INSERT ...", {}, _Lost("server closed the connection unexpectedly")))
    assert not timeout.unreachable
    assert lost.unreachable
