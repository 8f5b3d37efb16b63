"""The conversation page's threads and the thread page, as HTML (issue 20)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.app_schema import audit_log
from tests.web.conftest import WebSite, sign_in


def items(html: str) -> list[tuple[str, str]]:
    """(class, thread) of each message of the list."""
    return [(m[1], m[2]) for m in re.finditer(r'<li class="([^"]*)"[^>]*data-thread="([^"]*)"', html)]


def mark(classes: str, prefix: str) -> str:
    found = re.search(prefix + r"\d", classes)
    assert found is not None, classes
    return found.group()


def test_the_conversation_marks_each_thread_and_indents_replies(
    thread_client: TestClient, thread_site: WebSite
) -> None:
    sign_in(thread_client, thread_site.tokens["legal"])
    response = thread_client.get("/conversation", params={"message": "s3", "n": 5})
    assert response.status_code == 200
    html = response.text
    marked = [(mark(c, "thread-c"), mark(c, "depth-"), t) for c, t in items(html)]
    assert marked == [
        ("thread-c0", "depth-0", "s1"),
        ("thread-c1", "depth-0", "s2"),
        ("thread-c0", "depth-1", "s1"),  # s3 answers s1
        ("thread-c1", "depth-1", "s2"),
        ("thread-c0", "depth-2", "s1"),  # s5 answers s3
        ("thread-c0", "depth-1", "s1"),  # s6 answers s1
    ]
    assert 'id="threads-toggle"' in html
    assert '<script src="/static/web/threads.js" defer></script>' in html
    assert "/conversation/thread?message=s3" in html
    assert "<script>" not in html  # CSP: no inline scripts


def test_model_links_are_called_reconstructed(thread_client: TestClient, thread_site: WebSite) -> None:
    sign_in(thread_client, thread_site.tokens["legal"])
    html = thread_client.get("/conversation", params={"message": "i1"}).text
    assert "(reconstructed)" in html


def test_the_thread_page_shows_the_whole_thread_and_is_audited(thread_client: TestClient, thread_site: WebSite) -> None:
    sign_in(thread_client, thread_site.tokens["compliance_officer"])
    response = thread_client.get("/conversation/thread", params={"message": "s5"})
    assert response.status_code == 200
    html = response.text
    assert [t for _c, t in items(html)] == ["s1"] * 4
    for text in ("deploy tonight?", "yes, after 8", "dashboards", "a later reply"):
        assert text in html
    assert "lunch at noon" not in html
    with thread_site.services.engine.connect() as connection:
        actions = list(connection.execute(select(audit_log.c.action)).scalars())
    assert "view_thread" in actions


def test_unknown_message_is_a_404_page_and_other_roles_are_refused(
    thread_client: TestClient, thread_site: WebSite
) -> None:
    sign_in(thread_client, thread_site.tokens["legal"])
    missing = thread_client.get("/conversation/thread", params={"message": "nope"})
    assert missing.status_code == 404
    assert "No archived message" in missing.text
    with TestClient(thread_site.app, follow_redirects=False) as auditor:
        sign_in(auditor, thread_site.tokens["auditor"])
        refused = auditor.get("/conversation/thread", params={"message": "s1"})
    assert refused.status_code == 403


def test_the_production_forms_offer_the_thread_unit(thread_client: TestClient, thread_site: WebSite) -> None:
    legal = {"Authorization": f"Bearer {thread_site.tokens['legal']}"}
    created = thread_client.post("/api/v1/cases", json={"name": "Threads", "custodians": ["user:anna"]}, headers=legal)
    assert created.status_code == 201, created.text
    sign_in(thread_client, thread_site.tokens["legal"])
    search = thread_client.get("/search", params={"q": "deploy"}).text
    case = thread_client.get(f"/cases/{created.json()['id']}").text
    for html in (search, case):
        assert '<option value="thread">a thread</option>' in html
