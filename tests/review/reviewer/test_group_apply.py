"""Reviewer's finding on "apply to the near-duplicate group" (issue 20): the review screen codes
the group named by the submitted form, not the group the saved document is in. A page left open
while the groups were computed again (or any form naming another group) codes documents that are
not near-duplicates of the one reviewed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from review.coding import codings
from review.schema import review_documents
from tests.review.coding.corpus import review_events
from tests.review.coding.test_review_pages import _new_set
from tests.web.conftest import WebSite, build_site, csrf_of, sign_in


@pytest.fixture(scope="module")
def review_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("reviewer-group"), review_events())


@pytest.fixture
def legal(review_site: WebSite) -> Iterator[TestClient]:
    with TestClient(review_site.app, follow_redirects=False) as client:
        sign_in(client, review_site.tokens["legal"])
        yield client


def test_apply_to_the_group_codes_only_the_saved_documents_group(legal: TestClient, review_site: WebSite) -> None:
    set_path = _new_set(legal, "Group pass")
    set_id = set_path.rsplit("/", 1)[1]
    group = ["message:msg:acme10", "message:msg:acme14"]
    with review_site.services.engine.begin() as connection:
        connection.execute(
            update(review_documents)
            .where(review_documents.c.review_set_id == set_id, review_documents.c.doc_key.in_(group))
            .values(dup_group="near-1", dup_similarity=0.93)
        )
    alone = "message:msg:acme20"  # in no group
    screen = legal.get(f"{set_path}/doc", params={"key": alone}).text
    saved = legal.post(
        f"{set_path}/doc",
        data={"csrf": csrf_of(screen), "key": alone, "tag": ["hot"], "duplicates": "yes", "group": "near-1"},
    )
    assert saved.status_code in (303, 409, 422), saved.text
    for member in group:
        other = legal.get(f"{set_path}/doc", params={"key": member}).text
        assert 'name="tag" value="hot" checked' not in other, member


def test_apply_to_the_group_applies_the_change_not_the_whole_panel(legal: TestClient, review_site: WebSite) -> None:
    """The members keep the tags the saved document does not have and their reviewed marks: the
    group gets what the panel changed on the saved document, not the saved document's state."""
    set_path = _new_set(legal, "Group change")
    set_id = set_path.rsplit("/", 1)[1]
    saved_key, member = "message:msg:acme10", "message:msg:acme14"
    with review_site.services.engine.begin() as connection:
        connection.execute(
            update(review_documents)
            .where(review_documents.c.review_set_id == set_id, review_documents.c.doc_key.in_([saved_key, member]))
            .values(dup_group="near-1", dup_similarity=0.93)
        )
    screen = legal.get(f"{set_path}/doc", params={"key": member}).text
    privilege = re.search(r'name="(group-[^"]+)" value="attorney-client"', screen)
    assert privilege is not None
    coded = legal.post(
        f"{set_path}/doc",
        data={"csrf": csrf_of(screen), "key": member, privilege.group(1): "attorney-client", "done": "yes"},
    )
    assert coded.status_code == 303, coded.text
    screen = legal.get(f"{set_path}/doc", params={"key": saved_key}).text
    saved = legal.post(
        f"{set_path}/doc",
        data={"csrf": csrf_of(screen), "key": saved_key, "tag": ["hot"], "duplicates": "yes", "group": "near-1"},
    )
    assert saved.status_code == 303, saved.text
    with review_site.services.engine.connect() as connection:
        after = codings(connection, set_id, [saved_key, member])
    assert after[saved_key] == {"tags": ["hot"], "note": None, "reviewed": False}
    assert after[member] == {"tags": ["attorney-client", "hot"], "note": None, "reviewed": True}
