"""``GET /api/v1/messages/{id}/thread`` (issue 20): the thread of a message, with how each
message was linked; 404s and roles like its neighbours; audited as a read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archive.app_schema import audit_log
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS
from tests.api_client import api_client, auth
from tests.api_client import tokens as tokens  # a token per role
from tests.threads.chat import NamedParent, deliver, say

ROUTE = "/api/v1/messages/s3/thread"


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    deliver(
        store.engine,
        [
            say(1, "deploy tonight?", room="room:slack", message_id="s1", actor="user:anna", name="Anna"),
            say(2, "lunch?", room="room:slack", message_id="s2"),
            say(3, "yes, after 8", room="room:slack", message_id="s3", reply_to="s1", actor="user:bob", name="Bob"),
            say(4, "ok", room="room:slack", message_id="s4", reply_to="s3"),
        ],
    )
    deliver(store.engine, [say(5, "hi", message_id="i1"), say(6, "re i1 yo", message_id="i2")], NamedParent())
    ArchiveAdapter(store.engine).write([say(7, "not linked", message_id="loose", room="room:other")])
    with api_client(store, tmp_path / "index") as test_client:
        yield test_client


def test_the_thread_of_a_message_in_time_order(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(ROUTE, headers=auth(tokens["legal"]))
    assert response.status_code == 200, response.text
    thread = response.json()
    assert (thread["message_id"], thread["thread_id"], thread["room_id"]) == ("s3", "s1", "room:slack")
    shown = [(m["message_id"], m["parent_id"], m["source"], m["actor_name"], m["text"]) for m in thread["messages"]]
    assert shown == [
        ("s1", None, "explicit", "Anna", "deploy tonight?"),
        ("s3", "s1", "explicit", "Bob", "yes, after 8"),
        ("s4", "s3", "explicit", "alice", "ok"),
    ]
    flat = client.get("/api/v1/messages/i2/thread", headers=auth(tokens["legal"])).json()
    assert [(m["message_id"], m["source"], m["model"], m["score"]) for m in flat["messages"]] == [
        ("i1", "model", "named-parent", 0.25),
        ("i2", "model", "named-parent", 0.75),
    ]


def test_unknown_and_unlinked_messages_are_404s(client: TestClient, tokens: dict[str, str]) -> None:
    missing = client.get("/api/v1/messages/nope/thread", headers=auth(tokens["legal"]))
    assert missing.status_code == 404
    assert missing.json()["detail"]["message"] == "no archived message 'nope'"
    loose = client.get("/api/v1/messages/loose/thread", headers=auth(tokens["legal"]))
    assert loose.status_code == 404
    assert "not linked into a thread yet" in loose.json()["detail"]["message"]
    nul = client.get("/api/v1/messages/a%00b/thread", headers=auth(tokens["legal"]))
    assert nul.status_code == 404


def test_roles_and_audit(client: TestClient, tokens: dict[str, str], store: StagingStore) -> None:
    assert client.get(ROUTE).status_code == 401
    for role, token in tokens.items():
        response = client.get(ROUTE, headers=auth(token))
        assert response.status_code == (200 if role in PERMISSIONS["search"] else 403), role
    with store.engine.connect() as connection:
        actions = list(connection.execute(select(audit_log.c.action)).scalars())
    assert actions.count("view_thread") == len(PERMISSIONS["search"])


def test_the_route_is_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/messages/{message_id}/thread"]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
