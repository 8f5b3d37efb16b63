"""Review sets through the API: documents added from a search (every hit, not a page), a
conversation slice and by hand, in the production's unit and under the production's keys,
never twice."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from archive.audit import entries
from ingest.staging import StagingStore
from tests.api_client import auth
from tests.review.coding.conftest import new_set
from tests.review.coding.corpus import ACME_MESSAGES, DAY, UPLOAD_ID


def _keys(client: TestClient, token: str, set_id: str, **params: object) -> list[str]:
    answer = client.get(
        f"/api/v1/review-sets/{set_id}/documents", params={"limit": 1000, **params}, headers=auth(token)
    )
    assert answer.status_code == 200, answer.text
    return [document["key"] for document in answer.json()["documents"]]


def test_a_search_adds_its_whole_hit_set_as_message_documents_once(
    client: TestClient, tokens: dict[str, str], case_id: str, store: StagingStore
) -> None:
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id)
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    assert added.status_code == 200, added.text
    # In the message unit the upload is a document of its own (upload:) and its file the attachment.
    family = {f"upload:{UPLOAD_ID}", f"attachment:{UPLOAD_ID}"}
    expected = {f"message:msg:acme{index}" for index in range(ACME_MESSAGES)} | family
    assert added.json() == {"added": len(expected), "already": 0}
    keys = _keys(client, legal, set_id)
    assert set(keys) == expected
    assert len(keys) == len(expected)
    again = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    assert again.json() == {"added": 0, "already": len(expected)}
    assert len(_keys(client, legal, set_id)) == len(expected)

    one = client.get(f"/api/v1/review-sets/{set_id}/document", params={"key": "message:msg:acme2"}, headers=auth(legal))
    assert one.status_code == 200, one.text
    document = one.json()["document"]
    assert document["kind"] == "message"
    assert document["room_id"] == "room:deals"
    assert document["message_ids"] == ["msg:acme2"]
    assert document["senders"] == ["user:alice"]
    assert "acme offer number 2" in document["summary"]
    assert document["last_at"] > document["first_at"]  # the edit is part of the document
    attachment = client.get(
        f"/api/v1/review-sets/{set_id}/document", params={"key": f"attachment:{UPLOAD_ID}"}, headers=auth(legal)
    ).json()["document"]
    assert (attachment["kind"], attachment["room_id"]) == ("attachment", "room:legal")
    assert "acme-contract.pdf" in attachment["summary"]

    added_entries = [e for e in entries(store.engine) if e["action"] == "review_documents_add"]
    assert sorted((e["details"]["added"], e["details"]["already"]) for e in added_entries) == [
        (0, len(expected)),
        (len(expected), 0),
    ]
    assert client.get(f"/api/v1/review-sets/{set_id}", headers=auth(legal)).json()["documents"] == len(expected)


def test_a_conversation_set_holds_room_days(client: TestClient, tokens: dict[str, str], case_id: str) -> None:
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id, unit="conversation")
    client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    first, second = DAY.date(), (DAY + timedelta(days=1)).date()
    rooms_days = {(room, day) for room in ("room:deals", "room:legal") for day in (first, second)}
    expected = {f"conversation:{room}:{day.isoformat()}" for room, day in rooms_days}
    expected.add(f"attachment:{UPLOAD_ID}")
    assert set(_keys(client, legal, set_id)) == expected


def test_a_slice_and_documents_by_hand(client: TestClient, tokens: dict[str, str], case_id: str) -> None:
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id)
    body = {"room_id": "room:deals", "start": DAY.isoformat(), "end": (DAY + timedelta(minutes=5)).isoformat()}
    sliced = client.post(f"/api/v1/review-sets/{set_id}/documents/slice", json=body, headers=auth(legal))
    assert sliced.status_code == 200, sliced.text
    # Minutes 0..4 of day one in room:deals: messages 2 and 4 (0 is on day two).
    assert set(_keys(client, legal, set_id)) == {"message:msg:acme2", "message:msg:acme4"}
    hand = client.post(
        f"/api/v1/review-sets/{set_id}/documents/hand",
        json={"names": ["msg:lunch1", "message:msg:acme2", f"attachment:{UPLOAD_ID}"]},
        headers=auth(legal),
    )
    assert hand.json() == {"added": 3, "already": 1}  # lunch1, and the file's whole family (upload + attachment)
    missing = client.post(
        f"/api/v1/review-sets/{set_id}/documents/hand", json={"names": ["msg:nothing"]}, headers=auth(legal)
    )
    assert missing.status_code == 404
    assert "msg:nothing" in missing.json()["detail"]["message"]
    backwards = {**body, "end": DAY.isoformat()}
    assert (
        client.post(f"/api/v1/review-sets/{set_id}/documents/slice", json=backwards, headers=auth(legal)).status_code
        == 422
    )


def test_a_set_refuses_what_it_cannot_hold(client: TestClient, tokens: dict[str, str], case_id: str) -> None:
    legal = auth(tokens["legal"])
    base = f"/api/v1/cases/{case_id}/review-sets"
    assert client.post(base, json={"name": "x", "unit": "week"}, headers=legal).status_code == 422
    assert client.post(base, json={"name": "x", "time_zone": "Mars/Olympus"}, headers=legal).status_code == 422
    assert client.post("/api/v1/cases/nope/review-sets", json={"name": "x"}, headers=legal).status_code == 404
    made = client.post(base, json={"name": "x", "time_zone": "Europe/Paris"}, headers=legal).json()
    assert made["time_zone"] == "Europe/Paris"
    assert client.get("/api/v1/review-sets/nope", headers=legal).status_code == 404
    bad = client.post(f"/api/v1/review-sets/{made['id']}/documents/search", json={"query": "acme AND"}, headers=legal)
    assert bad.status_code == 422
    assert [s["name"] for s in client.get(base, headers=legal).json()] == ["x"]


def test_a_search_keeps_to_the_cases_rooms_and_dates(client: TestClient, tokens: dict[str, str]) -> None:
    legal = tokens["legal"]
    scope = {"name": "Legal room, day one", "rooms": ["room:legal"], "date_to": (DAY + timedelta(hours=12)).isoformat()}
    case_id = client.post("/api/v1/cases", json=scope, headers=auth(legal)).json()["id"]
    set_id = new_set(client, legal, case_id)
    client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    # room:legal holds the odd messages; those with index % 3 == 0 are on day two.
    expected = {f"message:msg:acme{i}" for i in range(ACME_MESSAGES) if i % 2 == 1 and i % 3 != 0}
    assert set(_keys(client, legal, set_id)) == expected | {f"upload:{UPLOAD_ID}", f"attachment:{UPLOAD_ID}"}


def test_a_family_is_kept_or_left_whole(client: TestClient, tokens: dict[str, str]) -> None:
    legal = tokens["legal"]
    # The file (a hit itself) is shared at 15:40, after the case's end; the messages of its
    # conversation slice are hits before it: the slice and its attachment go together.
    scope = {"name": "Morning", "rooms": ["room:legal"], "date_to": (DAY + timedelta(hours=5)).isoformat()}
    case_id = client.post("/api/v1/cases", json=scope, headers=auth(legal)).json()["id"]
    set_id = new_set(client, legal, case_id, unit="conversation")
    client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    assert set(_keys(client, legal, set_id)) == {
        f"conversation:room:legal:{DAY.date().isoformat()}",
        f"attachment:{UPLOAD_ID}",
    }
