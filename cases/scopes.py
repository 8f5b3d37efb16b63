"""What a retention policy's scope names must exist: a group policy's group is in the directory
(as a wall's groups must be). A room policy may name a room not archived yet, so that a policy
can be in place before the room's first event."""

from __future__ import annotations

from sqlalchemy import Engine

from cases.model import RetentionPolicySpec
from policies.store import PolicyStore


def unknown_scope(engine: Engine, spec: RetentionPolicySpec) -> str | None:
    """Why ``spec`` cannot be stored (its group is not in the directory), or None when it can."""
    if spec.scope_kind != "group" or spec.scope_id is None:
        return None
    if PolicyStore(engine).get_group(spec.scope_id) is None:
        return f"no directory group {spec.scope_id!r}: create it first"
    return None
