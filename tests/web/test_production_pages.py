"""From search to production on the pages: the search page's page size (20, 50, 100 or 500, kept
across pages), its "Produce these results" form that exports the whole hit set (not the page)
into a case, and the case page's production log."""

from __future__ import annotations

import re
import time
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cases.model import CaseSpec
from cases.store import CaseStore
from exports.jobs import ExportJobs
from exports.registry import FORMAT_NAMES, export_format
from search.backends import every_hit
from search.query_parser import parse_query
from tests.exports.test_productions import Numbered
from tests.web.conftest import WebSite, csrf_of, latest_change_audited, sign_in


def _hits_on(page: str) -> int:
    return len(re.findall(r'<li>\s*<div class="meta">', page))


def test_the_page_size_is_chosen_and_kept_across_pages(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["legal"])
    page = client.get("/search", params={"q": "ubuntu", "size": "50"})
    assert page.status_code == 200
    assert "hits, showing 1–50" in page.text
    assert _hits_on(page.text) == 50
    assert '<option value="50" selected>' in page.text
    following = unescape(re.search(r'href="([^"]+)" rel="next"', page.text).group(1))  # type: ignore[union-attr]
    assert "size=50" in following
    second = client.get(following)
    assert "showing 51–100" in second.text
    back = unescape(re.search(r'href="([^"]+)" rel="prev"', second.text).group(1))  # type: ignore[union-attr]
    assert "size=50" in back
    assert (
        "size=50"
        in client.get("/search", params={"q": "ubuntu", "size": "50", "room": "room:ubuntu"}).headers["location"]
    ), "the filters' redirect keeps it"
    assert "hits, showing 1–20" in client.get("/search", params={"q": "ubuntu"}).text, "20 by default"


@pytest.mark.parametrize("size", ["7", "1000", "abc", "-20"])
def test_another_page_size_is_refused_with_a_message(client: TestClient, site: WebSite, size: str) -> None:
    sign_in(client, site.tokens["legal"])
    page = client.get("/search", params={"q": "ubuntu", "size": size})
    assert page.status_code == 422
    assert "page size must be 20, 50, 100 or 500" in page.text.lower()


def _produce_form(client: TestClient, query: str) -> dict[str, Any]:
    page = client.get("/search", params={"q": query})
    assert "Produce these results" in page.text
    return {"csrf": csrf_of(page.text), "q": query, "time_zone": "UTC"}


def _wait_done(site: WebSite) -> dict[str, Any]:
    jobs: ExportJobs = site.app.state.export_jobs
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = jobs.list(limit=1)[0]
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def test_produce_these_results_exports_the_whole_hit_set_into_the_case(client: TestClient, site: WebSite) -> None:
    case = CaseStore(site.services.engine).create_case(CaseSpec(name="Produce from search"), "legal")
    sign_in(client, site.tokens["legal"])
    form = _produce_form(client, "ubuntu")
    fields = {**form, "case_id": case.id, "unit": "message", "formats": ["jsonl"], "recipients": "Regulator, Counsel"}
    answer = client.post("/search/produce", data=fields)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"/cases/{case.id}#productions"
    job = _wait_done(site)
    assert job["status"] == "done", job["error"]
    total = len(list(every_hit(site.services.search_backend(), parse_query("ubuntu"))))
    assert total > 20
    assert job["manifest"]["counts"]["messages"] == total, "the whole hit set, not the page"
    assert job["manifest"]["production"]["unit"] == "message"
    assert job["manifest"]["production"]["recipients"] == ["Regulator", "Counsel"]
    assert latest_change_audited(site)["action"] in ("export_start", "export_done")

    page = client.get(f"/cases/{case.id}")
    log = page.text.split('id="productions"', 1)[1].split("</section>", 1)[0]
    assert "Regulator, Counsel" in log
    assert job["file_sha256"] in log
    assert f'href="/exports/{job["id"]}/download"' in log
    assert "message" in log


def test_a_refused_production_shows_why_next_to_the_form(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["legal"])
    form = _produce_form(client, "ubuntu")
    before = len(site.app.state.export_jobs.list()) if hasattr(site.app.state, "export_jobs") else 0
    no_case = client.post("/search/produce", data={**form, "case_id": "", "formats": ["jsonl"]})
    assert no_case.status_code == 422
    assert "choose the case" in no_case.text.lower()
    assert "Produce these results" in no_case.text
    no_format = client.post("/search/produce", data={**form, "case_id": "nope", "formats": []})
    assert no_format.status_code in (404, 422)
    bad_prefix = client.post(
        "/search/produce", data={**form, "case_id": "nope", "formats": ["jsonl"], "bates_prefix": "A B"}
    )
    assert bad_prefix.status_code == 422
    assert "must be 1 to 20 letters" in unescape(bad_prefix.text)
    empty = client.post("/search/produce", data={**form, "q": "", "case_id": "nope", "formats": ["jsonl"]})
    assert empty.status_code == 422
    assert "query: String should have at least 1 character" in empty.text.split('id="produce-problem"', 1)[1]
    after = len(site.app.state.export_jobs.list()) if hasattr(site.app.state, "export_jobs") else 0
    assert after == before, "no job was started"


def test_produce_needs_the_export_role_and_a_csrf_token(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["auditor"])
    assert client.post("/search/produce", data={"q": "ubuntu", "case_id": "x"}).status_code in (403, 303)
    client.cookies.clear()
    sign_in(client, site.tokens["legal"])
    refused = client.post("/search/produce", data={"q": "ubuntu", "case_id": "x", "csrf": "forged"})
    assert refused.status_code == 403


def test_the_case_pages_export_form_starts_a_numbered_production(
    client: TestClient, site: WebSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exports.service.FORMAT_NAMES", (*FORMAT_NAMES, "numbered"))
    monkeypatch.setattr(
        "exports.package.export_format", lambda name: Numbered() if name == "numbered" else export_format(name)
    )
    case = CaseStore(site.services.engine).create_case(CaseSpec(name="Produce from the case page"), "legal")
    sign_in(client, site.tokens["compliance_officer"])
    page = client.get(f"/cases/{case.id}")
    fields = {
        "csrf": csrf_of(page.text),
        "query": "wine",
        "formats": ["numbered"],
        "time_zone": "UTC",
        "unit": "message",
        "recipients": "Regulator",
        "bates_prefix": "WINE-",
        "bates_start": "40",
    }
    answer = client.post(f"/cases/{case.id}/exports", data=fields)
    assert answer.status_code == 303, answer.text
    job = _wait_done(site)
    assert job["status"] == "done", job["error"]
    numbered = job["manifest"]["production"]
    assert (numbered["unit"], numbered["prefix"], numbered["start"]) == ("message", "WINE-", 40)
    assert numbered["recipients"] == ["Regulator"]
    assert numbered["first_number"] == 40
    reused = client.post(f"/cases/{case.id}/exports", data={**fields, "bates_start": str(numbered["last_number"])})
    assert reused.status_code == 409
    assert "numbers are never reused" in unescape(reused.text)
    log = client.get(f"/cases/{case.id}").text.split('id="productions"', 1)[1].split("</section>", 1)[0]
    assert f"WINE-{40:07d}" in log
