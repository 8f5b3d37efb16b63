from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from archivist.migrate import upgrade
from ingest.db import create_db_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'archivist.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_db_engine(postgres_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "TRUNCATE supervision_webhook_deliveries, supervision_item_actions, supervision_item_terms, "
            "supervision_items, supervision_scope_days, supervision_policy_versions, supervision_policies"
        )
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The outbox on the embedded default and on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]
