"""``/policies``: ethical walls, the directory's groups, a form to add a wall, a "try a check"
form and the latest archived policy decisions; the other policies pages (a wall's page,
disclaimers, groups, the what-if) are in the ``policy_*`` modules and included here.

Adding a wall and a check run the service functions of ``POST /api/v1/policy/walls`` and
``POST /api/v1/policy/check`` (:mod:`search_api.policy_services`), so both are stored, recorded,
audited and seen by the live snapshot exactly as over the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive import queries as archive_queries
from policies.model import CheckRequest, CheckRoom
from search_api import policy_services
from search_api.policy_services import PolicyServices
from search_api.refusals import Refused
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, services
from search_api.web.forms import id_list
from search_api.web.policy_disclaimers import router as disclaimers_router
from search_api.web.policy_forms import FormProblems, WallForm
from search_api.web.policy_forms import explain as explain
from search_api.web.policy_forms import segments as segments
from search_api.web.policy_groups import router as groups_router
from search_api.web.policy_simulate import router as simulate_router
from search_api.web.policy_views import policies_of, render_policy_page
from search_api.web.policy_walls import router as walls_router

router = APIRouter()
RECENT = 20
MAX_GROUPS = 200


def recent_decisions(engine: Engine, limit: int = RECENT) -> list[dict[str, Any]]:
    """The latest archived ``policy_decision`` events (ones still in staging are not here yet),
    each as the pages list it."""
    found = []
    for row in archive_queries.policy_decisions(engine, limit):
        decision = row["decision"]
        found.append(
            {
                "at": row["at"],
                "actor": row["actor"],
                "room": row["room"],
                "action": decision.get("action"),
                "outcome": decision.get("outcome"),
                "mode": decision.get("mode"),
                "walls": ", ".join(decision.get("wall_ids", [])),
                "targets": ", ".join(decision.get("targets", [])),
            }
        )
    return found


def gather(policies: PolicyServices, engine: Engine) -> dict[str, Any]:
    walls = policies.store.walls()
    return {
        "walls": walls,
        "wall_names": {wall.id: wall.name for wall in walls},
        "groups": policies.store.groups(limit=MAX_GROUPS),
        "max_groups": MAX_GROUPS,
        "decisions": recent_decisions(engine),
    }


async def _page(
    request: Request, user: WebUser, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    view = await run_in_threadpool(gather, policies_of(request), services(request).engine)
    context: dict[str, Any] = {
        "title": "Policies",
        "may_check": user.may("policy_check"),
        "added": request.query_params.get("added"),
        "removed": request.query_params.get("removed"),
        "wall_form": WallForm(),
        "check_form": {},
        "check_problem": None,
        "check_result": None,
        **view,
        **(extra or {}),
    }
    return render_policy_page(request, user, "policies.html", context, "/policies", status_code)


@router.get("/policies", include_in_schema=False)
async def policies_page(request: Request) -> Response:
    user = await gate(request, "policy_read")
    if not isinstance(user, WebUser):
        return user
    return await _page(request, user)


@router.post("/policies/walls", include_in_schema=False)
async def add_wall(request: Request) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = WallForm.of_fields(fields)
    try:
        spec = form.spec()
        wall = await run_in_threadpool(
            policy_services.create_wall, services(request), policies_of(request), user.principal, spec
        )
    except FormProblems as error:
        return await _page(request, user, {"wall_form": form, "problems": error.problems}, status_code=422)
    except Refused as error:
        extra = {"wall_form": form, "problems": {"": error.message}}
        return await _page(request, user, extra, status_code=error.status)
    return RedirectResponse(f"/policies?added={wall.id}#walls", status_code=303)


@router.post("/policies/check", include_in_schema=False)
async def try_check(request: Request) -> Response:
    found = await posted(request, "policy_check")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = {name: first(fields, name) for name in ("action", "actor", "targets", "room")}
    try:
        asked = CheckRequest(
            action=form["action"],
            actor=form["actor"],
            targets=tuple(id_list(form["targets"])),
            room=CheckRoom(id=form["room"]) if form["room"] else None,
        )
    except ValidationError as error:
        return await _page(request, user, {"check_form": form, "check_problem": explain(error)}, status_code=422)
    try:
        answer = await policy_services.check(services(request), policies_of(request), user.principal, asked)
    except Refused as error:
        extra = {"check_form": form, "check_problem": error.message}
        return await _page(request, user, extra, status_code=error.status)
    return await _page(request, user, {"check_form": form, "check_result": answer})


for _section in (walls_router, disclaimers_router, groups_router, simulate_router):
    router.include_router(_section)
