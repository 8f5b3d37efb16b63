"""``/cases`` and ``/retention`` through the API: roles, holds placed and released, policies,
runs, and the audit entry of every change (the router mounted on a small app of its own)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from archive.audit import entries
from archive.principals import ROLES, create_token
from cases.retention import run_retention
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS, AppServices
from tests.cases.helpers import OPERATOR

CASE_PERMISSIONS = {
    "cases_read": frozenset({"legal", "compliance_officer", "auditor", "admin"}),
    "cases_write": frozenset({"legal", "compliance_officer", "admin"}),
    "retention_read": frozenset({"legal", "compliance_officer", "auditor", "admin"}),
    "retention_write": frozenset({"legal", "admin"}),
}


@pytest.fixture
def client(store: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, roles in CASE_PERMISSIONS.items():
        if name not in PERMISSIONS:  # until search_api/deps.py lists them
            monkeypatch.setitem(PERMISSIONS, name, roles)
    routes = importlib.import_module("search_api.routes.cases")
    app = FastAPI()
    app.state.services = AppServices(engine=store.engine, index_dir=tmp_path / "index", sink=StagingSink(store))
    app.include_router(routes.router, prefix="/api/v1")
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def auth(store: StagingStore) -> dict[str, dict[str, str]]:
    return {role: {"Authorization": f"Bearer {create_token(store.engine, role, f'test {role}')}"} for role in ROLES}


def test_a_case_with_searches_notes_and_a_hold(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore
) -> None:
    legal = auth["legal"]
    created = client.post(
        "/api/v1/cases",
        json={"name": "ACME v. Us", "custodians": ["user:alice"], "rooms": ["room:deals"]},
        headers=legal,
    )
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    base = f"/api/v1/cases/{case_id}"

    assert client.post(f"{base}/searches", json={"name": "acme", "query": "acme AND"}, headers=legal).status_code == 422
    saved = client.post(f"{base}/searches", json={"name": "acme", "query": "acme"}, headers=legal)
    assert saved.status_code == 201
    assert client.post(f"{base}/notes", json={"text": "custodian interviewed"}, headers=legal).status_code == 201
    hold = client.post(f"{base}/holds", json={"reason": "litigation"}, headers=legal)
    assert hold.status_code == 201
    assert hold.json()["scope"]["custodians"] == ["user:alice"]

    assert client.get(f"{base}/searches", headers=auth["auditor"]).json()[0]["query"] == "acme"
    assert client.get(f"{base}/notes", headers=auth["auditor"]).json()[0]["text"] == "custodian interviewed"
    assert client.post(f"{base}/notes", json={"text": "x"}, headers=auth["auditor"]).status_code == 403
    assert client.get("/api/v1/cases", headers=auth["security_admin"]).status_code == 403

    refused = client.post(f"{base}/close", headers=legal)
    assert refused.status_code == 409
    assert "active legal holds" in refused.json()["detail"]["message"]
    hold_id = hold.json()["id"]
    released = client.post(f"{base}/holds/{hold_id}/release", json={"reason": "settled"}, headers=legal)
    assert released.status_code == 200
    assert released.json()["release_reason"] == "settled"
    again = client.post(f"{base}/holds/{hold_id}/release", json={"reason": "settled"}, headers=legal)
    assert again.status_code == 409
    assert [h["released_at"] is not None for h in client.get(f"{base}/holds", headers=legal).json()] == [True]
    assert client.post(f"{base}/close", headers=legal).json()["closed_at"] is not None
    assert client.post(f"{base}/notes", json={"text": "late"}, headers=legal).status_code == 409
    assert client.get("/api/v1/cases/nope", headers=legal).status_code == 404

    actions = [e["action"] for e in entries(store.engine)]
    for action in ("case_create", "case_search_add", "case_note_add", "hold_place", "hold_release", "case_close"):
        assert action in actions
    placed = next(e for e in entries(store.engine) if e["action"] == "hold_place")
    assert placed["details"]["before"] is None
    assert placed["details"]["after"]["reason"] == "litigation"


def test_retention_policies_and_runs(client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore) -> None:
    legal, officer = auth["legal"], auth["compliance_officer"]
    body = {"scope_kind": "room", "scope_id": "room:deals", "keep_days": 2190}
    assert client.post("/api/v1/retention/policies", json=body, headers=officer).status_code == 403
    created = client.post("/api/v1/retention/policies", json=body, headers=legal)
    assert created.status_code == 201
    assert client.post("/api/v1/retention/policies", json=body, headers=legal).status_code == 409
    bad = client.post("/api/v1/retention/policies", json={"scope_kind": "default", "scope_id": "x"}, headers=legal)
    assert bad.status_code == 422
    policy_id = created.json()["id"]
    changed = client.put(
        f"/api/v1/retention/policies/{policy_id}", json={**body, "keep_days": None}, headers=auth["admin"]
    )
    assert changed.status_code == 200
    assert changed.json()["keep_days"] is None
    assert client.get("/api/v1/retention/policies", headers=auth["auditor"]).json()[0]["keep_days"] is None

    run_retention(store.engine, OPERATOR)
    runs = client.get("/api/v1/retention/runs", headers=auth["auditor"]).json()
    assert [r["counts"]["disposed"] for r in runs] == [0]

    assert client.delete(f"/api/v1/retention/policies/{policy_id}", headers=legal).status_code == 204
    assert client.delete(f"/api/v1/retention/policies/{policy_id}", headers=legal).status_code == 404
    update = next(e for e in entries(store.engine) if e["action"] == "retention_policy_update")
    assert (update["details"]["before"]["keep_days"], update["details"]["after"]["keep_days"]) == (2190, None)


def test_a_case_has_a_time_zone_that_its_exports_default_to(
    client: TestClient, auth: dict[str, dict[str, str]], store: StagingStore
) -> None:
    """Issue 17, finding 4: a case's default zone (None: UTC), changed with the case, refused
    when it is not an IANA name; the ledger vouches for it like any other column."""
    from cases.ledger import verify_ledger

    legal = auth["legal"]
    plain = client.post("/api/v1/cases", json={"name": "No zone"}, headers=legal)
    assert plain.status_code == 201, plain.text
    assert plain.json()["time_zone"] is None
    created = client.post("/api/v1/cases", json={"name": "NY desk", "time_zone": "America/New_York"}, headers=legal)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["time_zone"] == "America/New_York"
    bad = client.post("/api/v1/cases", json={"name": "Bad", "time_zone": "New York"}, headers=legal)
    assert bad.status_code == 422
    assert "unknown time zone" in bad.text
    spec = {"name": case["name"], "time_zone": "Asia/Tokyo"}
    changed = client.put(f"/api/v1/cases/{case['id']}", json=spec, headers=legal)
    assert changed.status_code == 200, changed.text
    assert client.get(f"/api/v1/cases/{case['id']}", headers=legal).json()["time_zone"] == "Asia/Tokyo"
    assert verify_ledger(store.engine).ok
