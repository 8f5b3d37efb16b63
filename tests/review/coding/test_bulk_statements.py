"""A set is built and coded in bulk: statements per batch of documents, never one per document
(counted with SQLAlchemy's ``before_execute`` event, not timed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.sql.dml import Delete, Insert, Update

from ingest.staging import StagingStore
from tests.api_client import auth
from tests.review.coding.conftest import new_set
from tests.review.coding.corpus import ACME_MESSAGES


@contextmanager
def counted(engine: Engine) -> Iterator[dict[str, int]]:
    """The DML statements run on ``engine``, by table and kind, while the block runs."""
    counts: dict[str, int] = {}

    def seen(_connection: Any, clause: Any, *_args: Any) -> None:
        if isinstance(clause, Insert | Update | Delete):
            name = f"{type(clause).__name__.lower()} {getattr(clause.table, 'name', '?')}"
            counts[name] = counts.get(name, 0) + 1

    event.listen(engine, "before_execute", seen)
    try:
        yield counts
    finally:
        event.remove(engine, "before_execute", seen)


def test_documents_and_codings_are_written_in_batches(
    client: TestClient, tokens: dict[str, str], case_id: str, store: StagingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("review.adding.BATCH", 20)
    monkeypatch.setattr("review.coding.BATCH", 20)
    monkeypatch.setattr("review.coding._FEW", 5)
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id)
    documents = ACME_MESSAGES + 2  # the upload's own document and its attachment
    with counted(store.engine) as adding:
        added = client.post(
            f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal)
        )
    assert added.json()["added"] == documents
    assert adding["insert review_documents"] == -(-documents // 20)  # 62 documents: 4 statements
    body = {"selection": {"filter": {}}, "change": {"add": ["responsive"], "reviewed": True}}
    client.post(f"/api/v1/review-sets/{set_id}/coding", json=body, headers=auth(legal))
    with counted(store.engine) as swapping:
        swap = {"selection": {"filter": {}}, "change": {"add": ["not-responsive"], "reviewed": False}}
        answer = client.post(f"/api/v1/review-sets/{set_id}/coding", json=swap, headers=auth(legal))
    assert answer.json()["changed"] == documents
    assert swapping["delete review_codings"] == 1  # one DELETE through the table of keys
    assert swapping["update review_documents"] == 1
    assert swapping["insert review_codings"] == 4
    assert swapping["insert review_coding_history"] == 4
    assert sum(swapping.values()) < documents
