"""Policy checks for chat servers: the current rule snapshot, the decision, and its record.

The decision itself is pure (:func:`policies.evaluate.decide` over an immutable snapshot);
this module keeps the snapshot current and turns what must be recorded into compliance events
that go through the normal pipeline into the archive (``type:policy_decision`` and
``type:disclaimer`` are searchable like any other event).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ingest.events import (
    SCHEMA_VERSION,
    Actor,
    DisclaimerEvent,
    DisclaimerShown,
    Event,
    PolicyDecision,
    PolicyDecisionEvent,
    Room,
    Source,
)
from ingest.group_commit import GroupCommit
from ingest.sink import EventSink
from policies.evaluate import PolicySnapshot, decide
from policies.model import CheckRequest, Decision
from policies.store import PolicyStore

SOURCE = Source(server="archivist-policy")


class SnapshotHolder:
    """The rules as one immutable snapshot, rebuilt when they change.

    A change made through this process replaces the snapshot at once (:meth:`refresh`); a
    change made by another process (another API worker, the CLI) is seen within ``max_age``
    seconds, when the next check finds the store's revision moved. Checks in between read
    memory only: no database round trip per check.
    """

    def __init__(
        self, store: PolicyStore, *, max_age: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._snapshot: PolicySnapshot | None = None
        self._checked_at = float("-inf")

    def fresh(self) -> PolicySnapshot | None:
        """The snapshot when it needs no look at the store (no I/O: safe on an event loop)."""
        snapshot = self._snapshot
        if snapshot is not None and self.clock() - self._checked_at < self.max_age:
            return snapshot
        return None

    def current(self) -> PolicySnapshot:
        snapshot = self._snapshot
        if snapshot is not None and self.clock() - self._checked_at < self.max_age:
            return snapshot
        with self._lock:
            if self._snapshot is None or self.clock() - self._checked_at >= self.max_age:
                if self._snapshot is None or self.store.revision() != self._snapshot.revision:
                    self._snapshot = self._build()
                self._checked_at = self.clock()
            return self._snapshot

    def refresh(self) -> PolicySnapshot:
        with self._lock:
            self._snapshot = self._build()
            self._checked_at = self.clock()
            return self._snapshot

    def _build(self) -> PolicySnapshot:
        directory, walls, disclaimers, revision = self.store.snapshot_inputs()
        return PolicySnapshot.build(directory, walls, disclaimers, revision=revision)


class GroupCommitSink(GroupCommit[Event]):
    """Records of concurrent checks made durable together: one staging commit (one fsync) for
    all the checks waiting, instead of one each (see :class:`ingest.group_commit.GroupCommit`)."""

    def __init__(self, sink: EventSink, *, max_batch: int = 1000) -> None:
        super().__init__(sink.submit, name="policy-records", max_batch=max_batch)
        self.sink = sink

    def close(self) -> None:
        self.sink.close()


@dataclass(frozen=True)
class CheckOutcome:
    decision: Decision
    at: datetime
    room_members: tuple[str, ...]
    recorded: tuple[Event, ...]
    """The events published for this check (a decision that matched a wall, each disclaimer)."""


def counterpart_members(
    request: CheckRequest, archive_members: Callable[[str, datetime], Sequence[str]], at: datetime
) -> tuple[str, ...]:
    """The room's people for a room check: as the chat server sent them, else from the archive."""
    if request.room is None:
        return ()
    if request.room.members is not None:
        return request.room.members
    return tuple(archive_members(request.room.id, at))


def check(
    snapshot: PolicySnapshot,
    request: CheckRequest,
    *,
    archive_members: Callable[[str, datetime], Sequence[str]],
    sink: EventSink,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CheckOutcome:
    """Decide, then make the record durable (before the chat server hears the answer)."""
    at = request.at or now()
    outcome = prepare(snapshot, request, counterpart_members(request, archive_members, at), at)
    if outcome.recorded:
        sink.submit(outcome.recorded)
    return outcome


def prepare(snapshot: PolicySnapshot, request: CheckRequest, members: tuple[str, ...], at: datetime) -> CheckOutcome:
    """The decision and the events that must be recorded before it is answered (no I/O)."""
    decision = decide(snapshot, request, room_members=members, at=at)
    return CheckOutcome(decision, at, members, tuple(decision_events(snapshot, request, decision, at)))


def decision_events(snapshot: PolicySnapshot, request: CheckRequest, decision: Decision, at: datetime) -> list[Event]:
    """The compliance events a decision leaves: one ``policy_decision`` when any wall matched
    (block, alert or log: all three modes record), one ``disclaimer`` per disclaimer shown."""
    room = conversation_room(request)
    user = snapshot.user(request.actor)
    actor = Actor(
        id=request.actor,
        name=snapshot.name_of(request.actor),
        email=user.email if user else None,
        internal=not (user.external if user else False),
    )
    events: list[Event] = []
    if decision.walls and decision.mode is not None:
        across = sorted({person for match in decision.walls for person in match.counterparts})
        events.append(
            PolicyDecisionEvent(
                schema_version=SCHEMA_VERSION,
                event_id=uuid.uuid4(),
                occurred_at=at,
                room=room,
                actor=actor,
                source=SOURCE,
                type="policy_decision",
                decision=PolicyDecision(
                    action=request.action,
                    outcome=decision.outcome,
                    mode=decision.mode,
                    wall_ids=tuple(match.wall_id for match in decision.walls),
                    targets=tuple(across),
                ),
            )
        )
    for shown in decision.disclaimers:
        events.append(
            DisclaimerEvent(
                schema_version=SCHEMA_VERSION,
                event_id=uuid.uuid4(),
                occurred_at=at,
                room=room,
                actor=actor,
                source=SOURCE,
                type="disclaimer",
                disclaimer=DisclaimerShown(
                    rule_id=shown.rule_id, version=shown.version, locale=shown.locale, text=shown.text
                ),
            )
        )
    return events


def conversation_room(request: CheckRequest) -> Room:
    """The room an event about this check belongs to; an instant message between people who
    have no room yet is filed under one id per set of participants, as chat servers do."""
    if request.room is not None:
        return Room(id=request.room.id, name=request.room.name, kind="room" if request.action != "im" else "im")
    people = sorted({request.actor, *request.targets})
    return Room(id="im:" + "+".join(people), name=None, kind="im")
