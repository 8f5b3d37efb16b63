"""The retention page through the test client: the policies, setting one (created, then changed,
audited as over the API), removing one, every refusal with its message, roles and CSRF, and the
disposition runs with their counts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.app_schema import audit_log
from archive.principals import Principal
from cases.model import CaseSpec, HoldScope, HoldSpec, RetentionPolicySpec, RetentionRun
from cases.retention import run_retention
from cases.store import CaseStore, RetentionStore
from policies.model import Group
from policies.store import PolicyStore
from tests.web.conftest import WebSite, csrf_of, sign_in

OPERATOR = Principal("cli", "test operator", "admin")


@pytest.fixture(autouse=True)
def no_policies(site: WebSite) -> None:
    """Each test starts from no policy (the site is shared by the module)."""
    store = RetentionStore(site.services.engine)
    for policy in store.policies():
        store.delete_policy(policy.id)


def _latest_audit(site: WebSite) -> dict[str, Any]:
    with site.services.engine.connect() as connection:
        latest = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq.desc()).limit(1)).scalar()
    found: dict[str, Any] = json.loads(str(latest))
    return found


def _as(client: TestClient, site: WebSite, role: str) -> str:
    """Sign in as ``role``; the session's CSRF token."""
    client.cookies.clear()
    sign_in(client, site.tokens[role])
    page = client.get("/retention")
    return csrf_of(page.text)


def _policies(site: WebSite) -> dict[str, int | None]:
    return {policy.label: policy.keep_days for policy in RetentionStore(site.services.engine).policies()}


def _set(client: TestClient, csrf: str, **form: str) -> Any:
    fields = {"scope_kind": "default", "scope_id": "", "keep": "days", "keep_days": "", **form, "csrf": csrf}
    return client.post("/retention/policies", data=fields)


def test_readers_see_the_policies_and_runs_but_no_forms(client: TestClient, site: WebSite) -> None:
    for role in ("auditor", "compliance_officer"):
        _as(client, site, role)
        page = client.get("/retention")
        assert page.status_code == 200, role
        assert 'href="/retention" aria-current="page"' in page.text, "linked in the navigation"
        for heading in ("Policies", "Disposition runs"):
            assert f">{heading}</h2>" in page.text
        assert "No policies: nothing is disposed." in page.text
        assert "Set a policy" not in page.text
        assert "Remove" not in page.text
    _as(client, site, "security_admin")
    assert client.get("/retention").status_code == 403
    assert 'href="/retention"' not in client.get("/").text


def test_setting_a_policy_creates_it_then_changes_it_audited(client: TestClient, site: WebSite) -> None:
    csrf = _as(client, site, "legal")
    created = _set(client, csrf, keep_days="2192")
    assert created.status_code == 303
    assert created.headers["location"].startswith("/retention?saved=")
    assert _policies(site) == {"default": 2192}
    audited = _latest_audit(site)
    assert audited["action"] == "retention_policy_create"
    assert audited["details"]["after"]["keep_days"] == 2192
    page = client.get(created.headers["location"]).text
    assert "Saved: default keeps events 2192 days." in page
    assert re.search(r'Default \(everything else\)</td>\s*<td data-label="Keeps events">2192 days</td>', page)

    changed = _set(client, csrf, keep="forever")
    assert changed.status_code == 303
    assert _policies(site) == {"default": None}, "the default policy changed, not a second one"
    audited = _latest_audit(site)
    assert audited["action"] == "retention_policy_update"
    assert (audited["details"]["before"]["keep_days"], audited["details"]["after"]["keep_days"]) == (2192, None)

    assert _set(client, csrf, scope_kind="room", scope_id="room:ubuntu", keep_days="30").status_code == 303
    refused = _set(client, csrf, scope_kind="group", scope_id="group:legal", keep="forever")
    assert refused.status_code == 409
    assert "no directory group &#39;group:legal&#39;: create it first" in refused.text
    PolicyStore(site.services.engine).put_group(Group(id="group:legal", name="Legal"))
    assert _set(client, csrf, scope_kind="group", scope_id="group:legal", keep="forever").status_code == 303
    assert _policies(site) == {"default": None, "room:room:ubuntu": 30, "group:group:legal": None}
    page = client.get("/retention").text
    assert re.search(r'Room <code>room:ubuntu</code></td>\s*<td data-label="Keeps events">30 days</td>', page)
    assert re.search(r'Group <code>group:legal</code></td>\s*<td data-label="Keeps events">forever</td>', page)


def test_change_fills_the_form_and_remove_removes_audited(client: TestClient, site: WebSite) -> None:
    csrf = _as(client, site, "admin")
    assert _set(client, csrf, scope_kind="room", scope_id="room:ubuntu", keep_days="90").status_code == 303
    [policy] = RetentionStore(site.services.engine).policies()
    page = client.get(f"/retention?change={policy.id}").text
    assert 'id="kind-room" name="scope_kind" value="room" checked' in page
    assert 'name="scope_id" value="room:ubuntu"' in page
    assert 'name="keep_days" inputmode="numeric" value="90"' in page
    removed = client.post(f"/retention/policies/{policy.id}/remove", data={"csrf": csrf})
    assert removed.status_code == 303
    assert _policies(site) == {}
    audited = _latest_audit(site)
    assert audited["action"] == "retention_policy_delete"
    assert audited["details"]["before"]["scope_id"] == "room:ubuntu"
    assert "The policy for room:room:ubuntu was removed." in client.get(removed.headers["location"]).text
    again = client.post(f"/retention/policies/{policy.id}/remove", data={"csrf": csrf})
    assert again.status_code == 404
    assert "no retention policy" in again.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"scope_kind": "room", "keep_days": "30"}, "type the id of the room the policy is for"),
        ({"scope_id": "room:x", "keep_days": "30"}, "the default policy is for no room or group"),
        ({"scope_kind": "planet", "keep_days": "30"}, "choose what the policy is for"),
        ({"keep_days": "six years"}, "&#39;six years&#39; is not a whole number of days"),
        ({"keep_days": ""}, "type how many days to keep events, or choose forever"),
        ({"keep_days": "0"}, "keep_days: Input should be greater than or equal to 1"),
        ({"keep_days": "100001"}, "keep_days: Input should be less than or equal to 100000"),
        ({"keep": "forever", "keep_days": "30"}, "choose “For a number of days”"),
        ({"keep": "", "keep_days": "30"}, "choose how long to keep events"),
        ({"scope_kind": "group", "scope_id": "has space", "keep_days": "1"}, "scope_id: String should match pattern"),
    ],
)
def test_a_bad_policy_is_refused_with_why_and_keeps_what_was_typed(
    client: TestClient, site: WebSite, form: dict[str, str], message: str
) -> None:
    csrf = _as(client, site, "legal")
    response = _set(client, csrf, **form)
    assert response.status_code == 422
    assert "The policy was not set:" in response.text
    assert message in response.text
    if form.get("keep_days"):
        assert f'value="{form["keep_days"]}"' in response.text
    assert _policies(site) == {}


def test_policy_forms_need_retention_write_and_the_csrf_token(client: TestClient, site: WebSite) -> None:
    RetentionStore(site.services.engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=10), "test")
    [policy] = RetentionStore(site.services.engine).policies()
    csrf = _as(client, site, "compliance_officer")
    assert _set(client, csrf, keep_days="1").status_code == 403
    assert client.post(f"/retention/policies/{policy.id}/remove", data={"csrf": csrf}).status_code == 403
    _as(client, site, "legal")
    assert _set(client, "forged", keep_days="1").status_code == 403
    assert client.post("/retention/policies", data={"scope_kind": "default", "keep_days": "1"}).status_code == 403
    assert client.post(f"/retention/policies/{policy.id}/remove", data={}).status_code == 403
    client.cookies.clear()
    assert client.get("/retention").status_code == 303
    assert _policies(site) == {"default": 10}, "nothing changed"


def test_disposition_runs_show_their_counts_and_a_stopped_run_its_error(client: TestClient, site: WebSite) -> None:
    engine = site.services.engine
    retention = RetentionStore(engine)
    stopped = RetentionRun(
        id="stopped-run",
        started_at=datetime(2020, 1, 1, tzinfo=UTC),
        dry_run=False,
        by="cron (tok)",
        counts={},
    )
    retention.start_run(stopped)
    retention.finish_run(stopped.id, {"disposed": 3, "held": 0, "kept": 0, "by_policy": {}}, "OSError: disk full")
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="Keep ikonia"), "test")
    cases.place_hold(case.id, HoldSpec(reason="r", scope=HoldScope(custodians=("user:ikonia",))), "test")
    retention.set_policy(RetentionPolicySpec(scope_kind="room", scope_id="room:ubuntu", keep_days=30), "test")
    report = run_retention(engine, OPERATOR, now=datetime.now(UTC) + timedelta(days=1))
    assert report.disposed > 0
    assert report.held > 0

    _as(client, site, "auditor")
    page = client.get("/retention").text
    runs = page.split("Disposition runs", 1)[1]
    assert re.search(
        rf'"By">test operator \(cli\)</td>\s*<td data-label="Disposed">{report.disposed}</td>\s*'
        rf'<td data-label="Held">{report.held}</td>\s*<td data-label="Kept">0</td>',
        runs,
    )
    assert "complete" in runs
    assert f"<code>room:room:ubuntu</code>: {report.disposed} disposed, {report.held} held, 0 kept" in runs
    assert "Held by 1 legal hold." in runs
    assert "stopped:</span> OSError: disk full" in runs
    assert runs.index("test operator") < runs.index("disk full"), "newest first"


def test_a_run_shows_the_files_it_deleted_and_those_left_for_the_next(client: TestClient, site: WebSite) -> None:
    retention = RetentionStore(site.services.engine)
    run = RetentionRun(id="files-run", started_at=datetime(2021, 1, 1, tzinfo=UTC), dry_run=False, by="cron", counts={})
    retention.start_run(run)
    counts = {"disposed": 2, "held": 0, "kept": 0, "files_deleted": 3, "files_pending": ["a" * 64]}
    retention.finish_run(run.id, counts)
    _as(client, site, "auditor")
    runs = client.get("/retention").text.split("Disposition runs", 1)[1]
    assert "Files: 3 deleted from the file store;" in runs
    assert "1 not deleted yet</span> (retried by the next run)" in runs
