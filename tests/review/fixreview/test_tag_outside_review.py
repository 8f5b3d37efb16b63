"""``tag:`` answers only within a review set: a case's saved search and a legal hold's query run
on the archive (the search page, retention), so one holding ``tag:`` is refused when it is saved
or placed (422 naming where), never stored to fail later (a hold that cannot be evaluated stops
every disposal)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api_client import auth


@pytest.mark.parametrize("query", ["acme AND NOT tag:privileged", "(-TAG:hot OR offer)"])
def test_a_saved_search_with_tag_is_refused(
    client: TestClient, tokens: dict[str, str], case_id: str, query: str
) -> None:
    legal = auth(tokens["legal"])
    answer = client.post(f"/api/v1/cases/{case_id}/searches", json={"name": "x", "query": query}, headers=legal)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert "review set" in detail["message"]
    assert query[detail["position"] - 1 :].lower().startswith("tag:")
    assert client.get(f"/api/v1/cases/{case_id}/searches", headers=legal).json() == []
    saved = client.post(f"/api/v1/cases/{case_id}/searches", json={"name": "y", "query": "stag:x"}, headers=legal)
    assert saved.status_code == 201, saved.text  # a word that merely ends in tag: is no filter


def test_a_hold_with_tag_is_refused(client: TestClient, tokens: dict[str, str], case_id: str) -> None:
    legal = auth(tokens["legal"])
    before = client.get(f"/api/v1/cases/{case_id}/holds", headers=legal).json()
    answer = client.post(
        f"/api/v1/cases/{case_id}/holds",
        json={"reason": "coded hot", "scope": {"query": "tag:hot"}},
        headers=legal,
    )
    assert answer.status_code == 422, answer.text
    assert "review set" in answer.json()["detail"]["message"]
    assert client.get(f"/api/v1/cases/{case_id}/holds", headers=legal).json() == before
