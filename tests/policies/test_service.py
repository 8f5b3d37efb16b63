"""The live snapshot: rebuilt when the rules change, without a database read per check."""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from ingest.events import Event, PolicyDecisionEvent
from ingest.staging import StagingStore
from policies.evaluate import decide
from policies.model import CheckRequest, Segment, User, WallSpec
from policies.service import GroupCommitSink, SnapshotHolder, conversation_room, decision_events
from policies.store import PolicyStore
from tests.factories import posts


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def block_wall() -> WallSpec:
    return WallSpec(
        name="A/B", side_a=(Segment(kind="user", id="user:a"),), side_b=(Segment(kind="user", id="user:b"),)
    )


def test_checks_read_memory_and_a_change_elsewhere_is_seen_within_max_age(sqlite_store: StagingStore) -> None:
    store = PolicyStore(sqlite_store.engine)
    clock = Clock()
    holder = SnapshotHolder(store, max_age=2.0, clock=clock)
    first = holder.current()
    assert first.walls == ()
    statements: list[str] = []
    event.listen(sqlite_store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    for _ in range(100):
        assert holder.current() is first
    assert statements == [], "no database round trip per check"

    PolicyStore(sqlite_store.engine).create_wall(block_wall(), wall_id="wall-1")  # another process
    clock.now = 1.0
    assert holder.current() is first, "within max_age the snapshot stands"
    clock.now = 2.5
    changed = holder.current()
    assert [w.id for w in changed.walls] == ["wall-1"]
    clock.now = 5.0
    assert holder.current() is changed, "an unchanged revision keeps the snapshot"


def test_refresh_sees_a_change_at_once(sqlite_store: StagingStore) -> None:
    store = PolicyStore(sqlite_store.engine)
    holder = SnapshotHolder(store, max_age=3600.0)
    holder.current()
    store.create_wall(block_wall(), wall_id="wall-1")
    assert [w.id for w in holder.refresh().walls] == ["wall-1"]
    assert [w.id for w in holder.current().walls] == ["wall-1"]


def test_an_instant_message_without_a_room_is_filed_under_its_participants() -> None:
    one = CheckRequest(action="im", actor="user:b", targets=("user:a", "user:c"))
    other = CheckRequest(action="im", actor="user:a", targets=("user:c", "user:b"))
    assert conversation_room(one) == conversation_room(other)
    assert conversation_room(one).id == "im:user:a+user:b+user:c"
    assert conversation_room(one).kind == "im"


def test_the_recorded_decision_names_the_walls_and_the_people_across(sqlite_store: StagingStore) -> None:
    store = PolicyStore(sqlite_store.engine)
    store.put_user(User(id="user:a", name="Ann", external=True))
    store.create_wall(block_wall(), wall_id="wall-1")
    holder = SnapshotHolder(store)
    request = CheckRequest(action="im", actor="user:a", targets=("user:b",))
    at = datetime(2026, 11, 24, tzinfo=UTC)
    decision = decide(holder.current(), request, at=at)
    (recorded,) = decision_events(holder.current(), request, decision, at)
    assert isinstance(recorded, PolicyDecisionEvent)
    assert recorded.decision.outcome == "deny"
    assert recorded.decision.wall_ids == ("wall-1",)
    assert recorded.decision.targets == ("user:b",)
    assert recorded.actor.name == "Ann"
    assert recorded.actor.internal is False


class SlowRecordingSink:
    """Takes 50 ms per submit, remembering each batch; fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.failing = False

    def submit(self, events: Sequence[Event]) -> int:
        time.sleep(0.05)
        if self.failing:
            raise ConnectionError("staging is unreachable")
        self.batches.append(len(events))
        return len(events)

    def close(self) -> None:
        pass


def test_concurrent_checks_share_one_durable_write() -> None:
    inner = SlowRecordingSink()
    sink = GroupCommitSink(inner)
    record = posts(1)[0]
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda _i: sink.submit([record]), range(20)))
    assert results == [1] * 20, "every check returned only once its record was written"
    assert sum(inner.batches) == 20
    assert len(inner.batches) < 10, f"commits were grouped: {inner.batches}"


def test_every_waiting_check_learns_that_its_record_failed() -> None:
    inner = SlowRecordingSink()
    inner.failing = True
    sink = GroupCommitSink(inner)
    record = posts(1)[0]
    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(sink.submit, [record]) for _ in range(5)]
    for future in futures:
        with pytest.raises(ConnectionError):
            future.result()
    inner.failing = False
    assert sink.submit([record]) == 1, "the writer carries on after a failure"
