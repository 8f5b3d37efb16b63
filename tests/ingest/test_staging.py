"""The staging store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from adapters.archive import ArchiveAdapter
from archive.record import Disposal, append_events, dispose_events
from ingest.events import Event
from ingest.staging import AdapterDeliveries, StageOutcome, StagingStore, staged_deliveries, staged_events, to_row
from tests.factories import post, posts


def test_insert_commits_every_new_event(store: StagingStore) -> None:
    assert store.insert([to_row(e) for e in posts(250)]) == 250
    counts = store.counts()
    assert (counts.staged, counts.parked) == (250, 0)


def test_the_same_events_twice_are_staged_once(store: StagingStore) -> None:
    rows = [to_row(e) for e in posts(100)]
    assert store.insert(rows) == 100
    assert store.insert(rows) == 0
    assert store.insert(rows[50:] + [to_row(post(100))]) == 1
    assert store.counts().staged == 101


def test_duplicates_inside_one_batch_are_absorbed(store: StagingStore) -> None:
    row = to_row(post(1))
    assert store.insert([row, row, row]) == 1
    assert store.event_ids() == {row.event_id}


def test_a_staged_event_keeps_its_first_payload(store: StagingStore) -> None:
    first = to_row(post(5, text="original words"))
    store.insert([first])
    store.insert([to_row(post(5, text="a later, different text"))])
    with store.engine.connect() as connection:
        payload = connection.execute(select(staged_events.c.payload)).scalar_one()
    assert payload == first.payload


def test_stored_payload_is_the_canonical_event(store: StagingStore) -> None:
    event = post(9, text="naïve café — 😀 שלום")
    store.insert([to_row(event)])
    with store.engine.connect() as connection:
        row = connection.execute(select(staged_events)).one()
    assert row.payload == to_row(event).payload
    assert "naïve café — 😀 שלום" in row.payload
    assert row.event_type == "post"
    assert row.occurred_at.replace(tzinfo=None) == event.occurred_at.replace(tzinfo=None)


def test_empty_batch_is_a_no_op(store: StagingStore) -> None:
    assert store.insert([]) == 0
    assert store.counts().staged == 0


def test_concurrent_writers_lose_nothing(store: StagingStore) -> None:
    """Four writers with overlapping batches: every event once, none lost to lock errors."""
    rows = [to_row(e) for e in posts(2000)]
    errors: list[BaseException] = []

    def write(offset: int) -> None:
        try:
            for start in range(offset, len(rows), 400):
                store.insert(rows[start : start + 500])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(offset,)) for offset in (0, 100, 200, 300)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.counts().staged == 2000


# --- issue 15, item 15: a second event with a known event_id and different content is a conflict ---


def test_a_known_event_id_with_different_content_is_a_conflict_not_a_duplicate(store: StagingStore) -> None:
    first = to_row(post(5, text="original words"))
    assert store.stage([first]) == StageOutcome(new=1, duplicates=0, conflicts=())
    forged = to_row(post(5, text="a later, different text"))
    outcome = store.stage([to_row(post(6)), forged, first])
    assert (outcome.new, outcome.duplicates) == (1, 1)
    assert [c.position for c in outcome.conflicts] == [1]
    assert outcome.conflicts[0].event_id == first.event_id
    assert outcome.conflicts[0].reason.startswith(f"conflict: event_id {first.event_id} is staged already")
    with store.engine.connect() as connection:
        kept = connection.execute(select(staged_events.c.payload).where(staged_events.c.event_id == first.event_id))
        assert kept.scalar_one() == first.payload


def test_inside_one_batch_the_first_version_wins_and_a_different_one_conflicts(store: StagingStore) -> None:
    first, same, other = to_row(post(1, text="one")), to_row(post(1, text="one")), to_row(post(1, text="two"))
    outcome = store.stage([first, same, other])
    assert (outcome.new, outcome.duplicates, [c.position for c in outcome.conflicts]) == (1, 1, [2])
    with store.engine.connect() as connection:
        assert connection.execute(select(staged_events.c.payload)).scalar_one() == first.payload


def test_a_conflict_is_found_against_the_archive_after_staging_let_go_of_the_first(store: StagingStore) -> None:
    """Staging rows are deleted once processed: the archive of record is asked too."""
    original = post(7, text="what was really said")
    ArchiveAdapter(store.engine).write([original])
    outcome = store.stage([to_row(post(7, text="a rewrite of history")), to_row(original), to_row(post(8))])
    assert (outcome.new, outcome.duplicates, [c.position for c in outcome.conflicts]) == (1, 1, [0])
    assert store.event_ids() == {str(post(8).event_id)}, "neither the forgery nor the copy is staged again"


def test_a_disposed_event_sent_again_is_a_duplicate_and_another_version_of_it_a_conflict(store: StagingStore) -> None:
    original = post(9, text="to be disposed of")
    ArchiveAdapter(store.engine).write([original])
    with store.engine.begin() as connection:
        dispose_events(connection, [Disposal(str(original.event_id), "room:r1")], "run-1", datetime.now(UTC))
    outcome = store.stage([to_row(original), to_row(post(9, text="different"))])
    assert (outcome.new, outcome.duplicates, [c.position for c in outcome.conflicts]) == (0, 1, [1])
    assert store.counts().staged == 0


def test_insert_still_counts_only_new_rows(store: StagingStore) -> None:
    assert store.insert([to_row(post(1, text="a"))]) == 1
    assert store.insert([to_row(post(1, text="b")), to_row(post(2))]) == 1


def test_counts_without_a_transaction_are_the_counts(store: StagingStore) -> None:
    rows = [to_row(e) for e in posts(5)]
    store.insert(rows)
    with store.engine.begin() as connection:
        connection.execute(
            update(staged_events).where(staged_events.c.event_id == rows[0].event_id).values(parked=True)
        )
    assert store.counts_without_transaction() == store.counts()
    assert (store.counts().staged, store.counts().parked) == (4, 1)


def test_deliveries_count_each_adapters_deliveries_by_name(store: StagingStore) -> None:
    rows = [to_row(e) for e in posts(3)]
    store.insert(rows)
    early, late = datetime(2009, 3, 3, 6, 30, tzinfo=UTC), datetime(2009, 3, 3, 6, 31, tzinfo=UTC)
    delivered = [
        {"event_id": rows[0].event_id, "adapter": "index", "delivered_at": early},
        {"event_id": rows[0].event_id, "adapter": "archive", "delivered_at": early},
        {"event_id": rows[1].event_id, "adapter": "archive", "delivered_at": late},
    ]
    with store.engine.begin() as connection:
        connection.execute(insert(staged_deliveries), delivered)
    assert store.deliveries() == [AdapterDeliveries("archive", 2, late), AdapterDeliveries("index", 1, early)]


# --- issue 17, finding 4: the sender's offset, kept since; an event archived before it ---


def test_an_event_archived_before_offsets_were_kept_sent_again_is_a_duplicate(store: StagingStore) -> None:
    """An event sent at +09:00 was archived without ``occurred_offset`` by an earlier version;
    sent again now (a replay), its payload has the offset: the same event, not a conflict. A
    different text under its id is still a conflict."""
    from ingest.events import event_to_json, parse_event

    document = {
        "schema_version": 1,
        "event_id": "5b0f3c1e-0000-4000-8000-000000000017",
        "type": "post",
        "occurred_at": "2026-11-22T09:00:00+09:00",
        "room": {"id": "room:tokyo"},
        "actor": {"id": "user:yuki"},
        "message": {"id": "m:17", "text": "おはよう"},
    }
    event = parse_event(document)
    earlier = event.model_dump_json(exclude_none=True, exclude={"occurred_offset"})  # as stored before
    assert '"occurred_offset"' in event_to_json(event)
    _archive_as(store, event, earlier)
    again = store.stage([to_row(event)])
    assert (again.new, again.duplicates, again.conflicts) == (0, 1, ())
    changed = parse_event(document | {"message": {"id": "m:17", "text": "こんばんは"}})
    assert [c.event_id for c in store.stage([to_row(changed)]).conflicts] == [str(event.event_id)]
    # Staged (not archived yet) the same way: the earlier payload staged, the new one sent.
    staged = parse_event(document | {"event_id": "5b0f3c1e-0000-4000-8000-000000000018"})
    row = to_row(staged)
    old_row = type(row)(
        row.event_id,
        row.event_type,
        row.occurred_at,
        staged.model_dump_json(exclude_none=True, exclude={"occurred_offset"}),
    )
    assert store.stage([old_row]).new == 1
    assert store.stage([row]) == StageOutcome(new=0, duplicates=1, conflicts=())


def _archive_as(store: StagingStore, event: Event, payload: str) -> None:
    """Archive ``event`` with ``payload`` as its stored JSON (what an earlier version wrote)."""
    with store.engine.begin() as connection:
        append_events(connection, [event], [payload])
