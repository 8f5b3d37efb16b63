"""The staging store contract, run against SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading

from sqlalchemy import select

from ingest.staging import StagingStore, staged_events, to_row
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
