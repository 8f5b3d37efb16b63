"""``/review-sets/{id}/near-duplicates`` through the API: roles (401/403 for each), the
computation and its audit entry, groups listed, a document's group, bad input answered 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from archive.audit import entries
from archive.principals import ROLES, create_token
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.deps import AppServices
from search_api.routes import near_duplicates
from tests.review.neardup.helpers import add_attachment, add_messages, make_set

CONTRACT = "The supplier contract for the Berlin office must be signed before the audit on Friday."
LUNCH = "Lunch on Thursday? The new place near the station has a good menu and quick service."
WRITERS = {"legal", "admin"}
READERS = {"legal", "compliance_officer", "admin"}


@pytest.fixture
def services(store: StagingStore, tmp_path: Path) -> AppServices:
    return AppServices(engine=store.engine, index_dir=tmp_path / "index", sink=StagingSink(store))


@pytest.fixture
def client(services: AppServices) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.services = services
    app.include_router(near_duplicates.router, prefix="/api/v1")
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def auth(store: StagingStore) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {create_token(store.engine, role, f'test {role}')}"} for role in ROLES}


def test_compute_list_and_a_documents_group(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore, services: AppServices
) -> None:
    case_id, set_id = make_set(store.engine)
    keys = add_messages(store.engine, set_id, [CONTRACT, "Fwd: " + CONTRACT, LUNCH, "ok"])
    attached = add_attachment(store.engine, services.files(), set_id, CONTRACT + "\n-- \nAlice", 4)
    base = f"/api/v1/review-sets/{set_id}/near-duplicates"

    run = client.post(base, json={"threshold": 0.75}, headers=auth["legal"])
    assert run.status_code == 200, run.text
    body = run.json()
    assert {k: body[k] for k in ("threshold", "documents", "compared", "groups", "grouped")} == {
        "threshold": 0.75,
        "documents": 5,
        "compared": 4,
        "groups": 1,
        "grouped": 3,
    }
    listed = client.get(base, headers=auth["compliance_officer"]).json()
    assert (listed["total_groups"], listed["grouped"]) == (1, 3)
    group = listed["groups"][0]
    assert group["size"] == 3
    assert {m["doc_key"] for m in group["members"]} == {keys[0], keys[1], attached}
    pivot = group["members"][0]
    assert pivot["pivot"]
    assert pivot["similarity"] == 1.0
    assert pivot["doc_key"] == group["group"]
    assert all(0.75 <= m["similarity"] <= 1.0 for m in group["members"])

    one = client.get(f"{base}/document", params={"doc_key": keys[1]}, headers=auth["legal"]).json()
    assert one["group"]["group"] == group["group"]
    alone = client.get(f"{base}/document", params={"doc_key": keys[2]}, headers=auth["legal"]).json()
    assert alone == {"doc_key": keys[2], "group": None}

    default = client.post(base, headers=auth["admin"])  # no body: the default threshold
    assert default.status_code == 200
    assert default.json()["threshold"] == 0.7

    audited = [e for e in entries(store.engine) if e["action"] == "review_near_duplicates"]
    assert len(audited) == 2
    first = audited[-1]["details"]  # newest first
    assert first["case_id"] == case_id
    assert first["review_set_id"] == set_id
    assert (first["threshold"], first["before"], first["after"]) == (
        0.75,
        {"groups": 0, "grouped": 0},
        {"groups": 1, "grouped": 3},
    )


def test_roles(client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore) -> None:
    _, set_id = make_set(store.engine)
    add_messages(store.engine, set_id, [CONTRACT, CONTRACT])
    base = f"/api/v1/review-sets/{set_id}/near-duplicates"
    assert client.post(base).status_code == 401
    assert client.get(base).status_code == 401
    assert client.get(f"{base}/document", params={"doc_key": "x"}).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.get(base, headers=bad).status_code == 401
    for role in ROLES:
        wrote = client.post(base, headers=auth[role])
        assert wrote.status_code == (200 if role in WRITERS else 403), role
        read = client.get(base, headers=auth[role])
        assert read.status_code == (200 if role in READERS else 403), role
        if read.status_code == 403:
            assert "review_read" in read.json()["detail"]["message"]
    assert len([e for e in entries(store.engine) if e["action"] == "review_near_duplicates"]) == len(WRITERS)


def test_bad_input_is_a_clear_4xx(client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore) -> None:
    legal = auth["legal"]
    _, set_id = make_set(store.engine)
    base = f"/api/v1/review-sets/{set_id}/near-duplicates"
    for threshold in (0.2, 1.5, "high"):
        refused = client.post(base, json={"threshold": threshold}, headers=legal)
        assert refused.status_code == 422, threshold
    assert client.post(base, json={"threshold": 0.8, "other": 1}, headers=legal).status_code == 422
    missing = client.post("/api/v1/review-sets/nope/near-duplicates", headers=legal)
    assert missing.status_code == 404
    assert "no review set" in missing.json()["detail"]["message"]
    assert client.get("/api/v1/review-sets/nope/near-duplicates", headers=legal).status_code == 404
    unknown = client.get(f"{base}/document", params={"doc_key": "message:nope"}, headers=legal)
    assert unknown.status_code == 404
    assert "no document" in unknown.json()["detail"]["message"]
    assert client.get(f"{base}/document", headers=legal).status_code == 422
    assert client.get(base, params={"limit": 0}, headers=legal).status_code == 422
    assert [e for e in entries(store.engine) if e["action"] == "review_near_duplicates"] == []
