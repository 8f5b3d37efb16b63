"""Migration 0012 creates exactly the review and thread tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine

from archive.schema import metadata as archive_metadata
from archivist.migrate import upgrade
from cases.schema import cases
from review.schema import metadata as review_metadata

_NEW = {"archive_thread_links", *review_metadata.tables}


def _declared() -> MetaData:
    declared = MetaData()
    cases.to_metadata(declared)
    for table in [*review_metadata.tables.values(), *archive_metadata.tables.values()]:
        if table.name in _NEW or table.name == "archive_messages":
            table.to_metadata(declared)
    return declared


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_matches_the_declared_tables(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    upgrade(engine)
    declared = _declared()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [
            d
            for d in compare_metadata(context, declared)
            if d[0] not in ("remove_table", "remove_index") and not (d[0] == "remove_column" and d[2] == "cases")
        ]
    engine.dispose()
    assert differences == []
