"""``/directory``: the users and groups that ethical walls and disclaimers are written against.

Changes are made by :mod:`search_api.directory_services` (the groups pages call it too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from archive.principals import Principal
from policies.model import Group, User
from search_api import directory_services
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND
from search_api.policy_services import Policies
from search_api.refusals import refusal_error, refused
from search_api.routes.policy import CONFLICT

# Ids are the directory's own (an LDAP DN, ``corp/emea``): ``:path`` keeps one with ``/`` reachable.
router = APIRouter(prefix="/directory", tags=["policies"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(allowed("policy_read"))]
Writer = Annotated[Principal, Depends(allowed("policy_write"))]
Limit = Annotated[int, Query(ge=1, le=1000)]
After = Annotated[str | None, Query(max_length=200, description="Continue after this id (keyset paging)")]


def _same_id(path_id: str, body_id: str) -> None:
    if path_id != body_id:
        raise HTTPException(
            status_code=422, detail={"message": f"the body's id {body_id!r} is not the path's {path_id!r}"}
        )


@router.get("/users", response_model=list[User], summary="Directory users, by id")
def list_users(policies: Policies, _caller: Reader, limit: Limit = 100, after: After = None) -> list[User]:
    return policies.store.users(limit=limit, after=after)


@router.get("/users/{user_id:path}", response_model=User, responses=NOT_FOUND, summary="One user")
def get_user(user_id: str, policies: Policies, _caller: Reader) -> User:
    user = policies.store.get_user(user_id)
    if user is None:
        raise refusal_error(directory_services.missing("user", user_id))
    return user


@router.put("/users/{user_id:path}", response_model=User, summary="Create or replace a user")
def put_user(user_id: str, user: User, services: Services, policies: Policies, caller: Writer) -> User:
    _same_id(user_id, user.id)
    directory_services.put_user(services, policies, caller, user)
    return user


@router.delete(
    "/users/{user_id:path}", status_code=204, responses=NOT_FOUND, summary="Remove a user (and their memberships)"
)
def delete_user(user_id: str, services: Services, policies: Policies, caller: Writer) -> Response:
    with refused:
        directory_services.delete_user(services, policies, caller, user_id)
    return Response(status_code=204)


@router.get("/groups", response_model=list[Group], summary="Directory groups, by id")
def list_groups(policies: Policies, _caller: Reader, limit: Limit = 100, after: After = None) -> list[Group]:
    return policies.store.groups(limit=limit, after=after)


@router.get("/groups/{group_id:path}", response_model=Group, responses=NOT_FOUND, summary="One group")
def get_group(group_id: str, policies: Policies, _caller: Reader) -> Group:
    group = policies.store.get_group(group_id)
    if group is None:
        raise refusal_error(directory_services.missing("group", group_id))
    return group


@router.put("/groups/{group_id:path}", response_model=Group, responses=CONFLICT, summary="Create or replace a group")
def put_group(group_id: str, group: Group, services: Services, policies: Policies, caller: Writer) -> Group:
    _same_id(group_id, group.id)
    with refused:
        directory_services.put_group(services, policies, caller, group)
    return group


@router.delete("/groups/{group_id:path}", status_code=204, responses=NOT_FOUND | CONFLICT, summary="Remove a group")
def delete_group(group_id: str, services: Services, policies: Policies, caller: Writer) -> Response:
    with refused:
        directory_services.delete_group(services, policies, caller, group_id)
    return Response(status_code=204)
