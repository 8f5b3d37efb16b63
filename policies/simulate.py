"""What-if: run a proposed wall over the archive and list where it would have blocked or alerted.

Every archived post in the window is replayed as the check its sender's chat server would have
made (``room_post`` in a room, ``im`` in an instant-message conversation) against the people
in the room at that moment (the archive's membership intervals), and every recorded join as a
``room_join`` against the people already there. Only the proposed wall is evaluated, with the
current directory; the answer groups what it would have stopped by room.

The replay goes straight to the pure wall matcher with the archive's ids as they are: a chat
server's check (:class:`CheckRequest`) refuses ids with spaces or control characters, but the
archive holds whatever ids its events carried, and a what-if must replay every one of them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Engine

from archive.activity import activity_between
from policies.evaluate import PolicySnapshot, matched_walls, strongest_mode
from policies.model import Action, Directory, Mode, Wall, WallSpec

PROPOSED_ID = "proposed"
DEFAULT_WINDOW = timedelta(days=90)
MAX_PAIRS = 20


class SimulationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wall: WallSpec
    since: AwareDatetime | None = None
    """Start of the replayed window; 90 days before ``until`` when absent."""
    until: AwareDatetime | None = None
    """End of the window (exclusive); now when absent."""
    max_rooms: int = Field(default=200, ge=1, le=10_000)

    @model_validator(mode="after")
    def _window_in_order(self) -> SimulationRequest:
        if self.since and self.until and self.until <= self.since:
            raise ValueError("until must be after since")
        return self


class SimulatedRoom(BaseModel):
    room_id: str
    room_name: str | None
    kind: str
    action: Action
    outcome: str
    """``deny`` where the wall blocks, ``allow`` where it alerts or logs."""
    mode: Mode
    events: int
    """Posts (or joins) the wall would have stopped or flagged."""
    first_at: datetime
    last_at: datetime
    pairs: list[tuple[str, str]]
    """Who would have met whom across the wall (actor, counterpart), up to 20."""


class SimulationResult(BaseModel):
    wall: Wall
    since: datetime
    until: datetime
    posts_replayed: int
    joins_replayed: int
    rooms: list[SimulatedRoom]
    truncated: bool
    """More rooms matched than ``max_rooms``; the busiest are listed."""


@dataclass
class _Tally:
    room_id: str
    action: Action
    outcome: str
    mode: Mode
    events: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    pairs: dict[tuple[str, str], None] = field(default_factory=dict)

    def add(self, at: datetime, actor: str, counterparts: Iterable[str]) -> None:
        self.events += 1
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)
        for person in counterparts:
            if len(self.pairs) < MAX_PAIRS:
                self.pairs.setdefault((actor, person))


@dataclass(frozen=True)
class _Stay:
    actor_id: str
    joined_at: datetime | None
    left_at: datetime | None
    recorded_join: bool

    def present(self, at: datetime) -> bool:
        return (self.joined_at is None or self.joined_at <= at) and (self.left_at is None or self.left_at > at)


def simulate(
    engine: Engine, directory: Directory, request: SimulationRequest, *, now: datetime | None = None
) -> SimulationResult:
    until = request.until or now or datetime.now(UTC)
    since = request.since or _window_start(until)
    wall = Wall(id=PROPOSED_ID, **request.wall.model_dump())
    snapshot = PolicySnapshot.build(directory, [wall], [])
    rooms, posts, stays = _load(engine, since, until)
    tallies: dict[tuple[str, Action], _Tally] = {}
    posts_replayed = joins_replayed = 0
    for room_id, actor_id, at in posts:
        if not snapshot.walls_of(actor_id):
            continue  # not on either side: the wall never concerns what they say
        posts_replayed += 1
        kind = rooms.get(room_id, (None, "room"))[1]
        present = [s.actor_id for s in stays.get(room_id, ()) if s.present(at) and s.actor_id != actor_id]
        if not present:
            continue
        _count(tallies, room_id, "im" if kind == "im" else "room_post", actor_id, at, present, snapshot)
    for room_id, room_stays in stays.items():
        for stay in room_stays:
            joined = stay.joined_at
            if not stay.recorded_join or joined is None or not (since <= joined < until):
                continue
            at = joined
            joins_replayed += 1
            present = [s.actor_id for s in room_stays if s.present(at) and s.actor_id != stay.actor_id]
            _count(tallies, room_id, "room_join", stay.actor_id, at, present, snapshot)
    ranked = sorted(tallies.values(), key=lambda t: (-t.events, t.room_id, t.action))
    listed = [
        SimulatedRoom(
            room_id=t.room_id,
            room_name=rooms.get(t.room_id, (None, "room"))[0],
            kind=rooms.get(t.room_id, (None, "room"))[1],
            action=t.action,
            outcome=t.outcome,
            mode=t.mode,
            events=t.events,
            first_at=t.first_at or since,
            last_at=t.last_at or since,
            pairs=list(t.pairs),
        )
        for t in ranked[: request.max_rooms]
    ]
    return SimulationResult(
        wall=wall,
        since=since,
        until=until,
        posts_replayed=posts_replayed,
        joins_replayed=joins_replayed,
        rooms=listed,
        truncated=len(ranked) > request.max_rooms,
    )


def _window_start(until: datetime) -> datetime:
    try:
        return until - DEFAULT_WINDOW
    except OverflowError:  # an `until` in the first 90 days of year 1
        return datetime.min.replace(tzinfo=UTC)


def _count(
    tallies: dict[tuple[str, Action], _Tally],
    room_id: str,
    action: Action,
    actor_id: str,
    at: datetime,
    present: Sequence[str],
    snapshot: PolicySnapshot,
) -> None:
    """Tally what the wall would have done to ``actor_id``'s ``action`` with ``present`` there
    (for ``im`` they are the targets, for a room its members: the check's counterparts)."""
    matches = matched_walls(snapshot, actor_id, action, frozenset(present), at)
    mode = strongest_mode(matches)
    if not matches or mode is None:
        return
    tally = tallies.setdefault((room_id, action), _Tally(room_id, action, "deny" if mode == "block" else "allow", mode))
    tally.add(at, actor_id, sorted({p for match in matches for p in match.counterparts}))


def _load(
    engine: Engine, since: datetime, until: datetime
) -> tuple[dict[str, tuple[str | None, str]], list[tuple[str, str, datetime]], dict[str, list[_Stay]]]:
    activity = activity_between(engine, since, until)
    rooms = {room_id: (room.name, room.kind) for room_id, room in activity.rooms.items()}
    posts = [(post.room_id, post.actor_id, post.posted_at) for post in activity.posts]
    stays: dict[str, list[_Stay]] = defaultdict(list)
    for stay in activity.stays:
        stays[stay.room_id].append(_Stay(stay.actor_id, stay.joined_at, stay.left_at, stay.recorded_join))
    return rooms, posts, stays
