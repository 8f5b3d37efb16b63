"""Reviewer's findings on closed cases (issue 20): a closed case "cannot change" (cases.store's
rule for its searches, notes and holds), so neither can its review: no new review set, no
coding, no redaction once the case is closed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.review.coding.conftest import new_set


def test_a_closed_cases_review_cannot_change(client: TestClient, tokens: dict[str, str], case_id: str) -> None:
    legal = auth(tokens["legal"])
    set_id = new_set(client, tokens["legal"], case_id)
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=legal)
    assert added.status_code == 200, added.text
    closed = client.post(f"/api/v1/cases/{case_id}/close", headers=legal)
    assert closed.status_code == 200, closed.text
    answers = {
        "new set": client.post(
            f"/api/v1/cases/{case_id}/review-sets", json={"name": "Late", "unit": "message"}, headers=legal
        ),
        "coding": client.post(
            f"/api/v1/review-sets/{set_id}/coding",
            json={"selection": {"keys": ["message:msg:acme3"]}, "change": {"add": ["hot"]}},
            headers=legal,
        ),
        "redaction": client.post(
            f"/api/v1/cases/{case_id}/redactions",
            json={"target": "message", "message_id": "msg:acme3", "version": 1, "start": 0, "end": 4, "reason": "PII"},
            headers=legal,
        ),
    }
    assert {what: answer.status_code for what, answer in answers.items()} == {
        "new set": 409,
        "coding": 409,
        "redaction": 409,
    }
