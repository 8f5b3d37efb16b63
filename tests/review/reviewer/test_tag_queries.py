"""Reviewer's findings on ``tag:`` outside a review set (issue 20): the archive's search refuses it
(400), and an export order refuses a bad query before any job (exports.service.start_export);
an order whose query holds ``tag:`` should be refused as early, not queued to fail."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_client import auth


def test_an_export_order_with_tag_is_refused_before_any_job(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    answer = client.post(
        "/api/v1/exports",
        json={"query": "acme AND NOT tag:privileged", "formats": ["jsonl"], "case_id": case_id},
        headers=auth(tokens["legal"]),
    )
    assert answer.status_code in (400, 422), answer.text
    assert "review set" in answer.text
