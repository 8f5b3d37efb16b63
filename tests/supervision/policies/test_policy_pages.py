"""The policy pages and the report page through the test client: each page for each role, a
policy created and changed through the editor (a new version, audited), a stale save refused
with the typed form kept, problems next to their fields, the report's tables and CSV."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.app_schema import audit_log
from archive.principals import ROLES, Principal
from search_api.deps import PERMISSIONS
from search_api.web.supervision_policy_forms import lexicon_text
from supervision import queue
from supervision.examples import example_policies
from supervision.items import NewItem, add_items
from supervision.model import TermMatch
from supervision.policy_store import policy_versions
from tests.web.conftest import WebSite, csrf_of, sign_in
from tests.web.conftest import site as site

FORM: dict[str, Any] = {
    "name": "Guarantees",
    "description": "Promises of returns",
    "people": "",
    "groups": "traders",
    "rooms": "",
    "directions": ["internal", "external"],
    "lexicon": "g1 | query | en | guarantee | guarantee NEAR/3 returns\r\ng2 | regex |  |  | 100 ?%",
    "exclusions": '"confidential notice"',
    "languages": "en",
    "sampling_percent": "2.5",
    "sampling_seed": "q4",
    "effective_from": "",
    "effective_until": "",
    "reviewers": "web supervisor",
    "escalation_reviewers": "web compliance_officer",
    "sla_hours": "48",
    "state": "enabled",
    "comment": "first draft",
}


@pytest.fixture
def client(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as test_client:
        yield test_client


def _post(client: TestClient, path: str, fields: dict[str, Any]) -> Any:
    page = client.get(path)
    return client.post(path, data={**fields, "csrf": csrf_of(page.text)})


def _policy_id(location: str) -> str:
    found = re.fullmatch(r"/supervision/policies/([^?]+)\?saved=(\d+)", location)
    assert found is not None, location
    return found.group(1)


def test_each_page_for_each_role(site: WebSite) -> None:
    pages = {
        "/supervision/policies": "supervision_read",
        "/supervision/policies/new": "supervision_policy",
        "/supervision/report": "supervision_report",
        "/supervision/report.csv": "supervision_report",
    }
    for role in ROLES:
        with TestClient(site.app, follow_redirects=False) as client:
            for path in pages:
                assert client.get(path).status_code == 303, "signed out: to the sign-in page"
            sign_in(client, site.tokens[role])
            for path, permission in pages.items():
                answer = client.get(path)
                assert answer.status_code == (200 if role in PERMISSIONS[permission] else 403), (role, path)


def test_create_change_and_a_stale_save_through_the_editor(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["compliance_officer"])
    made = _post(client, "/supervision/policies/new", FORM)
    assert made.status_code == 303, made.text
    policy_id = _policy_id(made.headers["location"])
    page = client.get(made.headers["location"])
    assert "Saved as version 1." in page.text
    assert "g1 | query | en | guarantee | guarantee NEAR/3 returns\ng2 | regex |  |  | 100 ?%" in page.text
    with site.services.engine.connect() as connection:
        first = policy_versions(connection, policy_id)[0]
    assert first.spec.scope.groups == ("traders",)
    assert first.spec.scope.directions == ("internal", "external")
    assert (first.spec.lexicon[1].kind, first.spec.lexicon[1].expression) == ("regex", "100 ?%")
    assert (first.spec.sampling_percent, first.spec.reviewers, first.comment) == (
        2.5,
        ("web supervisor",),
        "first draft",
    )

    path = f"/supervision/policies/{policy_id}"
    changed = _post(client, path, {**FORM, "sla_hours": "24", "version": "1", "comment": "faster"})
    assert changed.status_code == 303
    assert changed.headers["location"] == f"{path}?saved=2"
    history = client.get(path).text
    assert "faster" in history
    assert "sla hours" in history
    stale = _post(client, path, {**FORM, "sla_hours": "12", "version": "1", "comment": "mine"})
    assert stale.status_code == 409
    assert "the policy is at version 2 now, not 1" in stale.text
    assert 'value="12"' in stale.text, "the typed form is kept"
    with site.services.engine.connect() as connection:
        assert [v.spec.sla_hours for v in policy_versions(connection, policy_id)] == [48, 24]
        documents = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq)).scalars().all()
    changes = [json.loads(d) for d in documents if '"supervision_policy_' in d]
    mine = [e for e in changes if e["details"]["policy_id"] == policy_id]
    assert [(e["action"], e["role"]) for e in mine] == [
        ("supervision_policy_create", "compliance_officer"),
        ("supervision_policy_update", "compliance_officer"),
    ]
    assert mine[1]["details"]["changes"] == {"sla_hours": {"before": 48, "after": 24}}

    old = client.get(f"{path}?version=1")
    assert "You are looking at version 1" in old.text
    assert 'value="48"' in old.text


def test_problems_are_shown_next_to_their_fields(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["admin"])
    refused = _post(
        client,
        "/supervision/policies/new",
        {**FORM, "name": "Problems", "lexicon": "g1 | query | | | x\r\nno parts here", "sla_hours": "soon"},
    )
    assert refused.status_code == 422
    assert 'id="policy-lexicon-error"' in refused.text
    assert "Line 2 has 1 part(s)" in refused.text
    assert 'id="policy-sla_hours-error"' in refused.text
    assert re.search(r'id="policy-lexicon"[^>]*aria-invalid="true"', refused.text)
    assert "no parts here" in refused.text, "what was typed is shown again"


def test_readers_see_the_policy_but_no_save(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["admin"])
    made = _post(client, "/supervision/policies/new", {**FORM, "name": "Read only"})
    path = made.headers["location"].split("?")[0]
    with TestClient(site.app, follow_redirects=False) as supervisor:
        sign_in(supervisor, site.tokens["supervisor"])
        page = supervisor.get(path)
        assert page.status_code == 200
        assert '<fieldset class="plain-fieldset" disabled>' in page.text
        assert "Save as version" not in page.text
        listed = supervisor.get("/supervision/policies")
        assert "Read only" in listed.text
        assert "New policy" not in listed.text
        refused = supervisor.post(path, data={**FORM, "version": "1", "csrf": csrf_of(page.text)})
        assert refused.status_code == 403
    assert client.get("/supervision/policies/no-such").status_code == 404


def test_the_report_page_and_its_csv(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["admin"])
    made = _post(client, "/supervision/policies/new", {**FORM, "name": "Reported", "sla_hours": "1"})
    policy_id = _policy_id(made.headers["location"])
    now = datetime.now(UTC)
    with site.services.engine.begin() as connection:
        add_items(
            connection,
            [
                NewItem(
                    policy_id=policy_id,
                    policy_version=1,
                    event_id=f"report-e{n}",
                    message_id=f"m{n}",
                    room_id="r",
                    sender="s",
                    sent_at=now,
                    reason="lexicon",
                    matches=(TermMatch(term_id="g1", start=0, end=3, matched="abc"),),
                )
                for n in range(3)
            ],
            now - timedelta(hours=5),
        )
    with TestClient(site.app, follow_redirects=False) as auditor:
        sign_in(auditor, site.tokens["auditor"])
        page = auditor.get("/supervision/report", params={"policy": policy_id})
        assert page.status_code == 200, page.text
        assert 'aria-current="page">Report</a>' in page.text
        assert re.search(r'<strong class="bad overdue">3</strong>', page.text), "3 items past the 1 h SLA"
        assert "guarantee NEAR/3 returns" in page.text
        link = re.search(r'href="(/supervision/report\.csv\?[^"]+)"', page.text)
        assert link is not None
        download = auditor.get(link.group(1).replace("&amp;", "&"))
        assert download.status_code == 200
        rows = [r for r in csv.reader(io.StringIO(download.text)) if r[0] == "term"]
        assert [(r[2], r[3], r[5]) for r in rows] == [("Reported", "g1", "3")]
        bad = auditor.get("/supervision/report", params={"start": "2026-02-01", "end": "2026-01-01"})
        assert bad.status_code == 422
        assert "must not be before" in bad.text
        assert auditor.get("/supervision/report", params={"start": "soon"}).status_code == 422
        assert auditor.get("/supervision/report", params={"policy": "nope"}).status_code == 404


def test_reviewers_no_active_reviewing_token_has_are_pointed_out(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["admin"])
    made = _post(
        client,
        "/supervision/policies/new",
        {**FORM, "name": "Who reviews", "reviewers": "web supervisor\r\nweb legal\r\nnobody yet"},
    )
    assert made.status_code == 303, "a warning, not a refusal"
    page = client.get(made.headers["location"])
    warning = re.search(r'id="policy-reviewers-unknown">([^<]+)<', page.text)
    assert warning is not None
    assert warning.group(1) == (
        "No active token of a reviewing role has the label web legal, nobody yet: issue one, or check the spelling."
    )
    assert 'id="policy-escalation_reviewers-unknown"' not in page.text, "web compliance_officer reviews"


def test_a_term_the_lexicon_refuses_is_shown_next_to_the_terms(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["admin"])
    refused = _post(
        client,
        "/supervision/policies/new",
        {**FORM, "name": "Refused", "lexicon": "g1 | query | | | fine\r\ng2 | regex | | | (a)\\1"},
    )
    assert refused.status_code == 422
    error = re.search(r'id="policy-lexicon-error">([^<]+)<', refused.text)
    assert error is not None
    assert error.group(1).startswith("term &#39;g2&#39;: RE2 refuses the regular expression")
    excluded = _post(client, "/supervision/policies/new", {**FORM, "name": "Refused", "exclusions": '"open'})
    assert excluded.status_code == 422
    assert 'id="policy-exclusions-error"' in excluded.text


def test_a_new_policy_can_start_from_an_example(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["compliance_officer"])
    page = client.get("/supervision/policies/new")
    topics = re.findall(r'href="/supervision/policies/new\?example=([a-z_]+)#editor"', page.text)
    assert set(topics) == set(example_policies())
    chosen = client.get("/supervision/policies/new?example=guarantees")
    spec = example_policies()["guarantees"]
    assert f'value="{spec.name}"' in chosen.text
    assert "EXAMPLE" in chosen.text
    lexicon = re.search(r'<textarea id="policy-lexicon"[^>]*>([^<]*)</textarea>', chosen.text)
    assert lexicon is not None
    assert html.unescape(lexicon.group(1)) == lexicon_text(spec.lexicon)
    assert client.get("/supervision/policies/new?example=nope").status_code == 404


def test_the_report_page_shows_who_closed_what(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["admin"])
    made = _post(client, "/supervision/policies/new", {**FORM, "name": "Evidence"})
    policy_id = _policy_id(made.headers["location"])
    now = datetime.now(UTC)
    with site.services.engine.begin() as connection:
        ids = add_items(
            connection,
            [
                NewItem(
                    policy_id=policy_id,
                    policy_version=1,
                    event_id=f"evidence-e{n}",
                    message_id=f"em{n}",
                    room_id="r",
                    sender="s",
                    sent_at=now,
                    reason="lexicon",
                    matches=(TermMatch(term_id="g1", start=0, end=3, matched="abc"),),
                )
                for n in range(3)
            ],
            now - timedelta(hours=2),
        )
    reviewer = Principal(token_id="t9", label="Vera Reviewer", role="supervisor")
    queue.close(site.services.engine, reviewer, ids[0], "breach", "a promise of 20%")
    queue.bulk_close_false_positives(site.services.engine, reviewer, ids[1:])
    page = client.get("/supervision/report", params={"policy": policy_id})
    row = re.search(r"<tr><td data-label=\"Reviewer\">Vera Reviewer</td>(.*?)</tr>", page.text)
    assert row is not None, page.text
    assert '<td data-label="Actions">close: 3</td>' in row.group(1)
    assert '<td data-label="Closed as">breach: 1, false positive: 2</td>' in row.group(1)
