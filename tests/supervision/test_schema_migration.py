"""Migration 0015 creates exactly the supervision tables the code declares."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from archivist.migrate import upgrade
from supervision.schema import metadata


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_migration_matches_the_declared_tables(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [d for d in compare_metadata(context, metadata) if d[0] not in ("remove_table", "remove_index")]
    engine.dispose()
    assert differences == []
