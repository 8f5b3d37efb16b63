"""``/api/v1/supervision/policies`` and ``/report``: every route for every role (401 without a
token, 403 for a role without the permission), an audit entry for every change, 422s that say
why, 409 on a stale version or a taken name; SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.app_schema import audit_log
from archive.principals import ROLES
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS
from tests.api_client import api_client, auth, tokens  # noqa: F401

SPEC: dict[str, Any] = {
    "name": "Guarantees",
    "lexicon": [{"id": "g1", "expression": "guarantee*"}, {"id": "g2", "kind": "regex", "expression": "100 ?%"}],
    "reviewers": ["test supervisor"],
    "sla_hours": 48,
}


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(store, tmp_path / "index") as test_client:
        yield test_client


def _create(client: TestClient, token: str, spec: dict[str, Any] | None = None, comment: str = "") -> dict[str, Any]:
    made = client.post(
        "/api/v1/supervision/policies", json={"spec": spec or SPEC, "comment": comment}, headers=auth(token)
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def _actions(store: StagingStore, prefix: str = "supervision_policy") -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        documents = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq)).scalars()
        entries = [json.loads(document) for document in documents]
    return [entry for entry in entries if entry["action"].startswith(prefix)]


def test_every_route_for_every_role(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    policy = _create(client, tokens["admin"])
    pid = policy["id"]
    routes: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
        ("GET", "/api/v1/supervision/policies", "supervision_read", None, 200),
        ("POST", "/api/v1/supervision/policies", "supervision_policy", {"spec": {**SPEC, "name": "{role}"}}, 201),
        ("GET", f"/api/v1/supervision/policies/{pid}", "supervision_read", None, 200),
        (
            "PUT",
            f"/api/v1/supervision/policies/{pid}",
            "supervision_policy",
            {"spec": SPEC, "expected_version": 0},
            422,
        ),
        ("GET", f"/api/v1/supervision/policies/{pid}/versions", "supervision_read", None, 200),
        ("GET", "/api/v1/supervision/report", "supervision_report", None, 200),
        ("GET", "/api/v1/supervision/report.csv", "supervision_report", None, 200),
    ]
    for method, path, permission, body, allowed_status in routes:
        sent = None if body is None else json.loads(json.dumps(body).replace("{role}", "by-role"))
        anonymous = client.request(method, path, json=sent)
        assert anonymous.status_code == 401, (method, path)
        for role in ROLES:
            if sent is not None and method == "POST":
                sent = {"spec": {**SPEC, "name": f"made by {role}"}}
            answer = client.request(method, path, json=sent, headers=auth(tokens[role]))
            expected = allowed_status if role in PERMISSIONS[permission] else 403
            assert answer.status_code == expected, (method, path, role, answer.text)
            if expected == 403:
                assert permission in answer.json()["detail"]["message"]


def test_create_change_and_versions_with_their_audit_entries(
    client: TestClient,
    store: StagingStore,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    officer = auth(tokens["compliance_officer"])
    made = _create(client, tokens["compliance_officer"], comment="first")
    assert (made["version"], made["comment"], made["spec"]["sla_hours"]) == (1, "first", 48)
    assert made["changed_by"].startswith("test compliance_officer (")
    changed = client.put(
        f"/api/v1/supervision/policies/{made['id']}",
        json={"spec": {**SPEC, "sla_hours": 24}, "expected_version": 1, "comment": "faster"},
        headers=auth(tokens["admin"]),
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["version"], changed.json()["changed_by"].split(" (")[0]) == (2, "test admin")
    listed = client.get("/api/v1/supervision/policies", headers=officer).json()
    assert [(p["id"], p["version"]) for p in listed] == [(made["id"], 2)]
    history = client.get(f"/api/v1/supervision/policies/{made['id']}/versions", headers=officer).json()
    assert [(v["version"], v["spec"]["sla_hours"], v["comment"]) for v in history] == [
        (1, 48, "first"),
        (2, 24, "faster"),
    ]
    assert client.get(f"/api/v1/supervision/policies/{made['id']}", headers=officer).json() == history[1]

    created, updated = _actions(store)
    assert (created["action"], created["role"], created["details"]["policy_id"]) == (
        "supervision_policy_create",
        "compliance_officer",
        made["id"],
    )
    assert created["details"]["spec"]["lexicon"][1]["expression"] == "100 ?%"
    assert (updated["action"], updated["role"]) == ("supervision_policy_update", "admin")
    assert updated["details"]["changes"] == {"sla_hours": {"before": 48, "after": 24}}
    assert (updated["details"]["version"], updated["details"]["comment"]) == (2, "faster")


def test_stale_versions_taken_names_and_unknown_policies(
    client: TestClient,
    store: StagingStore,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    admin = auth(tokens["admin"])
    made = _create(client, tokens["admin"])
    _create(client, tokens["admin"], {**SPEC, "name": "Gifts"})
    path = f"/api/v1/supervision/policies/{made['id']}"
    first = client.put(path, json={"spec": SPEC, "expected_version": 1}, headers=admin)
    assert first.status_code == 200
    audited = len(_actions(store))
    stale = client.put(path, json={"spec": {**SPEC, "sla_hours": 1}, "expected_version": 1}, headers=admin)
    assert stale.status_code == 409
    assert stale.json()["detail"]["message"].startswith("the policy is at version 2 now, not 1")
    taken = client.put(path, json={"spec": {**SPEC, "name": "GIFTS"}, "expected_version": 2}, headers=admin)
    assert taken.status_code == 409
    assert "exists already" in taken.json()["detail"]["message"]
    again = client.post("/api/v1/supervision/policies", json={"spec": {**SPEC, "name": "gifts"}}, headers=admin)
    assert again.status_code == 409
    for method in ("GET", "PUT"):
        body = {"spec": SPEC, "expected_version": 1} if method == "PUT" else None
        missing = client.request(method, "/api/v1/supervision/policies/nope", json=body, headers=admin)
        assert missing.status_code == 404
        assert missing.json()["detail"]["message"] == "no supervision policy nope"
    assert client.get("/api/v1/supervision/policies/nope/versions", headers=admin).status_code == 404
    assert len(_actions(store)) == audited, "nothing refused is audited as a change"


def test_invalid_bodies_are_422_with_a_message(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    admin = auth(tokens["admin"])
    cases: list[tuple[dict[str, Any], str]] = [
        ({"spec": {**SPEC, "sampling_percent": 101}}, "sampling_percent"),
        (
            {"spec": {**SPEC, "lexicon": [{"id": "a", "expression": "x"}, {"id": "a", "expression": "y"}]}},
            "repeated: a",
        ),
        ({"spec": {**SPEC, "lexicon": [{"id": "a", "kind": "glob", "expression": "x"}]}}, "kind"),
        (
            {"spec": {**SPEC, "effective_from": "2026-01-02T00:00:00Z", "effective_until": "2026-01-01T00:00:00Z"}},
            "effective_until",
        ),
        ({"spec": {**SPEC, "languages": ["English"]}}, "languages"),
        ({"spec": SPEC, "surprise": 1}, "surprise"),
    ]
    for body, said in cases:
        answer = client.post("/api/v1/supervision/policies", json=body, headers=admin)
        assert answer.status_code == 422, body
        assert said in answer.json()["detail"]["message"], answer.text
    made = _create(client, tokens["admin"])
    no_version = client.put(f"/api/v1/supervision/policies/{made['id']}", json={"spec": SPEC}, headers=admin)
    assert no_version.status_code == 422
    assert "expected_version" in no_version.json()["detail"]["message"]


def test_the_report_over_the_api_and_as_csv(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    auditor = auth(tokens["auditor"])
    made = _create(client, tokens["admin"])
    answer = client.get("/api/v1/supervision/report", params={"policy_id": made["id"]}, headers=auditor)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(p["name"], p["items"], p["false_positive_rate"], p["sla_hours"]) for p in body["policies"]] == [
        ("Guarantees", 0, None, 48)
    ]
    assert (body["terms"], body["reviewers"], body["ledger"]) == ([], [], [])
    period = {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}
    as_csv = client.get("/api/v1/supervision/report.csv", params=period, headers=auditor)
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert 'filename="supervision-report-20260101-20260201.csv"' in as_csv.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["# supervision report", "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00", rows[0][3]]
    backwards = client.get(
        "/api/v1/supervision/report", params={"start": period["end"], "end": period["start"]}, headers=auditor
    )
    assert backwards.status_code == 422
    assert backwards.json()["detail"]["message"] == "end must be after start"
    naive = client.get("/api/v1/supervision/report", params={"start": "2026-01-01T00:00:00"}, headers=auditor)
    assert naive.status_code == 422
    unknown = client.get("/api/v1/supervision/report", params={"policy_id": "nope"}, headers=auditor)
    assert unknown.status_code == 404


def test_a_term_that_does_not_parse_or_a_regex_re2_refuses_is_422_naming_it(
    client: TestClient,
    store: StagingStore,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    admin = auth(tokens["admin"])
    made = _create(client, tokens["admin"])
    audited = len(_actions(store))
    broken = {**SPEC, "lexicon": [*SPEC["lexicon"], {"id": "g9", "kind": "regex", "expression": "(?<=a)b"}]}
    created = client.post("/api/v1/supervision/policies", json={"spec": {**broken, "name": "X"}}, headers=admin)
    assert created.status_code == 422
    assert created.json()["detail"]["message"].startswith("term 'g9': RE2 refuses the regular expression")
    unparsed = {**SPEC, "lexicon": [{"id": "q1", "expression": 'guarantee NEAR/3 "open'}]}
    changed = client.put(
        f"/api/v1/supervision/policies/{made['id']}", json={"spec": unparsed, "expected_version": 1}, headers=admin
    )
    assert changed.status_code == 422
    assert changed.json()["detail"]["message"].startswith("term 'q1': a quotation mark is not closed")
    assert len(_actions(store)) == audited
