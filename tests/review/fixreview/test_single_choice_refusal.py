"""A group is not made single-choice, nor a tag moved into a single-choice group, while documents
would hold two of its tags: 409 naming them, the tag set unchanged; with no such document the
change goes through."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api_client import auth
from tests.review.coding.conftest import new_set

KEY = "message:msg:acme3"


def test_the_refusal_names_the_documents_and_changes_nothing(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = auth(tokens["legal"])
    set_id = new_set(client, tokens["legal"], case_id)
    added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=legal)
    assert added.status_code == 200, added.text
    group = client.post(f"/api/v1/cases/{case_id}/tag-groups", json={"name": "Issues"}, headers=legal).json()["id"]
    other = client.post(f"/api/v1/cases/{case_id}/tag-groups", json={"name": "Other"}, headers=legal).json()["id"]
    made = {
        name: client.post(
            f"/api/v1/cases/{case_id}/tags", json={"group_id": group, "name": name}, headers=legal
        ).json()["id"]
        for name in ("pricing", "antitrust")
    }
    coded = client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": [KEY]}, "change": {"add": ["pricing", "antitrust"]}},
        headers=legal,
    )
    assert coded.status_code == 200, coded.text
    before = client.get(f"/api/v1/cases/{case_id}/tags", headers=legal).json()
    single = client.put(
        f"/api/v1/cases/{case_id}/tag-groups/{group}", json={"name": "Issues", "choice": "single"}, headers=legal
    )
    assert single.status_code == 409, single.text
    assert KEY in single.json()["detail"]["message"]
    assert client.get(f"/api/v1/cases/{case_id}/tags", headers=legal).json() == before
    # Moving one of the two out first, then the group may become single-choice.
    moved = client.put(
        f"/api/v1/cases/{case_id}/tags/{made['antitrust']}",
        json={"group_id": other, "name": "antitrust"},
        headers=legal,
    )
    assert moved.status_code == 200, moved.text
    single = client.put(
        f"/api/v1/cases/{case_id}/tag-groups/{group}", json={"name": "Issues", "choice": "single"}, headers=legal
    )
    assert single.status_code == 200, single.text
    back = client.put(
        f"/api/v1/cases/{case_id}/tags/{made['antitrust']}",
        json={"group_id": group, "name": "antitrust"},
        headers=legal,
    )
    assert back.status_code == 409, back.text
    assert KEY in back.json()["detail"]["message"]
