"""Every read is audited: each GET route of the application (API and web pages), called by each
role, writes an audit entry for that caller before it answers, whether it showed something,
found nothing (404) or refused the role (403, audited ``refused``); only the routes that need no
credentials (health, docs, sign-in, the icon) write none."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from adapters.archive import ArchiveAdapter
from archive import attachments
from archive.app_schema import audit_log
from archive.principals import ROLES
from cases.model import CaseSpec, HoldScope, HoldSpec, NoteSpec, RetentionPolicySpec, SavedSearchSpec
from cases.store import CaseStore, RetentionStore
from ingest.events import parse_event
from policies.model import DisclaimerSpec, Group, Segment, User, WallSpec
from policies.store import PolicyStore
from review.schema import review_sets
from search_api.app import create_app
from tests.processes import wait_until
from tests.web.conftest import MESSAGE, WebSite, sign_in
from tests.web.conftest import site as site  # the web pages over two demo IRC logs

PUBLIC = {
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/healthz",
    "/readyz",
    "/metrics",
    "/login",
    "/favicon.ico",
}
"""GET routes anyone may call: they show nothing from the archive and are not audited."""

QUERIES = {
    "/api/v1/rooms/{room_id}/members": "at=2009-03-03T10:30:00Z",
    "/conversation": f"message={MESSAGE}",
    "/conversation/thread": f"message={MESSAGE}",
    "/timeline": "room=room:ubuntu",
    "/search": "q=ubuntu",
    "/api/v1/review-sets/{set_id}/near-duplicates/document": "doc_key=message:none",
}


def get_routes(app: FastAPI) -> list[str]:
    """Every GET route's template, with the prefixes it is included under."""

    def walk(routes: list[Any], prefix: str) -> Iterator[str]:
        for route in routes:
            if hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif "GET" in (getattr(route, "methods", None) or ()):
                yield prefix + route.path

    return sorted(set(walk(list(app.routes), "")))


ROUTES = get_routes(create_app(None))  # type: ignore[arg-type]  # the routes only; no request is made


@pytest.fixture(scope="module")
def samples(site: WebSite) -> dict[str, str]:
    """One item of each kind, for the routes' path parameters."""
    engine = site.services.engine
    policies = PolicyStore(engine)
    policies.put_user(User(id="user:a", name="A"))
    policies.put_group(Group(id="group:research", name="Research", members=("user:a",)))
    policies.put_group(Group(id="group:sales", name="Sales"))
    wall = policies.create_wall(
        WallSpec(
            name="Research / Sales",
            side_a=(Segment(kind="group", id="group:research"),),
            side_b=(Segment(kind="group", id="group:sales"),),
        )
    )
    rule = policies.create_disclaimer(DisclaimerSpec(name="Recorded", trigger="room_join", texts={"en": "Recorded."}))
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="Matter"), "test")
    cases.add_note(case.id, NoteSpec(text="a note"), "test")
    cases.add_search(case.id, SavedSearchSpec(name="s", query="ubuntu"), "test")
    cases.place_hold(case.id, HoldSpec(reason="dispute", scope=HoldScope(rooms=("room:ubuntu",))), "test")
    policy = RetentionStore(engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=3650), "test")
    file_event = file_upload_with_bytes(site)
    review_set = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(review_sets).values(
                id=review_set,
                case_id=case.id,
                name="first pass",
                unit="message",
                time_zone="UTC",
                created_by="test",
                created_at=datetime.now(UTC),
            )
        )
    with TestClient(site.app) as client:
        admin = {"Authorization": f"Bearer {site.tokens['admin']}"}
        order = {"query": "ubuntu", "formats": ["jsonl"], "case_id": case.id}
        job = client.post("/api/v1/exports", json=order, headers=admin).json()

        def done() -> bool:
            return bool(client.get(f"/api/v1/exports/{job['id']}", headers=admin).json()["status"] == "done")

        wait_until(done, timeout=120, what="the export")
    return {
        "message_id": MESSAGE,
        "room_id": "room:ubuntu",
        "wall_id": wall.id,
        "rule_id": rule.id,
        "version": "1",
        "user_id": "user:a",
        "group_id": "group:research",
        "case_id": case.id,
        "policy_id": policy.id,
        "export_id": job["id"],
        "file_event_id": file_event,
        "review_set_id": "no-such-review-set",  # a 404 is audited like any read (issue 20's privilege log)
        "set_id": review_set,
        "item_id": "no-such-item",  # a supervision item: a 404 is audited like any read
    }


def file_upload_with_bytes(site: WebSite) -> str:
    """An archived ``file_upload`` whose bytes are in the file store: its id."""
    content = b"minutes of the meeting"
    event = parse_event(
        {
            "schema_version": 1,
            "event_id": "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
            "type": "file_upload",
            "occurred_at": "2009-03-03T10:31:00+00:00",
            "room": {"id": "room:ubuntu", "name": "#ubuntu", "kind": "room"},
            "actor": {"id": "irc:someone", "name": "someone"},
            "file": {"name": "minutes.txt", "size": len(content), "sha256": hashlib.sha256(content).hexdigest()},
        }
    )
    ArchiveAdapter(site.services.engine).write([event])
    stored = site.services.files().put([content])
    with site.services.engine.begin() as connection:
        attachments.record_native(connection, stored.sha256, stored.size, "api")
    return str(event.event_id)


def url_of(template: str, samples: dict[str, str]) -> str:
    path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda found: samples[found.group(1)], template)
    query = QUERIES.get(template)
    return f"{path}?{query}" if query else path


def actor_of(site: WebSite, role: str) -> str:
    token_id = site.tokens[role].split("_")[1]
    return f"web {role} ({token_id})"


def entries_by(site: WebSite, actor: str) -> list[tuple[int, str]]:
    with site.services.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.seq, audit_log.c.action).where(audit_log.c.actor == actor).order_by(audit_log.c.seq)
        ).all()
    return [(row.seq, row.action) for row in rows]


@pytest.fixture(scope="module")
def sessions(site: WebSite) -> Iterator[dict[str, TestClient]]:
    """A signed-in web client per role."""
    clients = {role: TestClient(site.app, follow_redirects=False) for role in ROLES}
    for role, client in clients.items():
        client.__enter__()
        sign_in(client, site.tokens[role])
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


@pytest.mark.parametrize("template", [route for route in ROUTES if route not in PUBLIC])
def test_every_read_is_audited_for_every_role(
    template: str, site: WebSite, samples: dict[str, str], sessions: dict[str, TestClient]
) -> None:
    url = url_of(template, samples)
    for role in ROLES:
        client = sessions[role]
        headers = {"Authorization": f"Bearer {site.tokens[role]}"} if template.startswith("/api/") else {}
        before = entries_by(site, actor_of(site, role))
        answer = client.get(url, headers=headers)
        assert answer.status_code < 500, (url, role, answer.status_code)
        assert answer.status_code != 401, (url, role)
        written = entries_by(site, actor_of(site, role))[len(before) :]
        actions = [action for _seq, action in written]
        assert actions, f"GET {url} as {role} ({answer.status_code}) wrote no audit entry"
        assert len(actions) == 1 or not {"view", "refused"} & set(actions), f"{url}: audited twice: {actions}"
        if answer.status_code == 403:
            assert actions == ["refused"], (url, role)


@pytest.mark.parametrize("template", ROUTES)
def test_only_the_public_routes_answer_without_credentials(
    template: str, site: WebSite, samples: dict[str, str]
) -> None:
    with TestClient(site.app, follow_redirects=False) as anonymous:
        answer = anonymous.get(url_of(template, samples))
    if template in PUBLIC:
        assert answer.status_code in (200, 503), (template, answer.status_code)  # /readyz: 503 when not ready
    elif template.startswith("/api/"):
        assert answer.status_code == 401, template
    else:
        assert answer.status_code == 303, template
        assert answer.headers["location"].startswith("/login?next=")


def test_a_read_of_something_missing_is_audited_with_its_status(site: WebSite, sessions: dict[str, TestClient]) -> None:
    actor = actor_of(site, "legal")
    with site.services.engine.connect() as connection:
        before = connection.execute(select(func.max(audit_log.c.seq))).scalar_one()
    headers = {"Authorization": f"Bearer {site.tokens['legal']}"}
    assert sessions["legal"].get("/api/v1/cases/no-such-case", headers=headers).status_code == 404
    assert sessions["legal"].get("/cases/no-such-case").status_code == 404
    with site.services.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.action, audit_log.c.document).where(audit_log.c.seq > before, audit_log.c.actor == actor)
        ).all()
    assert [row.action for row in rows] == ["view", "view"]
    assert '"route": "/api/v1/cases/{case_id}"' in rows[0].document
    assert '"path": "/cases/no-such-case"' in rows[1].document
    assert all('"status": 404' in row.document for row in rows)


def test_a_refused_change_is_audited_too(site: WebSite, sessions: dict[str, TestClient]) -> None:
    actor = actor_of(site, "auditor")
    before = entries_by(site, actor)
    headers = {"Authorization": f"Bearer {site.tokens['auditor']}"}
    answer = sessions["auditor"].post("/api/v1/cases", json={"name": "not mine to open"}, headers=headers)
    assert answer.status_code == 403
    assert [action for _seq, action in entries_by(site, actor)[len(before) :]] == ["refused"]
