"""``/retention``: the retention policies (the default, and per room and per directory group: keep
N days or forever), setting and removing them, and the latest disposition runs with their counts.

Setting a policy changes the one of its scope or creates it, through :mod:`cases.service` (as
the API does) over the store ``archivist retention policy set`` uses, so it is audited
(``retention_policy_create``, ``retention_policy_update``, ``retention_policy_delete``) as over
the API. Runs are what :func:`cases.retention.run_retention` records (dry runs record nothing)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive import queries
from cases import service
from cases.model import RetentionPolicy, RetentionPolicySpec
from cases.store import CaseNotFound, RetentionStore
from policies.store import PolicyStore
from search_api.web.auth import first, posted
from search_api.web.case_forms import REFUSALS, FormProblem, Problem, problem_of
from search_api.web.case_view import problem_page
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()
RUNS = 20
SUGGESTIONS = 200
KINDS = ("default", "room", "group")
POLICY_FIELDS = ("scope_kind", "scope_id", "keep", "keep_days")


def keep_days(form: dict[str, str]) -> int | None:
    """Days to keep from the form (None: forever); nothing typed is silently ignored."""
    if form["keep"] == "forever":
        if form["keep_days"]:
            raise FormProblem("choose “For a number of days” to keep events that many days, or clear the days")
        return None
    if form["keep"] != "days":
        raise FormProblem("choose how long to keep events: for a number of days, or forever")
    if not form["keep_days"]:
        raise FormProblem("type how many days to keep events, or choose forever")
    try:
        return int(form["keep_days"])
    except ValueError:
        raise FormProblem(f"{form['keep_days']!r} is not a whole number of days") from None


def policy_spec(form: dict[str, str]) -> RetentionPolicySpec:
    """The policy the form describes."""
    kind, scope_id = form["scope_kind"], form["scope_id"] or None
    if kind not in KINDS:
        raise FormProblem("choose what the policy is for: the default, a room or a group")
    if kind == "default" and scope_id:
        raise FormProblem("the default policy is for no room or group: clear the id, or choose a room or a group")
    if kind != "default" and not scope_id:
        raise FormProblem(f"type the id of the {kind} the policy is for")
    return RetentionPolicySpec.model_validate({"scope_kind": kind, "scope_id": scope_id, "keep_days": keep_days(form)})


def _policy_form(policy: RetentionPolicy) -> dict[str, str]:
    return {
        "scope_kind": policy.scope_kind,
        "scope_id": policy.scope_id or "",
        "keep": "forever" if policy.keep_days is None else "days",
        "keep_days": "" if policy.keep_days is None else str(policy.keep_days),
    }


def _suggestions(engine: Engine) -> dict[str, list[tuple[str, str]]]:
    """Room and group ids to offer in the id box (the first ones by id)."""
    groups = PolicyStore(engine).groups(limit=SUGGESTIONS)
    return {
        "rooms": queries.room_names(engine, limit=SUGGESTIONS),
        "groups": [(group.id, group.name) for group in groups],
    }


def _gather(request: Request) -> dict[str, Any]:
    app = services(request)
    store = RetentionStore(app.engine)
    return {
        "policies": store.policies(),
        "runs": store.runs(limit=RUNS),
        **_suggestions(app.engine),
    }


async def _page(
    request: Request,
    user: WebUser,
    form: dict[str, str] | None = None,
    problem: Problem | None = None,
    status_code: int = 200,
) -> Response:
    view = await run_in_threadpool(_gather, request)
    changing = request.query_params.get("change")
    if form is None:
        chosen = [policy for policy in view["policies"] if policy.id == changing]
        form = _policy_form(chosen[0]) if chosen else {"scope_kind": "default", "keep": "days"}
    context = {
        "title": "Retention",
        "may_write": user.may("retention_write"),
        "form": form,
        "problem": problem,
        "saved": request.query_params.get("saved"),
        "removed": request.query_params.get("removed"),
        "runs_shown": RUNS,
        **view,
    }
    return render(request, "retention.html", context, user=user, status_code=status_code)


@router.get("/retention", include_in_schema=False)
async def retention_page(request: Request) -> Response:
    user = await gate(request, "retention_read")
    if not isinstance(user, WebUser):
        return user
    return await _page(request, user)


@router.post("/retention/policies", include_in_schema=False)
async def set_policy(request: Request) -> Response:
    found = await posted(request, "retention_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = {name: first(fields, name) for name in POLICY_FIELDS}
    try:
        policy = await run_in_threadpool(
            service.set_policy, services(request).engine, user.principal, policy_spec(form)
        )
    except REFUSALS as error:
        problem, status_code = problem_of(error)
        return await _page(request, user, form, problem, status_code)
    return RedirectResponse(f"/retention?saved={policy.id}#policies", status_code=303)


@router.post("/retention/policies/{policy_id}/remove", include_in_schema=False)
async def remove_policy(request: Request, policy_id: str) -> Response:
    found = await posted(request, "retention_write")
    if isinstance(found, Response):
        return found
    user, _fields = found
    try:
        policy = await run_in_threadpool(service.remove_policy, services(request).engine, user.principal, policy_id)
    except CaseNotFound as error:
        problem, status_code = problem_of(error)
        return problem_page(request, user, "Not removed", problem.message, status_code)
    return RedirectResponse(f"/retention?{urlencode({'removed': policy.label})}#policies", status_code=303)
