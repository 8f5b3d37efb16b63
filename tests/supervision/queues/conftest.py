"""The API over a desk's archived messages (SQLite and PostgreSQL), a token per role, a policy
and its review items."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.staging import StagingStore
from supervision.model import Policy
from tests.api_client import archived_api_client, auth, tokens  # noqa: F401
from tests.supervision.queues.items import NOW, desk_events, items_of, make_policy


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with archived_api_client(store, tmp_path / "index", desk_events()) as test_client:
        yield test_client


@pytest.fixture
def policy(store: StagingStore) -> Policy:
    return make_policy(store.engine)


@pytest.fixture
def item_ids(client: TestClient, store: StagingStore, policy: Policy) -> list[str]:
    """Three pending items, oldest first."""
    return items_of(store.engine, policy, desk_events(), NOW - timedelta(hours=30))
