"""Pure policy evaluation: may this conversation happen, and which disclaimers go with it.

:class:`PolicySnapshot` is an immutable, precomputed view of the directory, the walls and the
disclaimer rules, rebuilt whenever they change; :func:`decide` reads only the snapshot and the
request (no I/O, no clock), so a check against a room of N people costs
O(N x the walls the actor is on), whatever the total number of walls or users.

Semantics:

* Counterparts are the targets for ``im``, the room members for ``room_join`` and ``room_post``,
  and both for ``file_share``; the actor is never their own counterpart.
* Two people are across a wall when one is on side A and the other on side B. Membership of one
  side does not cancel membership of the other: someone on both sides (in both groups) is across
  from everyone else on either side, including another person on both sides. A wall never
  separates a person from themself. This is the reading that fails closed, which is what a
  compliance control should do; an exception is how an admin lets such a person through.
* An exception covers a pair in either direction: one of them in ``who`` and the other in
  ``with_whom`` (or anywhere across the wall when ``with_whom`` is empty). Exceptions only allow.
* A wall matches when it is in force at ``at``, covers the action, and the actor is across it from
  at least one counterpart that no exception covers. The outcome is deny when a matched wall
  blocks; ``mode`` is the strongest matched mode (block > alert > log).
* Disclaimers are only given with an allow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from policies.disclaimers import CompiledRule, TextVariables
from policies.model import (
    MODE_STRENGTH,
    Action,
    CheckRequest,
    Decision,
    Directory,
    Disclaimer,
    DisclaimerRule,
    Mode,
    Segment,
    User,
    Wall,
    WallMatch,
)

# --- the snapshot ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CompiledException:
    who: frozenset[str]
    with_whom: frozenset[str] | None
    """``None``: anyone across the wall."""

    def covers(self, one: str, other: str) -> bool:
        """Whether this exception lets ``one`` and ``other`` (already across the wall) talk."""
        return self._covers_from(one, other) or self._covers_from(other, one)

    def _covers_from(self, first: str, second: str) -> bool:
        return first in self.who and (self.with_whom is None or second in self.with_whom)


@dataclass(frozen=True, slots=True)
class CompiledWall:
    """A wall with its sides and exceptions expanded to user ids."""

    wall: Wall
    side_a: frozenset[str]
    side_b: frozenset[str]
    scopes: frozenset[Action]
    exceptions: tuple[CompiledException, ...]

    def applies(self, action: Action, at: datetime) -> bool:
        return action in self.scopes and self.wall.in_force(at)

    def across_from(self, actor: str, counterparts: frozenset[str]) -> list[str]:
        """The counterparts across this wall from ``actor`` that no exception covers, sorted."""
        across: set[str] = set()
        if actor in self.side_a:
            across |= self.side_b & counterparts
        if actor in self.side_b:
            across |= self.side_a & counterparts
        across.discard(actor)
        if self.exceptions:
            across = {person for person in across if not self._excepted(actor, person)}
        return sorted(across)

    def _excepted(self, one: str, other: str) -> bool:
        return any(exception.covers(one, other) for exception in self.exceptions)


@dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """Everything :func:`decide` reads, precomputed. Build it with :meth:`build`."""

    revision: int
    directory: Directory
    walls: tuple[Wall, ...]
    disclaimers: tuple[DisclaimerRule, ...]
    _users: Mapping[str, User] = field(repr=False)
    _group_members: Mapping[str, frozenset[str]] = field(repr=False)
    """Group id -> user ids, through subgroups."""
    _groups_of: Mapping[str, frozenset[str]] = field(repr=False)
    """User id -> group ids, through subgroups."""
    _walls_of: Mapping[str, tuple[CompiledWall, ...]] = field(repr=False)
    """User id -> the walls with the user on a side, by wall id."""
    _names: Mapping[str, str] = field(repr=False)
    """User id -> display name, for the directory's users."""
    _name_order: Mapping[str, tuple[str, str]] = field(repr=False)
    """User id -> (casefolded display name, id): how participants are listed."""
    _external: frozenset[str] = field(repr=False)
    _rules: tuple[CompiledRule, ...] = field(repr=False)
    """Enabled disclaimer rules by id, templates compiled."""

    @classmethod
    def build(
        cls,
        directory: Directory,
        walls: Iterable[Wall],
        disclaimers: Iterable[DisclaimerRule],
        revision: int = 0,
    ) -> PolicySnapshot:
        group_members = transitive_members(directory)
        compiled_walls = [compile_wall(wall, group_members) for wall in sorted(walls, key=lambda w: w.id)]
        rules = tuple(sorted(disclaimers, key=lambda r: r.id))
        names = {user.id: user.name or user.id for user in directory.users}
        return cls(
            revision=revision,
            directory=directory,
            walls=tuple(c.wall for c in compiled_walls),
            disclaimers=rules,
            _users={user.id: user for user in directory.users},
            _names=names,
            _name_order={user_id: (name.casefold(), user_id) for user_id, name in names.items()},
            _group_members=group_members,
            _groups_of=_invert(group_members),
            _walls_of=_index_walls(compiled_walls),
            _external=frozenset(user.id for user in directory.users if user.external),
            _rules=tuple(CompiledRule.of(rule) for rule in rules if rule.enabled),
        )

    def user(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    def name_of(self, user_id: str) -> str:
        """The display name: the directory's name, else the id."""
        return self._names.get(user_id, user_id)

    def in_name_order(self, user_ids: Iterable[str]) -> list[str]:
        """``user_ids`` by display name (case-insensitive), then id."""
        order = self._name_order
        return sorted(user_ids, key=lambda user_id: order.get(user_id) or (user_id.casefold(), user_id))

    def groups_of(self, user_id: str) -> frozenset[str]:
        """The groups ``user_id`` belongs to, directly or through subgroups."""
        return self._groups_of.get(user_id, frozenset())

    def members_of(self, group_id: str) -> frozenset[str]:
        """The users of ``group_id``, directly or through subgroups."""
        return self._group_members.get(group_id, frozenset())

    def walls_of(self, user_id: str) -> tuple[CompiledWall, ...]:
        """The walls ``user_id`` is on a side of, by wall id (whether in force or not)."""
        return self._walls_of.get(user_id, ())

    def is_external(self, user_id: str) -> bool:
        return user_id in self._external

    def any_external(self, user_ids: frozenset[str]) -> bool:
        return not self._external.isdisjoint(user_ids)

    @property
    def rules(self) -> tuple[CompiledRule, ...]:
        """The enabled disclaimer rules, by id."""
        return self._rules


def transitive_members(directory: Directory) -> dict[str, frozenset[str]]:
    """Group id -> user ids, through nested subgroups. Cycles (which the store refuses) and
    subgroups missing from the directory are tolerated: each group is visited once."""
    direct: dict[str, set[str]] = defaultdict(set)
    children: dict[str, set[str]] = defaultdict(set)
    for group in directory.groups:  # a repeated group id adds to the first
        direct[group.id].update(group.members)
        children[group.id].update(group.subgroups)
    return {group_id: frozenset(_collect_members(group_id, direct, children)) for group_id in direct}


def _collect_members(root: str, direct: Mapping[str, set[str]], children: Mapping[str, set[str]]) -> set[str]:
    members: set[str] = set()
    seen = {root}
    pending = [root]
    while pending:
        group_id = pending.pop()
        members |= direct.get(group_id, set())
        for child in children.get(group_id, ()):
            if child not in seen:
                seen.add(child)
                pending.append(child)
    return members


def _invert(group_members: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    groups_of: dict[str, set[str]] = defaultdict(set)
    for group_id, members in group_members.items():
        for user_id in members:
            groups_of[user_id].add(group_id)
    return {user_id: frozenset(groups) for user_id, groups in groups_of.items()}


def expand_segments(segments: Iterable[Segment], group_members: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The user ids of ``segments``: single users, and groups with their subgroups."""
    users: set[str] = set()
    for segment in segments:
        if segment.kind == "user":
            users.add(segment.id)
        else:
            users |= group_members.get(segment.id, frozenset())
    return frozenset(users)


def compile_wall(wall: Wall, group_members: Mapping[str, frozenset[str]]) -> CompiledWall:
    exceptions = tuple(
        CompiledException(
            who=expand_segments(exception.who, group_members),
            with_whom=expand_segments(exception.with_whom, group_members) if exception.with_whom else None,
        )
        for exception in wall.exceptions
    )
    return CompiledWall(
        wall=wall,
        side_a=expand_segments(wall.side_a, group_members),
        side_b=expand_segments(wall.side_b, group_members),
        scopes=frozenset(wall.scopes),
        exceptions=exceptions,
    )


def _index_walls(walls: Sequence[CompiledWall]) -> dict[str, tuple[CompiledWall, ...]]:
    """User id -> the walls they are on, keeping the order of ``walls`` (by id)."""
    walls_of: dict[str, list[CompiledWall]] = defaultdict(list)
    for compiled in walls:
        for user_id in compiled.side_a | compiled.side_b:
            walls_of[user_id].append(compiled)
    return {user_id: tuple(on) for user_id, on in walls_of.items()}


# --- the decision ---------------------------------------------------------------------------------


def counterparts_of(request: CheckRequest, room_members: Sequence[str]) -> tuple[str, ...]:
    """The people on the other end of ``request``, deduplicated, in the order given, never the actor."""
    if request.action == "im":
        people: Iterable[str] = request.targets
    elif request.action == "file_share":
        people = (*request.targets, *room_members)
    else:
        people = room_members
    return tuple(person for person in dict.fromkeys(people) if person != request.actor)


def matched_walls(
    snapshot: PolicySnapshot, actor: str, action: Action, counterparts: frozenset[str], at: datetime
) -> tuple[WallMatch, ...]:
    """One match per wall (by id) that separates ``actor`` from some of ``counterparts``."""
    matches: list[WallMatch] = []
    for compiled in snapshot.walls_of(actor):
        if not compiled.applies(action, at):
            continue
        across = compiled.across_from(actor, counterparts)
        if across:
            wall = compiled.wall
            matches.append(WallMatch(wall_id=wall.id, wall_name=wall.name, mode=wall.mode, counterparts=tuple(across)))
    return tuple(matches)


def strongest_mode(matches: Sequence[WallMatch]) -> Mode | None:
    return max((match.mode for match in matches), key=MODE_STRENGTH.__getitem__, default=None)


def decide(
    snapshot: PolicySnapshot,
    request: CheckRequest,
    *,
    room_members: Sequence[str] = (),
    at: datetime,
) -> Decision:
    """The decision for ``request`` at ``at`` (the caller resolves ``request.at`` or now).

    ``room_members`` are the people in the room (``request.room.members`` or the archive's);
    they are ignored for ``im``. Pure: same snapshot, request, members (in any order) and time,
    same decision.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    counterparts = counterparts_of(request, room_members)
    matches = matched_walls(snapshot, request.actor, request.action, frozenset(counterparts), at)
    mode = strongest_mode(matches)
    if mode == "block":
        return Decision(outcome="deny", mode=mode, walls=matches)
    disclaimers = disclaimers_for(snapshot, request, counterparts, at)
    return Decision(outcome="allow", mode=mode, walls=matches, disclaimers=disclaimers)


# --- disclaimers ----------------------------------------------------------------------------------


def triggers(rule: DisclaimerRule, snapshot: PolicySnapshot, action: Action, participants: frozenset[str]) -> bool:
    if not rule.enabled:
        return False
    if rule.trigger == "conversation_start":
        return action == "im"
    if rule.trigger == "room_join":
        return action == "room_join"
    if rule.trigger == "external_participant":
        return snapshot.any_external(participants)
    return rule.group_id is not None and not snapshot.members_of(rule.group_id).isdisjoint(participants)


def participant_names(snapshot: PolicySnapshot, actor: str, counterparts: Iterable[str]) -> list[str]:
    """Display names, the actor first, then the others by name (then id), so that the text does
    not depend on the order in which the chat server or the archive listed them."""
    return [snapshot.name_of(person) for person in (actor, *snapshot.in_name_order(counterparts))]


def disclaimers_for(
    snapshot: PolicySnapshot, request: CheckRequest, counterparts: Sequence[str], at: datetime
) -> tuple[Disclaimer, ...]:
    """One disclaimer per enabled rule (by id) that ``request`` triggers."""
    participants = frozenset((request.actor, *counterparts))
    triggered = [c for c in snapshot.rules if triggers(c.rule, snapshot, request.action, participants)]
    if not triggered:
        return ()
    room_name = request.room.name if request.room is not None else None
    variables = TextVariables.of(participant_names(snapshot, request.actor, counterparts), room_name, at)
    return tuple(compiled.render(request.locale, variables) for compiled in triggered)
