"""``/policies/walls/{id}``: one wall, its edit form (sides, mode, scopes, dates, state, named
exceptions) and its removal.

Saving runs the service function of ``PUT /api/v1/policy/walls/{id}`` and removing that of its
``DELETE``, so each change is stored, audited with the wall before and after, and seen by the live
snapshot exactly as over the API. An edit of a wall changed since the form was opened is
refused rather than silently undoing the other change."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from policies.model import Wall
from search_api import policy_services
from search_api.refusals import Refused
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, services
from search_api.web.policy_forms import FormProblems, WallForm, unfaithful_segments
from search_api.web.policy_views import missing, policies_of, render_policy_page

router = APIRouter()


async def _wall_page(
    request: Request,
    user: WebUser,
    wall_id: str,
    extra: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    wall: Wall | None = await run_in_threadpool(policies_of(request).store.get_wall, wall_id)
    if wall is None:
        return missing(request, user, f"wall {wall_id!r}")
    context: dict[str, Any] = {
        "title": f"Wall: {wall.name}",
        "wall": wall,
        "form": WallForm.of_wall(wall, wall.version),
        "unfaithful": unfaithful_segments(wall),
        "saved": request.query_params.get("saved"),
        "delete_problem": None,
        **(extra or {}),
    }
    return render_policy_page(request, user, "policy_wall.html", context, "/policies", status_code)


@router.get("/policies/walls/{wall_id}", include_in_schema=False)
async def wall_page(request: Request, wall_id: str) -> Response:
    user = await gate(request, "policy_read")
    if not isinstance(user, WebUser):
        return user
    return await _wall_page(request, user, wall_id)


def _changed_meanwhile(current: Wall, form: WallForm) -> str | None:
    if form.version is None or form.version == current.version:
        return None
    return (
        f"Someone changed this wall (now version {current.version}) after you opened version {form.version}. "
        "Your changes are below and were not saved: reopen the wall to see theirs, then make yours again."
    )


@router.post("/policies/walls/{wall_id}", include_in_schema=False)
async def save_wall(request: Request, wall_id: str) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = WallForm.of_fields(fields)
    policies = policies_of(request)
    try:
        spec = form.spec()
        current = await run_in_threadpool(policies.store.get_wall, wall_id)
        if current is None:
            return missing(request, user, f"wall {wall_id!r}")
        conflict = _changed_meanwhile(current, form)
        if conflict:
            return await _wall_page(request, user, wall_id, {"form": form, "problems": {"": conflict}}, 409)
        wall = await run_in_threadpool(
            policy_services.update_wall, services(request), policies, user.principal, wall_id, spec
        )
    except FormProblems as error:
        return await _wall_page(request, user, wall_id, {"form": form, "problems": error.problems}, 422)
    except Refused as error:
        extra = {"form": form, "problems": {"": error.message}}
        return await _wall_page(request, user, wall_id, extra, error.status)
    return RedirectResponse(f"/policies/walls/{wall_id}?saved={wall.version}", status_code=303)


@router.post("/policies/walls/{wall_id}/delete", include_in_schema=False)
async def delete_wall(request: Request, wall_id: str) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    if first(fields, "confirm") != "yes":
        problem = "Tick the box to confirm that the wall is to be removed."
        return await _wall_page(request, user, wall_id, {"delete_problem": problem}, 422)
    try:
        app, policies = services(request), policies_of(request)
        await run_in_threadpool(policy_services.delete_wall, app, policies, user.principal, wall_id)
    except Refused as error:
        if error.status == 404:
            return missing(request, user, f"wall {wall_id!r}")
        return await _wall_page(request, user, wall_id, {"delete_problem": error.message}, error.status)
    return RedirectResponse(f"/policies?removed={wall_id}#walls", status_code=303)
