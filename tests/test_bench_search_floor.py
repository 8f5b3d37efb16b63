"""The search bench's floor: the token check and the audit entry of a search, and nothing else."""

from __future__ import annotations

from fastapi.testclient import TestClient

from archive import audit
from archive.principals import create_token
from bench.search_floor import floor_app
from ingest.staging import StagingStore


def test_the_floor_checks_the_token_and_appends_the_searchs_audit_entry(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    token = create_token(engine, "compliance_officer", "bench")
    with TestClient(floor_app(engine)) as client:
        answer = client.post(
            "/api/v1/search", json={"query": "deploy", "size": 50}, headers={"Authorization": f"Bearer {token}"}
        )
        refused = client.post("/api/v1/search", json={"query": "deploy"}, headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 200
    assert answer.json() == {"total": 0, "hits": [], "facets": {}, "next_cursor": None}
    assert refused.status_code == 401
    (entry,) = audit.entries(engine)
    assert (entry["action"], entry["role"]) == ("search", "compliance_officer")
    assert entry["details"] == {"query": "deploy", "sort": "time", "hits": 0, "page_after": None}
    assert audit.verify_audit(engine).ok
