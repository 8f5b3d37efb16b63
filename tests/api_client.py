"""The API under test: a client over a staging store, a token per role, and the header one sends."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import ROLES, create_token
from ingest.events import Event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices


@contextmanager
def api_client(store: StagingStore, index_dir: Path) -> Iterator[TestClient]:
    """A client of the API over ``store``'s database and the index in ``index_dir``."""
    services = AppServices(engine=store.engine, index_dir=index_dir, sink=StagingSink(store))
    with TestClient(create_app(services)) as test_client:
        yield test_client


@contextmanager
def archived_api_client(store: StagingStore, index_dir: Path, events: Sequence[Event]) -> Iterator[TestClient]:
    """The API over ``events``, archived in ``store`` and indexed at ``index_dir``."""
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(index_dir)
    index.write(events)
    index.close()
    with api_client(store, index_dir) as client:
        yield client


@pytest.fixture
def tokens(store: StagingStore) -> dict[str, str]:
    """A token for every role, by role."""
    return {role: create_token(store.engine, role, f"test {role}") for role in ROLES}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
