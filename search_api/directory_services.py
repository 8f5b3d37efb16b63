"""What the ``/directory`` routes and the groups pages change in the directory the rules are
written against: users and groups, each change stored, audited with before and after, and seen
by the live snapshot. What the store refuses is :class:`~search_api.refusals.Refused`."""

from __future__ import annotations

from archive.principals import Principal
from policies.model import Group, User
from policies.store import PolicyConflict
from search_api.deps import AppServices
from search_api.policy_services import PolicyServices, conflict, record_change
from search_api.refusals import Refused


def missing(kind: str, item_id: str) -> Refused:
    return Refused(404, f"no {kind} {item_id!r} in the directory")


def put_user(services: AppServices, policies: PolicyServices, caller: Principal, user: User) -> None:
    """Create or replace ``user``."""
    before = policies.store.put_user(user)
    record_change(services, policies, caller, "directory_user_put", before, user)


def delete_user(services: AppServices, policies: PolicyServices, caller: Principal, user_id: str) -> None:
    """Remove the user and their memberships."""
    before = policies.store.delete_user(user_id)
    if before is None:
        raise missing("user", user_id)
    record_change(services, policies, caller, "directory_user_delete", before, None)


def put_group(services: AppServices, policies: PolicyServices, caller: Principal, group: Group) -> None:
    """Create or replace ``group``."""
    try:
        before = policies.store.put_group(group)
    except PolicyConflict as error:
        raise conflict(error) from None
    record_change(services, policies, caller, "directory_group_put", before, group)


def delete_group(services: AppServices, policies: PolicyServices, caller: Principal, group_id: str) -> None:
    try:
        before = policies.store.delete_group(group_id)
    except PolicyConflict as error:
        raise conflict(error) from None
    if before is None:
        raise missing("group", group_id)
    record_change(services, policies, caller, "directory_group_delete", before, None)
