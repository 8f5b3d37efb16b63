"""Ids the archive accepts but the check refuses, and ids the API must still reach: the what-if
replays any room or actor id an event can carry; exports and retention refuse a case or group
that does not exist; directory ids with ``/`` are reachable by their path."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from adapters.archive import ArchiveAdapter
from ingest.events import Event, parse_event
from ingest.staging import StagingStore
from tests.api_client import api_client, auth
from tests.api_client import tokens as tokens  # a token per role

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
HOSTILE_IDS = ("room:with space", "room:tab\there", "room:bell\x07", "room:new\nline", "room:" + "x" * 300)
"""Room and actor ids events accept and ``CheckRoom`` / ``CheckRequest`` refuse."""


def _event(kind: str, room: str, actor: str, minutes: int, **extra: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (START + timedelta(minutes=minutes)).isoformat(),
            "room": {"id": room, "name": None, "kind": "room"},
            "actor": {"id": actor},
            **extra,
        }
    )


def _history() -> list[Event]:
    events: list[Event] = []
    for n, room in enumerate(HOSTILE_IDS):
        odd = f"user:odd {n}\x01"  # an actor id with a space and a control character
        events += [
            _event("join", room, "user:alice", 10 * n),
            _event("join", room, odd, 10 * n + 1),
            _event("join", room, "user:bob", 10 * n + 2),
            _event("post", room, "user:bob", 10 * n + 3, message={"id": f"m{n}", "text": "hello"}),
            _event("post", room, odd, 10 * n + 4, message={"id": f"o{n}", "text": "hi"}),
        ]
    return events


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    ArchiveAdapter(store.engine).write(_history())
    with api_client(store, tmp_path / "index") as test_client:
        yield test_client


def _directory(client: TestClient, admin: str) -> None:
    for user in ("user:alice", "user:bob"):
        assert client.put(f"/api/v1/directory/users/{user}", json={"id": user}, headers=auth(admin)).status_code == 200
    for group, member in (("group:research", "user:alice"), ("group:sales", "user:bob")):
        body = {"id": group, "name": group, "members": [member]}
        assert client.put(f"/api/v1/directory/groups/{group}", json=body, headers=auth(admin)).status_code == 200


def test_the_what_if_replays_rooms_and_actors_whatever_their_ids(client: TestClient, tokens: dict[str, str]) -> None:
    admin = tokens["security_admin"]
    _directory(client, admin)
    wall = {
        "name": "Research / Sales",
        "side_a": [{"kind": "group", "id": "group:research"}],
        "side_b": [{"kind": "group", "id": "group:sales"}],
        "mode": "block",
    }
    body = {"wall": wall, "since": "2026-10-01T00:00:00Z", "until": "2026-10-02T00:00:00Z"}
    response = client.post("/api/v1/policy/simulate", json=body, headers=auth(admin))
    assert response.status_code == 200, response.text
    result = response.json()
    listed = {(room["room_id"], room["action"]): room for room in result["rooms"]}
    # In every room Bob joined and posted while Alice was there; the odd actor is on no side.
    assert set(listed) == {(room, action) for room in HOSTILE_IDS for action in ("room_join", "room_post")}
    for room in HOSTILE_IDS:
        assert listed[(room, "room_post")]["pairs"] == [["user:bob", "user:alice"]]
    assert result["posts_replayed"] == len(HOSTILE_IDS)


def test_an_export_for_a_case_that_does_not_exist_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    legal = auth(tokens["legal"])
    order = {"query": "hello", "formats": ["jsonl"], "case_id": "no-such-case"}
    response = client.post("/api/v1/exports", json=order, headers=legal)
    assert response.status_code == 404, response.text
    assert response.json()["detail"]["message"] == "no case 'no-such-case': open the case first, or export without one"
    assert client.get("/api/v1/exports", headers=legal).json() == [], "no job was queued"
    case = client.post("/api/v1/cases", json={"name": "Matter"}, headers=legal).json()
    response = client.post("/api/v1/exports", json=order | {"case_id": case["id"]}, headers=legal)
    assert response.status_code == 202, response.text


def test_retention_for_a_group_the_directory_does_not_have_is_refused(
    client: TestClient, tokens: dict[str, str]
) -> None:
    legal = auth(tokens["legal"])
    spec = {"scope_kind": "group", "scope_id": "group:nobody", "keep_days": 30}
    response = client.post("/api/v1/retention/policies", json=spec, headers=legal)
    assert response.status_code == 409, response.text
    assert response.json()["detail"]["message"] == "no directory group 'group:nobody': create it first"
    _directory(client, tokens["security_admin"])
    made = client.post("/api/v1/retention/policies", json=spec | {"scope_id": "group:sales"}, headers=legal)
    assert made.status_code == 201, made.text
    moved = client.put(f"/api/v1/retention/policies/{made.json()['id']}", json=spec, headers=legal)
    assert moved.status_code == 409, "a change to an unknown group is refused too"
    assert [p["scope_id"] for p in client.get("/api/v1/retention/policies", headers=legal).json()] == ["group:sales"]
    # A room need not be archived yet: a policy can be set before its first event.
    room = {"scope_kind": "room", "scope_id": "room:not-yet", "keep_days": 30}
    assert client.post("/api/v1/retention/policies", json=room, headers=legal).status_code == 201


@pytest.mark.parametrize("kind", ["users", "groups"])
def test_directory_ids_with_slashes_are_reachable(client: TestClient, tokens: dict[str, str], kind: str) -> None:
    admin = auth(tokens["security_admin"])
    item_id = "corp/emea/traders" if kind == "groups" else "ldap/uid=7"
    body: dict[str, Any] = {"id": item_id, "name": "Traders"}
    for path in (f"/api/v1/directory/{kind}/{item_id}", f"/api/v1/directory/{kind}/{quote(item_id, safe='')}"):
        assert client.put(path, json=body, headers=admin).status_code == 200, path
        found = client.get(path, headers=admin)
        assert found.status_code == 200, path
        assert found.json()["id"] == item_id
        assert client.delete(path, headers=admin).status_code == 204, path
        assert client.get(path, headers=admin).status_code == 404, path
