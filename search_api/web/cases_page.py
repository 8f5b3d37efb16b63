"""``/cases``: cases, a case's legal holds (place, release) and its exports (start, progress,
download). Every change runs the API's own handler, so it is stored and audited as over the API;
an export downloads through the API's download handler too (audited ``export_download``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cases.model import Case, CaseSpec, HoldRelease, HoldScope, HoldSpec
from exports.registry import FORMAT_NAMES
from search_api.query_ast import UnsupportedQuery
from search_api.query_parser import QuerySyntaxError
from search_api.routes import cases as api_cases
from search_api.routes import exports as api_exports
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, render, services
from search_api.web.forms import id_list
from search_api.web.policies_page import explain

router = APIRouter()


def _message(error: HTTPException) -> str:
    detail = error.detail
    return str(detail.get("message")) if isinstance(detail, dict) else str(detail)


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
        start = scope.date_from.strftime("%Y-%m-%d") if scope.date_from else "the start"
        parts.append(f"from {start} to {scope.date_to.strftime('%Y-%m-%d') if scope.date_to else 'now'}")
    return "; ".join(parts) or "everything"


def _problem(request: Request, user: WebUser, title: str, message: str, status_code: int) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, user=user, status_code=status_code)


@router.get("/cases", include_in_schema=False)
async def cases_page(request: Request) -> Response:
    user = await gate(request, "cases_read")
    if not isinstance(user, WebUser):
        return user
    return await _list(request, user)


async def _list(
    request: Request, user: WebUser, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    found = await run_in_threadpool(api_cases.list_cases, services(request), user.principal)
    context = {
        "title": "Cases",
        "cases": found,
        "may_write": user.may("cases_write"),
        "form": {},
        "problem": None,
        **(extra or {}),
    }
    return render(request, "cases.html", context, user=user, status_code=status_code)


@router.post("/cases", include_in_schema=False)
async def create_case(request: Request) -> Response:
    found = await posted(request, "cases_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = {name: first(fields, name) for name in ("name", "description", "custodians", "rooms")}
    try:
        spec = CaseSpec(
            name=form["name"],
            description=form["description"],
            custodians=tuple(id_list(form["custodians"])),
            rooms=tuple(id_list(form["rooms"])),
        )
    except ValidationError as error:
        return await _list(request, user, {"form": form, "problem": explain(error)}, status_code=422)
    case = await run_in_threadpool(api_cases.create_case, spec, services(request), user.principal)
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


def _detail(request: Request, user: WebUser, case_id: str) -> dict[str, Any] | None:
    app = services(request)
    try:
        case: Case = api_cases.get_case(case_id, app, user.principal)
    except HTTPException:
        return None
    holds = api_cases.list_holds(case_id, app, user.principal)
    jobs: list[dict[str, Any]] = []
    if user.may("export"):
        jobs = [job for job in api_exports.jobs_of(request, app).list() if job["case_id"] == case_id]
    return {"case": case, "holds": holds, "jobs": jobs}


async def _case_page(
    request: Request, user: WebUser, case_id: str, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    view = await run_in_threadpool(_detail, request, user, case_id)
    if view is None:
        return _problem(request, user, "Not found", f"No case {case_id!r}.", 404)
    context = {
        "title": f"Case: {view['case'].name}",
        "may_write": user.may("cases_write"),
        "may_export": user.may("export"),
        "formats": FORMAT_NAMES,
        "scope_text": scope_text,
        "problem": None,
        "export_form": {},
        "running": any(job["status"] in ("queued", "running") for job in view["jobs"]),
        **view,
        **(extra or {}),
    }
    return render(request, "case.html", context, user=user, status_code=status_code)


@router.get("/cases/{case_id}", include_in_schema=False)
async def case_page(request: Request, case_id: str) -> Response:
    user = await gate(request, "cases_read")
    if not isinstance(user, WebUser):
        return user
    return await _case_page(request, user, case_id)


@router.post("/cases/{case_id}/holds", include_in_schema=False)
async def place_hold(request: Request, case_id: str) -> Response:
    found = await posted(request, "cases_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    try:
        spec = HoldSpec(reason=first(fields, "reason"))
        await run_in_threadpool(api_cases.place_hold, case_id, spec, services(request), user.principal)
    except ValidationError as error:
        return await _case_page(request, user, case_id, {"problem": explain(error)}, status_code=422)
    except HTTPException as error:
        return await _case_page(request, user, case_id, {"problem": _message(error)}, status_code=error.status_code)
    return RedirectResponse(f"/cases/{case_id}#holds", status_code=303)


@router.post("/cases/{case_id}/holds/{hold_id}/release", include_in_schema=False)
async def release_hold(request: Request, case_id: str, hold_id: str) -> Response:
    found = await posted(request, "cases_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    try:
        body = HoldRelease(reason=first(fields, "reason"))
        await run_in_threadpool(api_cases.release_hold, case_id, hold_id, body, services(request), user.principal)
    except ValidationError as error:
        return await _case_page(request, user, case_id, {"problem": explain(error)}, status_code=422)
    except HTTPException as error:
        return await _case_page(request, user, case_id, {"problem": _message(error)}, status_code=error.status_code)
    return RedirectResponse(f"/cases/{case_id}#holds", status_code=303)


@router.post("/cases/{case_id}/exports", include_in_schema=False)
async def start_export(request: Request, case_id: str) -> Response:
    found = await posted(request, "export")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = {"query": first(fields, "query"), "formats": fields.get("formats", [])}
    app = services(request)
    try:
        order = api_exports.ExportOrder(
            query=first(fields, "query"), formats=fields.get("formats", []), case_id=case_id
        )
        await run_in_threadpool(api_exports.start_export, order, app, api_exports.jobs_of(request, app), user.principal)
    except ValidationError as error:
        extra = {"problem": explain(error), "export_form": form}
        return await _case_page(request, user, case_id, extra, status_code=422)
    except QuerySyntaxError as error:
        extra = {"problem": f"{error.message} (at character {error.position})", "export_form": form}
        return await _case_page(request, user, case_id, extra, status_code=422)
    except UnsupportedQuery as error:
        extra = {"problem": str(error), "export_form": form}
        return await _case_page(request, user, case_id, extra, status_code=422)
    except HTTPException as error:
        extra = {"problem": _message(error), "export_form": form}
        return await _case_page(request, user, case_id, extra, status_code=error.status_code)
    return RedirectResponse(f"/cases/{case_id}#exports", status_code=303)


@router.get("/exports/{export_id}/download", include_in_schema=False)
async def download_export(request: Request, export_id: str) -> Response:
    """The API's download handler behind the session's sign-in (audited ``export_download``)."""
    user = await gate(request, "export")
    if not isinstance(user, WebUser):
        return user
    app = services(request)
    try:
        return await run_in_threadpool(
            api_exports.download_export, export_id, app, api_exports.jobs_of(request, app), user.principal
        )
    except HTTPException as error:
        return _problem(request, user, "Not available", _message(error), error.status_code)
