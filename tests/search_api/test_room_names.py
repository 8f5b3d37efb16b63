"""The rooms the retention page offers in its id box: the first ones by id, with their names."""

from __future__ import annotations

from adapters.archive import ArchiveAdapter
from archive import queries
from ingest.staging import StagingStore
from tests.cases.helpers import at, post


def test_the_first_rooms_by_id_with_their_names(store: StagingStore) -> None:
    ArchiveAdapter(store.engine).write(
        [post("user:ann", room, at(1), "hello") for room in ("room:cobalt", "room:amber", "room:beryl")]
    )
    assert queries.room_names(store.engine, limit=2) == [("room:amber", "#amber"), ("room:beryl", "#beryl")]
