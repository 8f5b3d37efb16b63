"""The tag set (defaults, CRUD, unique names and shortcuts), batches and progress, ``tag:``
outside a review set, and who may use each review route."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from archive.audit import entries
from ingest.staging import StagingStore
from search.es_query import translate
from search.query_ast import TAG_OUTSIDE_REVIEW, Filter, UnsupportedQuery
from search.query_parser import parse_query
from search.tantivy_backend import scoped
from search.tantivy_schema import build_schema
from search_api.deps import PERMISSIONS
from tests.api_client import auth
from tests.review.coding.conftest import new_set


def test_the_default_tag_set_and_its_changes(
    client: TestClient, tokens: dict[str, str], case_id: str, store: StagingStore
) -> None:
    legal = auth(tokens["legal"])
    base = f"/api/v1/cases/{case_id}"
    tag_set = client.get(f"{base}/tags", headers=legal).json()
    assert [(g["name"], g["choice"]) for g in tag_set["groups"]] == [
        ("Responsive", "single"),
        ("Privilege", "single"),
        ("Hot", "multi"),
    ]
    by_name = {t["name"]: t for t in tag_set["tags"]}
    assert [t["label"] for t in tag_set["tags"]] == [
        "Responsive",
        "Not responsive",
        "Attorney-Client",
        "Work Product",
        "Not privileged",
        "Hot",
    ]
    assert (by_name["attorney-client"]["privilege_type"], by_name["attorney-client"]["withhold"]) == (
        "Attorney-Client",
        True,
    )
    assert (by_name["work-product"]["privilege_type"], by_name["work-product"]["withhold"]) == ("Work Product", True)
    assert by_name["not-privileged"]["withhold"] is False
    assert len({t["shortcut"] for t in tag_set["tags"]}) == 6

    hot_group = next(g["id"] for g in tag_set["groups"] if g["name"] == "Hot")
    issues = client.post(f"{base}/tag-groups", json={"name": "Issues", "parent_id": hot_group}, headers=legal)
    assert issues.status_code == 201, issues.text
    group_id = issues.json()["id"]
    made = client.post(
        f"{base}/tags",
        json={"group_id": group_id, "name": "pricing", "label": "Pricing", "shortcut": "x"},
        headers=legal,
    )
    assert made.status_code == 201, made.text
    same_name = client.post(f"{base}/tags", json={"group_id": group_id, "name": "PRICING"}, headers=legal)
    assert same_name.status_code == 409
    same_key = client.post(f"{base}/tags", json={"group_id": group_id, "name": "fees", "shortcut": "X"}, headers=legal)
    assert same_key.status_code == 409
    reserved = client.post(f"{base}/tags", json={"group_id": group_id, "name": "fees", "shortcut": "n"}, headers=legal)
    assert reserved.status_code == 409
    spaced = client.post(f"{base}/tags", json={"group_id": group_id, "name": "two words"}, headers=legal)
    assert spaced.status_code == 422
    tag_id = made.json()["id"]
    renamed = client.put(
        f"{base}/tags/{tag_id}", json={"group_id": group_id, "name": "price", "shortcut": "y"}, headers=legal
    )
    assert renamed.json()["name"] == "price"
    assert client.delete(f"{base}/tag-groups/{group_id}", headers=legal).status_code == 409  # it has a tag
    loop = client.put(f"{base}/tag-groups/{hot_group}", json={"name": "Hot", "parent_id": group_id}, headers=legal)
    assert loop.status_code == 409
    assert client.delete(f"{base}/tags/{tag_id}", headers=legal).status_code == 204
    assert client.delete(f"{base}/tags/{tag_id}", headers=legal).status_code == 404
    assert client.delete(f"{base}/tag-groups/{group_id}", headers=legal).status_code == 204
    assert client.get("/api/v1/cases/nope/tags", headers=legal).status_code == 404
    actions = [e["action"] for e in entries(store.engine)]
    for action in ("review_tag_group_create", "review_tag_create", "review_tag_update", "review_tag_delete"):
        assert action in actions
    update = next(e for e in entries(store.engine) if e["action"] == "review_tag_update")
    assert (update["details"]["before"]["name"], update["details"]["after"]["name"]) == ("pricing", "price")


def test_batches_take_the_next_unassigned_documents_and_show_progress(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    legal = tokens["legal"]
    set_id = new_set(client, legal, case_id)
    client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=auth(legal))
    order = [
        d["key"]
        for d in client.get(
            f"/api/v1/review-sets/{set_id}/documents", params={"limit": 1000}, headers=auth(legal)
        ).json()["documents"]
    ]
    first = client.post(
        f"/api/v1/review-sets/{set_id}/batches", json={"reviewer": "test legal", "size": 5}, headers=auth(legal)
    )
    assert first.status_code == 201, first.text
    second = client.post(
        f"/api/v1/review-sets/{set_id}/batches", json={"reviewer": "paralegal", "size": 7}, headers=auth(legal)
    )
    assert (first.json()["documents"], second.json()["documents"]) == (5, 7)
    mine = client.get(
        f"/api/v1/review-sets/{set_id}/documents", params={"batch_id": first.json()["id"]}, headers=auth(legal)
    ).json()
    assert [d["key"] for d in mine["documents"]] == order[:5]
    theirs = client.get(
        f"/api/v1/review-sets/{set_id}/documents", params={"reviewer": "paralegal"}, headers=auth(legal)
    )
    assert [d["key"] for d in theirs.json()["documents"]] == order[5:12]
    client.post(
        f"/api/v1/review-sets/{set_id}/coding",
        json={"selection": {"keys": order[:2] + order[5:6]}, "change": {"reviewed": True}},
        headers=auth(legal),
    )
    progress = client.get(f"/api/v1/review-sets/{set_id}/batches", headers=auth(legal)).json()
    assert [(b["reviewer"], b["reviewed"], b["documents"]) for b in progress["batches"]] == [
        ("test legal", 2, 5),
        ("paralegal", 1, 7),
    ]
    assert [(r["reviewer"], r["reviewed"], r["documents"]) for r in progress["reviewers"]] == [
        ("paralegal", 1, 7),
        ("test legal", 2, 5),
    ]
    own = client.get(f"/api/v1/review-sets/{set_id}/batches", params={"mine": True}, headers=auth(legal)).json()
    assert [b["reviewer"] for b in own["batches"]] == ["test legal"]
    rest = client.post(
        f"/api/v1/review-sets/{set_id}/batches", json={"reviewer": "x", "size": 1000}, headers=auth(legal)
    )
    assert rest.json()["documents"] == len(order) - 12
    none_left = client.post(
        f"/api/v1/review-sets/{set_id}/batches", json={"reviewer": "x", "size": 1}, headers=auth(legal)
    )
    assert none_left.status_code == 409


def test_tag_outside_a_review_set_is_a_clear_400(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    refused = client.post("/api/v1/search", json={"query": "acme tag:hot"}, headers=auth(tokens["legal"]))
    assert refused.status_code == 400
    assert refused.json()["detail"]["message"] == TAG_OUTSIDE_REVIEW
    assert client.post("/api/v1/search", json={"query": "-tag:hot"}, headers=auth(tokens["legal"])).status_code == 400
    audited = next(e for e in entries(store.engine) if e["action"] == "search_refused")
    assert audited["details"]["status"] == 400
    assert parse_query("tag:Hot") == Filter("tag", "Hot")
    with pytest.raises(UnsupportedQuery, match="review set"):
        translate(parse_query("acme OR tag:hot"))
    with pytest.raises(UnsupportedQuery, match="review set"):
        scoped(parse_query("acme -tag:hot"), build_schema())


def _routes(set_id: str, case_id: str) -> list[tuple[str, str, str, object]]:
    body_set = {"name": "x"}
    tag_body = {"group_id": "g", "name": "t"}
    return [
        ("get", f"/api/v1/cases/{case_id}/review-sets", "review_read", None),
        ("post", f"/api/v1/cases/{case_id}/review-sets", "review_write", body_set),
        ("get", f"/api/v1/review-sets/{set_id}", "review_read", None),
        ("post", f"/api/v1/review-sets/{set_id}/documents/search", "review_write", {"query": "acme"}),
        (
            "post",
            f"/api/v1/review-sets/{set_id}/documents/slice",
            "review_write",
            {"room_id": "room:deals", "start": "2026-03-02T00:00:00Z", "end": "2026-03-03T00:00:00Z"},
        ),
        ("post", f"/api/v1/review-sets/{set_id}/documents/hand", "review_write", {"names": ["msg:acme2"]}),
        ("get", f"/api/v1/review-sets/{set_id}/documents", "review_read", None),
        ("get", f"/api/v1/review-sets/{set_id}/document?key=message:msg:acme2", "review_read", None),
        (
            "post",
            f"/api/v1/review-sets/{set_id}/coding",
            "review_write",
            {"selection": {"keys": ["message:msg:acme2"]}, "change": {"add": ["hot"]}},
        ),
        ("get", f"/api/v1/review-sets/{set_id}/history", "review_read", None),
        ("get", f"/api/v1/cases/{case_id}/tags", "review_read", None),
        ("post", f"/api/v1/cases/{case_id}/tag-groups", "review_write", {"name": "g"}),
        ("put", f"/api/v1/cases/{case_id}/tag-groups/g", "review_write", {"name": "g"}),
        ("delete", f"/api/v1/cases/{case_id}/tag-groups/g", "review_write", None),
        ("post", f"/api/v1/cases/{case_id}/tags", "review_write", tag_body),
        ("put", f"/api/v1/cases/{case_id}/tags/t", "review_write", tag_body),
        ("delete", f"/api/v1/cases/{case_id}/tags/t", "review_write", None),
        ("post", f"/api/v1/review-sets/{set_id}/batches", "review_write", {"reviewer": "r", "size": 1}),
        ("get", f"/api/v1/review-sets/{set_id}/batches", "review_read", None),
    ]


def test_every_review_route_needs_a_token_and_the_right_role(
    client: TestClient, tokens: dict[str, str], case_id: str
) -> None:
    assert PERMISSIONS["review_read"] == {"legal", "compliance_officer", "admin"}
    assert PERMISSIONS["review_write"] == {"legal", "admin"}
    set_id = new_set(client, tokens["legal"], case_id)
    client.post(
        f"/api/v1/review-sets/{set_id}/documents/hand", json={"names": ["msg:acme2"]}, headers=auth(tokens["legal"])
    )
    for method, path, permission, body in _routes(set_id, case_id):
        anonymous = client.request(method, path, json=body)
        assert anonymous.status_code == 401, path
        for role, token in tokens.items():
            answer = client.request(method, path, json=body, headers=auth(token))
            if role in PERMISSIONS[permission]:
                assert answer.status_code not in (401, 403, 500), (method, path, role, answer.text)
            else:
                assert answer.status_code == 403, (method, path, role)
                assert role in answer.json()["detail"]["message"]
