"""Reviewer's finding on searches within a review set (issue 20): a document either matches a
query or its negation, never both. For conversation documents (a room-day) ``-word`` is answered
per message (review.queries._hits: the archive's hits of ``NOT word``, then every document holding
one), so a room-day with one message saying "offer" and another not is both "offer" and "-offer";
with a ``tag:`` in the query the same NOT is taken per document (review.queries.evaluate), so the
answer changes with an unrelated ``tag:``. Bulk coding "-privileged" as not privileged would code
documents that say it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.review.coding.conftest import new_set


def _keys(client: TestClient, token: str, set_id: str, query: str) -> set[str]:
    answer = client.get(
        f"/api/v1/review-sets/{set_id}/documents", params={"query": query, "limit": 1000}, headers=auth(token)
    )
    assert answer.status_code == 200, answer.text
    return {document["key"] for document in answer.json()["documents"]}


def test_a_conversation_document_matches_a_query_or_its_negation_not_both(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id, unit="conversation", name="Days")
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    assert added.status_code == 200, added.text
    matching, negated = _keys(client, legal, set_id, "offer"), _keys(client, legal, set_id, "-offer")
    assert matching  # the corpus has room-days saying it
    assert matching & negated == set()
    # The same negation with an unrelated tag: condition (no document is coded hot) answers the same.
    assert _keys(client, legal, set_id, "-offer AND -tag:hot") == _keys(client, legal, set_id, "NOT (offer OR tag:hot)")
