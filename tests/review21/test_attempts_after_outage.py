"""Review of issue 21: what an outage's attempts cost the events once the store is back."""

from __future__ import annotations

from collections.abc import Sequence

from adapters.base import DeliveryResult, Failure
from adapters.processor import BatchProcessor, ProcessorOptions
from ingest.events import Event
from ingest.staging import StagingStore
from tests.adapters.fakes import RecordingAdapter
from tests.adapters.test_processor import FakeClock, stage, staged_attempts
from tests.factories import posts

ATTEMPTS = 3


class Engine(RecordingAdapter):
    """A search engine adapter: down (every event ``unreachable``), then up but refusing the
    batch once for a reason of the moment that is not an outage (a version conflict with another
    processor's update of the same message, a disk briefly past its watermark), then fine."""

    def __init__(self) -> None:
        super().__init__("opensearch")
        self.answers = ["down"] * (ATTEMPTS * 3) + ["conflict"]

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        answer = self.answers.pop(0) if self.answers else "up"
        if answer == "down":
            return [Failure("opensearch unavailable: ConnectionError", unreachable=True)] * len(batch)
        if answer == "conflict":
            return [Failure("opensearch 409 version_conflict_engine_exception: version conflict")] * len(batch)
        return super().write(batch)


def test_an_outage_does_not_use_up_the_attempts_of_the_failures_after_it(store: StagingStore) -> None:
    stage(store, posts(4))
    clock = FakeClock()
    engine = Engine()
    processor = BatchProcessor(
        store.engine, [engine], ProcessorOptions(max_attempts=ATTEMPTS, backoff_maximum=60), clock=clock
    )
    for _ in range(ATTEMPTS * 3):  # the outage
        processor.process_batch()
        clock.advance(3600)
    assert store.counts().parked == 0
    assert set(staged_attempts(store).values()) == {ATTEMPTS * 3}
    processor.process_batch()  # back, one refusal of the moment: the first failure at fault
    clock.advance(3600)
    assert store.counts().parked == 0, "parked on the first failure after the outage"
    processor.process_batch()
    assert store.counts().staged == 0
