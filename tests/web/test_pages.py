"""The web pages through the test client: sign-in, CSRF, sign-out, expiry, roles, search, audit."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.app_schema import audit_log
from search_api.deps import PERMISSIONS
from search_api.web.core import NAV, safe_next
from search_api.web.search_page import compose
from search_api.web.session import COOKIE, SessionStore
from tests.web.conftest import JOINS_MESSAGE, MESSAGE, WebSite, csrf_of, sign_in


def test_pages_need_a_session_and_send_you_to_sign_in(client: TestClient) -> None:
    for path in ("/", "/search?q=ubuntu", "/audit", f"/conversation?message={MESSAGE}"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/")


def test_sign_in_refuses_a_post_without_the_csrf_token(client: TestClient, site: WebSite) -> None:
    client.get("/login")
    response = client.post("/login", data={"token": site.tokens["legal"], "next": "/"})
    assert response.status_code == 403
    assert COOKIE not in response.cookies


def test_an_unknown_token_does_not_sign_in(client: TestClient) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"token": "arch_no_such", "csrf": csrf_of(page.text)})
    assert response.status_code == 401
    assert "unknown or revoked" in response.text
    assert client.get("/").status_code == 303


def test_sign_in_goes_only_to_local_pages() -> None:
    assert safe_next("/search?q=x") == "/search?q=x"
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", "", None):
        assert safe_next(hostile) == "/"


def test_every_post_needs_the_sessions_csrf_token_and_sign_out_ends_the_session(
    client: TestClient, site: WebSite
) -> None:
    sign_in(client, site.tokens["admin"])
    page = client.get("/")
    assert page.status_code == 200
    assert client.post("/logout", data={}).status_code == 403
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/").status_code == 200, "a refused sign-out leaves the session alone"
    cookie = client.cookies[COOKIE]
    out = client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert client.get("/").status_code == 303
    client.cookies.set(COOKIE, cookie)
    assert client.get("/").status_code == 303, "the old cookie names a session that is gone"


def test_a_forged_cookie_is_no_session(client: TestClient) -> None:
    client.cookies.set(COOKIE, "made-up.signature")
    assert client.get("/").status_code == 303


def test_sessions_expire_when_idle_and_after_their_lifetime() -> None:
    now = [0.0]
    store = SessionStore(b"k" * 32, idle_seconds=60, lifetime_seconds=300, clock=lambda: now[0])
    _session, cookie = store.create("arch_x_y")
    now[0] = 59
    assert store.lookup(cookie) is not None
    now[0] = 120
    assert store.lookup(cookie) is None, "idle over 60 s"
    _session, cookie = store.create("arch_x_y")
    for step in range(1, 8):
        now[0] = 120 + step * 50
        found = store.lookup(cookie)
    assert found is None, "used all along, but older than its lifetime"
    assert store.lookup(cookie[:-2] + "xx") is None


def test_a_revoked_token_ends_the_web_session(client: TestClient, site: WebSite) -> None:
    from archive.principals import create_token, revoke_token

    token = create_token(site.services.engine, "legal", "to revoke")
    sign_in(client, token)
    assert client.get("/search").status_code == 200
    revoke_token(site.services.engine, token.split("_")[1])
    assert client.get("/search").status_code == 303


@pytest.mark.parametrize("role", ["compliance_officer", "legal", "security_admin", "auditor", "ingest", "admin"])
def test_pages_a_role_may_not_see_are_not_linked_and_answer_403(client: TestClient, site: WebSite, role: str) -> None:
    sign_in(client, site.tokens[role])
    home = client.get("/").text
    for path, label, permission in NAV:
        allowed = permission is None or role in PERMISSIONS[permission]
        assert (f'href="{path}"' in home) == allowed, (role, path)
        status = client.get(path).status_code
        assert status == (200 if allowed else 403), (role, path, label)


def test_a_web_search_shows_count_highlights_facets_and_is_audited(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["legal"])
    page = client.get("/search", params={"q": "ubuntu"})
    assert page.status_code == 200
    assert "hits, showing 1–20" in page.text
    assert "<b>" in page.text.lower()
    assert "Narrow down" in page.text
    assert 'rel="next"' in page.text
    with site.services.engine.connect() as connection:
        latest = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
    document = json.loads(str(latest))
    assert document["action"] == "search"
    assert document["details"]["query"] == "ubuntu"
    assert document["role"] == "legal"


def test_the_text_of_a_hit_is_escaped(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["legal"])
    page = client.get("/search", params={"q": "<script>"})
    assert "<script>" not in page.text.split("<main", 1)[1]


def test_a_bad_query_shows_the_parsers_message_at_its_position(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["compliance_officer"])
    page = client.get("/search", params={"q": "(wine OR"})
    assert page.status_code == 422
    assert "ends too early" in page.text
    assert "At character 9" in page.text
    assert client.get("/search", params={"q": "x", "cursor": "garbage"}).status_code == 422


def test_filters_are_written_into_the_query(client: TestClient, site: WebSite) -> None:
    assert compose("wine", "room:ubuntu", "bob smith", "2009-03-01", "") == (
        'wine in:room:ubuntu from:"bob smith" sent>=2009-03-01'
    )
    sign_in(client, site.tokens["legal"])
    response = client.get("/search", params={"q": "ubuntu", "room": "room:ubuntu", "since": "2009-03-03"})
    assert response.status_code == 303
    followed = client.get(response.headers["location"])
    assert "ubuntu in:room:ubuntu sent&gt;=2009-03-03" in followed.text


def test_the_conversation_shows_the_hit_members_and_joins(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["legal"])
    page = client.get("/conversation", params={"message": JOINS_MESSAGE, "n": 20})
    assert page.status_code == 200
    assert 'id="hit"' in page.text
    assert "In the room then" in page.text
    assert "joined" in page.text or "left" in page.text
    assert client.get("/conversation", params={"message": "msg:none"}).status_code == 404


def test_the_audit_page_shows_the_chain_status(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["auditor"])
    page = client.get("/audit")
    assert page.status_code == 200
    assert "Chain intact" in page.text
    assert "web_sign_in" in page.text
