"""The policies and cases pages through the test client: every form's happy path, the 403 for a
role without the permission, and the refusal of a post without the session's CSRF token."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from adapters.archive import ArchiveAdapter
from adapters.processor import BatchProcessor
from tests.web.conftest import WebSite, csrf_of, latest_change_audited, sign_in


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def as_role(client: TestClient, site: WebSite, role: str) -> None:
    """Sign in afresh (a signed-in browser is sent on from the sign-in page)."""
    client.cookies.clear()
    sign_in(client, site.tokens[role])


WALL = {"name": "Research | Sales", "side_a": "user:alice", "side_b": "user:bob", "mode": "block"}


# --- policies ----------------------------------------------------------------------------------


def test_the_policies_page_lists_walls_groups_and_decisions_for_readers(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "auditor")
    page = client.get("/policies")
    assert page.status_code == 200
    for heading in ("Ethical walls", "Recent decisions", "Directory groups"):
        assert heading in page.text
    assert "not yet processed" in page.text or "not shown" in page.text
    assert "Add a wall" not in page.text, "auditors read, they do not write"
    assert "Try a check" not in page.text, "auditors may not make checks"


def test_adding_a_wall_runs_the_api_handler_and_is_audited(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "security_admin")
    csrf = _csrf(client, "/policies")
    form = {**WALL, "name": "Added over the web", "scopes": ["im", "room_post"], "csrf": csrf}
    response = client.post("/policies/walls", data=form)
    assert response.status_code == 303, response.text
    page = client.get(response.headers["location"])
    assert "Added over the web" in page.text
    assert "im, room_post" in page.text
    audited = latest_change_audited(site)
    assert audited["action"] == "wall_create"
    assert audited["details"]["after"]["name"] == "Added over the web"


def test_a_wall_without_scopes_or_sides_is_refused_with_the_reason(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "admin")
    csrf = _csrf(client, "/policies")
    response = client.post("/policies/walls", data={**WALL, "side_b": "", "scopes": ["im"], "csrf": csrf})
    assert response.status_code == 422
    assert "The wall was not added" in response.text
    response = client.post("/policies/walls", data={**WALL, "csrf": csrf})
    assert response.status_code == 422
    assert "at least one scope" in response.text


def test_policy_forms_need_the_write_or_check_permission(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "auditor")
    csrf = _csrf(client, "/policies")
    assert client.post("/policies/walls", data={**WALL, "scopes": ["im"], "csrf": csrf}).status_code == 403
    assert client.post("/policies/check", data={"action": "im", "actor": "user:alice", "csrf": csrf}).status_code == 403
    as_role(client, site, "legal")
    assert client.get("/policies").status_code == 403


def test_policy_forms_refuse_a_post_without_the_csrf_token(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "admin")
    before = client.get("/policies").text.count("<tr>")
    assert client.post("/policies/walls", data={**WALL, "scopes": ["im"]}).status_code == 403
    assert client.post("/policies/walls", data={**WALL, "scopes": ["im"], "csrf": "forged"}).status_code == 403
    assert client.post("/policies/check", data={"action": "im", "actor": "user:alice"}).status_code == 403
    assert client.get("/policies").text.count("<tr>") == before, "nothing was added"


def test_a_check_shows_the_outcome_and_walls_is_recorded_and_appears_once_archived(
    client: TestClient, site: WebSite
) -> None:
    as_role(client, site, "admin")
    csrf = _csrf(client, "/policies")
    wall = {"name": "Carol | Dave", "side_a": "user:carol", "side_b": "user:dave", "mode": "block"}
    assert client.post("/policies/walls", data={**wall, "scopes": ["im"], "csrf": csrf}).status_code == 303
    answer = client.post(
        "/policies/check", data={"action": "im", "actor": "user:carol", "targets": "user:dave", "csrf": csrf}
    )
    assert answer.status_code == 200
    assert "Blocked" in answer.text
    assert "Carol | Dave" in answer.text
    assert "Recorded as event" in answer.text
    audited = latest_change_audited(site)
    assert audited["action"] == "policy_check"
    assert audited["details"]["outcome"] == "deny"
    allowed = client.post(
        "/policies/check", data={"action": "room_join", "actor": "user:carol", "room": "room:quiet", "csrf": csrf}
    )
    assert "Allowed" in allowed.text
    assert "No wall matched" in allowed.text

    deadline = time.monotonic() + 10  # the grouped record write lands in staging; process it
    while "user:carol" not in (page := client.get("/policies").text).split("Recent decisions", 1)[1]:
        BatchProcessor(site.services.engine, [ArchiveAdapter(site.services.engine)]).run(until_empty=True)
        assert time.monotonic() < deadline, "the decision never reached the archive"
    recent = page.split("Recent decisions", 1)[1]
    assert re.search(r"user:carol</td><td>im</td><td>deny</td><td>block", recent)


# --- cases -------------------------------------------------------------------------------------


def _open_case(client: TestClient, name: str = "Matter of record") -> str:
    csrf = _csrf(client, "/cases")
    response = client.post(
        "/cases", data={"name": name, "custodians": "user:alice, user:bob", "rooms": "room:ubuntu", "csrf": csrf}
    )
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


def test_opening_a_case_placing_and_releasing_a_hold(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "legal")
    path = _open_case(client)
    assert latest_change_audited(site)["action"] == "case_create"
    page = client.get(path)
    assert page.status_code == 200
    assert "user:alice, user:bob" in page.text
    assert "No holds." in page.text
    assert "Matter of record" in client.get("/cases").text
    csrf = csrf_of(page.text)
    assert client.post(f"{path}/holds", data={"reason": "litigation expected", "csrf": csrf}).status_code == 303
    assert latest_change_audited(site)["action"] == "hold_place"
    page = client.get(path)
    assert "litigation expected" in page.text
    hold_id = re.search(r'/holds/([^/"]+)/release', page.text)
    assert hold_id is not None
    release = f"{path}/holds/{hold_id.group(1)}/release"
    assert client.post(release, data={"reason": "", "csrf": csrf}).status_code == 422
    assert client.post(release, data={"reason": "settled", "csrf": csrf}).status_code == 303
    assert latest_change_audited(site)["action"] == "hold_release"
    assert "settled" in client.get(path).text
    assert client.get("/cases/no-such-case").status_code == 404


def test_case_forms_need_cases_write_and_the_csrf_token(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "admin")
    path = _open_case(client, "For the auditor")
    as_role(client, site, "auditor")
    page = client.get(path)
    assert page.status_code == 200, "auditors read cases"
    assert "Place a hold" not in page.text
    assert "Start an export" not in page.text
    csrf = csrf_of(page.text)
    assert client.post("/cases", data={"name": "x", "csrf": csrf}).status_code == 403
    assert client.post(f"{path}/holds", data={"reason": "x", "csrf": csrf}).status_code == 403
    assert client.post(f"{path}/exports", data={"query": "ubuntu", "formats": "jsonl", "csrf": csrf}).status_code == 403
    as_role(client, site, "security_admin")
    assert client.get("/cases").status_code == 403
    as_role(client, site, "legal")
    assert client.post("/cases", data={"name": "no token"}).status_code == 403
    assert client.post(f"{path}/holds", data={"reason": "no token"}).status_code == 403
    assert client.post(f"{path}/exports", data={"query": "ubuntu", "formats": "jsonl"}).status_code == 403
    assert "no token" not in client.get("/cases").text
    assert "No holds." in client.get(path).text


def test_an_export_starts_progresses_and_downloads_audited(client: TestClient, site: WebSite) -> None:
    as_role(client, site, "compliance_officer")
    path = _open_case(client, "Export matter")
    csrf = _csrf(client, path)
    bad = client.post(f"{path}/exports", data={"query": "(wine OR", "formats": "jsonl", "csrf": csrf})
    assert bad.status_code == 422
    assert "ends too early" in bad.text
    none = client.post(f"{path}/exports", data={"query": "wine", "csrf": csrf})
    assert none.status_code == 422
    # Under 1,000 events: past that the job's progress write waits on the export's own read
    # transaction on SQLite (exports.selection holds BEGIN IMMEDIATE) and the job fails after 60 s.
    started = client.post(f"{path}/exports", data={"query": "wine", "formats": ["jsonl"], "csrf": csrf})
    assert started.status_code == 303, started.text
    assert latest_change_audited(site)["action"] in ("export_start", "export_done")
    deadline = time.monotonic() + 60
    while "/download" not in (page := client.get(path).text):
        assert "failed" not in page
        assert time.monotonic() < deadline, "the export never finished"
        time.sleep(0.2)
    link = re.search(r'href="(/exports/[^"]+/download)"', page)
    assert link is not None
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/zip"
    assert download.content[:2] == b"PK"
    assert latest_change_audited(site)["action"] == "export_download"
    as_role(client, site, "auditor")
    assert client.get(link.group(1)).status_code == 403
    as_role(client, site, "legal")
    assert client.get("/exports/nope/download").status_code == 404
