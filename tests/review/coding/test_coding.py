"""Coding through the API: tags (single-choice groups keep one), notes, the reviewed mark, bulk
coding of a selection (keys, a query with tag:, a near-duplicate group), the history of every
change (before and after) and one audit entry per action."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from archive.audit import entries
from ingest.staging import StagingStore
from review.schema import review_documents
from tests.api_client import auth
from tests.review.coding.conftest import new_set
from tests.review.coding.corpus import ACME_MESSAGES


@pytest.fixture
def set_id(client: TestClient, tokens: dict[str, str], case_id: str) -> str:
    made = new_set(client, tokens["legal"], case_id)
    added = client.post(
        f"/api/v1/review-sets/{made}/documents/search", json={"query": "acme"}, headers=auth(tokens["legal"])
    )
    assert added.status_code == 200, added.text
    return made


def _code(client: TestClient, token: str, set_id: str, selection: dict[str, Any], **change: Any) -> dict[str, Any]:
    answer = client.post(
        f"/api/v1/review-sets/{set_id}/coding", json={"selection": selection, "change": change}, headers=auth(token)
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _coding(client: TestClient, token: str, set_id: str, key: str) -> dict[str, Any]:
    view = client.get(f"/api/v1/review-sets/{set_id}/document", params={"key": key}, headers=auth(token))
    assert view.status_code == 200, view.text
    coding: dict[str, Any] = view.json()["coding"]
    return coding


def _keys(client: TestClient, token: str, set_id: str, **params: Any) -> list[str]:
    answer = client.get(
        f"/api/v1/review-sets/{set_id}/documents", params={"limit": 1000, **params}, headers=auth(token)
    )
    assert answer.status_code == 200, answer.text
    return [document["key"] for document in answer.json()["documents"]]


def test_a_single_choice_group_keeps_one_tag_and_every_change_is_in_the_history(
    client: TestClient, tokens: dict[str, str], set_id: str, store: StagingStore
) -> None:
    legal = tokens["legal"]
    key = "message:msg:acme3"
    first = _code(client, legal, set_id, {"keys": [key]}, add=["Responsive", "hot"])
    assert (first["selected"], first["changed"]) == (1, 1)
    assert _coding(client, legal, set_id, key) == {"tags": ["hot", "responsive"], "note": None, "reviewed": False}
    second = _code(client, legal, set_id, {"keys": [key]}, add=["not-responsive"], note="off topic", reviewed=True)
    assert _coding(client, legal, set_id, key) == {
        "tags": ["hot", "not-responsive"],
        "note": "off topic",
        "reviewed": True,
    }
    history = client.get(f"/api/v1/review-sets/{set_id}/history", params={"doc_key": key}, headers=auth(legal)).json()
    assert [(h["action_id"], h["before"]["tags"], h["after"]["tags"]) for h in history] == [
        (second["action_id"], ["hot", "responsive"], ["hot", "not-responsive"]),
        (first["action_id"], [], ["hot", "responsive"]),
    ]
    assert history[0]["before"]["reviewed"] is False
    assert history[0]["after"]["reviewed"] is True
    assert history[0]["actor"] == "test legal"
    coded = [e for e in entries(store.engine) if e["action"] == "review_code"]
    assert sorted(e["details"]["action_id"] for e in coded) == sorted([first["action_id"], second["action_id"]])
    assert all(e["details"]["changed"] == 1 and e["details"]["review_set_id"] == set_id for e in coded)
    view = client.get(f"/api/v1/review-sets/{set_id}/document", params={"key": key}, headers=auth(legal)).json()
    assert [n["text"] for n in view["notes"]] == ["off topic"]

    both = client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": [key]}, "change": {"add": ["responsive", "not-responsive"]}},
        headers=auth(legal),
    )
    assert both.status_code == 409
    unknown = client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": [key]}, "change": {"add": ["nosuchtag"]}},
        headers=auth(legal),
    )
    assert unknown.status_code == 404
    stranger = client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": ["message:msg:lunch1"]}, "change": {"add": ["hot"]}},
        headers=auth(legal),
    )
    assert stranger.status_code == 404
    nothing = client.post(
        f"/api/v1/review-sets/{set_id}/coding", json={"selection": {"keys": [key]}, "change": {}}, headers=auth(legal)
    )
    assert nothing.status_code == 409
    assert len([e for e in entries(store.engine) if e["action"] == "review_code"]) == 2  # refusals are not coded


def test_bulk_coding_of_a_query_with_tag_filters_is_one_action(
    client: TestClient, tokens: dict[str, str], set_id: str, store: StagingStore
) -> None:
    legal = tokens["legal"]
    everything = _keys(client, legal, set_id)
    assert len(everything) == ACME_MESSAGES + 2  # the upload's own document and its attachment
    _code(client, legal, set_id, {"keys": everything[:10]}, add=["hot"])
    hot_and_alice = _code(client, legal, set_id, {"filter": {"query": "tag:hot from:alice"}}, add=["responsive"])
    alice_hot = {key for key in everything[:10] if int(key.removeprefix("message:msg:acme") or -1) % 3 != 0}
    assert hot_and_alice["selected"] == len(alice_hot) > 0
    assert set(_keys(client, legal, set_id, query="tag:responsive")) == alice_hot
    assert set(_keys(client, legal, set_id, query="tag:RESPONSIVE")) == alice_hot  # names ignore case
    not_hot = _keys(client, legal, set_id, query="-tag:hot")
    assert set(not_hot) == set(everything) - set(everything[:10])
    either = _keys(client, legal, set_id, query="tag:hot OR contract")
    assert set(either) == set(everything[:10]) | {k for k in everything if k.startswith(("upload:", "attachment:"))}
    whole = _code(client, legal, set_id, {"filter": {"query": "-tag:hot"}}, add=["not-responsive"], reviewed=True)
    assert whole["changed"] == len(not_hot)
    assert set(_keys(client, legal, set_id, reviewed=True)) == set(not_hot)
    assert set(_keys(client, legal, set_id, reviewed=False)) == set(everything[:10])
    one_entry = [e for e in entries(store.engine) if e["details"].get("action_id") == whole["action_id"]]
    assert len(one_entry) == 1
    assert one_entry[0]["details"]["selection"] == {"query": "-tag:hot"}
    history = client.get(
        f"/api/v1/review-sets/{set_id}/history", params={"action_id": whole["action_id"]}, headers=auth(legal)
    ).json()
    assert len(history) == len(not_hot)
    assert {h["after"]["tags"][0] for h in history} == {"not-responsive"}

    bad = client.get(f"/api/v1/review-sets/{set_id}/documents", params={"query": "tag:nosuch"}, headers=auth(legal))
    assert bad.status_code == 422
    assert "nosuch" in bad.json()["detail"]["message"]
    broken = client.get(f"/api/v1/review-sets/{set_id}/documents", params={"query": "tag:hot AND"}, headers=auth(legal))
    assert broken.status_code == 422


def test_a_near_duplicate_group_is_coded_as_one(
    client: TestClient, tokens: dict[str, str], set_id: str, store: StagingStore
) -> None:
    legal = tokens["legal"]
    group = ["message:msg:acme4", "message:msg:acme8", "message:msg:acme10"]
    with store.engine.begin() as connection:
        connection.execute(
            update(review_documents)
            .where(review_documents.c.review_set_id == set_id, review_documents.c.doc_key.in_(group))
            .values(dup_group="g1", dup_similarity=0.9)
        )
    view = client.get(f"/api/v1/review-sets/{set_id}/document", params={"key": group[0]}, headers=auth(legal)).json()
    assert sorted(d["key"] for d in view["duplicates"]) == sorted(group[1:])
    assert {d["dup_similarity"] for d in view["duplicates"]} == {0.9}
    done = _code(client, legal, set_id, {"filter": {"dup_group": "g1"}}, add=["work-product"])
    assert done["changed"] == 3
    assert set(_keys(client, legal, set_id, query="tag:work-product")) == set(group)


@pytest.mark.parametrize("few", [500, 5])
def test_the_whole_set_can_be_coded_in_one_go_on_either_database(
    client: TestClient, tokens: dict[str, str], set_id: str, monkeypatch: pytest.MonkeyPatch, few: int
) -> None:
    # Above ``few`` keys, removals and marks name their documents through a temporary table.
    monkeypatch.setattr("review.coding._FEW", few)
    legal = tokens["legal"]
    everything = _keys(client, legal, set_id)
    done = _code(client, legal, set_id, {"filter": {}}, add=["attorney-client"])
    assert done["changed"] == len(everything)
    again = _code(client, legal, set_id, {"filter": {}}, add=["attorney-client"])
    assert again["changed"] == 0  # nothing to change: no history rows
    swapped = _code(client, legal, set_id, {"filter": {}}, add=["not-privileged"])
    assert swapped["changed"] == len(everything)
    assert _keys(client, legal, set_id, query="tag:attorney-client") == []
    assert _keys(client, legal, set_id, query="tag:not-privileged") == everything
    marked = _code(client, legal, set_id, {"filter": {}}, reviewed=True)
    assert marked["changed"] == len(everything)
    assert _keys(client, legal, set_id, reviewed=True) == everything
    some = everything[: len(everything) // 2]
    unmarked = _code(client, legal, set_id, {"keys": some}, reviewed=False, remove=["not-privileged"])
    assert unmarked["changed"] == len(some)
    assert _keys(client, legal, set_id, reviewed=False) == some
    assert _keys(client, legal, set_id, query="tag:not-privileged") == everything[len(some) :]
