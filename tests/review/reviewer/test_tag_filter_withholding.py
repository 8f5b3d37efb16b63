"""Reviewer's finding on a review set's production filtered by tags (issue 20): withholding
follows the family (a withheld conversation withholds its attachments), so producing only the
documents tagged ``responsive`` must not turn a withheld conversation's attachment into a produced
one. review.privilege.production_review drops every document the filter does not keep, the
withheld parent included; exports.review_pass.ReviewPass then sees the parent as not withheld."""

from __future__ import annotations

import io
import json
import time
import zipfile
from typing import Any

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.review.coding.conftest import new_set
from tests.review.coding.corpus import UPLOAD_ID


def _finished(client: TestClient, export_id: str, headers: dict[str, str]) -> dict[str, Any]:
    for _ in range(1200):
        job: dict[str, Any] = client.get(f"/api/v1/exports/{export_id}", headers=headers).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not finish")


def _withheld(client: TestClient, headers: dict[str, str], order: dict[str, Any]) -> list[str]:
    started = client.post("/api/v1/exports", json=order, headers=headers)
    assert started.status_code == 202, started.text
    job = _finished(client, started.json()["id"], headers)
    assert job["status"] == "done", job
    data = client.get(f"/api/v1/exports/{job['id']}/download", headers=headers).content
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    withheld: list[str] = manifest["review"]["withheld"]
    return withheld


def test_a_withheld_conversations_attachment_stays_withheld_under_a_tag_filter(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = auth(tokens["legal"])
    set_id = new_set(client, tokens["legal"], case_id, unit="conversation", name="Days")
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=legal)
    assert added.status_code == 200, added.text
    listed = client.get(f"/api/v1/review-sets/{set_id}/documents", params={"limit": 1000}, headers=legal).json()
    keys = [document["key"] for document in listed["documents"]]
    attachment = f"attachment:{UPLOAD_ID}"
    assert attachment in keys
    parent = keys[keys.index(attachment) - 1]  # a family is contiguous: the parent right before
    assert parent.startswith("conversation:room:legal:")
    for key, tag in ((parent, "attorney-client"), (attachment, "responsive")):
        coded = client.post(
            f"/api/v1/review-sets/{set_id}/coding",
            json={"selection": {"keys": [key]}, "change": {"add": [tag]}},
            headers=legal,
        )
        assert coded.status_code == 200, coded.text
    order = {"review_set_id": set_id, "case_id": case_id, "formats": ["jsonl"]}
    assert len(_withheld(client, legal, order)) == 2  # unfiltered: the conversation and its attachment
    assert _withheld(client, legal, {**order, "tags": ["responsive"]})  # the attachment is still withheld
