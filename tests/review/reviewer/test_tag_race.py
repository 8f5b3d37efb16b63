"""Reviewer's finding on coding while a tag is removed (issue 20): review.coding.code reads the
case's tags before its transaction, so a tag removed in between (it was in use nowhere, so the
removal is allowed) is then coded by its stale id. The coding must be refused (404/409), not a 500,
and the history must not say the document gained a tag it does not have."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from review import coding, tags
from tests.api_client import auth
from tests.review.coding.conftest import new_set

KEY = "message:msg:acme3"


def test_coding_a_tag_removed_meanwhile_is_refused(
    client: TestClient, tokens: dict[str, str], case_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id)
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    assert added.status_code == 200, added.text
    groups = client.get(f"/api/v1/cases/{case_id}/tags", headers=auth(legal)).json()["groups"]
    hot = next(g["id"] for g in groups if g["name"] == "Hot")
    made = client.post(f"/api/v1/cases/{case_id}/tags", json={"group_id": hot, "name": "fleeting"}, headers=auth(legal))
    assert made.status_code == 201, made.text
    real = tags.tag_set

    def stale(engine: Any, case: str) -> tags.TagSet:
        found = real(engine, case)
        tags.remove_tag(engine, case, made.json()["id"])  # another reviewer removes it now
        return found

    monkeypatch.setattr(coding, "tag_set", stale)
    answer = client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": [KEY]}, "change": {"add": ["fleeting"]}},
        headers=auth(legal),
    )
    assert answer.status_code in (404, 409), answer.text
    history = client.get(f"/api/v1/review-sets/{set_id}/history", params={"doc_key": KEY}, headers=auth(legal))
    assert all("fleeting" not in entry["after"].get("tags", []) for entry in history.json())
