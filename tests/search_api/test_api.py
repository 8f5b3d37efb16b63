"""The API through FastAPI's test client: search, audit, ingest, and 401/403 on every route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.irc import read_irc_file
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS
from tests.api_client import archived_api_client, auth
from tests.api_client import tokens as tokens  # a token per role
from tests.factories import post_payload

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
LOGS = ("2009-03-03_10.raw.txt", "2007-09-07.train-a.raw.txt")  # the second has ~400 joins
MESSAGE = "msg:irc:2009-03-03_10:40"
ROUTES = [
    ("post", "/api/v1/search", "search"),
    ("get", f"/api/v1/messages/{MESSAGE}", "search"),
    ("get", f"/api/v1/messages/{MESSAGE}/context", "search"),
    ("get", f"/api/v1/messages/{MESSAGE}/reads", "search"),
    ("get", "/api/v1/rooms", "search"),
    ("get", "/api/v1/rooms/room:ubuntu/members?at=2009-03-03T10:30:00Z", "search"),
    ("get", "/api/v1/audit", "audit"),
    ("post", "/api/v1/events", "ingest"),
]
BODIES = {"/api/v1/search": {"query": "ubuntu"}, "/api/v1/events": []}


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    """The API over the archive on SQLite and on PostgreSQL (archive queries are SQL on both)."""
    with archived_api_client(
        store, tmp_path / "index", [event for name in LOGS for event in read_irc_file(DEMO_LOGS / name)]
    ) as test_client:
        yield test_client


@pytest.mark.parametrize(("method", "path", "permission"), ROUTES)
def test_every_route_needs_a_token_and_the_right_role(
    client: TestClient, tokens: dict[str, str], method: str, path: str, permission: str
) -> None:
    body = BODIES.get(path)
    anonymous = client.request(method, path, json=body)
    assert anonymous.status_code == 401
    assert "API token is required" in anonymous.json()["detail"]["message"]
    bogus = client.request(method, path, json=body, headers=auth("arch_nothing_here"))
    assert bogus.status_code == 401
    for role, token in tokens.items():
        response = client.request(method, path, json=body, headers=auth(token))
        if role in PERMISSIONS[permission]:
            assert response.status_code == 200, (role, response.text)
        else:
            assert response.status_code == 403, role
            assert role in response.json()["detail"]["message"]


def test_search_returns_every_hit_in_pages_with_facets(client: TestClient, tokens: dict[str, str]) -> None:
    first = client.post(
        "/api/v1/search", json={"query": "ubuntu", "size": 10, "facets": True}, headers=auth(tokens["legal"])
    )
    assert first.status_code == 200
    page = first.json()
    assert page["total"] > 10
    assert len(page["hits"]) == 10
    assert all("ubuntu" in hit["text"].lower() for hit in page["hits"])
    assert all("<b>" in hit["highlight"].lower() for hit in page["hits"])
    assert sum(page["facets"]["room"].values()) == page["total"]
    collected = [hit["message_id"] for hit in page["hits"]]
    while page["next_cursor"] is not None:
        page = client.post(
            "/api/v1/search",
            json={"query": "ubuntu", "size": 10, "cursor": page["next_cursor"]},
            headers=auth(tokens["legal"]),
        ).json()
        collected += [hit["message_id"] for hit in page["hits"]]
    assert len(collected) == len(set(collected)) == first.json()["total"]


def test_a_bad_query_is_a_422_with_the_position(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/api/v1/search", json={"query": "(wine OR"}, headers=auth(tokens["compliance_officer"]))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["position"] == 9
    assert "ends too early" in detail["message"]


def test_an_invalid_request_body_is_a_readable_422(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/api/v1/search", json={"query": "x", "size": 0}, headers=auth(tokens["admin"]))
    assert response.status_code == 422
    assert "size" in response.json()["detail"]["message"]


def test_every_search_is_audited_and_the_auditor_sees_it(client: TestClient, tokens: dict[str, str]) -> None:
    client.post("/api/v1/search", json={"query": "grub NEAR/3 install"}, headers=auth(tokens["legal"]))
    audit = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()
    assert audit["chain_intact"] is True
    latest = audit["entries"][0]
    assert latest["action"] == "search"
    assert latest["details"]["query"] == "grub NEAR/3 install"
    assert latest["role"] == "legal"
    assert latest["actor"].startswith("test legal")


def test_ingest_accepts_valid_events_and_names_the_bad_ones(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    batch = [post_payload(1, run="api"), {"schema_version": 1, "type": "post"}, post_payload(2, run="api")]
    response = client.post("/api/v1/events", json=batch, headers=auth(tokens["ingest"]))
    assert response.status_code == 200
    result = response.json()
    assert result["accepted"] == 2
    assert [r["index"] for r in result["rejected"]] == [1]
    assert "event_id" in result["rejected"][0]["reason"]
    assert store.counts().staged == 2


def test_ingest_rejects_bad_items_one_by_one_as_the_consumer_does(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    surrogate = post_payload(4, run="api", text="broken \ud800 text")
    batch = [post_payload(3, run="api"), "x", 5, None, surrogate]
    response = client.post(
        "/api/v1/events",
        content=json.dumps(batch),  # ASCII escapes: the lone surrogate travels as \ud800
        headers={**auth(tokens["ingest"]), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert [r["index"] for r in result["rejected"]] == [1, 2, 3, 4]
    assert "post.message.text: contains a lone surrogate U+D800" in result["rejected"][3]["reason"]


def test_members_at_an_instant_out_of_range_is_a_422(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        "/api/v1/rooms/room:ubuntu/members",
        params={"at": "9999-12-31T23:59:59-05:00"},
        headers=auth(tokens["legal"]),
    )
    assert response.status_code == 422
    assert "out of range" in response.json()["detail"]["message"]


def test_the_openapi_schema_is_complete(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/v1/search", "/api/v1/audit", "/api/v1/events"} <= set(schema["paths"])
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/"):
            continue  # /healthz, /readyz, /metrics: for probes and scrapers, without a token
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"401", "403", "422"} <= documented, (method, path, documented)
            assert documented & {"200", "201", "202", "204"}, (method, path, documented)
            error = operation["responses"]["422"]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path)
    assert "404" in schema["paths"]["/api/v1/messages/{message_id}"]["get"]["responses"]


def test_framework_errors_have_the_same_json_shape(client: TestClient, tokens: dict[str, str]) -> None:
    missing = client.get("/api/v1/nothing-here", headers=auth(tokens["legal"]))
    assert missing.status_code == 404
    assert missing.json() == {"detail": {"message": "Not Found"}}
    wrong_method = client.delete("/api/v1/search", headers=auth(tokens["legal"]))
    assert wrong_method.status_code == 405
    assert "message" in wrong_method.json()["detail"]


def test_a_message_its_context_and_its_readers(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["compliance_officer"])
    found = client.get(f"/api/v1/messages/{MESSAGE}", headers=headers)
    assert found.status_code == 200, found.text
    message = found.json()
    assert message["room_id"] == "room:ubuntu"
    assert [v["kind"] for v in message["history"]] == ["post"]
    lines = client.get(f"/api/v1/messages/{MESSAGE}/context?n=3", headers=headers).json()
    assert len(lines) == 7
    assert [line["is_hit"] for line in lines] == [False, False, False, True, False, False, False]
    times = [datetime.fromisoformat(line["posted_at"]) for line in lines]
    assert times == sorted(times)
    assert client.get(f"/api/v1/messages/{MESSAGE}/reads", headers=headers).json() == []
    missing = client.get("/api/v1/messages/msg:nope", headers=headers)
    assert missing.status_code == 404
    assert "no archived message" in missing.json()["detail"]["message"]


def test_rooms_and_who_was_in_one_at_an_instant(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["legal"])
    rooms = client.get("/api/v1/rooms", headers=headers).json()
    assert [r["room_id"] for r in rooms] == ["room:ubuntu"]
    assert rooms[0]["messages"] > 100
    early = client.get("/api/v1/rooms/room:ubuntu/members?at=2007-09-07T05:50:00Z", headers=headers).json()
    late = client.get("/api/v1/rooms/room:ubuntu/members?at=2007-09-07T07:55:00Z", headers=headers).json()
    assert 0 < len(early["members"]) < len(late["members"])
    naive = client.get("/api/v1/rooms/room:ubuntu/members?at=2009-03-03T10:30:00", headers=headers)
    assert naive.status_code == 422
    assert client.get("/api/v1/rooms/room:nope/members?at=2009-03-03T10:30:00Z", headers=headers).status_code == 404


def test_views_are_audited(client: TestClient, tokens: dict[str, str]) -> None:
    client.get(f"/api/v1/messages/{MESSAGE}/context", headers=auth(tokens["legal"]))
    latest = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()["entries"][0]
    assert (latest["action"], latest["details"]["message_id"]) == ("view_context", MESSAGE)


def test_type_searches_events_the_text_index_does_not_hold(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["compliance_officer"])
    joins = client.post(
        "/api/v1/search", json={"query": "type:join in:#ubuntu sent:2007-09-07", "size": 5}, headers=headers
    ).json()
    assert joins["total"] > 100
    assert {hit["type"] for hit in joins["hits"]} == {"join"}
    following = client.post(
        "/api/v1/search",
        json={"query": "type:join in:#ubuntu sent:2007-09-07", "size": 5, "cursor": joins["next_cursor"]},
        headers=headers,
    ).json()
    assert following["total"] == joins["total"]
    assert {h["event_id"] for h in following["hits"]}.isdisjoint({h["event_id"] for h in joins["hits"]})
    assert following["hits"][0]["occurred_at"] >= joins["hits"][-1]["occurred_at"]
    leaves = client.post("/api/v1/search", json={"query": "type:leave OR type:join"}, headers=headers).json()
    assert leaves["total"] > joins["total"]
    words = client.post("/api/v1/search", json={"query": "type:join hello"}, headers=headers)
    assert words.status_code == 422
    assert "words cannot be combined" in words.json()["detail"]["message"]


@pytest.mark.parametrize(
    ("cursor", "reason"),
    [
        ("not-a-cursor!", "not a cursor"),
        ("12", "not a cursor"),
        ("eyJrIjoiaGl0cyJ9", "another query"),
    ],
)
def test_a_forged_cursor_is_a_422(client: TestClient, tokens: dict[str, str], cursor: str, reason: str) -> None:
    response = client.post("/api/v1/search", json={"query": "ubuntu", "cursor": cursor}, headers=auth(tokens["legal"]))
    assert response.status_code == 422
    assert reason in response.json()["detail"]["message"]


def test_a_cursor_only_continues_its_own_query_and_sort(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["legal"])
    first = client.post("/api/v1/search", json={"query": "ubuntu", "size": 3}, headers=headers).json()
    for other in ({"query": "grub", "size": 3}, {"query": "ubuntu", "sort": "relevance"}):
        response = client.post("/api/v1/search", json={**other, "cursor": first["next_cursor"]}, headers=headers)
        assert response.status_code == 422
        assert "another query or sort" in response.json()["detail"]["message"]


def test_relevance_pages_return_every_hit_once(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["legal"])
    request = {"query": "install OR grub", "sort": "relevance", "size": 7}
    page = client.post("/api/v1/search", json=request, headers=headers).json()
    collected = [hit["message_id"] for hit in page["hits"]]
    while page["next_cursor"] is not None:
        page = client.post("/api/v1/search", json={**request, "cursor": page["next_cursor"]}, headers=headers).json()
        collected += [hit["message_id"] for hit in page["hits"]]
    assert len(collected) == len(set(collected)) == page["total"]


def test_posts_reached_through_the_archive_keep_their_text(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["compliance_officer"])
    answer = client.post(
        "/api/v1/search", json={"query": "NOT type:join in:#ubuntu", "size": 200}, headers=headers
    ).json()
    posts = [hit for hit in answer["hits"] if hit["type"] == "post"]
    assert posts, "the page holds posts"
    assert all(hit["message_id"] and hit["text"] for hit in posts)


def test_an_unknown_event_type_is_a_422(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/api/v1/search", json={"query": "type:bogus"}, headers=auth(tokens["legal"]))
    assert response.status_code == 422
    assert "not an event type" in response.json()["detail"]["message"]


def test_refused_searches_and_listings_are_audited_too(client: TestClient, tokens: dict[str, str]) -> None:
    refused = client.post("/api/v1/search", json={"query": "(wine OR"}, headers=auth(tokens["legal"]))
    assert refused.status_code == 422
    client.get("/api/v1/rooms", headers=auth(tokens["legal"]))
    first = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()
    actions = [(entry["action"], entry["role"]) for entry in first["entries"][:2]]
    assert actions == [("view_rooms", "legal"), ("search_refused", "legal")]
    assert first["entries"][1]["details"]["query"] == "(wine OR"
    again = client.get("/api/v1/audit", headers=auth(tokens["auditor"])).json()
    assert (again["entries"][0]["action"], again["entries"][0]["role"]) == ("view_audit", "auditor")
    assert again["chain_intact"]


def test_participant_hits_were_sent_while_the_person_was_in_the_room(
    client: TestClient, tokens: dict[str, str]
) -> None:
    headers = auth(tokens["legal"])
    late = client.get("/api/v1/rooms/room:ubuntu/members?at=2007-09-07T07:55:00Z", headers=headers).json()
    checked = 0
    for member in late["members"][:15]:
        nick = member.removeprefix("user:")
        found = client.post("/api/v1/search", json={"query": f"participant:{nick}", "size": 5}, headers=headers).json()
        for hit in found["hits"]:
            present = client.get(
                "/api/v1/rooms/room:ubuntu/members", params={"at": hit["occurred_at"]}, headers=headers
            ).json()
            assert member in present["members"], (nick, hit["occurred_at"])
            checked += 1
    assert checked >= 10, "the logs exercise participant: for real"


def test_participant_ignores_case_as_every_other_filter(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["legal"])
    late = client.get("/api/v1/rooms/room:ubuntu/members?at=2007-09-07T07:55:00Z", headers=headers).json()
    nick = late["members"][0].removeprefix("user:")
    answers = [
        client.post("/api/v1/search", json={"query": f"participant:{spelling}"}, headers=headers).json()["total"]
        for spelling in (nick, nick.upper(), f"user:{nick.lower()}")
    ]
    assert answers[0] > 0
    assert answers == [answers[0]] * 3
