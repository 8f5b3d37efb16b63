"""archive_people: every name and address a person was seen with, with its interval; rebuilt
from the events exactly as the append transaction derives it (migration 0008 fills it so)."""

from __future__ import annotations

from sqlalchemy import delete, select

from adapters.archive import ArchiveAdapter
from archive.people import match_key, rebuild
from archive.schema import archive_people
from ingest.simulate import simulate_events
from ingest.staging import StagingStore


def rows(store: StagingStore) -> set[tuple[object, ...]]:
    c = archive_people.c
    with store.engine.connect() as connection:
        found = connection.execute(select(c.actor_id, c.kind, c.value, c.key_hash, c.first_seen_at, c.last_seen_at))
        return {tuple(row) for row in found}


def test_rebuilding_from_the_events_gives_what_the_batches_derived(store: StagingStore) -> None:
    events = list(simulate_events(events=3000, rooms=4, users=12, seed=7))
    adapter = ArchiveAdapter(store.engine)
    for start in range(0, len(events), 250):
        adapter.write(events[start : start + 250])
    derived = rows(store)
    renamed = {(actor, kind) for actor, kind, *_rest in derived}
    assert len(derived) > len(renamed), "some simulated people were renamed"
    with store.engine.begin() as connection:
        connection.execute(delete(archive_people))
        rebuild(connection)
    assert rows(store) == derived


def test_names_match_whatever_their_case_accents_and_spacing() -> None:
    assert match_key("  Zoë   SMITH ") == match_key("zoe smith") == "zoe smith"
