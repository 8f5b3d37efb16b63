"""Reviewer's findings on single-choice tag groups (issue 20): a single-choice group holds at most
one tag per document, whichever way the group or its tags change after coding."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.review.coding.conftest import new_set

KEY = "message:msg:acme3"


def _set(client: TestClient, token: str, case_id: str) -> str:
    made = new_set(client, token, case_id)
    added = client.post(f"/api/v1/review-sets/{made}/documents/search", json={"query": "acme"}, headers=auth(token))
    assert added.status_code == 200, added.text
    return made


def _tags_of(client: TestClient, token: str, set_id: str) -> list[str]:
    view = client.get(f"/api/v1/review-sets/{set_id}/document", params={"key": KEY}, headers=auth(token))
    assert view.status_code == 200, view.text
    found: list[str] = view.json()["coding"]["tags"]
    return found


def _code(client: TestClient, token: str, set_id: str, **change: Any) -> None:
    answer = client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": [KEY]}, "change": change},
        headers=auth(token),
    )
    assert answer.status_code == 200, answer.text


def test_a_group_made_single_choice_never_holds_two_tags_of_a_document(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = tokens["legal"]
    set_id = _set(client, legal, case_id)
    group = client.post(
        f"/api/v1/cases/{case_id}/tag-groups", json={"name": "Issues", "choice": "multi"}, headers=auth(legal)
    )
    assert group.status_code == 201, group.text
    group_id = group.json()["id"]
    for name in ("pricing", "antitrust"):
        made = client.post(
            f"/api/v1/cases/{case_id}/tags", json={"group_id": group_id, "name": name}, headers=auth(legal)
        )
        assert made.status_code == 201, made.text
    _code(client, legal, set_id, add=["pricing", "antitrust"])
    changed = client.put(
        f"/api/v1/cases/{case_id}/tag-groups/{group_id}",
        json={"name": "Issues", "choice": "single"},
        headers=auth(legal),
    )
    # Either refused (409, the documents named) or the documents made to hold one: never both tags.
    assert changed.status_code == 409 or len({"pricing", "antitrust"} & set(_tags_of(client, legal, set_id))) <= 1


def test_a_tag_moved_into_a_single_choice_group_never_gives_a_document_two(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = tokens["legal"]
    set_id = _set(client, legal, case_id)
    groups = client.get(f"/api/v1/cases/{case_id}/tags", headers=auth(legal)).json()["groups"]
    responsive = next(g["id"] for g in groups if g["name"] == "Responsive")
    hot = next(g["id"] for g in groups if g["name"] == "Hot")
    maybe = client.post(f"/api/v1/cases/{case_id}/tags", json={"group_id": hot, "name": "maybe"}, headers=auth(legal))
    assert maybe.status_code == 201, maybe.text
    _code(client, legal, set_id, add=["responsive", "maybe"])
    moved = client.put(
        f"/api/v1/cases/{case_id}/tags/{maybe.json()['id']}",
        json={"group_id": responsive, "name": "maybe"},
        headers=auth(legal),
    )
    assert moved.status_code == 409 or len({"responsive", "maybe"} & set(_tags_of(client, legal, set_id))) <= 1
