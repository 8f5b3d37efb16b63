"""The production log: numbers reserved at start, the real range recorded at the end, never
reused within a case; a failed production gives its numbers back; one running production per
case, on SQLite and PostgreSQL (two threads racing on PostgreSQL)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from cases.ledger import verify_ledger
from cases.model import CaseSpec
from cases.productions import (
    NumbersUsed,
    Production,
    ProductionLog,
    ProductionRunning,
    complete,
    process_owner,
    release,
    release_running,
)
from cases.schema import case_productions
from cases.store import CaseNotFound, CaseStore
from ingest.staging import StagingStore


def _reserve(log: ProductionLog, case_id: str, prefix: str = "ACME-", start: int | None = None) -> Production:
    return log.reserve(
        export_id=str(uuid.uuid4()),
        case_id=case_id,
        prefix=prefix,
        start=start,
        unit="conversation",
        time_zone="UTC",
        recipients=["Opposing counsel"],
        query="ubuntu",
        formats=["csv"],
        requested_by="legal (t)",
    )


def _finish(log: ProductionLog, production: Production, documents: int) -> Production:
    first = production.start_number if documents else None
    last = production.start_number + documents - 1 if documents else None
    with log.engine.begin() as connection:
        return complete(
            connection,
            production.export_id,
            first_number=first,
            last_number=last,
            documents=documents,
            zip_sha256="a" * 64,
            manifest_sha256="b" * 64,
        )


@pytest.fixture
def case_id(store: StagingStore) -> str:
    return CaseStore(store.engine).create_case(CaseSpec(name="Acme v. Widget"), "legal").id


def test_the_second_production_starts_after_the_first_ones_last_number(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    first = _reserve(log, case_id)
    assert (first.state, first.start_number, first.width) == ("running", 1, 7)
    done = _finish(log, first, 12)
    assert (done.state, done.first_control, done.last_control) == ("done", "ACME-0000001", "ACME-0000012")
    assert (done.zip_sha256, done.manifest_sha256, done.recipients) == ("a" * 64, "b" * 64, ("Opposing counsel",))
    second = _reserve(log, case_id)
    assert second.start_number == 13
    assert log.next_free(case_id, "ACME-") == 1 + 12
    assert [p.export_id for p in log.productions(case_id)] == [first.export_id, second.export_id]
    assert verify_ledger(store.engine).ok, "every change of the log is in the case ledger"


def test_a_range_already_produced_is_refused_and_a_gap_is_allowed(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    _finish(log, _reserve(log, case_id), 5)
    with pytest.raises(NumbersUsed, match="up to ACME-0000005; numbers are never reused: start at 6 or later"):
        _reserve(log, case_id, start=3)
    later = _reserve(log, case_id, start=100)
    assert later.start_number == 100
    _finish(log, later, 2)
    assert log.next_free(case_id, "ACME-") == 102
    # Another prefix is another series of numbers.
    assert _reserve(log, case_id, prefix="WIDGET-", start=None).start_number == 1


def test_a_second_production_of_a_running_case_is_refused(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    running = _reserve(log, case_id)
    with pytest.raises(ProductionRunning, match=f"a production of case {case_id} is running"):
        _reserve(log, case_id)
    other = CaseStore(store.engine).create_case(CaseSpec(name="Other matter"), "legal").id
    assert _reserve(log, other).start_number == 1, "other cases are not held up"
    _finish(log, running, 1)
    assert _reserve(log, case_id).start_number == 2


def test_a_failed_production_releases_its_numbers(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    _finish(log, _reserve(log, case_id), 4)
    failed = _reserve(log, case_id)
    with store.engine.begin() as connection:
        released = release(connection, failed.export_id, "RuntimeError: disk full")
    assert released is not None
    assert (released.state, released.first_number, released.error) == ("failed", None, "RuntimeError: disk full")
    again = _reserve(log, case_id)
    assert again.start_number == failed.start_number == 5, "never delivered, so never used"
    assert [p.state for p in log.productions(case_id)] == ["done", "failed", "running"]


def test_a_production_whose_process_stopped_is_released(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    stopped = _reserve(log, case_id)
    with store.engine.begin() as connection:
        assert release_running(connection, live=set(), error="interrupted") == [], "its process runs: this one"
        earlier = process_owner().rsplit(":", 1)[0] + ":" + "0" * 32  # an earlier process of this pid
        connection.execute(
            case_productions.update().where(case_productions.c.export_id == stopped.export_id).values(owner=earlier)
        )
        assert release_running(connection, live=set(), error="interrupted") == [stopped.export_id]
    assert _reserve(log, case_id).start_number == 1


def test_a_range_that_is_not_the_reserved_one_is_refused_at_completion(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    production = _reserve(log, case_id, start=10)
    with pytest.raises(NumbersUsed, match="reserved from 10"), store.engine.begin() as connection:
        complete(
            connection,
            production.export_id,
            first_number=1,
            last_number=3,
            documents=3,
            zip_sha256="a" * 64,
            manifest_sha256="b" * 64,
        )
    assert log.get(production.export_id) == production, "nothing recorded"


def test_an_unknown_case_has_no_log(store: StagingStore) -> None:
    log = ProductionLog(store.engine)
    with pytest.raises(CaseNotFound):
        log.productions("nope")
    with pytest.raises(CaseNotFound):
        _reserve(log, "nope")


def test_a_range_edited_behind_the_log_is_tamper(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    done = _finish(log, _reserve(log, case_id), 3)
    with store.engine.begin() as connection:
        connection.execute(
            case_productions.update().where(case_productions.c.export_id == done.export_id).values(last_number=1)
        )
    report = verify_ledger(store.engine)
    assert not report.ok
    assert "last_number column differs" in (report.problem or "")


def _at_once(*steps: Callable[[], Any]) -> list[Any]:
    """Run ``steps`` on threads released together; what each returned or raised, in order."""
    barrier = threading.Barrier(len(steps))
    outcomes: list[Any] = [None] * len(steps)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = steps[index]()
        except ProductionRunning as refused:
            outcomes[index] = refused

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(steps))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_two_threads_reserving_at_once_on_postgresql_get_one_production(postgres_store: StagingStore) -> None:
    case = CaseStore(postgres_store.engine).create_case(CaseSpec(name="Race"), "legal").id
    log = ProductionLog(postgres_store.engine)
    for _round in range(5):
        outcomes = _at_once(lambda: _reserve(log, case), lambda: _reserve(log, case))
        won = [outcome for outcome in outcomes if isinstance(outcome, Production)]
        assert len(won) == 1, outcomes
        assert sum(isinstance(outcome, ProductionRunning) for outcome in outcomes) == 1
        _finish(log, won[0], 3)
    done = [p for p in log.productions(case) if p.state == "done"]
    assert [(p.first_number, p.last_number) for p in done] == [(1, 3), (4, 6), (7, 9), (10, 12), (13, 15)]


def test_a_completion_and_a_reservation_at_once_on_postgresql_never_share_a_number(
    postgres_store: StagingStore,
) -> None:
    """The reservation waits on the case row the completion locked, then reads its range."""
    case = CaseStore(postgres_store.engine).create_case(CaseSpec(name="Race"), "legal").id
    log = ProductionLog(postgres_store.engine)
    for _round in range(5):
        running = _reserve(log, case)
        _done, reserved = _at_once(lambda: _finish(log, running, 2), lambda: _reserve(log, case))  # noqa: B023
        if isinstance(reserved, Production):  # it came after the completion: right after its range
            assert reserved.start_number == running.start_number + 2
            with postgres_store.engine.begin() as connection:
                release(connection, reserved.export_id, "test")
        else:
            assert isinstance(reserved, ProductionRunning)
    done = [p for p in log.productions(case) if p.state == "done"]
    assert [(p.first_number, p.last_number) for p in done] == [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)]
