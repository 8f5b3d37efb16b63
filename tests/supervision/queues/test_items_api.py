"""The items API on SQLite and PostgreSQL: every route for every role (401 without a token, 403
for a role without the permission, success for the others), an audit entry read back for every
state change, the item with its text highlighted and its conversation, comments required, 409s."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from adapters.archive import ArchiveAdapter
from archive.app_schema import audit_log
from archive.fs_file_store import FsFileStore
from archive.principals import ROLES, Principal
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS
from supervision import queue
from supervision.items import NewItem, add_items
from supervision.model import Policy, TermMatch
from tests.api_client import auth
from tests.attachment_events import file_text, upload
from tests.supervision.queues.items import NOW, make_items

BASE = "/api/v1/supervision/items"

# (method, path after BASE, body, permission, the state the item must be in first)
ROUTES: list[tuple[str, str, dict[str, Any] | None, str, str]] = [
    ("GET", "", None, "supervision_read", "pending"),
    ("GET", "/{id}", None, "supervision_read", "pending"),
    ("GET", "/{id}/history", None, "supervision_report", "pending"),
    ("POST", "/{id}/start", None, "supervision_review", "pending"),
    ("POST", "/{id}/assign", {"assignee": "bob"}, "supervision_review", "pending"),
    ("POST", "/{id}/escalate", {"comment": "promise of returns"}, "supervision_review", "pending"),
    ("POST", "/{id}/close", {"disposition": "no_issue"}, "supervision_review", "pending"),
    ("POST", "/{id}/reopen", {"comment": "closed too soon"}, "supervision_review", "closed"),
    ("POST", "/bulk-close", {"ids": ["{id}"]}, "supervision_review", "pending"),
]


def _entries(engine: Engine, after_seq: int = 0) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.document).where(audit_log.c.seq > after_seq).order_by(audit_log.c.seq)
        ).scalars()
        return [json.loads(document) for document in rows]


def _head(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(audit_log.c.seq).order_by(audit_log.c.seq.desc()).limit(1)).scalar() or 0)


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, json=body, headers=headers)


def test_every_route_for_every_role(
    client: TestClient, store: StagingStore, policy: Policy, tokens: dict[str, str]
) -> None:
    engine = store.engine
    for number, (method, template, body, permission, state) in enumerate(ROUTES):
        for role in ROLES:
            [item_id] = make_items(
                engine, policy, 1, created=NOW - timedelta(hours=2), message_prefix=f"r{number}-{role}"
            )
            if state == "closed":
                queue.close(engine, Principal("t", "setup", "admin"), item_id, "no_issue")
            path = BASE + template.replace("{id}", item_id)
            sent = json.loads(json.dumps(body).replace("{id}", item_id)) if body is not None else None
            assert _call(client, method, path, sent, {}).status_code == 401, (path, "no token")
            before = _head(engine)
            answer = _call(client, method, path, sent, auth(tokens[role]))
            if role in PERMISSIONS[permission]:
                assert answer.status_code == 200, (path, role, answer.text)
                if method == "POST":
                    actions = [entry["action"] for entry in _entries(engine, before)]
                    assert actions, path
                    assert all(action.startswith("supervision_item_") for action in actions), actions
            else:
                assert answer.status_code == 403, (path, role, answer.status_code)
                assert permission in answer.json()["detail"]["message"]
                assert [entry["action"] for entry in _entries(engine, before)] == ["refused"]


def test_every_state_change_through_the_api_is_audited_with_its_before_and_after(
    client: TestClient, store: StagingStore, item_ids: list[str], tokens: dict[str, str]
) -> None:
    supervisor, officer = auth(tokens["supervisor"]), auth(tokens["compliance_officer"])
    first, second, third = item_ids
    before = _head(store.engine)
    steps = [
        (f"{BASE}/{first}/start", None, supervisor),
        (f"{BASE}/{first}/assign", {"assignee": "web compliance_officer", "comment": "yours"}, supervisor),
        (f"{BASE}/{first}/escalate", {"comment": "promise of returns"}, officer),
        (f"{BASE}/{first}/close", {"disposition": "breach", "comment": "client was promised 12%"}, officer),
        (f"{BASE}/{first}/reopen", {"comment": "wrong client"}, supervisor),
        (f"{BASE}/{first}/close", {"disposition": "reported", "comment": ""}, supervisor),
        (f"{BASE}/bulk-close", {"ids": [second, third], "comment": "quoting a newsletter"}, officer),
    ]
    changes: list[dict[str, Any]] = []
    for path, body, headers in steps:
        answer = client.post(path, json=body, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        found = answer.json()
        changes.extend(found.get("changes", [found]))
    entries = [entry for entry in _entries(store.engine, before) if entry["action"].startswith("supervision_item_")]
    assert [entry["action"] for entry in entries] == [
        "supervision_item_start",
        "supervision_item_assign",
        "supervision_item_escalate",
        "supervision_item_close",
        "supervision_item_reopen",
        "supervision_item_close",
        "supervision_item_close",
        "supervision_item_close",
    ]
    for change, entry in zip(changes, entries, strict=True):
        details = entry["details"]
        assert (details["item_id"], details["history_seq"]) == (change["item_id"], change["seq"])
        assert (details["before"], details["after"]) == (change["before"], change["after"])
    assert [e["role"] for e in entries[:4]] == ["supervisor", "supervisor", "compliance_officer", "compliance_officer"]
    history = client.get(f"{BASE}/{first}/history", headers=auth(tokens["auditor"]))
    assert history.status_code == 200
    rows = history.json()
    assert [(row["action"], row["after"]["state"], row["after"]["disposition"]) for row in rows] == [
        ("start", "in_review", None),
        ("assign", "in_review", None),
        ("escalate", "escalated", None),
        ("close", "closed", "breach"),
        ("reopen", "in_review", None),
        ("close", "closed", "reported"),
    ]
    assert [row["comment"] for row in rows] == [
        None,
        "yours",
        "promise of returns",
        "client was promised 12%",
        "wrong client",
        None,
    ]
    assert "guarantee" not in history.text  # the evidence of review, not the message
    assert _entries(store.engine)[-1]["action"] == "supervision_item_history"


def test_one_item_with_its_text_highlighted_and_its_conversation(
    client: TestClient, store: StagingStore, item_ids: list[str], tokens: dict[str, str]
) -> None:
    answer = client.get(f"{BASE}/{item_ids[1]}", params={"n": 2}, headers=auth(tokens["supervisor"]))
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["item"]["message_id"] == "msg:desk3"
    assert found["item"]["policy_name"] == "Guarantees"
    assert found["item"]["policy_version"] == 1
    assert found["evaluated"]["pieces"] == [
        {"text": "returns of 12% <b>", "terms": []},
        {"text": "guarantee", "terms": ["g1"]},
        {"text": "d</b> & more", "terms": []},
    ]
    assert [line["message_id"] for line in found["context"]] == [
        "msg:desk1",
        "msg:desk2",
        "msg:desk3",
        "msg:desk4",
        "msg:desk5",
    ]
    assert [line["is_hit"] for line in found["context"]] == [False, False, True, False, False]
    viewed = _entries(store.engine)[-1]
    assert viewed["action"] == "supervision_item_view"
    assert viewed["details"] == {"item_id": item_ids[1], "message_id": "msg:desk3", "n": 2}
    assert client.get(f"{BASE}/no-such-item", headers=auth(tokens["supervisor"])).status_code == 404


def test_the_queue_filters_and_pages(
    client: TestClient, store: StagingStore, item_ids: list[str], tokens: dict[str, str]
) -> None:
    supervisor = auth(tokens["supervisor"])
    assert client.post(f"{BASE}/{item_ids[0]}/start", headers=supervisor).status_code == 200

    def listed(**params: Any) -> list[str]:
        answer = client.get(BASE, params=params, headers=supervisor)
        assert answer.status_code == 200, answer.text
        return [row["id"] for row in answer.json()["items"]]

    assert listed(assignee="mine") == [item_ids[0]]
    assert listed(assignee="unassigned") == item_ids[1:]
    assert listed(state=["pending", "in_review"]) == item_ids
    assert listed(state="in_review") == [item_ids[0]]
    assert listed(overdue="true") == item_ids
    page = client.get(BASE, params={"limit": 2}, headers=supervisor).json()
    assert [row["id"] for row in page["items"]] == item_ids[:2]
    assert page["counts"] == {"pending": 2, "in_review": 1, "escalated": 0}
    assert page["items"][0]["overdue"] is True
    assert page["items"][0]["sla_hours"] == 24
    rest = client.get(BASE, params={"limit": 2, "cursor": page["next_cursor"]}, headers=supervisor).json()
    assert [row["id"] for row in rest["items"]] == item_ids[2:]
    assert rest["next_cursor"] is None
    bad = client.get(BASE, params={"cursor": "junk"}, headers=supervisor)
    assert bad.status_code == 422
    assert "cursor" in bad.json()["detail"]["message"]
    assert client.get(BASE, params={"state": "done"}, headers=supervisor).status_code == 422


def test_comments_required_too_long_and_conflicts_are_refused_without_a_change(
    client: TestClient, store: StagingStore, item_ids: list[str], tokens: dict[str, str]
) -> None:
    officer = auth(tokens["compliance_officer"])
    first, second, _third = item_ids
    before = _head(store.engine)

    def refused(path: str, body: Any, status: int, says: str) -> None:
        answer = client.post(f"{BASE}{path}", json=body, headers=officer)
        assert answer.status_code == status, (path, answer.text)
        assert says in json.dumps(answer.json()["detail"]), answer.text

    refused(f"/{first}/escalate", {}, 422, "comment: required to escalate")
    refused(f"/{first}/escalate", {"comment": "   "}, 422, "comment: required to escalate")
    refused(f"/{first}/close", {"disposition": "breach"}, 422, "comment: required to close as breach")
    refused(f"/{first}/close", {"disposition": "no_issue", "comment": "x" * 4001}, 422, "4000")
    refused(f"/{first}/close", {"disposition": "fine"}, 422, "disposition")
    refused(f"/{first}/reopen", {"comment": "why"}, 409, "not closed")
    refused("/bulk-close", {"ids": [f"id-{n}" for n in range(501)]}, 422, "500")
    refused("/bulk-close", {"ids": []}, 422, "ids")
    refused("/no-such-item/start", None, 404, "no review item no-such-item")
    assert [e["action"] for e in _entries(store.engine, before)] == []
    assert client.post(f"{BASE}/{first}/close", json={"disposition": "no_issue"}, headers=officer).status_code == 200
    refused(f"/{first}/close", {"disposition": "false_positive"}, 409, "is closed")
    refused(f"/{first}/start", None, 409, "not pending")
    refused(f"/{first}/assign", {"assignee": "bob"}, 409, "is closed")
    refused("/bulk-close", {"ids": [second, first]}, 409, first)
    assert client.get(f"{BASE}/{second}", headers=officer).json()["item"]["state"] == "pending"
    changes = [
        e
        for e in _entries(store.engine, before)
        if e["action"].startswith("supervision_item_") and "before" in e["details"]
    ]
    assert len(changes) == 1


def test_an_attachment_match_is_shown_on_the_attachment_text(
    client: TestClient, store: StagingStore, policy: Policy, tmp_path: Path, tokens: dict[str, str]
) -> None:
    said = "Term sheet.\nWe guarantee a 9% return."
    shared = upload("terms.pdf", room="desk")
    extracted = file_text(shared, said, FsFileStore(tmp_path / "files"))  # the API's file store
    ArchiveAdapter(store.engine).write([shared, extracted])
    start = said.index("guarantee")
    with store.engine.begin() as connection:
        [item_id] = add_items(
            connection,
            [
                NewItem(
                    policy_id=policy.id,
                    policy_version=1,
                    event_id=str(extracted.event_id),
                    message_id=f"file:{shared.event_id}",
                    room_id="room:desk",
                    sender="user:alice",
                    sent_at=extracted.occurred_at,
                    reason="lexicon",
                    matches=(
                        TermMatch(term_id="g1", field="attachment", start=start, end=start + 9, matched="guarantee"),
                    ),
                )
            ],
            NOW,
        )
    found = client.get(f"{BASE}/{item_id}", headers=auth(tokens["compliance_officer"])).json()
    evaluated = found["evaluated"]
    assert (evaluated["field"], evaluated["name"], evaluated["file_event_id"]) == (
        "attachment",
        "terms.pdf",
        str(shared.event_id),
    )
    assert evaluated["pieces"] == [
        {"text": "Term sheet.\nWe ", "terms": []},
        {"text": "guarantee", "terms": ["g1"]},
        {"text": " a 9% return.", "terms": []},
    ]
    assert found["context"] == []  # not a message: no conversation lines
