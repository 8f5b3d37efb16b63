from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archivist.migrate import upgrade
from archivist.settings import get_settings
from ingest.db import create_db_engine
from ingest.staging import StagingStore
from ingest.topology import Topology
from tests.services import fresh_postgres_database, private_topology

# The session's OpenSearch node (``opensearch_url``), for any test folder that needs one.
pytest_plugins = ["tests.opensearch.fixtures"]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Every test starts from the embedded default under its own data directory."""
    for name in (
        "ARCHIVIST_BROKER_URL",
        "ARCHIVIST_DATABASE_URL",
        "ARCHIVIST_ELASTICSEARCH_URL",
        "ARCHIVIST_OPENSEARCH_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARCHIVIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ARCHIVIST_CONFIG", str(tmp_path / "no-config.toml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        upgrade(create_db_engine(url))
        yield url


@pytest.fixture
def sqlite_store(tmp_path: Path) -> StagingStore:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'staging.sqlite3'}")
    upgrade(engine)
    return StagingStore(engine)


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[StagingStore]:
    engine = create_db_engine(postgres_url)
    with engine.begin() as connection:
        tables = connection.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).scalars()
        connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
    yield StagingStore(engine)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> StagingStore:
    """The staging store contract runs against every implementation."""
    return request.getfixturevalue(f"{request.param}_store")  # type: ignore[no-any-return]


@pytest.fixture
def topology() -> Iterator[Topology]:
    with private_topology() as private:
        yield private
