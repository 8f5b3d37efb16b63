"""``/policies/groups``: the directory's groups, a new group, and a group's page where its name,
members and subgroups change and the group is removed.

Every change runs the service function of ``PUT`` or ``DELETE /api/v1/directory/groups/{id}``
(:mod:`search_api.directory_services`), so it is stored, audited with the group before and
after, and seen by the live snapshot as over the API; what the store refuses (an unknown
subgroup, a cycle, a group a wall still names) is shown with its message and the API's 409.
Group ids are free text, so they travel in the path as one (percent-encoded) segment or more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from policies.model import Group
from policies.store import PolicyStore
from search_api import directory_services
from search_api.refusals import Refused
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, services
from search_api.web.policy_forms import GROUP_CHANGES, FormProblems, GroupForm, changed_group
from search_api.web.policy_views import missing, policies_of, render_policy_page

router = APIRouter()
SECTION = "/policies/groups"
PAGE_SIZE = 100


def group_path(group_id: str) -> str:
    return "/policies/groups/" + quote(group_id, safe="")


# --- the list and a new group -----------------------------------------------------------------------


async def _list_page(
    request: Request, user: WebUser, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    after = request.query_params.get("after") or None
    groups = await run_in_threadpool(policies_of(request).store.groups, PAGE_SIZE + 1, after)
    context: dict[str, Any] = {
        "title": "Groups",
        "groups": groups[:PAGE_SIZE],
        "next_after": groups[PAGE_SIZE - 1].id if len(groups) > PAGE_SIZE else None,
        "after": after,
        "removed": request.query_params.get("removed"),
        "form": GroupForm(),
        **(extra or {}),
    }
    return render_policy_page(request, user, "groups.html", context, SECTION, status_code)


@router.get("/policies/groups", include_in_schema=False)
async def groups_page(request: Request) -> Response:
    user = await gate(request, "policy_read")
    if not isinstance(user, WebUser):
        return user
    return await _list_page(request, user)


def _create(request: Request, user: WebUser, group: Group) -> None:
    """Create ``group`` as the API puts it, refusing an id that is taken (a put would replace
    that group)."""
    if policies_of(request).store.get_group(group.id) is not None:
        raise Refused(409, f"a group with id {group.id} already exists: open it to change it")
    directory_services.put_group(services(request), policies_of(request), user.principal, group)


@router.post("/policies/groups", include_in_schema=False)
async def create_group(request: Request) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = GroupForm.of_fields(fields)
    try:
        group = form.group()
        await run_in_threadpool(_create, request, user, group)
    except FormProblems as error:
        return await _list_page(request, user, {"form": form, "problems": error.problems}, 422)
    except Refused as error:
        return await _list_page(request, user, {"form": form, "problems": {"": error.message}}, error.status)
    return RedirectResponse(group_path(group.id) + "?done=created", status_code=303)


# --- one group --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Uses:
    """What names a group: walls, disclaimer rules, and groups that have it as a subgroup."""

    walls: list[tuple[str, str]]
    disclaimers: list[tuple[str, str]]
    parents: list[str]


def uses_of(store: PolicyStore, group_id: str) -> Uses:
    directory, walls, rules, _revision = store.snapshot_inputs()
    named = [
        (wall.id, wall.name)
        for wall in walls
        if any(
            s.kind == "group" and s.id == group_id
            for s in (*wall.side_a, *wall.side_b, *(x for e in wall.exceptions for x in (*e.who, *e.with_whom)))
        )
    ]
    return Uses(
        walls=named,
        disclaimers=[(rule.id, rule.name) for rule in rules if rule.group_id == group_id],
        parents=[group.id for group in directory.groups if group_id in group.subgroups],
    )


def _group_view(request: Request, group_id: str) -> dict[str, Any] | None:
    store = policies_of(request).store
    group = store.get_group(group_id)
    if group is None:
        return None
    return {"group": group, "uses": uses_of(store, group_id)}


async def _group_page(
    request: Request, user: WebUser, group_id: str, extra: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    view = await run_in_threadpool(_group_view, request, group_id)
    if view is None:
        return missing(request, user, f"group {group_id!r} in the directory")
    done = request.query_params.get("done", "")
    context: dict[str, Any] = {
        "title": f"Group: {view['group'].name}",
        "path": group_path(group_id),
        "done": {**GROUP_CHANGES, "created": "Group created."}.get(done),
        "form": {},
        "failed": None,
        **view,
        **(extra or {}),
    }
    return render_policy_page(request, user, "group.html", context, SECTION, status_code)


@router.get("/policies/groups/{group_id:path}", include_in_schema=False)
async def group_page(request: Request, group_id: str) -> Response:
    user = await gate(request, "policy_read")
    if not isinstance(user, WebUser):
        return user
    return await _group_page(request, user, group_id)


def _apply(request: Request, user: WebUser, group_id: str, change: str, fields: dict[str, list[str]]) -> bool:
    """Make one change as the API makes it; False when the group is not there."""
    policies = policies_of(request)
    if change == "delete":
        if first(fields, "confirm") != "yes":
            raise FormProblems({"confirm": "Tick the box to confirm that the group is to be removed."})
        try:
            directory_services.delete_group(services(request), policies, user.principal, group_id)
        except Refused as error:
            if error.status == 404:
                return False
            raise
        return True
    group = policies.store.get_group(group_id)
    if group is None:
        return False
    after = changed_group(group, change, fields)
    directory_services.put_group(services(request), policies, user.principal, after)
    return True


@router.post("/policies/groups/{group_id:path}", include_in_schema=False)
async def change_group(request: Request, group_id: str) -> Response:
    found = await posted(request, "policy_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    change = first(fields, "change")
    typed = {name: first(fields, name) for name in ("name", "members", "subgroups")}
    extra: dict[str, Any] = {"form": typed, "failed": change}
    try:
        present = await run_in_threadpool(_apply, request, user, group_id, change, fields)
    except FormProblems as error:
        return await _group_page(request, user, group_id, {**extra, "problems": error.problems}, 422)
    except Refused as error:
        problems = {"": error.message}
        return await _group_page(request, user, group_id, {**extra, "problems": problems}, error.status)
    if not present:
        return missing(request, user, f"group {group_id!r} in the directory")
    if change == "delete":
        return RedirectResponse(f"{SECTION}?removed={quote(group_id, safe='')}", status_code=303)
    return RedirectResponse(f"{group_path(group_id)}?done={change}", status_code=303)
