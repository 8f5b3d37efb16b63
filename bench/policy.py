"""Policy check latency: ethical walls and disclaimers over a large synthetic directory.

    python -m bench.policy [--checks 20000] [--seed 7] [--write]

A seeded synthetic firm (10,000 users, 500 groups of which 100 departments nest teams and other
departments, 200 walls of mixed modes, scopes, dates and exceptions, 20 disclaimer rules in three
locales) is built into a :class:`~policies.evaluate.PolicySnapshot`, then a seeded mix of checks
(instant messages to 1-3 people, posts in and joins of rooms of 5-200 members, a few file shares)
is timed one :func:`~policies.evaluate.decide` call at a time, in this process: the pure part of
``POST /api/v1/policy/check``, without HTTP, JSON or the store.

The generator and the checks are functions (:func:`synthetic_policies`, :func:`sample_checks`)
so that an over-HTTP measurement can post the same checks to a server loaded with the same rules.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bench.common import write_section
from policies.evaluate import PolicySnapshot, decide
from policies.model import (
    ACTIONS,
    Action,
    CheckRequest,
    CheckRoom,
    Directory,
    DisclaimerRule,
    Group,
    Mode,
    Segment,
    Trigger,
    User,
    Wall,
    WallException,
)

BEGIN, END = "<!-- bench/policy.py begin -->", "<!-- bench/policy.py end -->"
AT = datetime(2026, 6, 1, 12, tzinfo=UTC)
"""The moment every check is evaluated at (some walls are not yet, or no longer, in force then)."""
USERS, TEAMS, DEPARTMENTS, WALLS, RULES, ROOMS = 10_000, 400, 100, 200, 20, 300
LOCALES: tuple[str | None, ...] = ("en", "en-GB", "fr-CA", "de", None)


# --- the synthetic firm ---------------------------------------------------------------------------------


def synthetic_directory(rng: random.Random, users: int = USERS) -> Directory:
    """``users`` people in ``TEAMS`` teams (1-2 each) and ``DEPARTMENTS`` departments of 2-6
    teams; a third of the departments also nest a later department (no cycles)."""
    people = tuple(
        User(id=f"user:{n:05d}", name=f"Person {n:05d}", email=f"p{n}@bank.example", external=rng.random() < 0.03)
        for n in range(users)
    )
    team_members: list[list[str]] = [[] for _ in range(TEAMS)]
    for user in people:
        for team in rng.sample(range(TEAMS), rng.choice((1, 1, 1, 2))):
            team_members[team].append(user.id)
    teams = [
        Group(id=f"group:team-{t:03d}", name=f"Team {t}", members=tuple(members))
        for t, members in enumerate(team_members)
    ]
    departments = []
    for d in range(DEPARTMENTS):
        subgroups = [team.id for team in rng.sample(teams, rng.randint(2, 6))]
        if d + 1 < DEPARTMENTS and rng.random() < 0.33:
            subgroups.append(f"group:dept-{rng.randrange(d + 1, DEPARTMENTS):03d}")
        departments.append(Group(id=f"group:dept-{d:03d}", name=f"Department {d}", subgroups=tuple(subgroups)))
    return Directory(users=people, groups=(*teams, *departments))


def _segments(rng: random.Random, directory: Directory, count: int) -> tuple[Segment, ...]:
    chosen: list[Segment] = []
    for _ in range(count):
        if rng.random() < 0.1:
            chosen.append(Segment(kind="user", id=rng.choice(directory.users).id))
        else:
            chosen.append(Segment(kind="group", id=rng.choice(directory.groups).id))
    return tuple(chosen)


def _window(rng: random.Random) -> tuple[datetime | None, datetime | None]:
    roll = rng.random()
    if roll < 0.7:
        return None, None
    if roll < 0.8:
        return AT - timedelta(days=30), AT + timedelta(days=30)
    if roll < 0.9:
        return AT + timedelta(days=10), None  # not yet in force
    return None, AT - timedelta(days=10)  # expired


def synthetic_walls(rng: random.Random, directory: Directory, count: int = WALLS) -> list[Wall]:
    walls = []
    for n in range(count):
        effective_from, effective_until = _window(rng)
        exceptions = tuple(
            WallException(
                name=f"exception {n}.{e}",
                who=_segments(rng, directory, 1),
                with_whom=_segments(rng, directory, rng.randint(0, 2)),
            )
            for e in range(rng.choice((0, 0, 0, 1, 2)))
        )
        mode: Mode = rng.choice(("block", "block", "alert", "log"))
        scopes = ACTIONS if rng.random() < 0.6 else tuple(rng.sample(ACTIONS, rng.randint(1, 3)))
        walls.append(
            Wall(
                id=f"wall:{n:03d}",
                name=f"Wall {n}",
                side_a=_segments(rng, directory, rng.randint(1, 3)),
                side_b=_segments(rng, directory, rng.randint(1, 3)),
                mode=mode,
                scopes=scopes,
                effective_from=effective_from,
                effective_until=effective_until,
                exceptions=exceptions,
                enabled=rng.random() < 0.95,
            )
        )
    return walls


def synthetic_rules(rng: random.Random, directory: Directory, count: int = RULES) -> list[DisclaimerRule]:
    triggers: tuple[Trigger, ...] = ("conversation_start", "room_join", "external_participant", "group_membership")
    rules = []
    for n in range(count):
        trigger = triggers[n % len(triggers)]
        texts = {
            "en": "This conversation with {{ participants|join(', ') }} is recorded ({{ date }}).",
            "fr": "Cette conversation{% if room %} dans {{ room }}{% endif %} est enregistrée ({{ date }}).",
            "fr-CA": "{{ actor }}, cette conversation avec {{ participants|length }} personnes est enregistrée.",
        }
        group_id = rng.choice(directory.groups).id if trigger == "group_membership" else None
        rules.append(
            DisclaimerRule(
                id=f"disclaimer:{n:02d}",
                name=f"Disclaimer {n}",
                trigger=trigger,
                group_id=group_id,
                texts=texts,
                enabled=rng.random() < 0.9,
            )
        )
    return rules


def synthetic_policies(seed: int, users: int = USERS) -> tuple[Directory, list[Wall], list[DisclaimerRule]]:
    """The same firm for the same seed: directory, walls and disclaimer rules."""
    rng = random.Random(seed)
    directory = synthetic_directory(rng, users)
    return directory, synthetic_walls(rng, directory), synthetic_rules(rng, directory)


# --- the checks ------------------------------------------------------------------------------------------


def synthetic_rooms(rng: random.Random, directory: Directory, count: int = ROOMS) -> list[CheckRoom]:
    """Rooms of 5-200 members, most of them small; half drawn from one department's people."""
    user_ids = [user.id for user in directory.users]
    by_group = {group.id: group for group in directory.groups}
    rooms = []
    for n in range(count):
        size = min(200, max(5, int(rng.paretovariate(0.8) * 5)))
        department = by_group[f"group:dept-{rng.randrange(DEPARTMENTS):03d}"]
        pool = [m for team in department.subgroups for m in by_group[team].members] if rng.random() < 0.5 else user_ids
        members = rng.sample(pool, min(size, len(pool)))
        members += rng.sample(user_ids, size - len(members))
        rooms.append(CheckRoom(id=f"room:{n:03d}", name=f"Room {n}", members=tuple(members)))
    return rooms


def sample_checks(directory: Directory, count: int, seed: int) -> list[CheckRequest]:
    """``count`` checks: half instant messages to 1-3 people, a quarter posts, a fifth joins (by
    anyone in the firm), the rest file shares in a room. Rooms carry their members, so
    the same requests can be posted over HTTP as they are."""
    rng = random.Random(seed)
    rooms = synthetic_rooms(rng, directory)
    user_ids = [user.id for user in directory.users]
    checks = []
    for _ in range(count):
        roll = rng.random()
        locale = rng.choice(LOCALES)
        if roll < 0.5:
            actor, *targets = rng.sample(user_ids, rng.randint(2, 4))
            checks.append(CheckRequest(action="im", actor=actor, targets=tuple(targets), locale=locale, at=AT))
            continue
        room = rng.choice(rooms)
        members = room.members or ()
        action: Action = "room_post" if roll < 0.75 else "room_join" if roll < 0.95 else "file_share"
        actor = rng.choice(user_ids) if action == "room_join" else rng.choice(members)
        checks.append(CheckRequest(action=action, actor=actor, room=room, locale=locale, at=AT))
    return checks


# --- measuring --------------------------------------------------------------------------------------------


@dataclass
class Latency:
    """Per-check latencies of one path (in-process, over HTTP, ...) for one kind of check."""

    path: str
    kind: str
    micros: list[float]
    seconds: float
    """Wall time of all the checks together (their sum, when timed one by one)."""

    @property
    def p50(self) -> float:
        return percentile(self.micros, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.micros, 0.99)

    @property
    def rate(self) -> float:
        return len(self.micros) / self.seconds


def percentile(samples: Sequence[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def check_kind(request: CheckRequest) -> str:
    if request.action == "im":
        return "im"
    size = len(request.room.members or ()) if request.room else 0
    return f"{request.action}, {'≤ 50' if size <= 50 else '51-200'} members"


def per_kind(path: str, requests: Sequence[CheckRequest], micros: Sequence[float]) -> list[Latency]:
    """All checks together, then one row per kind of check."""
    kinds: dict[str, list[float]] = {}
    for request, taken in zip(requests, micros, strict=True):
        kinds.setdefault(check_kind(request), []).append(taken)
    everything = Latency(path, "all", list(micros), sum(micros) / 1e6)
    return [everything, *(Latency(path, kind, taken, sum(taken) / 1e6) for kind, taken in sorted(kinds.items()))]


def time_each(check: Callable[[CheckRequest], object], requests: Sequence[CheckRequest]) -> list[float]:
    """Microseconds per call, after one warm-up pass over the first hundred."""
    for request in requests[:100]:
        check(request)
    micros = []
    clock = time.perf_counter_ns
    for request in requests:
        started = clock()
        check(request)
        micros.append((clock() - started) / 1000)
    return micros


def in_process(snapshot: PolicySnapshot, requests: Sequence[CheckRequest]) -> list[Latency]:
    def check(request: CheckRequest) -> object:
        members = (request.room.members or ()) if request.room else ()
        return decide(snapshot, request, room_members=members, at=request.at or AT)

    return per_kind("in-process decide", requests, time_each(check, requests))


def build_seconds(directory: Directory, walls: list[Wall], rules: list[DisclaimerRule], rounds: int = 3) -> float:
    """The median time to build the snapshot (what a rule change costs before checks see it)."""
    taken = []
    for _ in range(rounds):
        started = time.perf_counter()
        PolicySnapshot.build(directory, walls, rules)
        taken.append(time.perf_counter() - started)
    return statistics.median(taken)


def outcomes(snapshot: PolicySnapshot, requests: Sequence[CheckRequest]) -> dict[str, int]:
    """How the sample decides (so a reader can tell the checks do hit walls)."""
    counted = {"deny": 0, "allow with a wall": 0, "allow": 0, "with disclaimers": 0}
    for request in requests:
        members = (request.room.members or ()) if request.room else ()
        decision = decide(snapshot, request, room_members=members, at=AT)
        outcome = decision.outcome if decision.outcome == "deny" or not decision.walls else "allow with a wall"
        counted[outcome] += 1
        counted["with disclaimers"] += bool(decision.disclaimers)
    return counted


# --- the report ---------------------------------------------------------------------------------------------


def report(rows: Sequence[Latency], build: float, snapshot: PolicySnapshot, counted: dict[str, int], seed: int) -> str:
    total = sum(counted[k] for k in ("deny", "allow with a wall", "allow"))
    walls_per_user = statistics.mean(len(snapshot.walls_of(u.id)) for u in snapshot.directory.users)
    lines = [
        BEGIN,
        "## Policy checks (`bench/policy.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"seed {seed}: {len(snapshot.directory.users):,} users, {len(snapshot.directory.groups)} groups (nested), "
        f"{len(snapshot.walls)} walls (a user is on {walls_per_user:.1f} on average), "
        f"{len(snapshot.disclaimers)} disclaimer rules; {total:,} checks, each timed on its own.",
        "",
        "| path | checks | p50 µs | p99 µs | checks/s |",
        "| --- | --- | ---: | ---: | ---: |",
        *[f"| {r.path} | {r.kind} | {r.p50:,.0f} | {r.p99:,.0f} | {r.rate:,.0f} |" for r in rows],
        "",
        f"- Snapshot build (directory, walls and rules precomputed, templates compiled): **{build * 1000:,.0f} ms**.",
        f"- Outcomes: {counted['deny']:,} denied, {counted['allow with a wall']:,} allowed with an alert or log "
        f"wall, {counted['allow']:,} allowed with no wall; {counted['with disclaimers']:,} with disclaimers.",
        "- In-process target: p99 under 1 ms.",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    directory, walls, rules = synthetic_policies(args.seed)
    build = build_seconds(directory, walls, rules)
    snapshot = PolicySnapshot.build(directory, walls, rules)
    requests = sample_checks(directory, args.checks, args.seed)
    section = report(in_process(snapshot, requests), build, snapshot, outcomes(snapshot, requests), args.seed)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


if __name__ == "__main__":
    main()
