"""Ethical walls, disclaimers and the directory through the API: every rule kind and mode,
the real-time check with its record in the archive and the audit log, and the what-if."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from adapters.processor import BatchProcessor
from archive.schema import archive_events
from ingest.events import Event, parse_event
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS
from tests.api_client import api_client, auth
from tests.api_client import tokens as tokens  # a token per role

HISTORY_START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
ROOM = {"id": "room:deals", "name": "#deals", "kind": "room"}


def event(kind: str, actor: str, minutes: int, **extra: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (HISTORY_START + timedelta(minutes=minutes)).isoformat(),
            "room": ROOM,
            "actor": {"id": actor, "name": actor.removeprefix("user:").title()},
            **extra,
        }
    )


def said(actor: str, minutes: int, text: str) -> Event:
    return event("post", actor, minutes, message={"id": f"msg:{uuid.uuid4().hex[:8]}", "text": text})


HISTORY = [
    event("join", "user:alice", 0),
    event("join", "user:carol", 1),
    said("user:alice", 2, "the research note on ACME goes out tomorrow"),
    event("join", "user:bob", 3),
    said("user:bob", 4, "any colour on ACME before the note?"),
    said("user:carol", 5, "let us keep this room for logistics"),
]


@pytest.fixture
def store_with_history(store: StagingStore) -> StagingStore:
    ArchiveAdapter(store.engine).write(HISTORY)
    return store


@pytest.fixture
def client(store_with_history: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    store = store_with_history
    with api_client(store, tmp_path / "index") as test_client:
        yield test_client


def setup_groups(client: TestClient, admin: str) -> None:
    for user, name in (("user:alice", "Alice"), ("user:bob", "Bob"), ("user:carol", "Carol")):
        assert (
            client.put(
                f"/api/v1/directory/users/{user}", json={"id": user, "name": name}, headers=auth(admin)
            ).status_code
            == 200
        )
    groups = [
        {"id": "group:research", "name": "Research", "members": ["user:alice"]},
        {"id": "group:equity-sales", "name": "Equity sales", "members": ["user:bob"]},
        {"id": "group:sales", "name": "Sales", "subgroups": ["group:equity-sales"]},
    ]
    for group in groups:
        response = client.put(f"/api/v1/directory/groups/{group['id']}", json=group, headers=auth(admin))
        assert response.status_code == 200, response.text


def wall(mode: str = "block", **extra: Any) -> dict[str, Any]:
    return {
        "name": "Research / Sales",
        "side_a": [{"kind": "group", "id": "group:research"}],
        "side_b": [{"kind": "group", "id": "group:sales"}],
        "mode": mode,
        **extra,
    }


def deliver_staged(store: StagingStore) -> list[dict[str, Any]]:
    """Run the pipeline's processor into the archive; the archived policy events."""
    BatchProcessor(store.engine, [ArchiveAdapter(store.engine)]).run(until_empty=True)
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(archive_events.c.event_type, archive_events.c.payload).where(
                archive_events.c.event_type.in_(["policy_decision", "disclaimer"])
            )
        ).all()
    return [{"type": r.event_type, "payload": r.payload} for r in rows]


POLICY_ROUTES = [
    ("get", "/api/v1/policy/walls", "policy_read", None),
    ("post", "/api/v1/policy/walls", "policy_write", wall()),
    ("get", "/api/v1/policy/disclaimers", "policy_read", None),
    ("get", "/api/v1/directory/users", "policy_read", None),
    ("get", "/api/v1/directory/groups", "policy_read", None),
    (
        "post",
        "/api/v1/policy/check",
        "policy_check",
        {"action": "im", "actor": "user:alice", "targets": ["user:carol"]},
    ),
    ("post", "/api/v1/policy/simulate", "policy_write", {"wall": wall()}),
]


@pytest.mark.parametrize(("method", "path", "permission", "body"), POLICY_ROUTES)
def test_policy_routes_need_a_token_and_the_right_role(
    client: TestClient, tokens: dict[str, str], method: str, path: str, permission: str, body: Any
) -> None:
    setup_groups(client, tokens["security_admin"])
    assert client.request(method, path, json=body).status_code == 401
    for role, token in tokens.items():
        response = client.request(method, path, json=body, headers=auth(token))
        if role in PERMISSIONS[permission]:
            assert response.status_code in (200, 201), (role, response.text)
        else:
            assert response.status_code == 403, role


def test_a_blocked_join_is_denied_archived_and_audited(
    client: TestClient, tokens: dict[str, str], store_with_history: StagingStore
) -> None:
    admin = tokens["security_admin"]
    setup_groups(client, admin)
    created = client.post("/api/v1/policy/walls", json=wall("block", scopes=["room_join"]), headers=auth(admin))
    assert created.status_code == 201, created.text
    wall_id = created.json()["id"]
    # Bob (sales, through a nested group) joins #deals, where the archive says Alice (research) is.
    response = client.post(
        "/api/v1/policy/check",
        json={"action": "room_join", "actor": "user:bob", "room": {"id": "room:deals", "name": "#deals"}},
        headers=auth(tokens["ingest"]),
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["decision"]["outcome"] == "deny"
    assert answer["decision"]["mode"] == "block"
    assert [m["wall_id"] for m in answer["decision"]["walls"]] == [wall_id]
    assert answer["decision"]["walls"][0]["counterparts"] == ["user:alice"]
    assert "user:alice" in answer["room_members"]
    assert len(answer["recorded_event_ids"]) == 1

    archived = deliver_staged(store_with_history)
    assert [a["type"] for a in archived] == ["policy_decision"]
    assert answer["recorded_event_ids"][0] in archived[0]["payload"]
    assert '"outcome":"deny"' in archived[0]["payload"]
    found = client.post(
        "/api/v1/search", json={"query": "type:policy_decision"}, headers=auth(tokens["compliance_officer"])
    )
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 1

    entries = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()["entries"]
    checks = [e for e in entries if e["action"] == "policy_check"]
    assert len(checks) == 1
    assert checks[0]["details"]["outcome"] == "deny"
    assert checks[0]["details"]["walls"] == [wall_id]


@pytest.mark.parametrize(("mode", "outcome", "audited"), [("alert", "allow", True), ("log", "allow", False)])
def test_alert_and_log_walls_allow_and_record(
    client: TestClient, tokens: dict[str, str], store_with_history: StagingStore, mode: str, outcome: str, audited: bool
) -> None:
    setup_groups(client, tokens["security_admin"])
    client.post("/api/v1/policy/walls", json=wall(mode), headers=auth(tokens["security_admin"]))
    answer = client.post(
        "/api/v1/policy/check",
        json={"action": "im", "actor": "user:alice", "targets": ["user:bob", "user:carol"]},
        headers=auth(tokens["ingest"]),
    ).json()
    assert answer["decision"]["outcome"] == outcome
    assert answer["decision"]["mode"] == mode
    assert answer["decision"]["walls"][0]["counterparts"] == ["user:bob"]
    assert [a["type"] for a in deliver_staged(store_with_history)] == ["policy_decision"]
    entries = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()["entries"]
    assert any(e["action"] == "policy_check" for e in entries) is audited


def test_people_outside_the_walls_and_out_of_scope_actions_are_allowed_without_a_record(
    client: TestClient, tokens: dict[str, str], store_with_history: StagingStore
) -> None:
    setup_groups(client, tokens["security_admin"])
    client.post("/api/v1/policy/walls", json=wall("block", scopes=["im"]), headers=auth(tokens["security_admin"]))
    for body in (
        {"action": "im", "actor": "user:carol", "targets": ["user:alice"]},
        {"action": "room_post", "actor": "user:alice", "room": {"id": "room:deals", "members": ["user:bob"]}},
    ):
        answer = client.post("/api/v1/policy/check", json=body, headers=auth(tokens["ingest"])).json()
        assert answer["decision"] == {"outcome": "allow", "mode": None, "walls": [], "disclaimers": []}
        assert answer["recorded_event_ids"] == []
    assert deliver_staged(store_with_history) == []


def test_an_exception_lets_named_people_across(client: TestClient, tokens: dict[str, str]) -> None:
    setup_groups(client, tokens["security_admin"])
    exception = {"name": "Approved chaperone", "who": [{"kind": "user", "id": "user:alice"}]}
    client.post(
        "/api/v1/policy/walls", json=wall("block", exceptions=[exception]), headers=auth(tokens["security_admin"])
    )
    answer = client.post(
        "/api/v1/policy/check",
        json={"action": "im", "actor": "user:bob", "targets": ["user:alice"]},
        headers=auth(tokens["ingest"]),
    ).json()
    assert answer["decision"]["outcome"] == "allow"
    assert answer["decision"]["walls"] == []


def test_a_wall_outside_its_dates_does_not_apply(client: TestClient, tokens: dict[str, str]) -> None:
    setup_groups(client, tokens["security_admin"])
    dated = wall("block", effective_from="2027-01-01T00:00:00Z")
    client.post("/api/v1/policy/walls", json=dated, headers=auth(tokens["security_admin"]))
    body = {"action": "im", "actor": "user:bob", "targets": ["user:alice"]}
    now = client.post("/api/v1/policy/check", json=body, headers=auth(tokens["ingest"])).json()
    later = client.post(
        "/api/v1/policy/check", json=body | {"at": "2027-02-01T00:00:00Z"}, headers=auth(tokens["ingest"])
    ).json()
    assert now["decision"]["outcome"] == "allow"
    assert later["decision"]["outcome"] == "deny"


def test_wall_changes_are_audited_with_before_and_after(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["security_admin"])
    setup_groups(client, tokens["security_admin"])
    wall_id = client.post("/api/v1/policy/walls", json=wall("log"), headers=admin).json()["id"]
    changed = client.put(f"/api/v1/policy/walls/{wall_id}", json=wall("block"), headers=admin)
    assert changed.status_code == 200
    assert changed.json()["version"] == 2
    assert client.delete(f"/api/v1/policy/walls/{wall_id}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/policy/walls/{wall_id}", headers=admin).status_code == 404
    entries = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()["entries"]
    by_action = {e["action"]: e["details"] for e in entries}
    assert by_action["wall_create"]["before"] is None
    assert by_action["wall_update"]["before"]["mode"] == "log"
    assert by_action["wall_update"]["after"]["mode"] == "block"
    assert by_action["wall_delete"]["after"] is None
    assert by_action["directory_group_put"]["after"]["id"].startswith("group:")


def test_rules_that_would_leave_a_hole_are_refused(client: TestClient, tokens: dict[str, str]) -> None:
    admin = auth(tokens["security_admin"])
    setup_groups(client, tokens["security_admin"])
    unknown = wall("block") | {"side_b": [{"kind": "group", "id": "group:nobody"}]}
    response = client.post("/api/v1/policy/walls", json=unknown, headers=admin)
    assert response.status_code == 409
    assert "group:nobody" in response.json()["detail"]["message"]
    cycle = {"id": "group:equity-sales", "name": "Equity sales", "subgroups": ["group:sales"]}
    response = client.put("/api/v1/directory/groups/group:equity-sales", json=cycle, headers=admin)
    assert response.status_code == 409
    assert "group:sales" in response.json()["detail"]["message"]
    no_sides = client.post("/api/v1/policy/walls", json=wall() | {"side_a": []}, headers=admin)
    assert no_sides.status_code == 422
    mismatched = client.put("/api/v1/directory/users/user:x", json={"id": "user:y"}, headers=admin)
    assert mismatched.status_code == 422


def test_disclaimers_per_locale_versioned_and_recorded(
    client: TestClient, tokens: dict[str, str], store_with_history: StagingStore
) -> None:
    admin = auth(tokens["security_admin"])
    setup_groups(client, tokens["security_admin"])
    rule = {
        "name": "Recorded conversation",
        "trigger": "conversation_start",
        "texts": {
            "en": "This conversation between {{ participants | join(', ') }} is recorded.",
            "fr": "Cette conversation entre {{ participants | join(', ') }} est enregistrée.",
        },
        "default_locale": "en",
    }
    created = client.post("/api/v1/policy/disclaimers", json=rule, headers=admin)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    body = {"action": "im", "actor": "user:alice", "targets": ["user:carol"], "locale": "fr-CA"}
    answer = client.post("/api/v1/policy/check", json=body, headers=auth(tokens["ingest"])).json()
    shown = answer["decision"]["disclaimers"]
    assert shown == [
        {
            "rule_id": rule_id,
            "version": 1,
            "locale": "fr",
            "text": "Cette conversation entre Alice, Carol est enregistrée.",
        }
    ]
    changed = rule | {"texts": {"en": "Recorded: {{ actor }}."}}
    assert client.put(f"/api/v1/policy/disclaimers/{rule_id}", json=changed, headers=admin).json()["version"] == 2
    answer = client.post("/api/v1/policy/check", json=body, headers=auth(tokens["ingest"])).json()
    assert answer["decision"]["disclaimers"][0] | {} == {
        "rule_id": rule_id,
        "version": 2,
        "locale": "en",
        "text": "Recorded: Alice.",
    }
    first = client.get(f"/api/v1/policy/disclaimers/{rule_id}/versions/1", headers=auth(tokens["auditor"]))
    assert first.status_code == 200
    assert "fr" in first.json()["texts"]
    archived = deliver_staged(store_with_history)
    assert [a["type"] for a in archived] == ["disclaimer", "disclaimer"]
    assert any("Cette conversation" in a["payload"] for a in archived)


def test_a_template_with_an_error_is_refused_with_the_locale(client: TestClient, tokens: dict[str, str]) -> None:
    rule = {"name": "Broken", "trigger": "room_join", "texts": {"en": "Hello {{ participants "}, "default_locale": "en"}
    response = client.post("/api/v1/policy/disclaimers", json=rule, headers=auth(tokens["security_admin"]))
    assert response.status_code == 422
    assert "en" in response.json()["detail"]["message"]


@pytest.mark.parametrize(
    "text", ["{{ actor|center(20000000) }}", "{{ '%020000000d' % 1 }}", "{{ actor|indent(20000000, true) }}"]
)
def test_a_template_past_the_size_limits_is_refused_with_the_limit(
    client: TestClient, tokens: dict[str, str], text: str
) -> None:
    """The issue's reproductions (one check answered 60 MB and archived three 20 MB events)."""
    rule = {"name": "Huge", "trigger": "conversation_start", "texts": {"en": text}, "default_locale": "en"}
    response = client.post("/api/v1/policy/disclaimers", json=rule, headers=auth(tokens["security_admin"]))
    assert response.status_code == 422
    message = response.json()["detail"]["message"]
    assert message.startswith("disclaimer text: en: ")
    assert "100,000" in message


def test_what_if_lists_the_rooms_a_proposed_wall_would_have_blocked(client: TestClient, tokens: dict[str, str]) -> None:
    setup_groups(client, tokens["security_admin"])
    body = {"wall": wall("block"), "since": "2026-10-01T00:00:00Z", "until": "2026-10-02T00:00:00Z"}
    response = client.post("/api/v1/policy/simulate", json=body, headers=auth(tokens["security_admin"]))
    assert response.status_code == 200, response.text
    result = response.json()
    listed = {(r["room_id"], r["action"]): r for r in result["rooms"]}
    # Bob joined #deals while Alice was there, then posted with her present; Alice spoke before he came.
    assert set(listed) == {("room:deals", "room_join"), ("room:deals", "room_post")}
    assert listed[("room:deals", "room_post")]["events"] == 1
    assert listed[("room:deals", "room_post")]["pairs"] == [["user:bob", "user:alice"]]
    assert listed[("room:deals", "room_join")]["outcome"] == "deny"
    assert result["joins_replayed"] >= 1
    assert client.get("/api/v1/policy/walls", headers=auth(tokens["auditor"])).json() == [], "nothing was saved"
