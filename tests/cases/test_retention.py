"""Retention runs: disposition never touches held data, keeps the hash chain verifiable with
tombstones, deletes from adapters that support it, and is audited; dry runs change nothing."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from adapters.archive import ArchiveAdapter
from archive.audit import entries
from archive.record import archived_events, verify_archive
from archive.schema import (
    archive_dispositions,
    archive_events,
    archive_memberships,
    archive_message_versions,
    archive_messages,
    archive_reads,
)
from cases.holds import HoldUnavailable
from cases.model import CaseSpec, HoldScope, HoldSpec, RetentionPolicySpec, ScopeKind
from cases.retention import RetentionFailed, run_retention
from cases.schema import retention_runs
from cases.store import CaseStore, RetentionStore
from ingest.events import Event
from ingest.staging import StagingStore, to_row
from policies.model import Group
from policies.store import PolicyStore
from tests.cases.helpers import NOW, OPERATOR, at, event, post

ROOM = "room:deals"
OTHER = "room:lunch"


def archive(engine: Engine, events: Sequence[Event]) -> None:
    assert all(result is None for result in ArchiveAdapter(engine).write(events))


def keep(engine: Engine, days: int | None, kind: ScopeKind = "default", scope_id: str | None = None) -> None:
    RetentionStore(engine).create_policy(
        RetentionPolicySpec(scope_kind=kind, scope_id=scope_id, keep_days=days), "test"
    )


def hold(engine: Engine, scope: HoldScope) -> str:
    store = CaseStore(engine)
    case = store.create_case(CaseSpec(name="ACME v. Us"), "legal")
    return store.place_hold(case.id, HoldSpec(reason="litigation", scope=scope), "legal").id


def texts(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(archive_messages.c.text)).scalars())


def disposed_ids(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(archive_dispositions.c.event_id)).scalars())


def payloads(engine: Engine) -> dict[str, str]:
    with engine.connect() as connection:
        return {
            event_id: payload
            for event_id, payload in connection.execute(select(archive_events.c.event_id, archive_events.c.payload))
        }


def with_alices_hold(engine: Engine) -> None:
    archive(engine, HISTORY)
    keep(engine, 30)
    hold(engine, HoldScope(custodians=("user:alice",)))


def run(engine: Engine, **options: Any) -> Any:
    return run_retention(engine, OPERATOR, now=NOW, **options)


# Bob speaks before Alice joins and after she leaves; what is said while she is there is hers too.
BEFORE = post("user:bob", ROOM, at(100), "before alice")
JOIN = event("join", "user:alice", ROOM, at(100, 10))
HELD = post("user:alice", ROOM, at(100, 20), "the held message")
READ = event("read", "user:bob", ROOM, at(100, 25), read={"message_id": HELD.message.id})
WHILE_THERE = post("user:carol", ROOM, at(100, 30), "said while alice was in the room")
LEAVE = event("leave", "user:alice", ROOM, at(100, 40))
AFTER = post("user:bob", ROOM, at(100, 50), "after alice left")
ELSEWHERE = post("user:bob", OTHER, at(100), "lunch?")
RECENT = post("user:bob", ROOM, at(1), "recent")
HISTORY = [BEFORE, ELSEWHERE, JOIN, HELD, READ, WHILE_THERE, LEAVE, AFTER, RECENT]


def test_a_held_message_survives_a_run_that_deletes_its_unheld_neighbours(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    hold_id = hold(engine, HoldScope(custodians=("user:alice",)))

    report = run(engine)

    assert texts(engine) == {"the held message", "said while alice was in the room", "recent"}
    gone = {str(e.event_id) for e in (BEFORE, AFTER, ELSEWHERE)}
    assert disposed_ids(engine) == gone
    stored = payloads(engine)
    for event_id in gone:
        assert json.loads(stored[event_id])["tombstone"] is True
    assert json.loads(stored[str(HELD.event_id)])["message"]["text"] == "the held message"
    assert report.disposed == 3
    assert report.held == 5  # join, post, read, carol's post, leave
    assert report.kept == 1
    assert report.held_by == {hold_id: 5}
    with engine.connect() as connection:
        versions = set(connection.execute(select(archive_message_versions.c.event_id)).scalars())
        reads = list(connection.execute(select(archive_reads.c.event_id)).scalars())
        intervals = connection.execute(select(func.count()).select_from(archive_memberships)).scalar_one()
    assert versions == {str(e.event_id) for e in (HELD, WHILE_THERE, RECENT)}
    assert reads == [str(READ.event_id)]
    assert intervals >= 3  # membership intervals are kept
    verdict = verify_archive(engine)
    assert verdict.ok, verdict.problem
    assert verdict.checked == len(HISTORY)
    assert {str(e.event_id) for e in archived_events(engine)} == {str(e.event_id) for e in HISTORY} - gone


def test_a_second_run_disposes_nothing_more_and_verifies(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    assert run(engine).disposed == len(HISTORY) - 1
    again = run(engine)
    assert (again.disposed, again.held, again.kept) == (0, 0, 1)
    assert verify_archive(engine).ok


def test_a_fake_tombstone_without_a_disposition_record_fails_verify(store: StagingStore) -> None:
    engine = store.engine
    with_alices_hold(engine)
    run(engine)
    fake = json.dumps({"tombstone": True, "event_id": str(HELD.event_id)})
    with engine.begin() as connection:
        connection.execute(
            update(archive_events).where(archive_events.c.event_id == str(HELD.event_id)).values(payload=fake)
        )
    verdict = verify_archive(engine)
    assert not verdict.ok
    assert verdict.first_bad is not None
    assert verdict.first_bad.label == str(HELD.event_id)
    assert "does not match its stored hash" in (verdict.problem or "")


def test_a_disposition_record_naming_another_hash_does_not_cover_a_swapped_payload(store: StagingStore) -> None:
    engine = store.engine
    with_alices_hold(engine)
    run(engine)
    with (
        engine.begin() as connection
    ):  # a tamperer edits a disposed row's tombstone: still verifies only as a tombstone
        connection.execute(
            update(archive_events)
            .where(archive_events.c.event_id == str(BEFORE.event_id))
            .values(payload=json.dumps({"tombstone": True, "event_id": str(AFTER.event_id)}))
        )
    verdict = verify_archive(engine)
    assert verdict.first_bad is not None
    assert verdict.first_bad.label == str(BEFORE.event_id)


def test_an_edited_disposition_log_fails_verify(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    run(engine)
    with engine.begin() as connection:
        first = connection.execute(select(func.min(archive_dispositions.c.seq))).scalar_one()
        connection.execute(
            update(archive_dispositions)
            .where(archive_dispositions.c.seq == first)
            .values(document=json.dumps({"event_id": "x", "event_hash": "0" * 64}))
        )
    verdict = verify_archive(engine)
    assert not verdict.ok
    assert "disposition log" in (verdict.problem or "")


def test_a_dry_run_touches_nothing(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    hold(engine, HoldScope(custodians=("user:alice",)))
    before = payloads(engine), texts(engine), len(entries(engine))

    report = run(engine, dry_run=True)

    assert (report.disposed, report.held, report.kept) == (3, 5, 1)
    tally = report.by_policy["default"]
    assert (tally.oldest, tally.newest) == (BEFORE.occurred_at, AFTER.occurred_at)
    assert (payloads(engine), texts(engine), len(entries(engine))) == before
    assert disposed_ids(engine) == set()
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(retention_runs)).scalar_one() == 0


def test_a_hold_covers_events_that_arrive_after_it_was_placed(store: StagingStore) -> None:
    engine = store.engine
    keep(engine, 30)
    hold(engine, HoldScope(rooms=(ROOM,)))
    archive(engine, HISTORY)  # a backfill of old history, archived after the hold

    report = run(engine)

    assert disposed_ids(engine) == {str(ELSEWHERE.event_id)}
    assert report.held == len(HISTORY) - 2


def test_a_released_hold_no_longer_protects(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="closed matter", rooms=(ROOM,)), "legal")
    placed = cases.place_hold(case.id, HoldSpec(reason="inquiry"), "legal")
    assert placed.scope.rooms == (ROOM,)
    assert run(engine, dry_run=True).held == len(HISTORY) - 2
    cases.release_hold(case.id, placed.id, "inquiry closed", "legal")

    report = run(engine)

    assert report.held == 0
    assert texts(engine) == {"recent"}
    assert [h.released_by for h in cases.holds(case.id)] == ["legal"]


def test_holds_combine_their_parts_with_and(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    hold(engine, HoldScope(rooms=(ROOM,), date_from=at(100, 15), date_to=at(100, 35)))
    run(engine)
    assert texts(engine) == {"the held message", "said while alice was in the room", "recent"}


def test_a_room_policy_overrides_the_default(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    keep(engine, None, "room", ROOM)
    report = run(engine)
    assert disposed_ids(engine) == {str(ELSEWHERE.event_id)}
    assert report.by_policy["room:" + ROOM].kept == len(HISTORY) - 1


def test_a_shorter_room_policy_disposes_what_the_default_keeps(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, [post("user:bob", ROOM, at(20), "twenty days"), post("user:bob", OTHER, at(20), "lunch")])
    keep(engine, 365)
    keep(engine, 10, "room", ROOM)
    run(engine)
    assert texts(engine) == {"lunch"}


def test_keep_forever_and_no_policy_dispose_nothing(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    assert run(engine).disposed == 0  # no policy at all
    keep(engine, None)
    report = run(engine)
    assert report.disposed == 0
    assert report.by_policy["default"].kept == len(HISTORY)
    assert disposed_ids(engine) == set()


def test_a_group_policy_applies_to_its_members_messages(store: StagingStore) -> None:
    engine = store.engine
    PolicyStore(engine).put_group(Group(id="traders", name="Traders", members=("user:bob",)))
    archive(engine, [post("user:bob", OTHER, at(50), "bob"), post("user:carol", OTHER, at(50), "carol")])
    keep(engine, 365)
    keep(engine, 30, "group", "traders")
    run(engine)
    assert texts(engine) == {"carol"}


def test_the_run_is_audited_and_recorded_with_counts(store: StagingStore) -> None:
    engine = store.engine
    with_alices_hold(engine)
    report = run(engine)
    audited = [e for e in entries(engine) if e["action"] == "retention_run"]
    assert len(audited) == 1
    details = audited[0]["details"]
    assert details["run_id"] == report.run_id
    assert details["disposed"] == 3
    assert details["by_policy"]["default"]["disposed"] == 3
    runs = RetentionStore(engine).runs()
    assert [(r.id, r.counts["disposed"], r.error) for r in runs] == [(report.run_id, 3, None)]
    assert runs[0].finished_at is not None


class RecordingAdapter:
    def __init__(self, fail: bool = False) -> None:
        self.deleted: list[str] = []
        self.fail = fail

    def delete(self, event_ids: Sequence[str]) -> None:
        if self.fail:
            raise ConnectionError("search cluster down")
        self.deleted.extend(event_ids)


def test_disposed_events_are_deleted_from_adapters_in_chunks(store: StagingStore) -> None:
    engine = store.engine
    with_alices_hold(engine)
    adapter = RecordingAdapter()
    run(engine, adapters=[adapter], chunk=2)
    assert sorted(adapter.deleted) == sorted(disposed_ids(engine))
    assert len(adapter.deleted) == 3
    assert verify_archive(engine).ok


def test_a_failed_adapter_deletion_rolls_the_chunk_back_and_the_run_is_resumable(store: StagingStore) -> None:
    engine = store.engine
    with_alices_hold(engine)
    with pytest.raises(RetentionFailed, match="search cluster down"):
        run(engine, adapters=[RecordingAdapter(fail=True)])
    assert disposed_ids(engine) == set()
    assert "before alice" in texts(engine)
    failed = RetentionStore(engine).runs()[0]
    assert failed.error is not None
    assert run(engine, adapters=[RecordingAdapter()]).disposed == 3


def test_a_query_hold_fails_closed(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    hold(engine, HoldScope(query="acme"))
    with pytest.raises(HoldUnavailable, match="no search backend"):
        run(engine)

    def unavailable(_query: str) -> list[tuple[str, str]]:
        raise ConnectionError("index is gone")

    with pytest.raises(HoldUnavailable, match="index is gone"):
        run(engine, resolve=unavailable)
    assert disposed_ids(engine) == set()
    assert RetentionStore(engine).runs() == []


def test_a_query_hold_holds_the_whole_message_of_each_hit(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    hold(engine, HoldScope(query="held"))
    run(engine, resolve=lambda _query: [(str(HELD.event_id), HELD.message.id)])
    assert texts(engine) == {"the held message", "recent"}
    assert str(READ.event_id) not in disposed_ids(engine)  # the read receipt of the held message


def test_a_query_hold_waits_for_due_events_still_in_staging(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, HISTORY)
    keep(engine, 30)
    hold(engine, HoldScope(query="held"))
    store.insert([to_row(post("user:bob", ROOM, at(90), "not indexed yet"))])
    with pytest.raises(HoldUnavailable, match="still staged or parked"):
        run(engine, resolve=lambda _query: [])
    assert disposed_ids(engine) == set()
