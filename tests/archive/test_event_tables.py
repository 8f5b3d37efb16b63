"""Every archive table is declared in exactly one of the lists disposal goes by (archive/derived.py),
so a table added later (attachments, versions, ...) cannot be forgotten by retention."""

from __future__ import annotations

from archive import derived
from archive.schema import metadata


def test_every_archive_table_is_declared_once() -> None:
    declared = [
        *derived.EVENT_ROWS,
        *derived.REBUILT_ON_DISPOSAL,
        *derived.KEPT_ON_DISPOSAL,
        *derived.NATIVE_TABLES,
        *derived.RECORD_TABLES,
    ]
    names = [table.name for table in declared]
    assert len(names) == len(set(names)), "a table is declared twice"
    assert set(names) == set(metadata.tables), "declare the new table in archive/derived.py"


def test_tables_deleted_per_event_are_keyed_by_their_event() -> None:
    for table in derived.EVENT_ROWS:
        assert "event_id" in table.c, f"{table.name} has no event_id column to delete by"
