"""A closed case cannot change (cases.store's rule), nor its review: no new set, no documents
added, no coding, no batch (409 naming the closing, nothing stored); reading it still works."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.review.coding.conftest import new_set

KEY = "message:msg:acme3"


def test_a_closed_cases_review_sets_documents_coding_and_batches_cannot_change(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = auth(tokens["legal"])
    set_id = new_set(client, tokens["legal"], case_id)
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=legal)
    assert added.status_code == 200, added.text
    before = client.get(f"/api/v1/review-sets/{set_id}/documents", params={"limit": 1000}, headers=legal)
    assert before.status_code == 200, before.text
    closed = client.post(f"/api/v1/cases/{case_id}/close", headers=legal)
    assert closed.status_code == 200, closed.text
    answers = {
        "new set": client.post(
            f"/api/v1/cases/{case_id}/review-sets", json={"name": "Late", "unit": "message"}, headers=legal
        ),
        "coding": client.post(
            f"/api/v1/review-sets/{set_id}/coding",
            json={"selection": {"keys": [KEY]}, "change": {"add": ["hot"], "reviewed": True}},
            headers=legal,
        ),
        "add a search": client.post(
            f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "offer"}, headers=legal
        ),
        "batch": client.post(f"/api/v1/review-sets/{set_id}/batches", json={"reviewer": "x", "size": 2}, headers=legal),
    }
    assert {what: answer.status_code for what, answer in answers.items()} == dict.fromkeys(answers, 409)
    for answer in answers.values():
        assert "was closed" in answer.json()["detail"]["message"]
    sets = client.get(f"/api/v1/cases/{case_id}/review-sets", headers=legal)
    assert [made["name"] for made in sets.json()] == ["First pass"]
    after = client.get(f"/api/v1/review-sets/{set_id}/documents", params={"limit": 1000}, headers=legal)
    assert after.status_code == 200, after.text
    assert after.json() == before.json()
    history = client.get(f"/api/v1/review-sets/{set_id}/history", params={"doc_key": KEY}, headers=legal)
    assert history.status_code == 200, history.text
    assert history.json() == []
    batches = client.get(f"/api/v1/review-sets/{set_id}/batches", headers=legal)
    assert batches.json()["batches"] == []
