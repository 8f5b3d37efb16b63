"""The policy store: directory, ethical walls and disclaimer rules in the database.

Every change is one transaction that also bumps the single ``policy_revision`` counter, which
is how the evaluation layer knows its in-memory snapshot is stale. Writers take the revision
row first (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions here begin
``IMMEDIATE``), so the checks a change makes (no subgroup cycle, no wall left pointing at a
missing group) cannot be invalidated by a concurrent writer before it commits.

Integrity rules:

* a group's subgroups must exist and must not form a cycle;
* a group's member user ids need not exist (people may be put in groups before their user
  record arrives); deleting a user removes its memberships;
* a wall (any segment of either side or of an exception) and a ``group_membership``
  disclaimer may only name existing groups, and a group that a wall, a disclaimer or another
  group (as a subgroup) still names cannot be deleted: a wall silently matching nobody is a
  compliance hole. User segments may name any user id (they match that actor whatever the
  directory holds).
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from ingest.db import insert_ignoring_conflicts, is_postgresql
from policies.model import (
    Directory,
    DisclaimerRule,
    DisclaimerSpec,
    Group,
    Segment,
    User,
    Wall,
    WallSpec,
)
from policies.schema import (
    directory_group_members,
    directory_groups,
    directory_users,
    policy_disclaimer_versions,
    policy_disclaimers,
    policy_revision,
    policy_walls,
)

_CHUNK = 500
"""Ids per ``IN (...)`` list (SQLite limits bound parameters per statement)."""

_Record = TypeVar("_Record", User, Group)


class PolicyConflict(ValueError):
    """A change that would leave the policies inconsistent (a cycle, a missing group, a
    duplicate id); nothing was changed."""


class PolicyNotFound(LookupError):
    """The wall or disclaimer to update does not exist."""


@dataclass(frozen=True)
class DisclaimerVersion:
    """One stored version of a disclaimer rule and when it was saved."""

    rule: DisclaimerRule
    saved_at: datetime


@dataclass(frozen=True)
class ImportCounts:
    users_created: int = 0
    users_updated: int = 0
    users_unchanged: int = 0
    users_removed: int = 0
    groups_created: int = 0
    groups_updated: int = 0
    groups_unchanged: int = 0
    groups_removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class PolicyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- revision -------------------------------------------------------------------------------

    def revision(self) -> int:
        """The counter every change bumps (0 before the first change)."""
        with self.engine.connect() as connection:
            return _read_revision(connection)

    def snapshot_inputs(self) -> tuple[Directory, list[Wall], list[DisclaimerRule], int]:
        """The directory, walls, disclaimer rules and the revision they are at, read in one
        transaction (REPEATABLE READ on PostgreSQL, so the four agree)."""
        with self._reading() as connection:
            revision = _read_revision(connection)
            users = [_user(row) for row in connection.execute(select(directory_users).order_by(directory_users.c.id))]
            groups = _load_groups(connection, None)
            walls = [_wall(row) for row in connection.execute(select(policy_walls).order_by(policy_walls.c.id))]
            rules = [
                _disclaimer(row)
                for row in connection.execute(select(policy_disclaimers).order_by(policy_disclaimers.c.id))
            ]
        return Directory(users=tuple(users), groups=tuple(groups)), walls, rules, revision

    # --- users ----------------------------------------------------------------------------------

    def get_user(self, user_id: str) -> User | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(directory_users).where(directory_users.c.id == user_id)).first()
        return None if row is None else _user(row)

    def users(self, limit: int = 100, after: str | None = None) -> list[User]:
        """Users ordered by id, ``limit`` at a time from after the id ``after`` (keyset paging)."""
        query = select(directory_users).order_by(directory_users.c.id).limit(limit)
        if after is not None:
            query = query.where(directory_users.c.id > after)
        with self.engine.connect() as connection:
            return [_user(row) for row in connection.execute(query)]

    def put_user(self, user: User) -> User | None:
        """Create or replace a user; returns the previous version (None when new)."""
        with self._writing() as connection:
            row = connection.execute(select(directory_users).where(directory_users.c.id == user.id)).first()
            previous = None if row is None else _user(row)
            if previous is None:
                connection.execute(insert(directory_users).values(_user_row(user)))
            elif previous != user:
                connection.execute(
                    update(directory_users).where(directory_users.c.id == user.id).values(_user_row(user))
                )
            _bump(connection)
        return previous

    def delete_user(self, user_id: str) -> User | None:
        """Delete a user and its group memberships; returns what was deleted (None: nothing)."""
        with self._writing() as connection:
            row = connection.execute(select(directory_users).where(directory_users.c.id == user_id)).first()
            memberships = connection.execute(
                delete(directory_group_members).where(
                    directory_group_members.c.member_kind == "user", directory_group_members.c.member_id == user_id
                )
            ).rowcount
            if row is None and not memberships:
                return None
            connection.execute(delete(directory_users).where(directory_users.c.id == user_id))
            _bump(connection)
        return None if row is None else _user(row)

    # --- groups ---------------------------------------------------------------------------------

    def get_group(self, group_id: str) -> Group | None:
        with self.engine.connect() as connection:
            found = _load_groups(connection, [group_id])
        return found[0] if found else None

    def groups(self, limit: int = 100, after: str | None = None) -> list[Group]:
        """Groups ordered by id, ``limit`` at a time from after the id ``after``."""
        query = select(directory_groups.c.id).order_by(directory_groups.c.id).limit(limit)
        if after is not None:
            query = query.where(directory_groups.c.id > after)
        with self.engine.connect() as connection:
            ids = list(connection.execute(query).scalars())
            return _load_groups(connection, ids) if ids else []

    def put_group(self, group: Group) -> Group | None:
        """Create or replace a group; returns the previous version (None when new).

        Raises :class:`PolicyConflict` when a subgroup does not exist or the subgroups would
        form a cycle. Repeated members or subgroups are kept once, first place wins.
        """
        group = _normalised(group)
        with self._writing() as connection:
            previous_list = _load_groups(connection, [group.id])
            previous = previous_list[0] if previous_list else None
            known = _existing(connection, directory_groups.c.id, group.subgroups)
            missing = [g for g in group.subgroups if g not in known]
            if missing:
                raise PolicyConflict(f"group {group.id}: unknown subgroups {', '.join(missing)}")
            edges = _subgroup_edges(connection)
            edges[group.id] = list(group.subgroups)
            _refuse_cycles(edges, [group.id])
            if previous is None:
                connection.execute(insert(directory_groups).values(id=group.id, name=group.name))
            elif previous.name != group.name:
                connection.execute(
                    update(directory_groups).where(directory_groups.c.id == group.id).values(name=group.name)
                )
            if previous is None or previous != group:
                _replace_members(connection, [group], replace_existing=previous is not None)
            _bump(connection)
        return previous

    def delete_group(self, group_id: str) -> Group | None:
        """Delete a group (its own memberships go with it); returns what was deleted.

        Raises :class:`PolicyConflict` while a wall, a disclaimer rule or another group (as
        a subgroup) still names it.
        """
        with self._writing() as connection:
            found = _load_groups(connection, [group_id])
            if not found:
                return None
            _refuse_referenced_groups(connection, {group_id}, check_parents=True)
            connection.execute(delete(directory_group_members).where(directory_group_members.c.group_id == group_id))
            connection.execute(delete(directory_groups).where(directory_groups.c.id == group_id))
            _bump(connection)
        return found[0]

    # --- bulk import ----------------------------------------------------------------------------

    def import_directory(self, directory: Directory, *, replace: bool = False, dry_run: bool = False) -> ImportCounts:
        """Create or update every user and group of ``directory`` in one transaction.

        With ``replace``, users and groups missing from ``directory`` are removed (refused
        with :class:`PolicyConflict` when a wall or disclaimer names such a group). Subgroups
        must be in ``directory`` or, without ``replace``, already in the store; cycles are
        refused. ``dry_run`` makes every check and counts, then rolls back.
        """
        users = _unique(directory.users, "user")
        groups = [_normalised(g) for g in _unique(directory.groups, "group").values()]
        with self._writing() as connection:
            transaction = connection.get_transaction()
            existing_users = {row.id: _user(row) for row in connection.execute(select(directory_users))}
            existing_groups = {g.id: g for g in _load_groups(connection, None)}
            new_group_ids = {g.id for g in groups}
            removed_users = sorted(set(existing_users) - set(users)) if replace else []
            removed_groups = sorted(set(existing_groups) - new_group_ids) if replace else []

            known_groups = new_group_ids | (set() if replace else set(existing_groups))
            for group in groups:
                missing = [g for g in group.subgroups if g not in known_groups]
                if missing:
                    raise PolicyConflict(f"group {group.id}: unknown subgroups {', '.join(missing)}")
            edges: dict[str, list[str]] = {} if replace else {g.id: list(g.subgroups) for g in existing_groups.values()}
            edges.update({g.id: list(g.subgroups) for g in groups})
            _refuse_cycles(edges, sorted(new_group_ids))
            if removed_groups:
                _refuse_referenced_groups(connection, set(removed_groups), check_parents=False)

            created_users = [u for u in users.values() if u.id not in existing_users]
            changed_users = [u for u in users.values() if u.id in existing_users and existing_users[u.id] != u]
            created_groups = [g for g in groups if g.id not in existing_groups]
            changed_groups = [g for g in groups if g.id in existing_groups and existing_groups[g.id] != g]

            if created_users:
                connection.execute(insert(directory_users), [_user_row(u) for u in created_users])
            if changed_users:
                connection.execute(
                    update(directory_users)
                    .where(directory_users.c.id == bindparam("b_id"))
                    .values(name=bindparam("b_name"), email=bindparam("b_email"), external=bindparam("b_external")),
                    [{f"b_{k}": v for k, v in _user_row(u).items()} for u in changed_users],
                )
            # With replace, every remaining group is in ``directory``, whose member lists are the
            # truth: a removed user stays a member where the directory still lists it.
            for chunk in _chunks(removed_users):
                connection.execute(delete(directory_users).where(directory_users.c.id.in_(chunk)))
            for chunk in _chunks(removed_groups):
                connection.execute(delete(directory_group_members).where(directory_group_members.c.group_id.in_(chunk)))
                connection.execute(delete(directory_groups).where(directory_groups.c.id.in_(chunk)))
            if created_groups:
                connection.execute(insert(directory_groups), [{"id": g.id, "name": g.name} for g in created_groups])
            renamed = [g for g in changed_groups if existing_groups[g.id].name != g.name]
            if renamed:
                connection.execute(
                    update(directory_groups)
                    .where(directory_groups.c.id == bindparam("b_id"))
                    .values(name=bindparam("b_name")),
                    [{"b_id": g.id, "b_name": g.name} for g in renamed],
                )
            _replace_members(connection, created_groups, replace_existing=False)
            _replace_members(connection, changed_groups, replace_existing=True)

            counts = ImportCounts(
                users_created=len(created_users),
                users_updated=len(changed_users),
                users_unchanged=len(users) - len(created_users) - len(changed_users),
                users_removed=len(removed_users),
                groups_created=len(created_groups),
                groups_updated=len(changed_groups),
                groups_unchanged=len(groups) - len(created_groups) - len(changed_groups),
                groups_removed=len(removed_groups),
            )
            if dry_run:
                assert transaction is not None
                transaction.rollback()
                return counts
            if created_users or changed_users or removed_users or created_groups or changed_groups or removed_groups:
                _bump(connection)
        return counts

    # --- walls ----------------------------------------------------------------------------------

    def get_wall(self, wall_id: str) -> Wall | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(policy_walls).where(policy_walls.c.id == wall_id)).first()
        return None if row is None else _wall(row)

    def walls(self) -> list[Wall]:
        with self.engine.connect() as connection:
            return [_wall(row) for row in connection.execute(select(policy_walls).order_by(policy_walls.c.id))]

    def create_wall(self, spec: WallSpec, wall_id: str | None = None) -> Wall:
        """Store a new wall at version 1 (id ``wall-<8 hex>`` unless given).

        Raises :class:`PolicyConflict` for a taken id or a segment naming an unknown group.
        """
        wall = Wall.model_validate({**_spec_fields(spec, WallSpec), "id": wall_id or _new_id("wall"), "version": 1})
        now = datetime.now(UTC)
        with self._writing() as connection:
            if connection.execute(select(policy_walls.c.id).where(policy_walls.c.id == wall.id)).first():
                raise PolicyConflict(f"a wall with id {wall.id} already exists")
            _refuse_unknown_groups(connection, f"wall {wall.id}", _wall_groups(wall))
            connection.execute(
                insert(policy_walls).values(
                    id=wall.id, version=1, body=_body(wall, WallSpec), created_at=now, updated_at=now
                )
            )
            _bump(connection)
        return wall

    def update_wall(self, wall_id: str, spec: WallSpec) -> tuple[Wall, Wall]:
        """Replace a wall's spec; returns (before, after), after at version + 1.

        Raises :class:`PolicyNotFound` for an unknown id, :class:`PolicyConflict` for a segment
        naming an unknown group.
        """
        with self._writing() as connection:
            row = connection.execute(select(policy_walls).where(policy_walls.c.id == wall_id)).first()
            if row is None:
                raise PolicyNotFound(f"no wall {wall_id}")
            before = _wall(row)
            after = Wall.model_validate({**_spec_fields(spec, WallSpec), "id": wall_id, "version": before.version + 1})
            _refuse_unknown_groups(connection, f"wall {wall_id}", _wall_groups(after))
            connection.execute(
                update(policy_walls)
                .where(policy_walls.c.id == wall_id)
                .values(version=after.version, body=_body(after, WallSpec), updated_at=datetime.now(UTC))
            )
            _bump(connection)
        return before, after

    def delete_wall(self, wall_id: str) -> Wall | None:
        with self._writing() as connection:
            row = connection.execute(select(policy_walls).where(policy_walls.c.id == wall_id)).first()
            if row is None:
                return None
            connection.execute(delete(policy_walls).where(policy_walls.c.id == wall_id))
            _bump(connection)
        return _wall(row)

    # --- disclaimers ----------------------------------------------------------------------------

    def get_disclaimer(self, rule_id: str) -> DisclaimerRule | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(policy_disclaimers).where(policy_disclaimers.c.id == rule_id)).first()
        return None if row is None else _disclaimer(row)

    def disclaimers(self) -> list[DisclaimerRule]:
        with self.engine.connect() as connection:
            query = select(policy_disclaimers).order_by(policy_disclaimers.c.id)
            return [_disclaimer(row) for row in connection.execute(query)]

    def disclaimer_version(self, rule_id: str, version: int) -> DisclaimerRule | None:
        """The rule as it was at ``version``, also after later changes or its deletion."""
        query = select(policy_disclaimer_versions).where(
            policy_disclaimer_versions.c.rule_id == rule_id, policy_disclaimer_versions.c.version == version
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return DisclaimerRule.model_validate({**json.loads(row.body), "id": row.rule_id, "version": row.version})

    def disclaimer_history(self, rule_id: str, limit: int) -> list[DisclaimerVersion]:
        """The rule's stored versions, newest first (also those from before it was last re-created)."""
        columns = policy_disclaimer_versions.c
        query = (
            select(columns.version, columns.body, columns.created_at)
            .where(columns.rule_id == rule_id)
            .order_by(columns.version.desc())
            .limit(limit)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [
            DisclaimerVersion(
                DisclaimerRule.model_validate({**json.loads(row.body), "id": rule_id, "version": row.version}),
                row.created_at,
            )
            for row in rows
        ]

    def create_disclaimer(self, spec: DisclaimerSpec, rule_id: str | None = None) -> DisclaimerRule:
        """Store a new rule (id ``disclaimer-<8 hex>`` unless given) and its first version.

        A rule re-created under the id of a deleted one continues its version numbers, so a
        (rule id, version) pair always names one text. Raises :class:`PolicyConflict` for a
        taken id or a ``group_membership`` rule naming an unknown group.
        """
        rule_id = rule_id or _new_id("disclaimer")
        now = datetime.now(UTC)
        with self._writing() as connection:
            if connection.execute(select(policy_disclaimers.c.id).where(policy_disclaimers.c.id == rule_id)).first():
                raise PolicyConflict(f"a disclaimer rule with id {rule_id} already exists")
            last = connection.execute(
                select(func.max(policy_disclaimer_versions.c.version)).where(
                    policy_disclaimer_versions.c.rule_id == rule_id
                )
            ).scalar_one_or_none()
            rule = DisclaimerRule.model_validate(
                {**_spec_fields(spec, DisclaimerSpec), "id": rule_id, "version": (last or 0) + 1}
            )
            _refuse_unknown_groups(connection, f"disclaimer {rule_id}", [rule.group_id] if rule.group_id else [])
            body = _body(rule, DisclaimerSpec)
            connection.execute(
                insert(policy_disclaimers).values(
                    id=rule_id, version=rule.version, body=body, created_at=now, updated_at=now
                )
            )
            _write_version(connection, rule, body, now)
            _bump(connection)
        return rule

    def update_disclaimer(self, rule_id: str, spec: DisclaimerSpec) -> tuple[DisclaimerRule, DisclaimerRule]:
        """Replace a rule; returns (before, after), after at version + 1 with its version row."""
        now = datetime.now(UTC)
        with self._writing() as connection:
            row = connection.execute(select(policy_disclaimers).where(policy_disclaimers.c.id == rule_id)).first()
            if row is None:
                raise PolicyNotFound(f"no disclaimer rule {rule_id}")
            before = _disclaimer(row)
            after = DisclaimerRule.model_validate(
                {**_spec_fields(spec, DisclaimerSpec), "id": rule_id, "version": before.version + 1}
            )
            _refuse_unknown_groups(connection, f"disclaimer {rule_id}", [after.group_id] if after.group_id else [])
            body = _body(after, DisclaimerSpec)
            connection.execute(
                update(policy_disclaimers)
                .where(policy_disclaimers.c.id == rule_id)
                .values(version=after.version, body=body, updated_at=now)
            )
            _write_version(connection, after, body, now)
            _bump(connection)
        return before, after

    def delete_disclaimer(self, rule_id: str) -> DisclaimerRule | None:
        """Delete a rule; its versions stay readable through :meth:`disclaimer_version`."""
        with self._writing() as connection:
            row = connection.execute(select(policy_disclaimers).where(policy_disclaimers.c.id == rule_id)).first()
            if row is None:
                return None
            connection.execute(delete(policy_disclaimers).where(policy_disclaimers.c.id == rule_id))
            _bump(connection)
        return _disclaimer(row)

    # --- transactions ---------------------------------------------------------------------------

    def _writing(self) -> _Writing:
        return _Writing(self.engine)

    def _reading(self) -> _Reading:
        return _Reading(self.engine)


def revision_in(connection: Connection) -> int:
    """:meth:`PolicyStore.revision` read in the caller's transaction (a reader already inside a
    write transaction, whose second connection would wait for its own write lock on SQLite)."""
    return _read_revision(connection)


def directory_in(connection: Connection) -> Directory:
    """The directory (users and groups) read in the caller's transaction."""
    users = [_user(row) for row in connection.execute(select(directory_users).order_by(directory_users.c.id))]
    return Directory(users=tuple(users), groups=tuple(_load_groups(connection, None)))


class _Writing:
    """A write transaction that holds the revision row from its start."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._context: Any = None

    def __enter__(self) -> Connection:
        self._context = self.engine.begin()
        connection: Connection = self._context.__enter__()
        _lock_revision(connection)
        return connection

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


class _Reading:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def __enter__(self) -> Connection:
        connection = self.engine.connect()
        if is_postgresql(self.engine):
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        connection.begin()
        self._connection = connection
        return connection

    def __exit__(self, *exc: Any) -> None:
        assert self._connection is not None
        self._connection.rollback()
        self._connection.close()


# --- helpers ------------------------------------------------------------------------------------


def _read_revision(connection: Connection) -> int:
    value = connection.execute(select(policy_revision.c.revision).where(policy_revision.c.id == 1)).scalar()
    return int(value or 0)


def _lock_revision(connection: Connection) -> None:
    query = select(policy_revision.c.revision).where(policy_revision.c.id == 1).with_for_update()
    if connection.execute(query).first() is None:
        # The migration inserts the row; a database emptied table by table may have lost it.
        statement = insert_ignoring_conflicts(connection.dialect.name, policy_revision)
        connection.execute(statement.values(id=1, revision=0))
        connection.execute(query).first()


def _bump(connection: Connection) -> None:
    connection.execute(
        update(policy_revision).where(policy_revision.c.id == 1).values(revision=policy_revision.c.revision + 1)
    )


def _new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _spec_fields(spec: WallSpec | DisclaimerSpec, kind: type[WallSpec] | type[DisclaimerSpec]) -> dict[str, Any]:
    """The spec's own fields (a Wall or DisclaimerRule passed as spec loses its id and version)."""
    return spec.model_dump(include=set(kind.model_fields))


def _body(model: WallSpec | DisclaimerSpec, kind: type[WallSpec] | type[DisclaimerSpec]) -> str:
    return model.model_dump_json(include=set(kind.model_fields))


def _wall(row: Any) -> Wall:
    return Wall.model_validate({**json.loads(row.body), "id": row.id, "version": row.version})


def _disclaimer(row: Any) -> DisclaimerRule:
    return DisclaimerRule.model_validate({**json.loads(row.body), "id": row.id, "version": row.version})


def _write_version(connection: Connection, rule: DisclaimerRule, body: str, now: datetime) -> None:
    connection.execute(
        insert(policy_disclaimer_versions).values(rule_id=rule.id, version=rule.version, body=body, created_at=now)
    )


def _user(row: Any) -> User:
    return User(id=row.id, name=row.name, email=row.email, external=bool(row.external))


def _user_row(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.name, "email": user.email, "external": user.external}


def _normalised(group: Group) -> Group:
    members = tuple(dict.fromkeys(group.members))
    subgroups = tuple(dict.fromkeys(group.subgroups))
    if members == group.members and subgroups == group.subgroups:
        return group
    return group.model_copy(update={"members": members, "subgroups": subgroups})


def _unique(items: Iterable[_Record], what: str) -> dict[str, _Record]:
    found: dict[str, _Record] = {}
    for item in items:
        if item.id in found:
            raise PolicyConflict(f"{what} {item.id} appears twice in the directory")
        found[item.id] = item
    return found


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def _existing(connection: Connection, column: Any, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(ids))):
        found.update(connection.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def _load_groups(connection: Connection, ids: Sequence[str] | None) -> list[Group]:
    """Groups by id order (all of them when ``ids`` is None), members in their stored order."""
    names: dict[str, str] = {}
    members: dict[str, list[str]] = defaultdict(list)
    subgroups: dict[str, list[str]] = defaultdict(list)
    member_query = select(
        directory_group_members.c.group_id, directory_group_members.c.member_kind, directory_group_members.c.member_id
    ).order_by(directory_group_members.c.group_id, directory_group_members.c.position)
    batches: list[list[str] | None] = [None] if ids is None else list(_chunks(list(ids)))
    for chunk in batches:
        group_query = select(directory_groups.c.id, directory_groups.c.name)
        chunk_members = member_query
        if chunk is not None:
            group_query = group_query.where(directory_groups.c.id.in_(chunk))
            chunk_members = member_query.where(directory_group_members.c.group_id.in_(chunk))
        names.update({row.id: row.name for row in connection.execute(group_query)})
        for row in connection.execute(chunk_members):
            (members if row.member_kind == "user" else subgroups)[row.group_id].append(row.member_id)
    return [
        Group(id=group_id, name=names[group_id], members=tuple(members[group_id]), subgroups=tuple(subgroups[group_id]))
        for group_id in sorted(names)
    ]


def _replace_members(connection: Connection, groups: Sequence[Group], *, replace_existing: bool) -> None:
    if not groups:
        return
    if replace_existing:
        for chunk in _chunks([g.id for g in groups]):
            connection.execute(delete(directory_group_members).where(directory_group_members.c.group_id.in_(chunk)))
    rows = [
        {"group_id": g.id, "member_kind": kind, "member_id": member_id, "position": position}
        for g in groups
        for kind, ids in (("user", g.members), ("group", g.subgroups))
        for position, member_id in enumerate(ids)
    ]
    if rows:
        connection.execute(insert(directory_group_members), rows)


def _subgroup_edges(connection: Connection) -> dict[str, list[str]]:
    edges: dict[str, list[str]] = defaultdict(list)
    query = (
        select(directory_group_members.c.group_id, directory_group_members.c.member_id)
        .where(directory_group_members.c.member_kind == "group")
        .order_by(directory_group_members.c.group_id, directory_group_members.c.position)
    )
    for row in connection.execute(query):
        edges[row.group_id].append(row.member_id)
    return edges


def _refuse_cycles(edges: Mapping[str, Sequence[str]], starts: Iterable[str]) -> None:
    """Raise PolicyConflict naming the first subgroup cycle reachable from ``starts``."""
    done: set[str] = set()
    for start in starts:
        if start in done:
            continue
        # Iterative depth-first search; ``path`` is the current chain of groups.
        path: list[str] = [start]
        on_path = {start}
        stack: list[Iterator[str]] = [iter(edges.get(start, ()))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if child in on_path:
                cycle = path[path.index(child) :] + [child]
                raise PolicyConflict("subgroup cycle: " + " -> ".join(cycle))
            if child in done:
                continue
            path.append(child)
            on_path.add(child)
            stack.append(iter(edges.get(child, ())))


def _wall_groups(wall: WallSpec) -> list[str]:
    segments: list[Segment] = [*wall.side_a, *wall.side_b]
    for exception in wall.exceptions:
        segments.extend(exception.who)
        segments.extend(exception.with_whom)
    return list(dict.fromkeys(s.id for s in segments if s.kind == "group"))


def _refuse_unknown_groups(connection: Connection, what: str, group_ids: Sequence[str]) -> None:
    if not group_ids:
        return
    known = _existing(connection, directory_groups.c.id, group_ids)
    missing = [g for g in group_ids if g not in known]
    if missing:
        raise PolicyConflict(f"{what} names unknown group{'s' if len(missing) > 1 else ''} {', '.join(missing)}")


def _refuse_referenced_groups(connection: Connection, group_ids: set[str], *, check_parents: bool) -> None:
    """Refuse removing groups that walls, disclaimer rules or (``check_parents``) other groups
    still name."""
    problems: list[str] = []
    for wall in (_wall(row) for row in connection.execute(select(policy_walls).order_by(policy_walls.c.id))):
        named = sorted(group_ids.intersection(_wall_groups(wall)))
        if named:
            problems.append(f"wall {wall.id} ({wall.name}) names {', '.join(named)}")
    for row in connection.execute(select(policy_disclaimers).order_by(policy_disclaimers.c.id)):
        rule = _disclaimer(row)
        if rule.group_id in group_ids:
            problems.append(f"disclaimer {rule.id} ({rule.name}) names {rule.group_id}")
    if check_parents:
        parents = connection.execute(
            select(directory_group_members.c.group_id, directory_group_members.c.member_id)
            .where(directory_group_members.c.member_kind == "group")
            .where(directory_group_members.c.member_id.in_(sorted(group_ids)))
            .order_by(directory_group_members.c.group_id)
        )
        problems.extend(f"group {row.group_id} has {row.member_id} as a subgroup" for row in parents)
    if problems:
        raise PolicyConflict(f"cannot remove {', '.join(sorted(group_ids))}: " + "; ".join(problems))
