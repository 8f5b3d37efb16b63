"""The case page's own forms through the test client: changing and closing a case, saved searches,
notes, holds with a custom scope, and the export progress the page polls. Each change is checked
in the store and in the audit log (the same actions as the API's), each refusal for its message
and status, and each form for its role and CSRF token."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from archive.app_schema import audit_log
from cases.model import HoldScope
from cases.store import CaseStore
from exports.jobs import ExportJobs, JobSpec
from exports.registry import FORMAT_NAMES
from tests.web.conftest import WebSite, csrf_of, sign_in

CASE = {"name": "Web matter", "custodians": "user:ikonia", "rooms": "room:ubuntu", "description": "first"}


def _audit(site: WebSite, count: int = 1) -> list[dict[str, Any]]:
    """The latest ``count`` audit entries, oldest first."""
    with site.services.engine.connect() as connection:
        rows = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq.desc()).limit(count)).scalars()
        return [json.loads(str(row)) for row in reversed(list(rows))]


def _as(client: TestClient, site: WebSite, role: str) -> None:
    client.cookies.clear()
    sign_in(client, site.tokens[role])


def _open_case(client: TestClient, name: str = "Web matter") -> tuple[str, str]:
    """A new case's id, and the CSRF token of the session."""
    csrf = csrf_of(client.get("/cases").text)
    response = client.post("/cases", data={**CASE, "name": name, "csrf": csrf})
    assert response.status_code == 303, response.text
    return response.headers["location"].rsplit("/", 1)[1], csrf


def _store(site: WebSite) -> CaseStore:
    return CaseStore(site.services.engine)


# --- the case itself ------------------------------------------------------------------------------


def test_a_case_opened_with_dates_keeps_whole_days(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    csrf = csrf_of(client.get("/cases").text)
    response = client.post(
        "/cases", data={**CASE, "name": "Dated", "date_from": "2009-03-01", "date_to": "2009-03-03", "csrf": csrf}
    )
    assert response.status_code == 303
    case = _store(site).get_case(response.headers["location"].rsplit("/", 1)[1])
    assert case is not None
    assert case.date_from == datetime(2009, 3, 1, tzinfo=UTC)
    assert case.date_to is not None
    assert case.date_to.date().isoformat() == "2009-03-03"
    assert case.date_to.hour == 23, "the 'to' day is included"
    assert "2009-03-01 to 2009-03-03" in client.get(response.headers["location"]).text


def test_changing_a_case_stores_and_audits_before_and_after(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    page = client.get(f"/cases/{case_id}").text
    assert 'value="user:ikonia"' in page, "the edit form starts from what the case says"
    change = {
        "name": "Web matter (renamed)",
        "description": "wider",
        "custodians": "user:ikonia user:Seper",
        "rooms": "room:ubuntu, room:kubuntu",
        "date_from": "2009-01-01",
        "date_to": "",
        "csrf": csrf,
    }
    response = client.post(f"/cases/{case_id}/edit", data=change)
    assert response.status_code == 303
    assert response.headers["location"] == f"/cases/{case_id}#facts"
    case = _store(site).get_case(case_id)
    assert case is not None
    assert case.name == "Web matter (renamed)"
    assert case.custodians == ("user:ikonia", "user:Seper")
    assert case.rooms == ("room:ubuntu", "room:kubuntu")
    assert case.date_from == datetime(2009, 1, 1, tzinfo=UTC)
    assert case.date_to is None
    [entry] = _audit(site)
    assert entry["action"] == "case_update"
    assert entry["details"]["before"]["name"] == "Web matter"
    assert entry["details"]["after"]["custodians"] == ["user:ikonia", "user:Seper"]
    assert "Case: Web matter (renamed)" in client.get(f"/cases/{case_id}").text


def test_a_bad_change_is_refused_with_its_reason_and_keeps_what_was_typed(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    base = {**CASE, "csrf": csrf}
    no_name = client.post(f"/cases/{case_id}/edit", data={**base, "name": "", "description": "typed"})
    assert no_name.status_code == 422
    assert "The case was not changed:" in no_name.text
    assert "name: String should have at least 1 character" in no_name.text
    assert '<details id="edit" open>' in no_name.text, "the form is open to correct"
    assert ">typed</textarea>" in no_name.text
    bad_day = client.post(f"/cases/{case_id}/edit", data={**base, "date_from": "2009-02-30"})
    assert bad_day.status_code == 422
    assert "From: &#39;2009-02-30&#39; is not a date like 2024-01-31" in bad_day.text
    backwards = client.post(f"/cases/{case_id}/edit", data={**base, "date_from": "2009-03-02", "date_to": "2009-03-01"})
    assert backwards.status_code == 422
    assert "date_from must not be after date_to" in backwards.text
    bad_id = client.post(f"/cases/{case_id}/edit", data={**base, "custodians": "user:\x01odd"})
    assert bad_id.status_code == 422
    case = _store(site).get_case(case_id)
    assert case is not None
    assert case.name == "Web matter", "nothing changed"
    assert client.post("/cases/nope/edit", data=base).status_code == 404


def test_closing_needs_a_confirmation_and_no_active_hold_and_then_nothing_changes(
    client: TestClient, site: WebSite
) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client, "To be closed")
    path = f"/cases/{case_id}"
    unconfirmed = client.post(f"{path}/close", data={"csrf": csrf})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.text
    assert client.post(f"{path}/holds", data={"reason": "keep", "scope": "case", "csrf": csrf}).status_code == 303
    page = client.get(path).text
    assert "release its 1 active hold first" in page
    assert "Close the case</button>" not in page
    held = client.post(f"{path}/close", data={"confirm": "yes", "csrf": csrf})
    assert held.status_code == 409
    assert "1 active legal holds; release them before closing it" in held.text
    [hold] = _store(site).holds(case_id)
    assert client.post(f"{path}/holds/{hold.id}/release", data={"reason": "done", "csrf": csrf}).status_code == 303
    closed = client.post(f"{path}/close", data={"confirm": "yes", "csrf": csrf})
    assert closed.status_code == 303
    [entry] = _audit(site)
    assert entry["action"] == "case_close"
    assert entry["details"]["before"]["closed_at"] is None
    assert entry["details"]["after"]["closed_at"] is not None
    page = client.get(path).text
    assert "A closed case cannot change" in page
    for form in ("Change the case", "Save a search", "Add note", "Place a hold", "Close the case</button>"):
        assert form not in page, form
    note = client.post(f"{path}/notes", data={"text": "too late", "csrf": csrf})
    assert note.status_code == 409
    assert "it cannot change" in note.text
    assert _store(site).notes(case_id) == []


# --- saved searches and notes ---------------------------------------------------------------------


def test_a_saved_search_is_stored_audited_linked_to_the_search_page_and_removable(
    client: TestClient, site: WebSite
) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    path = f"/cases/{case_id}"
    query = 'wine AND from:ikonia "grub menu"'
    response = client.post(f"{path}/searches", data={"name": "Wine talk", "query": query, "csrf": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == f"{path}#searches"
    [saved] = _store(site).searches(case_id)
    assert (saved.name, saved.query) == ("Wine talk", query)
    assert saved.created_by.startswith("web legal")
    [entry] = _audit(site)
    assert entry["action"] == "case_search_add"
    assert entry["details"]["after"]["query"] == query
    page = client.get(path).text
    assert "Wine talk" in page
    assert 'href="/search?q=wine+AND+from%3Aikonia+%22grub+menu%22"' in page
    unnamed = client.post(f"{path}/searches", data={"name": "", "query": "ubuntu", "csrf": csrf})
    assert unnamed.status_code == 303
    assert [s.name for s in _store(site).searches(case_id)] == ["Wine talk", "ubuntu"], "the query names it"
    removed = client.post(f"{path}/searches/{saved.id}/remove", data={"csrf": csrf})
    assert removed.status_code == 303
    assert [s.name for s in _store(site).searches(case_id)] == ["ubuntu"]
    assert _audit(site)[0]["action"] == "case_search_remove"
    again = client.post(f"{path}/searches/{saved.id}/remove", data={"csrf": csrf})
    assert again.status_code == 404
    assert "has no saved search" in again.text


def test_a_bad_saved_search_shows_the_parsers_message_and_position(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    response = client.post(f"/cases/{case_id}/searches", data={"name": "broken", "query": "(wine OR", "csrf": csrf})
    assert response.status_code == 422
    assert "The search was not saved:" in response.text
    assert "the query ends too early: OR needs a search after it (at character 9)" in response.text
    assert "(wine OR\n        ^</pre>" in response.text
    assert 'value="(wine OR"' in response.text, "what was typed stays to be corrected"
    empty = client.post(f"/cases/{case_id}/searches", data={"name": "", "query": "", "csrf": csrf})
    assert empty.status_code == 422
    assert _store(site).searches(case_id) == []


def test_notes_are_listed_with_author_and_time_and_audited(client: TestClient, site: WebSite) -> None:
    _as(client, site, "compliance_officer")
    case_id, csrf = _open_case(client)
    path = f"/cases/{case_id}"
    assert "No notes." in client.get(path).text
    for text in ("Spoke to counsel.\nThey want March.", "Second <note>"):
        assert client.post(f"{path}/notes", data={"text": text, "csrf": csrf}).status_code == 303
    assert _audit(site)[0]["action"] == "case_note_add"
    first, _second = _store(site).notes(case_id)
    assert first.text == "Spoke to counsel.\nThey want March."
    page = client.get(path).text
    assert f"{first.author}, {first.created_at.strftime('%Y-%m-%d %H:%M UTC')}" in page
    assert "web compliance_officer" in first.author
    assert "Spoke to counsel.\nThey want March." in page
    assert "Second &lt;note&gt;" in page, "notes are escaped"
    assert page.index("Spoke to counsel") < page.index("Second &lt;note&gt;"), "oldest first"
    blank = client.post(f"{path}/notes", data={"text": "   ", "csrf": csrf})
    assert blank.status_code == 422
    assert "The note was not added:" in blank.text
    assert len(_store(site).notes(case_id)) == 2


# --- holds with a custom scope --------------------------------------------------------------------


def test_a_custom_scope_hold_is_placed_as_asked_and_audited(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    form = {
        "reason": "subpoena 42",
        "scope": "custom",
        "custodians": "user:Seper, user:tyler_d",
        "rooms": "room:ubuntu",
        "query": "grub OR wine",
        "date_from": "2009-03-03",
        "date_to": "2009-03-03",
        "csrf": csrf,
    }
    response = client.post(f"/cases/{case_id}/holds", data=form)
    assert response.status_code == 303
    [hold] = _store(site).holds(case_id)
    assert hold.scope == HoldScope(
        custodians=("user:Seper", "user:tyler_d"),
        rooms=("room:ubuntu",),
        query="grub OR wine",
        date_from=datetime(2009, 3, 3, tzinfo=UTC),
        date_to=datetime(2009, 3, 3, 23, 59, 59, 999999, tzinfo=UTC),
    )
    [entry] = _audit(site)
    assert entry["action"] == "hold_place"
    assert entry["details"]["after"]["scope"]["query"] == "grub OR wine"
    page = client.get(f"/cases/{case_id}").text
    assert (
        "custodians user:Seper, user:tyler_d; rooms room:ubuntu; query grub OR wine; from 2009-03-03 to 2009-03-03"
        in page
    )


def test_the_case_scope_and_an_empty_custom_scope(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    empty = {name: "" for name in ("custodians", "rooms", "query", "date_from", "date_to")}
    assert client.post(f"/cases/{case_id}/holds", data={"reason": "own", "csrf": csrf}).status_code == 303
    custom = {**empty, "reason": "all", "scope": "custom", "csrf": csrf}
    assert client.post(f"/cases/{case_id}/holds", data=custom).status_code == 303
    own, everything = _store(site).holds(case_id)
    assert own.scope == HoldScope(custodians=("user:ikonia",), rooms=("room:ubuntu",))
    assert everything.scope == HoldScope()
    page = client.get(f"/cases/{case_id}").text
    assert "The case's own scope: custodians user:ikonia; rooms room:ubuntu" in page
    assert '<td data-label="Scope">everything</td>' in page


def test_a_hold_form_that_is_wrong_says_why_and_places_nothing(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    base = {
        "reason": "r",
        "scope": "custom",
        "custodians": "",
        "rooms": "",
        "date_from": "",
        "date_to": "",
        "csrf": csrf,
    }
    bad_query = client.post(f"/cases/{case_id}/holds", data={**base, "query": 'wine "unclosed'})
    assert bad_query.status_code == 422
    assert "The hold was not placed:" in bad_query.text
    assert "a quotation mark is not closed (at character 6)" in bad_query.text
    assert 'id="scope-custom" name="scope" value="custom" checked' in bad_query.text
    ignored = client.post(f"/cases/{case_id}/holds", data={**base, "scope": "case", "rooms": "room:x"})
    assert ignored.status_code == 422
    assert "Rooms filled in, but the hold is to keep the case&#39;s own scope" in ignored.text
    no_reason = client.post(f"/cases/{case_id}/holds", data={**base, "reason": "", "query": "wine"})
    assert no_reason.status_code == 422
    assert "reason: String should have at least 1 character" in no_reason.text
    backwards = client.post(
        f"/cases/{case_id}/holds", data={**base, "date_from": "2010-01-02", "date_to": "2010-01-01"}
    )
    assert backwards.status_code == 422
    assert "date_from must not be after date_to" in backwards.text
    assert _store(site).holds(case_id) == []
    gone = client.post("/cases/no-such/holds", data={**base, "query": "wine"})
    assert gone.status_code == 404


# --- roles and CSRF -------------------------------------------------------------------------------


def test_readers_see_no_write_forms_and_may_not_post(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client, "Read only")
    path = f"/cases/{case_id}"
    assert client.post(f"{path}/searches", data={"name": "s", "query": "wine", "csrf": csrf}).status_code == 303
    assert client.post(f"{path}/notes", data={"text": "a note", "csrf": csrf}).status_code == 303
    _as(client, site, "auditor")
    page = client.get(path).text
    assert "a note" in page, "auditors read notes"
    assert "<code>wine</code>" in page, "auditors read saved searches"
    for hidden in ("Change the case", "Close the case", "Save a search", "Add note", "Place a hold", "Remove"):
        assert hidden not in page, hidden
    assert 'href="/search?q=wine"' not in page, "auditors may not search, so it is not linked"
    reader_csrf = csrf_of(page)
    posts = {
        f"{path}/edit": {**CASE, "name": "hijacked"},
        f"{path}/close": {"confirm": "yes"},
        f"{path}/searches": {"name": "x", "query": "x"},
        f"{path}/notes": {"text": "x"},
        f"{path}/holds": {"reason": "x", "scope": "case"},
    }
    for target, form in posts.items():
        assert client.post(target, data={**form, "csrf": reader_csrf}).status_code == 403, target
    _as(client, site, "legal")
    for target, form in posts.items():
        assert client.post(target, data=form).status_code == 403, f"{target} without the CSRF token"
        assert client.post(target, data={**form, "csrf": "forged"}).status_code == 403, target
    case = _store(site).get_case(case_id)
    assert case is not None
    assert case.name == "Read only"
    assert case.closed_at is None
    assert len(_store(site).notes(case_id)) == 1
    assert _store(site).holds(case_id) == []


# --- exports --------------------------------------------------------------------------------------


def test_export_progress_is_polled_through_the_session(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, csrf = _open_case(client)
    page = client.get(f"/cases/{case_id}").text
    for name in FORMAT_NAMES:
        assert f'id="format-{name}" name="formats" value="{name}"' in page, name
    assert "<script" not in page, "nothing to poll without a running export"
    started = client.post(
        f"/cases/{case_id}/exports", data={"query": "wine", "formats": ["jsonl", "csv"], "csrf": csrf}
    )
    assert started.status_code == 303
    found = re.search(r'data-export="([^"]+)"', client.get(f"/cases/{case_id}").text)
    assert found is not None
    progress = f"/exports/{found.group(1)}/progress"
    deadline = time.monotonic() + 60
    while (job := client.get(progress).json())["status"] in ("queued", "running"):
        assert job["download"] is None
        assert time.monotonic() < deadline, "the export never finished"
        time.sleep(0.2)
    assert job["status"] == "done", job
    assert job["formats"] == ["jsonl", "csv"]
    assert job["case_id"] == case_id
    assert job["events_done"] > 0
    assert job["download"] == f"/exports/{job['id']}/download"
    assert client.get(job["download"]).content[:2] == b"PK"
    missing = client.get("/exports/nope/progress")
    assert missing.status_code == 404
    assert missing.json()["detail"]["message"] == "no export 'nope'"
    _as(client, site, "auditor")
    assert client.get(progress).status_code == 403
    client.cookies.clear()
    assert client.get(progress).status_code == 303, "signed out: to the sign-in page"


def test_the_page_polls_while_an_export_runs(client: TestClient, site: WebSite) -> None:
    _as(client, site, "legal")
    case_id, _csrf = _open_case(client)
    assert client.get("/exports/none/progress").status_code == 404  # the job runner now exists
    jobs: ExportJobs = site.app.state.export_jobs
    queued = jobs.record(JobSpec(query="wine", formats=("jsonl",), requested_by="test", role="legal", case_id=case_id))
    response = client.get(f"/cases/{case_id}")
    page = response.text
    assert f'data-export="{queued["id"]}" data-export-running' in page
    assert "/progress" in page
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">' in page, "the poll carries this response's CSP nonce"
    assert "The progress above updates by itself" in page


def test_an_export_from_the_case_page_carries_the_case_and_counts_each_event_once(
    client: TestClient, site: WebSite
) -> None:
    """Issue 17, findings 9 and 10: the case's name, number and custodians reach the manifest,
    and the page's progress counts each event once, not once per format."""
    _as(client, site, "legal")
    case_id, csrf = _open_case(client, "Matter of the wine")
    form = {"query": "wine", "formats": ["jsonl", "csv", "pdf"], "csrf": csrf}
    assert client.post(f"/cases/{case_id}/exports", data=form).status_code == 303
    found = re.search(r'data-export="([^"]+)"', client.get(f"/cases/{case_id}").text)
    assert found is not None
    deadline = time.monotonic() + 60
    while (job := client.get(f"/exports/{found.group(1)}/progress").json())["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, "the export never finished"
        time.sleep(0.2)
    assert job["status"] == "done", job
    case = {"id": case_id, "number": case_id, "name": "Matter of the wine", "custodians": ["user:ikonia"]}
    assert job["manifest"]["case"] == case
    events = job["manifest"]["counts"]["events"]
    assert events > 0
    assert (job["events_done"], job["events_total"]) == (events, events)
    assert (
        f'<td data-label="Progress" class="export-progress">{events} of {events} events</td>'
        in client.get(f"/cases/{case_id}").text
    )
