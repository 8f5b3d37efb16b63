"""``POST /api/v1/supervision/backtest`` and the editor's backtest: a draft over archived
messages, nothing saved or created, audited; every role; 422s naming the term or the period."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from archive.app_schema import audit_log
from archive.principals import ROLES
from ingest.events import Event, parse_event
from ingest.staging import StagingStore
from search_api.deps import PERMISSIONS
from search_api.web.supervision_policy_pages import highlighted
from supervision.model import TermMatch
from supervision.schema import supervision_items, supervision_policies
from tests.api_client import archived_api_client, auth, tokens  # noqa: F401
from tests.web.conftest import csrf_of
from tests.web.conftest import sign_in as web_sign_in

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SPEC: dict[str, Any] = {
    "name": "Promises",
    "lexicon": [
        {"id": "guarantee", "expression": "guarantee", "label": "Guarantees"},
        {"id": "sure", "expression": '"sure thing"'},
    ],
    "reviewers": ["rev-a", "rev-b"],
}
PERIOD = {"start": DAY1.isoformat(), "end": (DAY1 + timedelta(days=2)).isoformat()}


def _event(n: int, text: str, at: datetime) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.UUID(int=n + 1)),
            "type": "post",
            "occurred_at": at.isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:ann"},
            "message": {"id": f"m{n}", "text": text},
        }
    )


EVENTS = [
    _event(0, "we guarantee it", DAY1),
    _event(1, "a sure thing, guarantee, guarantee", DAY1 + timedelta(hours=1)),
    _event(2, "hello", DAY1 + timedelta(hours=2)),
    _event(3, "guarantee next day", DAY1 + timedelta(days=1)),
    _event(4, "guarantee out of the period", DAY1 + timedelta(days=5)),
]


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with archived_api_client(store, tmp_path / "index", EVENTS) as test_client:
        yield test_client


def _counts(store: StagingStore) -> tuple[int, int]:
    with store.engine.connect() as connection:
        return (
            connection.execute(select(func.count()).select_from(supervision_items)).scalar_one(),
            connection.execute(select(func.count()).select_from(supervision_policies)).scalar_one(),
        )


def test_a_draft_is_backtested_over_the_archive_creating_nothing_and_audited(
    client: TestClient,
    store: StagingStore,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    answer = client.post(
        "/api/v1/supervision/backtest", json={"spec": SPEC, **PERIOD}, headers=auth(tokens["compliance_officer"])
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["messages"], report["in_scope"], report["matched"], report["items"]) == (4, 4, 3, 3)
    assert [(d["day"], d["items"], d["per_reviewer"]) for d in report["per_day"]] == [
        ("2026-11-02", 2, 1.0),
        ("2026-11-03", 1, 0.5),
    ]
    assert [(t["term_id"], t["items"], t["hits"]) for t in report["top_terms"]] == [("guarantee", 3, 4), ("sure", 1, 1)]
    assert {s["message_id"] for s in report["samples"]} == {"m0", "m1", "m3"}
    assert _counts(store) == (0, 0)
    with store.engine.connect() as connection:
        documents = connection.execute(select(audit_log.c.document)).scalars().all()
    entries = [json.loads(d) for d in documents if '"supervision_backtest"' in d]
    assert [(e["role"], e["details"]["name"], e["details"]["items"]) for e in entries] == [
        ("compliance_officer", "Promises", 3)
    ]


def test_the_backtest_for_every_role_and_its_refusals(client: TestClient, tokens: dict[str, str]) -> None:  # noqa: F811
    body = {"spec": SPEC, **PERIOD}
    assert client.post("/api/v1/supervision/backtest", json=body).status_code == 401
    for role in ROLES:
        answer = client.post("/api/v1/supervision/backtest", json=body, headers=auth(tokens[role]))
        assert answer.status_code == (200 if role in PERMISSIONS["supervision_policy"] else 403), role
    admin = auth(tokens["admin"])
    refusals: list[tuple[dict[str, Any], int, str]] = [
        (
            {"spec": {**SPEC, "lexicon": [{"id": "r1", "kind": "regex", "expression": "(a)\\1"}]}, **PERIOD},
            422,
            "term 'r1': RE2",
        ),
        ({"spec": SPEC, "start": PERIOD["end"], "end": PERIOD["start"]}, 422, "the period must end after it starts"),
        ({"spec": SPEC, "start": "2020-01-01T00:00:00Z", "end": "2022-01-01T00:00:00Z"}, 422, "at most 366 days"),
        ({"spec": SPEC, **PERIOD, "policy_id": "nope"}, 404, "no supervision policy nope"),
        ({"spec": SPEC, **PERIOD, "samples": 1000}, 422, "samples"),
    ]
    for sent, status, said in refusals:
        answer = client.post("/api/v1/supervision/backtest", json=sent, headers=admin)
        assert answer.status_code == status, answer.text
        assert said in answer.json()["detail"]["message"]


def test_a_sample_is_cut_at_its_matches() -> None:
    matches = [
        TermMatch(term_id="sure", start=2, end=12, matched="sure thing"),
        TermMatch(term_id="guarantee", start=14, end=23, matched="guarantee"),
        TermMatch(term_id="overlap", start=10, end=16, matched="ng, gu"),
        TermMatch(term_id="file", field="attachment", start=0, end=1, matched="a"),
    ]
    assert highlighted("a sure thing, guarantee!", matches) == [
        ("a ", None),
        ("sure thing", "sure"),
        (", ", None),
        ("guarantee", "guarantee"),
        ("!", None),
    ]


def test_the_editor_backtests_the_form_as_typed(
    client: TestClient,
    store: StagingStore,
    tokens: dict[str, str],  # noqa: F811
) -> None:
    client.follow_redirects = False
    web_sign_in(client, tokens["compliance_officer"])
    page = client.get("/supervision/policies/new")
    form = {
        "csrf": csrf_of(page.text),
        "name": "Typed",
        "lexicon": 'guarantee | query | | Guarantees | guarantee\r\nsure | query | | | "sure thing"',
        "directions": ["internal", "external", "im"],
        "reviewers": "rev-a\r\nrev-b",
        "sla_hours": "72",
        "sampling_percent": "0",
        "state": "enabled",
        "backtest_start": "2026-11-02",
        "backtest_end": "2026-11-03",
    }
    answer = client.post("/supervision/policies/new/backtest", data=form)
    assert answer.status_code == 200, answer.text
    assert re.search(r'<strong id="backtest-items">3</strong>', answer.text)
    assert '<mark title="sure">sure thing</mark>' in answer.text
    assert 'value="Typed"' in answer.text, "the form is kept, not saved"
    assert _counts(store) == (0, 0)
    missing = client.post("/supervision/policies/new/backtest", data={**form, "backtest_start": ""})
    assert missing.status_code == 422
    assert 'id="policy-backtest_start-error"' in missing.text
    with TestClient(client.app, follow_redirects=False) as other:
        web_sign_in(other, tokens["supervisor"])
        page = other.get("/supervision/policies")
        refused = other.post("/supervision/policies/new/backtest", data={**form, "csrf": csrf_of(page.text)})
        assert refused.status_code == 403
