"""``/cases``: the cases, opening one, and a case's page with its exports (start, progress,
download). Every change runs the service the API runs (:mod:`cases.service`,
:mod:`exports.service`), so it is stored and audited as over the API; an export downloads as
over the API too (audited ``export_download``), and its progress is the API's
``GET /exports/{id}`` answer read through the session.

Editing a case, closing it, saved searches and notes are in :mod:`case_changes`; legal holds in
:mod:`case_holds`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cases import service
from cases.model import CaseSpec
from cases.store import CaseStore
from exports import service as export_service
from search_api import export_jobs, refusals
from search_api.web.auth import first, posted
from search_api.web.case_forms import REFUSALS, Problem, day, problem_of
from search_api.web.case_view import case_view, problem_page
from search_api.web.core import WebUser, gate, render, services
from search_api.web.forms import id_list, recipient_list

router = APIRouter()
CASE_FIELDS = ("name", "description", "custodians", "rooms", "date_from", "date_to", "time_zone")


@router.get("/cases", include_in_schema=False)
async def cases_page(request: Request) -> Response:
    user = await gate(request, "cases_read")
    if not isinstance(user, WebUser):
        return user
    return await _list(request, user)


async def _list(
    request: Request, user: WebUser, form: dict[str, str] | None = None, problem: Problem | None = None
) -> Response:
    found = await run_in_threadpool(CaseStore(services(request).engine).cases)
    context = {
        "title": "Cases",
        "cases": found,
        "may_write": user.may("cases_write"),
        "form": form or {},
        "problem": problem,
    }
    return render(request, "cases.html", context, user=user, status_code=200 if problem is None else 422)


def case_spec(form: dict[str, str]) -> CaseSpec:
    """A case as its form describes it (the open-a-case and the edit forms)."""
    return CaseSpec(
        name=form["name"],
        description=form["description"],
        custodians=tuple(id_list(form["custodians"])),
        rooms=tuple(id_list(form["rooms"])),
        date_from=day(form.get("date_from", ""), "From"),
        date_to=day(form.get("date_to", ""), "To", end=True),
        time_zone=form.get("time_zone") or None,
    )


@router.post("/cases", include_in_schema=False)
async def create_case(request: Request) -> Response:
    found = await posted(request, "cases_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = {name: first(fields, name) for name in CASE_FIELDS}
    try:
        case = await run_in_threadpool(service.open_case, services(request).engine, user.principal, case_spec(form))
    except REFUSALS as error:
        return await _list(request, user, form, problem_of(error)[0])
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


@router.get("/cases/{case_id}", include_in_schema=False)
async def case_page(request: Request, case_id: str) -> Response:
    user = await gate(request, "cases_read")
    if not isinstance(user, WebUser):
        return user
    return await case_view(request, user, case_id)


@router.post("/cases/{case_id}/exports", include_in_schema=False)
async def start_export(request: Request, case_id: str) -> Response:
    found = await posted(request, "export")
    if isinstance(found, Response):
        return found
    user, fields = found
    form: dict[str, Any] = {
        "query": first(fields, "query"),
        "formats": fields.get("formats", []),
        "time_zone": first(fields, "time_zone"),
        "unit": first(fields, "unit") or "conversation",
        "recipients": first(fields, "recipients"),
        "bates_prefix": first(fields, "bates_prefix").strip(),
        "bates_start": first(fields, "bates_start").strip(),
    }
    app = services(request)
    try:
        order = export_service.ExportOrder.model_validate(
            {
                "query": form["query"],
                "formats": form["formats"],
                "case_id": case_id,
                "time_zone": form["time_zone"] or None,
                "unit": form["unit"],
                "recipients": recipient_list(form["recipients"]),
                "bates_prefix": form["bates_prefix"] or None,
                "bates_start": form["bates_start"] or None,
            }
        )
        jobs = export_jobs.jobs_of(request, app)
        await run_in_threadpool(export_service.start_export, app.engine, jobs, user.principal, order)
    except REFUSALS as error:
        problem, status_code = problem_of(error)
        return await case_view(request, user, case_id, "export", problem, form, status_code)
    return RedirectResponse(f"/cases/{case_id}#exports", status_code=303)


@router.get("/exports/{export_id}/progress", include_in_schema=False)
async def export_progress(request: Request, export_id: str) -> Response:
    """The API's ``GET /exports/{id}`` answer (JSON) for the case page's progress poll, with
    ``download``: where to download it once it is done (else null)."""
    user = await gate(request, "export")
    if not isinstance(user, WebUser):
        return user
    app = services(request)
    try:
        job = await run_in_threadpool(export_service.export_job, export_jobs.jobs_of(request, app), export_id)
    except refusals.REFUSALS as error:
        status_code, detail = refusals.refusal_answer(error)
        return JSONResponse({"detail": detail}, status_code=status_code)
    answer = export_service.ExportJob.model_validate(job).model_dump(mode="json")
    answer["download"] = f"/exports/{export_id}/download" if job["status"] == "done" else None
    return JSONResponse(answer)


@router.get("/exports/{export_id}/download", include_in_schema=False)
async def download_export(request: Request, export_id: str) -> Response:
    """The API's download behind the session's sign-in (audited ``export_download``)."""
    user = await gate(request, "export")
    if not isinstance(user, WebUser):
        return user
    app = services(request)
    try:
        return await run_in_threadpool(
            export_jobs.download, app, export_jobs.jobs_of(request, app), user.principal, export_id
        )
    except refusals.REFUSALS as error:
        problem, status_code = problem_of(error)
        return problem_page(request, user, "Not available", problem.message, status_code)
