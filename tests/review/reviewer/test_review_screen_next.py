"""Reviewer's finding on the review screen (issue 20): "save and next" while working through a
filter the save itself changes (the unreviewed documents, marking each reviewed: the usual pass
of a batch) must move on to the next document of the filter, not stay on the one just saved."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from search_api.web.review_screen import next_key
from tests.review.coding.corpus import review_events
from tests.review.coding.test_review_pages import _new_set
from tests.web.conftest import WebSite, build_site, csrf_of, sign_in


@pytest.fixture(scope="module")
def review_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("reviewer-next"), review_events())


@pytest.fixture
def legal(review_site: WebSite) -> Iterator[TestClient]:
    with TestClient(review_site.app, follow_redirects=False) as client:
        sign_in(client, review_site.tokens["legal"])
        yield client


def test_save_and_next_through_the_unreviewed_moves_on(legal: TestClient) -> None:
    set_path = _new_set(legal, "Next pass")
    first = legal.get(f"{set_path}/doc", params={"key": "message:msg:acme2", "reviewed": "no"})
    assert first.status_code == 200, first.text
    assert 'rel="next"' in first.text  # there is a next unreviewed document
    saved = legal.post(
        f"{set_path}/doc",
        data={
            "csrf": csrf_of(first.text),
            "key": "message:msg:acme2",
            "reviewed": "no",
            "done": "yes",
            "then": "next",
        },
    )
    assert saved.status_code == 303, saved.text
    assert "acme2" not in saved.headers["location"], saved.headers["location"]


def test_the_next_document_is_the_first_after_the_saved_one_the_filter_still_holds() -> None:
    before = ["a", "b", "c", "d"]
    assert next_key(before, ["a", "c", "d"], "b") == "c"  # b left the filter
    assert next_key(before, ["a", "d"], "b") == "d"  # b and its group member c left it
    assert next_key(before, ["a", "b", "c", "d"], "b") == "c"  # nothing left it
    assert next_key(before, ["a"], "c") is None  # nothing after
    assert next_key(before, ["a", "b", "x", "c"], "x") == "c"  # opened outside the filter, now in it
    assert next_key(before, ["a", "b"], "x") is None
