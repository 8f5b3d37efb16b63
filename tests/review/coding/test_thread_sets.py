"""A review set in the thread unit holds the production's thread documents (thread:<id>)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from adapters.thread_adapter import ThreadAdapter
from exports.documents import parse_document_key
from ingest.staging import StagingStore
from tests.api_client import archived_api_client, auth, tokens  # noqa: F401
from tests.review.coding.conftest import new_set
from tests.review.coding.corpus import review_events


@pytest.fixture
def threaded(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    events = review_events()
    with archived_api_client(store, tmp_path / "index", events) as client:
        ThreadAdapter(store.engine).write(events)
        yield client


def test_a_thread_set_holds_threads_and_a_thread_is_added_by_hand(
    threaded: TestClient,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    legal = tokens["legal"]
    case_id = threaded.post("/api/v1/cases", json={"name": "Threads"}, headers=auth(legal)).json()["id"]
    set_id = new_set(threaded, legal, case_id, unit="thread")
    added = threaded.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    assert added.status_code == 200, added.text
    listed = threaded.get(f"/api/v1/review-sets/{set_id}/documents", params={"size": 1000}, headers=auth(legal))
    keys = [d["key"] for d in listed.json()["documents"]]
    kinds = {parse_document_key(key)[0] for key in keys}
    assert "thread" in kinds
    assert kinds <= {"thread", "attachment"}
    thread_key = next(key for key in keys if key.startswith("thread:"))
    other = new_set(threaded, legal, case_id, unit="thread", name="By hand")
    by_hand = threaded.post(
        f"/api/v1/review-sets/{other}/documents/hand", json={"names": [thread_key]}, headers=auth(legal)
    )
    assert by_hand.status_code == 200, by_hand.text
    listed = threaded.get(f"/api/v1/review-sets/{other}/documents", params={"size": 1000}, headers=auth(legal))
    assert thread_key in [d["key"] for d in listed.json()["documents"]]
