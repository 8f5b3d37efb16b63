"""One event never holds back its batch: the processor halves a batch whose write raises until
each failing event has failed alone, delivers the rest in the same cycle, and keeps the archive
chain whole (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import pytest
from sqlalchemy import Connection, select

from adapters.archive import ArchiveAdapter
from adapters.base import AdapterUnavailable, DeliveryResult, Failure
from adapters.processor import BatchProcessor, ProcessorOptions
from archive.record import archived_count, verify_archive
from archive.schema import archive_events
from ingest.events import Event
from ingest.staging import StagedRow, StagingStore, staged_events, to_row
from ingest.staging_claims import parked_events
from tests.adapters.fakes import RecordingAdapter
from tests.factories import post_payload, posts


class PoisonedAdapter(RecordingAdapter):
    """Raises whenever its batch holds a poisoned event (without saying which); answers the
    events in ``rejected`` with a per-event failure; records every call's size."""

    def __init__(self, poisoned: set[str], *, rejected: frozenset[str] = frozenset()) -> None:
        super().__init__(
            "poisoned", fail_event=lambda e: "rejected on purpose" if str(e.event_id) in rejected else None
        )
        self.poisoned = poisoned
        self.sizes: list[int] = []

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        self.sizes.append(len(batch))
        if any(str(e.event_id) in self.poisoned for e in batch):
            raise ValueError("cannot store one of these")
        return super().write(batch)


class PoisonedArchive(ArchiveAdapter):
    """The real archive, except that a batch holding a poisoned event raises after its insert
    (so the rows it wrote must be rolled back with its savepoint)."""

    def __init__(self, store: StagingStore, poisoned: set[str]) -> None:
        super().__init__(store.engine)
        self.poisoned = poisoned
        self.sizes: list[int] = []

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        self.sizes.append(len(batch))
        results = super().write_in(connection, batch, payloads)
        if any(str(e.event_id) in self.poisoned for e in batch):
            raise RuntimeError("the archive refused one of these")
        return results


def stage(store: StagingStore, events: list[Event]) -> None:
    store.insert([to_row(e) for e in events])


def staged(store: StagingStore) -> dict[str, tuple[int, bool, str | None]]:
    """Event id -> (attempts, parked, last error) of what is still staged."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(
                staged_events.c.event_id, staged_events.c.attempts, staged_events.c.parked, staged_events.c.last_error
            )
        ).all()
    return {r.event_id: (r.attempts, r.parked, r.last_error) for r in rows}


def archive_order(store: StagingStore) -> list[str]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(archive_events.c.event_id).order_by(archive_events.c.seq)).scalars())


def test_one_poison_event_parks_alone_and_its_neighbours_are_delivered_in_the_same_cycle(
    store: StagingStore,
) -> None:
    events = posts(20)
    stage(store, events)
    poison = str(events[7].event_id)
    adapter = PoisonedAdapter({poison})
    processor = BatchProcessor(store.engine, [ArchiveAdapter(store.engine), adapter], ProcessorOptions(max_attempts=1))

    outcome = processor.process_batch()

    assert (outcome.claimed, outcome.completed, outcome.failed, outcome.parked) == (20, 19, 1, 1)
    assert outcome.per_adapter_failures == {"poisoned": 1}
    others = [str(e.event_id) for e in events if str(e.event_id) != poison]
    assert adapter.delivered == others, "every neighbour, once, in occurrence order"
    assert staged(store) == {poison: (1, True, "poisoned: ValueError: cannot store one of these")}
    assert archived_count(store.engine) == 20, "the archive wrote all of them, the poison included"
    assert adapter.sizes[0] == 20, "the first write is the whole batch"
    assert len(adapter.sizes) <= 1 + 2 * 5, "halving costs about 2·log2(n) writes, not one per event"


def test_without_max_attempts_reached_the_poison_backs_off_with_its_own_reason(store: StagingStore) -> None:
    events = posts(10)
    stage(store, events)
    poison = str(events[0].event_id)
    processor = BatchProcessor(store.engine, [PoisonedAdapter({poison})])
    outcome = processor.process_batch()
    assert (outcome.completed, outcome.failed, outcome.parked) == (9, 1, 0)
    assert staged(store) == {poison: (1, False, "poisoned: ValueError: cannot store one of these")}


def test_the_archive_is_halved_under_savepoints_and_its_chain_stays_whole(store: StagingStore) -> None:
    events = posts(40)
    stage(store, events)
    poisons = {str(events[3].event_id), str(events[30].event_id)}
    archive = PoisonedArchive(store, poisons)
    processor = BatchProcessor(store.engine, [archive], ProcessorOptions(max_attempts=1))

    outcome = processor.process_batch()

    assert (outcome.completed, outcome.failed, outcome.parked) == (38, 2, 2)
    assert archive_order(store) == [str(e.event_id) for e in events if str(e.event_id) not in poisons], (
        "the others appended in occurrence order, nothing of a failed write kept"
    )
    report = verify_archive(store.engine)
    assert report.ok, report.problem
    assert report.checked == 38, "no gap, no fork: one chain through every archived event"
    assert {event_id: error for event_id, (_a, _p, error) in staged(store).items()} == {
        poison: "archive: RuntimeError: the archive refused one of these" for poison in poisons
    }

    # Put back in line and no longer refused, they are appended after the head.
    archive.poisoned.clear()
    with store.engine.begin() as connection:
        connection.execute(staged_events.update().values(parked=False, next_attempt_at=None))
    assert processor.process_batch().completed == 2
    assert verify_archive(store.engine).checked == 40


def test_halving_and_per_event_failures_agree(store: StagingStore) -> None:
    """Per-event failures an adapter answers inside a half are kept as answered, with the
    same shape and reason format as the failures the halving finds."""
    events = posts(32)
    stage(store, events)
    poisons = {str(events[2].event_id), str(events[17].event_id), str(events[18].event_id)}
    rejected = frozenset({str(events[5].event_id), str(events[25].event_id)})
    adapter = PoisonedAdapter(poisons, rejected=rejected)
    processor = BatchProcessor(store.engine, [adapter], ProcessorOptions(max_attempts=1))

    outcome = processor.process_batch()

    assert (outcome.completed, outcome.failed, outcome.parked) == (27, 5, 5)
    errors = {event_id: error for event_id, (_a, _p, error) in staged(store).items()}
    assert errors == {
        **{p: "poisoned: ValueError: cannot store one of these" for p in poisons},
        **{r: "poisoned: rejected on purpose" for r in rejected},
    }
    assert sorted(adapter.delivered) == sorted(str(e.event_id) for e in events if str(e.event_id) not in poisons)


@pytest.mark.parametrize(
    "error", [ConnectionError("connection refused"), AdapterUnavailable("the store is down")], ids=type
)
def test_an_unreachable_store_is_not_halved(store: StagingStore, error: Exception) -> None:
    class Down(RecordingAdapter):
        def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
            self.calls += 1
            raise error

    stage(store, posts(64))
    down = Down("down")
    outcome = BatchProcessor(store.engine, [down]).process_batch()
    assert (outcome.failed, down.calls) == (64, 1), "no event is to blame: one call, the whole batch fails"


def test_an_adapter_that_raises_for_every_event_fails_each_with_the_reason(store: StagingStore) -> None:
    class Broken(RecordingAdapter):
        def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
            self.calls += 1
            raise KeyError("a bug")

    stage(store, posts(16))
    broken = Broken("broken")
    outcome = BatchProcessor(store.engine, [broken]).process_batch()
    assert (outcome.failed, outcome.parked) == (16, 0), "backs off, as any failure; not parked at once"
    assert broken.calls == 2 * 16 - 1, "the bound: every half of every half, once"
    assert {error for _a, _p, error in staged(store).values()} == {"broken: KeyError: 'a bug'"}


def _nul_row(index: int) -> StagedRow:
    """A post whose text holds a NUL, staged as it is, without the validation that may refuse it."""
    payload = post_payload(index, run="nul", text="before\x00after")
    return StagedRow(payload["event_id"], "post", datetime.fromisoformat(payload["occurred_at"]), json.dumps(payload))


def test_postgresql_refusing_one_text_parks_that_event_at_once_and_archives_the_rest(
    postgres_store: StagingStore,
) -> None:
    """PostgreSQL cannot store a NUL in text: the archive's insert fails as a whole, the
    halving finds the event, and since the database refuses the value itself (a DataError)
    it is parked at once, with the reason, under the default policy (8 attempts)."""
    store = postgres_store
    events = posts(30, run="nul-neighbours")
    nul = _nul_row(1)
    store.insert([*(to_row(e) for e in events[:15]), nul, *(to_row(e) for e in events[15:])])
    processor = BatchProcessor(store.engine, [ArchiveAdapter(store.engine), RecordingAdapter()])

    outcome = processor.process_batch()

    assert (outcome.claimed, outcome.completed, outcome.failed, outcome.parked) == (31, 30, 1, 1)
    assert archive_order(store) == [str(e.event_id) for e in events], "in occurrence order, the NUL one left out"
    assert verify_archive(store.engine).checked == 30
    [(attempts, parked, error)] = staged(store).values()
    assert (attempts, parked) == (1, True)
    assert error is not None
    # Before validation refuses a NUL, the archive refuses it; after, the staged payload no
    # longer parses. Either way the event is parked at once with the reason, alone.
    assert error.startswith(("archive: DataError: ", "staging: the staged payload is not a valid event: "))
    assert "NUL" in error or "\\u0000" in error or "0x00" in error.lower() or "control" in error.lower()
    assert [p["event_id"] for p in parked_events(store.engine)] == [nul.event_id]


def test_a_value_refused_by_an_adapter_as_permanent_parks_at_once(store: StagingStore) -> None:
    stage(store, posts(5))

    class Refusing(RecordingAdapter):
        def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
            return [Failure("this value cannot be stored", permanent=True)] * len(batch)

    outcome = BatchProcessor(store.engine, [Refusing("refusing")]).process_batch()
    assert (outcome.failed, outcome.parked) == (5, 5)


def test_postgresql_refusing_an_index_row_too_big_parks_that_event_at_once(postgres_store: StagingStore) -> None:
    """A message id too long for a btree row (program limit exceeded, SQLSTATE 54000) comes as
    an OperationalError, the class a lost connection has: it is still an event's fault, halved
    out and parked at once, not taken for the database going away."""
    store = postgres_store
    events = posts(9, run="long-id")
    long_id = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(3000))  # ~9 KB, not compressible
    payload = post_payload(100, run="long-id")
    payload["message"]["id"] = long_id
    row = StagedRow(payload["event_id"], "post", datetime.fromisoformat(payload["occurred_at"]), json.dumps(payload))
    store.insert([*(to_row(e) for e in events), row])

    outcome = BatchProcessor(store.engine, [ArchiveAdapter(store.engine)]).process_batch()

    assert (outcome.completed, outcome.failed, outcome.parked) == (9, 1, 1)
    [(attempts, parked, error)] = staged(store).values()
    assert (attempts, parked) == (1, True)
    assert error is not None
    assert error.startswith("archive: OperationalError: index row ")
    assert verify_archive(store.engine).checked == 9


def test_a_panic_in_an_adapter_fails_its_events_and_the_processor_goes_on(store: StagingStore) -> None:
    """Tantivy's Rust panics reach Python as pyo3's PanicException, a BaseException."""

    class Panic(BaseException):
        pass

    events = posts(8)
    stage(store, events)
    poison = str(events[5].event_id)

    class Panicking(RecordingAdapter):
        def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
            if any(str(e.event_id) == poison for e in batch):
                raise Panic("called `Option::unwrap()` on a `None` value")
            return super().write(batch)

    outcome = BatchProcessor(store.engine, [Panicking("panicking")]).process_batch()
    assert (outcome.completed, outcome.failed) == (7, 1)
    assert staged(store)[poison][2] == "panicking: Panic: called `Option::unwrap()` on a `None` value"
