"""The review pages over HTTP: a case's review sets, one set (filters, bulk coding, batches),
the review screen (coding panel, previous/next), roles, and bad input answered with a page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from archive.audit import entries
from review.schema import review_documents
from tests.review.coding.corpus import review_events
from tests.web.conftest import WebSite, build_site, csrf_of, sign_in


@pytest.fixture(scope="module")
def review_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("review-web"), review_events())


@pytest.fixture
def legal(review_site: WebSite) -> Iterator[TestClient]:
    with TestClient(review_site.app, follow_redirects=False) as client:
        sign_in(client, review_site.tokens["legal"])
        yield client


def _new_set(client: TestClient, name: str) -> str:
    cases = client.get("/cases")
    made = client.post("/cases", data={"name": name, "csrf": csrf_of(cases.text)})
    assert made.status_code == 303, made.text
    case_path = made.headers["location"].split("#")[0]
    case_page = client.get(case_path)
    assert f'href="{case_path}/review"' in case_page.text
    sets_page = client.get(f"{case_path}/review")
    assert sets_page.status_code == 200
    created = client.post(
        f"{case_path}/review", data={"name": "First pass", "unit": "message", "csrf": csrf_of(sets_page.text)}
    )
    assert created.status_code == 303, created.text
    set_path = created.headers["location"]
    page = client.get(set_path)
    added = client.post(f"{set_path}/add", data={"query": "acme", "csrf": csrf_of(page.text)})
    assert added.status_code == 303, added.text
    return str(set_path)


def test_a_set_page_filters_codes_in_bulk_and_assigns_batches(legal: TestClient, review_site: WebSite) -> None:
    set_path = _new_set(legal, "Pages one")
    page = legal.get(set_path)
    assert "62</span> documents" in page.text  # 60 messages, the upload and its attachment
    set_id = set_path.rsplit("/", 1)[-1]
    groups = re.search(rf'href="(/cases/[^"/]+/review/{re.escape(set_id)}/near-duplicates)"', page.text)
    assert groups is not None  # the set's near-duplicate groups are one click away
    assert legal.get(groups.group(1)).status_code == 200
    coded = legal.post(
        f"{set_path}/code",
        data={"csrf": csrf_of(page.text), "scope": "all", "q": "from:bob", "add": "hot", "mark": "yes"},
    )
    assert coded.status_code == 303, coded.text
    hot = legal.get(set_path, params={"q": "tag:hot"})
    bob_messages = sum(1 for index in range(60) if index % 3 == 0)
    assert f"{bob_messages}</span> documents" in hot.text
    assert f"{62 - bob_messages}</span> documents" in legal.get(set_path, params={"reviewed": "no"}).text
    ticked = legal.post(
        f"{set_path}/code",
        data={"csrf": csrf_of(page.text), "scope": "picked", "key": ["message:msg:acme1"], "add": "responsive"},
    )
    assert ticked.status_code == 303
    assert "1</span> documents" in legal.get(set_path, params={"q": "tag:responsive"}).text
    nothing = legal.post(f"{set_path}/code", data={"csrf": csrf_of(page.text), "scope": "picked", "add": "hot"})
    assert nothing.status_code == 409
    batch = legal.post(f"{set_path}/batches", data={"csrf": csrf_of(page.text), "reviewer": "web legal", "size": "4"})
    assert batch.status_code == 303
    assert "0 / 4" in legal.get(set_path).text
    bad = legal.get(set_path, params={"q": "tag:nosuch"})
    assert bad.status_code == 422
    assert "nosuch" in bad.text
    assert legal.get("/review/nope").status_code == 404
    actions = [e["action"] for e in entries(review_site.services.engine)]
    assert {"review_set_create", "review_documents_add", "review_code", "review_batch_assign"} <= set(actions)


def test_the_review_screen_codes_a_document_and_moves_on(legal: TestClient) -> None:
    set_path = _new_set(legal, "Pages two")
    screen = legal.get(f"{set_path}/doc", params={"key": "message:msg:acme2"})
    assert screen.status_code == 200, screen.text
    assert "acme revised" in screen.text  # its current text (edited)
    assert "2 versions" in screen.text
    assert "acme offer number 2" in screen.text  # the original, in the versions
    assert "<legend>Privilege</legend>" in screen.text
    assert "acme offer number 4" in screen.text  # the conversation around it
    assert "/static/web/review.js" in screen.text
    assert "<script>" not in screen.text  # no inline script: the CSP allows none
    next_link = 'rel="next"'
    assert next_link in screen.text
    html = screen.text
    group = html.split('name="group-')[1].split('"')[0]
    saved = legal.post(
        f"{set_path}/doc",
        data={
            "csrf": csrf_of(html),
            "key": "message:msg:acme2",
            f"group-{group}": "responsive",
            "tag": ["hot"],
            "done": "yes",
            "note": "key document",
            "then": "next",
        },
    )
    assert saved.status_code == 303, saved.text
    assert "key=message%3Amsg%3Aacme" in saved.headers["location"]
    assert "acme2" not in saved.headers["location"]
    again = legal.get(f"{set_path}/doc", params={"key": "message:msg:acme2"}).text
    assert 'value="responsive" checked' in again
    assert 'name="tag" value="hot" checked' in again
    assert 'id="reviewed" name="done" value="yes" checked' in again
    assert "key document" in again


def test_roles_on_the_review_pages(review_site: WebSite, legal: TestClient) -> None:
    set_path = _new_set(legal, "Pages three")
    with TestClient(review_site.app, follow_redirects=False) as officer:
        sign_in(officer, review_site.tokens["compliance_officer"])
        page = officer.get(set_path)
        assert page.status_code == 200
        assert "Bulk coding" not in page.text  # reads, does not code
        refused = officer.post(f"{set_path}/code", data={"csrf": csrf_of(page.text), "scope": "all", "add": "hot"})
        assert refused.status_code == 403
    with TestClient(review_site.app, follow_redirects=False) as auditor:
        sign_in(auditor, review_site.tokens["auditor"])
        assert auditor.get(set_path).status_code == 403
    with TestClient(review_site.app, follow_redirects=False) as nobody:
        assert nobody.get(set_path).status_code in (302, 303)


def test_the_review_screen_applies_coding_to_the_near_duplicate_group(legal: TestClient, review_site: WebSite) -> None:
    set_path = _new_set(legal, "Pages four")
    set_id = set_path.rsplit("/", 1)[1]
    group = ["message:msg:acme10", "message:msg:acme14"]
    with review_site.services.engine.begin() as connection:
        connection.execute(
            update(review_documents)
            .where(review_documents.c.review_set_id == set_id, review_documents.c.doc_key.in_(group))
            .values(dup_group="near-1", dup_similarity=0.93)
        )
    screen = legal.get(f"{set_path}/doc", params={"key": group[0]}).text
    assert "Apply to the near-duplicate group (1 more)" in screen
    assert "similarity 0.93" in screen
    saved = legal.post(
        f"{set_path}/doc",
        data={"csrf": csrf_of(screen), "key": group[0], "tag": ["hot"], "duplicates": "yes", "group": "near-1"},
    )
    assert saved.status_code == 303, saved.text
    other = legal.get(f"{set_path}/doc", params={"key": group[1]}).text
    assert 'name="tag" value="hot" checked' in other
    coded = next(e for e in entries(review_site.services.engine) if e["action"] == "review_code")  # newest first
    assert coded["details"]["selection"]["dup_group"] == "near-1"
    assert coded["details"]["changed"] == 2


def test_the_search_page_says_tag_searches_a_review_set(legal: TestClient) -> None:
    page = legal.get("/search", params={"q": "acme tag:hot"})
    assert page.status_code == 400
    assert "tag: searches a review set" in page.text


def test_a_nested_tag_group_shows_under_its_parent(legal: TestClient, review_site: WebSite) -> None:
    set_path = _new_set(legal, "Pages five")
    set_id = set_path.rsplit("/", 1)[1]
    token = {"Authorization": f"Bearer {review_site.tokens['legal']}"}
    found = legal.get(f"/api/v1/review-sets/{set_id}", headers=token).json()
    base = f"/api/v1/cases/{found['case_id']}"
    hot = next(g for g in legal.get(f"{base}/tags", headers=token).json()["groups"] if g["name"] == "Hot")
    issues = legal.post(f"{base}/tag-groups", json={"name": "Issues", "parent_id": hot["id"]}, headers=token).json()
    made = legal.post(
        f"{base}/tags", json={"group_id": issues["id"], "name": "pricing", "shortcut": "q"}, headers=token
    )
    assert made.status_code == 201, made.text
    screen = legal.get(f"{set_path}/doc", params={"key": "message:msg:acme2"}).text
    assert "<legend>Hot › Issues</legend>" in screen
    assert 'data-shortcut="q"' in screen
