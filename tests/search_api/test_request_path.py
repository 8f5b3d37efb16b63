"""What each search request does beside the search: the index reloaded only when a commit
changed it, the token read on every request (a revocation bites on the very next one), and
the durable audit entry written before the answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import tantivy
from fastapi.testclient import TestClient

from adapters.index_adapter import TantivyIndexAdapter
from archive import audit
from archive.principals import create_token, revoke_token
from ingest.staging import StagingStore
from search import tantivy_backend
from search.query_parser import parse_query
from search.tantivy_backend import search_page
from tests.api_client import api_client
from tests.factories import posts


class _CountingIndex:
    """The real index, counting its reloads."""

    def __init__(self, index: tantivy.Index) -> None:
        self.index = index
        self.reloads = 0

    def reload(self) -> None:
        self.reloads += 1
        self.index.reload()

    def __getattr__(self, name: str) -> object:
        return getattr(self.index, name)


def test_a_search_sees_every_commit_and_an_unchanged_index_is_not_reloaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index_dir = tmp_path / "index"
    writer = TantivyIndexAdapter(index_dir)
    writer.write(posts(3, run="a"))
    node = parse_query("message")
    assert search_page(index_dir, node).total == 3
    opened = tantivy_backend._open(index_dir.resolve())
    counting = _CountingIndex(opened.index)
    monkeypatch.setattr(opened, "index", counting)
    assert [search_page(index_dir, node).total for _ in range(3)] == [3, 3, 3]
    assert counting.reloads == 0
    writer.write(posts(2, run="b"))  # another writer's commit: seen by the very next search
    assert search_page(index_dir, node).total == 5
    assert counting.reloads == 1
    assert search_page(index_dir, node).total == 5
    assert counting.reloads == 1
    writer.close()


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(posts(5))
    index.close()
    with api_client(store, tmp_path / "index") as test_client:
        yield test_client


def test_a_revoked_token_is_refused_on_the_next_request(client: TestClient, store: StagingStore) -> None:
    token = create_token(store.engine, "legal", "revoked soon")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/search", json={"query": "message"}, headers=headers).status_code == 200
    revoke_token(store.engine, token.split("_")[1])
    refused = client.post("/api/v1/search", json={"query": "message"}, headers=headers)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]["message"]


def test_every_answered_search_is_already_in_the_chained_audit_log(client: TestClient, store: StagingStore) -> None:
    token = create_token(store.engine, "compliance_officer", "chain")
    headers = {"Authorization": f"Bearer {token}"}
    for number in range(5):
        answer = client.post("/api/v1/search", json={"query": f"number {number}", "facets": False}, headers=headers)
        assert answer.status_code == 200
        latest = audit.entries(store.engine, limit=1)[0]
        assert latest["action"] == "search"
        assert latest["details"] == {
            "query": f"number {number}",
            "sort": "time",
            "hits": answer.json()["total"],
            "page_after": None,
        }
    refused = client.post("/api/v1/search", json={"query": "(number"}, headers=headers)
    assert refused.status_code == 422
    assert audit.entries(store.engine, limit=1)[0]["action"] == "search_refused"
    report = audit.verify_audit(store.engine)
    assert report.ok
    assert report.checked == 6
