"""Who a policy supervises: is a message in a policy's scope.

A message is in scope of a policy when the policy is in force at the message's time
(``effective_from`` <= time < ``effective_until``), its sender is one of ``people`` or a member of
one of ``groups`` (directory groups, subgroups included: :mod:`policies.evaluate`'s expansion), or
it is in one of ``rooms`` (empty people, groups and rooms: everybody), and one of its
directions is among the policy's ``directions``:

- ``im``: the conversation is a direct one (the event's room ``kind`` is ``im``);
- ``external``: someone outside the firm took part: the sender (a directory user marked
  ``external``, or an event whose actor says ``internal: false``), a recipient of a direct
  message, or a member of the room when the message was sent (the archive's membership
  intervals, :func:`archive.queries.room_membership_intervals`: joined <= time < left) who is an
  external directory user;
- ``internal``: otherwise.

A direct conversation has two directions (``im`` and ``internal`` or ``external``): a policy on
``im`` supervises every direct conversation, one on ``external`` every conversation with an
outsider, direct or not. Memberships are read once per batch, for the batch's rooms and span
(a :class:`Participants` per batch or per backtest), never per message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Connection

from archive.queries import room_membership_intervals
from policies.evaluate import PolicySnapshot
from policies.store import directory_in, revision_in
from supervision.model import DIRECTIONS, Direction, PolicySpec

Intervals = Mapping[str, Sequence[tuple[str, datetime | None, datetime | None]]]
"""Room id -> membership intervals (actor id, joined, left) as the archive has them."""


@dataclass(frozen=True, slots=True)
class ScopedMessage:
    """What scope reads of a message."""

    room_id: str
    room_kind: str
    sender: str
    sent_at: datetime
    sender_internal: bool = True
    """The event's own word (``actor.internal``)."""
    recipients: tuple[str, ...] = ()


def directory_snapshot(connection: Connection) -> PolicySnapshot:
    """The directory (users, groups through subgroups, who is external) as it is now, read in
    the caller's transaction."""
    return PolicySnapshot.build(directory_in(connection), (), (), revision_in(connection))


def directory_revision(connection: Connection) -> int:
    """Changes whenever the directory (or a wall or disclaimer) does: one small query."""
    return revision_in(connection)


@dataclass(frozen=True, slots=True)
class CompiledScope:
    """One policy's scope, its groups expanded to people once."""

    everybody: bool
    people: frozenset[str]
    rooms: frozenset[str]
    directions: frozenset[str]
    effective_from: datetime | None
    effective_until: datetime | None

    @classmethod
    def of(cls, spec: PolicySpec, directory: PolicySnapshot | None) -> CompiledScope:
        scope = spec.scope
        people = set(scope.people)
        for group in scope.groups:
            people |= directory.members_of(group) if directory is not None else set()
        return cls(
            everybody=not (scope.people or scope.groups or scope.rooms),
            people=frozenset(people),
            rooms=frozenset(scope.rooms),
            directions=frozenset(scope.directions),
            effective_from=spec.effective_from,
            effective_until=spec.effective_until,
        )

    @property
    def needs_participants(self) -> bool:
        """Whether ``internal`` and ``external`` must be told apart (one of them, not both)."""
        return ("internal" in self.directions) != ("external" in self.directions)

    @property
    def every_direction(self) -> bool:
        return {"internal", "external"} <= self.directions

    def in_force(self, at: datetime) -> bool:
        if self.effective_from is not None and at < self.effective_from:
            return False
        return self.effective_until is None or at < self.effective_until

    def covers_who(self, sender: str, room_id: str) -> bool:
        """The people, groups and rooms part (what a batch caches per room and sender)."""
        return self.everybody or sender in self.people or room_id in self.rooms

    def covers_direction(self, directions: frozenset[str]) -> bool:
        return not self.directions.isdisjoint(directions)


def needs_directory(specs: Iterable[PolicySpec]) -> bool:
    """Whether any scope names groups or tells internal from external (the directory is read)."""
    return any(spec.scope.groups or CompiledScope.of(spec, None).needs_participants for spec in specs)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + timedelta(days=1)


@dataclass
class Participants:
    """The directions of messages, with who was in each room read once per room and UTC day.

    ``intervals``: the rooms' membership intervals (at least those overlapping the days asked
    about); ``is_external``: whether an actor id is an external directory user."""

    intervals: Intervals
    is_external: Callable[[str], bool]
    _outsiders: dict[str, list[tuple[datetime | None, datetime | None]]] = field(default_factory=dict)

    @classmethod
    def for_messages(
        cls, connection: Connection, messages: Sequence[ScopedMessage], is_external: Callable[[str], bool]
    ) -> Participants:
        """Participants of the rooms of ``messages`` (one query for the batch)."""
        if not messages:
            return cls({}, is_external)
        first = min(m.sent_at for m in messages)
        last = max(m.sent_at for m in messages)
        start, _ = _day_bounds(first.astimezone(UTC).date())
        _, end = _day_bounds(last.astimezone(UTC).date())
        intervals = room_membership_intervals(connection, {m.room_id for m in messages}, start, end)
        return cls(intervals, is_external)

    @classmethod
    def for_rooms(
        cls,
        connection: Connection,
        room_ids: Iterable[str],
        start: datetime,
        end: datetime,
        is_external: Callable[[str], bool],
    ) -> Participants:
        """Participants of ``room_ids`` over ``[start, end]`` (a backtest's period: one query)."""
        return cls(room_membership_intervals(connection, room_ids, start, end), is_external)

    def room_has_external(self, room_id: str, at: datetime) -> bool:
        """Whether an external directory user was a member of the room at ``at`` (an interval
        open then: ``joined`` <= at < ``left``, an unknown end open). Only the room's intervals
        of external people are kept (once per room), so a message costs a look at those."""
        outsiders = self._outsiders.get(room_id)
        if outsiders is None:
            outsiders = self._outsiders[room_id] = [
                (joined, left) for actor, joined, left in self.intervals.get(room_id, ()) if self.is_external(actor)
            ]
        return any((joined is None or joined <= at) and (left is None or left > at) for joined, left in outsiders)

    def directions(self, message: ScopedMessage) -> frozenset[Direction]:
        outside = (
            not message.sender_internal
            or self.is_external(message.sender)
            or any(self.is_external(r) for r in message.recipients)
            or self.room_has_external(message.room_id, message.sent_at)
        )
        side: Direction = "external" if outside else "internal"
        return frozenset((side, "im")) if message.room_kind == "im" else frozenset((side,))


ALL_DIRECTIONS: frozenset[Direction] = frozenset(DIRECTIONS)


def in_scope(
    scope: CompiledScope, message: ScopedMessage, directions: Callable[[ScopedMessage], frozenset[Direction]]
) -> bool:
    """Whether ``message`` is in ``scope`` (``directions`` computes its directions, only when
    the scope must know them)."""
    if not scope.in_force(message.sent_at) or not scope.covers_who(message.sender, message.room_id):
        return False
    if scope.every_direction:
        return True
    if not scope.needs_participants:  # only "im" counts
        return message.room_kind == "im" and "im" in scope.directions
    return scope.covers_direction(directions(message))
