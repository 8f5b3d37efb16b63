"""The processor's statements on staging (claims under a lease, progress, backoff, parking,
deletion), run against SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ingest.staging import StagingStore, staged_deliveries, to_row
from ingest.staging_claims import StagingClaims, only_parked_left, parked_events, retry_parked
from tests.factories import posts

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=300)


def stage(store: StagingStore, count: int) -> list[str]:
    rows = [to_row(e) for e in posts(count)]
    store.insert(rows)
    return [r.event_id for r in rows]


def claim(store: StagingStore, owner: str, *, now: datetime = NOW, limit: int = 100) -> list[str]:
    with store.engine.begin() as connection:
        return [row.event_id for row in StagingClaims(owner).claim(connection, now=now, lease=LEASE, limit=limit)]


def test_claims_are_taken_in_occurrence_order_and_never_twice_while_leased(store: StagingStore) -> None:
    ids = stage(store, 10)
    assert claim(store, "a", limit=6) == ids[:6]
    assert claim(store, "b", limit=6) == ids[6:]
    assert claim(store, "c", now=NOW + LEASE - timedelta(seconds=1)) == []
    assert claim(store, "c", now=NOW + LEASE + timedelta(seconds=1)) == ids, "expired leases are due again"
    with store.engine.begin() as connection:
        assert StagingClaims("a").still_owned(connection, ids) == set()
        assert StagingClaims("c").still_owned(connection, ids) == set(ids)


def test_a_released_event_is_due_again_at_once_but_only_the_holder_releases(store: StagingStore) -> None:
    ids = stage(store, 4)
    claim(store, "a")
    with store.engine.begin() as connection:
        StagingClaims("b").release(connection, ids)
    assert claim(store, "b") == [], "b holds no lease to give back"
    with store.engine.begin() as connection:
        StagingClaims("a").release(connection, ids[:2])
    assert claim(store, "b") == ids[:2]


def test_a_claim_reads_the_progress_recorded_for_its_events(store: StagingStore) -> None:
    ids = stage(store, 3)
    claim(store, "a")
    claims = StagingClaims("a")
    with store.engine.begin() as connection:
        progress = [{"event_id": ids[0], "adapter": "index", "delivered_at": NOW}]
        claims.record_progress(connection, progress)
        claims.record_progress(connection, progress + [{"event_id": ids[0], "adapter": "xml", "delivered_at": NOW}])
        claims.release(connection, ids)
    with store.engine.begin() as connection:
        rows = claims.claim(connection, now=NOW, lease=LEASE, limit=10)
    assert {row.event_id: row.delivered for row in rows} == {ids[0]: {"index", "xml"}, ids[1]: set(), ids[2]: set()}


def test_a_backed_off_event_waits_and_a_parked_one_waits_for_retry_parked(store: StagingStore) -> None:
    ids = stage(store, 2)
    claims = StagingClaims("a")
    claim(store, "a")
    with store.engine.begin() as connection:
        claims.back_off(connection, ids[0], attempts=1, last_error="x: down", next_attempt_at=NOW + LEASE, parked=False)
        claims.back_off(connection, ids[1], attempts=8, last_error="x: too big", next_attempt_at=NOW, parked=True)
        claims.release(connection, ids)
    assert claim(store, "b", now=NOW + LEASE - timedelta(seconds=1)) == []
    assert not only_parked_left(store.engine)
    assert claim(store, "b", now=NOW + LEASE) == [ids[0]]
    with store.engine.begin() as connection:
        assert StagingClaims("b").delete_leased(connection, [ids[0]], with_progress=False) == [ids[0]]
    assert only_parked_left(store.engine)
    assert parked_events(store.engine) == [{"event_id": ids[1], "attempts": 8, "last_error": "x: too big"}]
    assert retry_parked(store.engine) == 1
    assert claim(store, "c") == [ids[1]]
    assert parked_events(store.engine) == []


def test_only_the_lease_holder_deletes_and_progress_goes_with_the_event(store: StagingStore) -> None:
    ids = stage(store, 4)
    claim(store, "a")
    claims = StagingClaims("a")
    with store.engine.begin() as connection:
        claims.record_progress(connection, [{"event_id": i, "adapter": "index", "delivered_at": NOW} for i in ids])
        assert StagingClaims("b").delete_leased(connection, ids, with_progress=True) == []
        assert sorted(claims.delete_leased(connection, ids[:2], with_progress=True)) == sorted(ids[:2])
        claims.delete_owned(connection, ids[2:])
    assert store.event_ids() == set()
    with store.engine.connect() as connection:
        assert connection.execute(select(staged_deliveries)).all() == []
