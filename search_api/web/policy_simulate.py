"""``/policies/simulate``: the what-if. A proposed wall (or an existing one, ``?wall=<id>``) is
replayed over the archive by the service function of ``POST /api/v1/policy/simulate`` (audited
``policy_simulate``), and the rooms and conversations where it would have blocked or flagged
something are listed with who would have met whom."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from policies.simulate import DEFAULT_WINDOW, SimulationResult
from search_api import policy_services
from search_api.web.auth import posted
from search_api.web.core import WebUser, gate, services
from search_api.web.policy_forms import FormProblems, SimulationForm, WallForm
from search_api.web.policy_views import policies_of, render_policy_page

router = APIRouter()
SECTION = "/policies/simulate"
OUTCOMES = {"block": "blocked", "alert": "flagged (alert)", "log": "logged"}
"""What the wall would have done to the posts and joins of a room, by its mode."""


def _page(
    request: Request,
    user: WebUser,
    form: SimulationForm,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "title": "What-if: a wall over the archive",
        "form": form,
        "result": None,
        "outcomes": OUTCOMES,
        "window_days": DEFAULT_WINDOW.days,
        **(extra or {}),
    }
    return render_policy_page(request, user, "policy_simulate.html", context, SECTION, status_code)


@router.get("/policies/simulate", include_in_schema=False)
async def simulate_page(request: Request) -> Response:
    user = await gate(request, "policy_write")
    if not isinstance(user, WebUser):
        return user
    form = SimulationForm()
    wall_id = request.query_params.get("wall")
    if wall_id:
        wall = await run_in_threadpool(policies_of(request).store.get_wall, wall_id)
        if wall is not None:
            form = SimulationForm(WallForm.of_wall(wall.model_copy(update={"enabled": True})))
    return _page(request, user, form)


@router.post("/policies/simulate", include_in_schema=False)
async def run_simulation(request: Request) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = SimulationForm.of_fields(fields)
    try:
        asked = form.request()
        result: SimulationResult = await run_in_threadpool(
            policy_services.what_if, services(request), policies_of(request), user.principal, asked
        )
    except FormProblems as error:
        return _page(request, user, form, {"problems": error.problems}, 422)
    return _page(request, user, form, {"result": result})
