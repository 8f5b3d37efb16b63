"""One case's page (its facts, saved searches, notes, holds, production log and exports) and the way every form on
it is answered: :mod:`cases.service`, which the API calls too, makes the change (stored and
audited as over the API), then the browser goes back to the section it came from; a refusal
shows the page again with the message next to that section's form and what was typed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cases.model import Case, HoldScope
from cases.productions import Production, ProductionLog
from cases.store import CaseStore
from exports.registry import FORMAT_NAMES
from search_api.export_jobs import jobs_of
from search_api.web.auth import first, posted
from search_api.web.case_forms import REFUSALS, Problem, day_text, problem_of, search_href
from search_api.web.core import WebUser, render, services, viewer_zone

OPEN_ONLY = frozenset({"edit", "close", "search", "note", "hold"})
"""Sections whose form a closed case does not show: their refusals show at the top instead."""

Change = Callable[[WebUser, dict[str, str]], object]
"""Builds the change from the form and runs it through the service (in a worker thread)."""


def scope_text(scope: HoldScope) -> str:
    """What a hold keeps, in words."""
    parts = []
    if scope.custodians:
        parts.append("custodians " + ", ".join(scope.custodians))
    if scope.rooms:
        parts.append("rooms " + ", ".join(scope.rooms))
    if scope.query:
        parts.append(f"query {scope.query}")
    if scope.date_from or scope.date_to:
        start = day_text(scope.date_from) or "the start"
        parts.append(f"from {start} to {day_text(scope.date_to) or 'now'}")
    return "; ".join(parts) or "everything"


def problem_page(request: Request, user: WebUser, title: str, message: str, status_code: int) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, user=user, status_code=status_code)


def _detail(request: Request, user: WebUser, case_id: str) -> dict[str, Any] | None:
    app = services(request)
    store = CaseStore(app.engine)
    case = store.get_case(case_id)
    if case is None:
        return None
    holds = store.holds(case_id)
    jobs: list[dict[str, Any]] = []
    productions: list[Production] = []
    if user.may("export"):
        jobs = [job for job in jobs_of(request, app).list() if job["case_id"] == case_id]
        productions = ProductionLog(app.engine).productions(case_id)
    return {
        "case": case,
        "case_scope": HoldScope(
            custodians=case.custodians, rooms=case.rooms, date_from=case.date_from, date_to=case.date_to
        ),
        "holds": holds,
        "active_holds": sum(1 for hold in holds if hold.active),
        "searches": store.searches(case_id),
        "notes": store.notes(case_id),
        "jobs": jobs,
        "productions": productions,
        # What the next production's prefix will be when none is typed.
        "next_prefix": productions[-1].prefix if productions else "the case's own",
    }


def _case_form(case: Case) -> dict[str, str]:
    """The edit form filled with what the case says now."""
    return {
        "name": case.name,
        "description": case.description,
        "custodians": ", ".join(case.custodians),
        "rooms": ", ".join(case.rooms),
        "date_from": day_text(case.date_from),
        "date_to": day_text(case.date_to),
        "time_zone": case.time_zone or "",
    }


async def case_view(
    request: Request,
    user: WebUser,
    case_id: str,
    section: str | None = None,
    problem: Problem | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The case page; ``problem`` and ``form`` belong to ``section``'s form (edit, close, search,
    note, hold, release, export)."""
    view = await run_in_threadpool(_detail, request, user, case_id)
    if view is None:
        return problem_page(request, user, "Not found", f"No case {case_id!r}.", 404)
    forms: dict[str, dict[str, Any]] = {"edit": _case_form(view["case"])}
    if section is not None:
        forms[section] = form or {}
        if view["case"].closed_at is not None and section in OPEN_ONLY:
            section = "page"
    context = {
        "title": f"Case: {view['case'].name}",
        "may_write": user.may("cases_write"),
        "may_export": user.may("export"),
        "may_search": user.may("search"),
        "formats": FORMAT_NAMES,
        "scope_text": scope_text,
        "search_href": search_href,
        "problems": {section: problem} if section is not None and problem is not None else {},
        "forms": forms,
        "running": any(job["status"] in ("queued", "running") for job in view["jobs"]),
        # The reader's zone, else the case's (the gate checked a tz parameter already).
        "zone": viewer_zone(request, view["case"].time_zone),
        **view,
    }
    return render(request, "case.html", context, user=user, status_code=status_code)


async def case_change(
    request: Request, case_id: str, section: str, names: tuple[str, ...], change: Change, anchor: str
) -> Response:
    """Answer a post of ``section``'s form (``names``: its fields): run ``change`` as a user
    allowed ``cases_write`` and go back to ``#anchor``, or show why it was refused."""
    found = await posted(request, "cases_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = {name: first(fields, name) for name in names}
    try:
        await run_in_threadpool(change, user, form)
    except REFUSALS as error:
        problem, status_code = problem_of(error)
        return await case_view(request, user, case_id, section, problem, form, status_code)
    return RedirectResponse(f"/cases/{case_id}#{anchor}", status_code=303)
