"""The API over the review corpus (SQLite and PostgreSQL), a token per role, and a case."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.staging import StagingStore
from tests.api_client import archived_api_client, auth, tokens  # noqa: F401
from tests.review.coding.corpus import review_events


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with archived_api_client(store, tmp_path / "index", review_events()) as test_client:
        yield test_client


@pytest.fixture
def case_id(client: TestClient, tokens: dict[str, str]) -> str:  # noqa: F811
    made = client.post("/api/v1/cases", json={"name": "Acme matter"}, headers=auth(tokens["legal"]))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def new_set(client: TestClient, token: str, case_id: str, unit: str = "message", name: str = "First pass") -> str:
    made = client.post(f"/api/v1/cases/{case_id}/review-sets", json={"name": name, "unit": unit}, headers=auth(token))
    assert made.status_code == 201, made.text
    return str(made.json()["id"])
