"""``/policies/simulate``: the what-if. A proposed wall (or an existing one, ``?wall=<id>``) is
replayed over the archive by the API's own ``POST /api/v1/policy/simulate`` handler (audited
``policy_simulate``), and the rooms and conversations where it would have blocked or flagged
something are listed with who would have met whom."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from policies.simulate import DEFAULT_WINDOW, SimulationResult
from search_api.routes import policy as api_policy
from search_api.web.auth import posted
from search_api.web.core import WebUser, gate, services
from search_api.web.policy_forms import FormProblems, SimulationForm, WallForm
from search_api.web.policy_views import message_of, policies_of, render_policy_page

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
            api_policy.what_if, asked, services(request), policies_of(request), user.principal
        )
    except FormProblems as error:
        return _page(request, user, form, {"problems": error.problems}, 422)
    except HTTPException as error:
        return _page(request, user, form, {"problems": {"": message_of(error)}}, error.status_code)
    return _page(request, user, form, {"result": result})
