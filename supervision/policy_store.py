"""Supervision policies in the database: every saved change a new version, none ever altered.

A policy row holds the name, the current version and whether that version is enabled; the spec
of every version is a row of ``supervision_policy_versions`` with who saved it, when and why.
Items keep the version that made them, so a report reads the policy as it was.

Writers take the policy row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions
here begin ``IMMEDIATE``) and check the version the editor started from, so two editors saving
at once cannot silently overwrite each other: the second gets :class:`PolicyConflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from supervision.model import Policy, PolicySpec
from supervision.schema import supervision_policies, supervision_policy_versions


class PolicyNotFound(LookupError):
    """No supervision policy has this id (or this version)."""


class PolicyConflict(ValueError):
    """The change cannot be made as asked: the name is taken, or the policy changed since the
    version the editor started from."""


_CURRENT = (
    select(
        supervision_policies.c.id,
        supervision_policy_versions.c.version,
        supervision_policy_versions.c.spec,
        supervision_policy_versions.c.changed_by,
        supervision_policy_versions.c.changed_at,
        supervision_policy_versions.c.comment,
    )
    .join(
        supervision_policy_versions,
        (supervision_policy_versions.c.policy_id == supervision_policies.c.id)
        & (supervision_policy_versions.c.version == supervision_policies.c.current_version),
    )
    .order_by(supervision_policies.c.name)
)


def _policy(row: Any) -> Policy:
    return Policy(
        id=row[0],
        version=row[1],
        spec=PolicySpec.model_validate(row[2]),
        changed_by=row[3],
        changed_at=row[4],
        comment=row[5],
    )


def _name_taken(connection: Connection, name: str, other_than: str | None) -> bool:
    query = select(supervision_policies.c.id).where(func.lower(supervision_policies.c.name) == name.lower())
    if other_than is not None:
        query = query.where(supervision_policies.c.id != other_than)
    return connection.execute(query.limit(1)).first() is not None


def _add_version(
    connection: Connection, policy_id: str, version: int, spec: PolicySpec, actor: str, comment: str, now: datetime
) -> Policy:
    connection.execute(
        insert(supervision_policy_versions).values(
            policy_id=policy_id,
            version=version,
            spec=spec.model_dump(mode="json"),
            changed_by=actor,
            changed_at=now,
            comment=comment,
        )
    )
    return Policy(id=policy_id, version=version, spec=spec, changed_by=actor, changed_at=now, comment=comment)


def create_policy(connection: Connection, spec: PolicySpec, actor: str, comment: str, now: datetime) -> Policy:
    """A new policy at version 1 (in the caller's transaction)."""
    if _name_taken(connection, spec.name, None):
        raise PolicyConflict(f"a supervision policy named {spec.name!r} exists already")
    policy_id = str(uuid.uuid4())
    connection.execute(
        insert(supervision_policies).values(
            id=policy_id,
            name=spec.name,
            current_version=1,
            enabled=int(spec.enabled),
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
    )
    return _add_version(connection, policy_id, 1, spec, actor, comment, now)


def update_policy(
    connection: Connection,
    policy_id: str,
    spec: PolicySpec,
    actor: str,
    comment: str,
    now: datetime,
    *,
    expected_version: int | None = None,
) -> Policy:
    """Save ``spec`` as the policy's next version. ``expected_version``: the version the editor
    started from; a policy changed since is refused (:class:`PolicyConflict`)."""
    locked = select(supervision_policies.c.current_version).where(supervision_policies.c.id == policy_id)
    if connection.dialect.name == "postgresql":
        locked = locked.with_for_update()
    current = connection.execute(locked).scalar_one_or_none()
    if current is None:
        raise PolicyNotFound(f"no supervision policy {policy_id}")
    if expected_version is not None and expected_version != current:
        raise PolicyConflict(
            f"the policy is at version {current} now, not {expected_version}: reload it and make the change again"
        )
    if _name_taken(connection, spec.name, policy_id):
        raise PolicyConflict(f"a supervision policy named {spec.name!r} exists already")
    version = current + 1
    connection.execute(
        update(supervision_policies)
        .where(supervision_policies.c.id == policy_id)
        .values(name=spec.name, current_version=version, enabled=int(spec.enabled), updated_at=now)
    )
    return _add_version(connection, policy_id, version, spec, actor, comment, now)


def get_policy(connection: Connection, policy_id: str, version: int | None = None) -> Policy:
    """The policy at ``version`` (its current version when None); :class:`PolicyNotFound` else."""
    if version is None:
        row = connection.execute(_CURRENT.where(supervision_policies.c.id == policy_id)).first()
    else:
        row = connection.execute(
            select(
                supervision_policy_versions.c.policy_id,
                supervision_policy_versions.c.version,
                supervision_policy_versions.c.spec,
                supervision_policy_versions.c.changed_by,
                supervision_policy_versions.c.changed_at,
                supervision_policy_versions.c.comment,
            ).where(
                supervision_policy_versions.c.policy_id == policy_id,
                supervision_policy_versions.c.version == version,
            )
        ).first()
    if row is None:
        shown = policy_id if version is None else f"{policy_id} version {version}"
        raise PolicyNotFound(f"no supervision policy {shown}")
    return _policy(row)


def list_policies(connection: Connection) -> list[Policy]:
    """Every policy at its current version, by name."""
    return [_policy(row) for row in connection.execute(_CURRENT)]


def enabled_policies(connection: Connection) -> list[Policy]:
    """The policies whose current version is enabled (their effective dates are the caller's
    to check against each message's time)."""
    return [_policy(row) for row in connection.execute(_CURRENT.where(supervision_policies.c.enabled == 1))]


def policy_versions(connection: Connection, policy_id: str) -> list[Policy]:
    """Every version of the policy, oldest first; :class:`PolicyNotFound` when there is none."""
    rows = connection.execute(
        select(
            supervision_policy_versions.c.policy_id,
            supervision_policy_versions.c.version,
            supervision_policy_versions.c.spec,
            supervision_policy_versions.c.changed_by,
            supervision_policy_versions.c.changed_at,
            supervision_policy_versions.c.comment,
        )
        .where(supervision_policy_versions.c.policy_id == policy_id)
        .order_by(supervision_policy_versions.c.version)
    ).all()
    if not rows:
        raise PolicyNotFound(f"no supervision policy {policy_id}")
    return [_policy(row) for row in rows]


def policies_revision(connection: Connection) -> tuple[int, datetime | None]:
    """Changes whenever any policy does (how many, and the latest change): a cache of compiled
    policies compares it to know it is stale, at the cost of one small query."""
    count, latest = connection.execute(
        select(func.count(), func.max(supervision_policies.c.updated_at)).select_from(supervision_policies)
    ).one()
    return int(count), latest


def policies_named(connection: Connection, ids: Sequence[str]) -> dict[str, str]:
    """Policy id to name, for the ids given that exist."""
    if not ids:
        return {}
    rows = connection.execute(
        select(supervision_policies.c.id, supervision_policies.c.name).where(supervision_policies.c.id.in_(list(ids)))
    )
    return {row.id: row.name for row in rows}
