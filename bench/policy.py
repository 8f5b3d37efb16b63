"""Policy check latency: ethical walls and disclaimers over a large synthetic directory.

    python -m bench.policy [--checks 20000] [--seed 7] [--rate 500] [--seconds 20] [--no-http] [--write]

A seeded synthetic firm (10,000 users, 500 groups of which 100 departments nest teams and other
departments, 200 walls of mixed modes, scopes, dates and exceptions, 20 disclaimer rules in three
locales) is built into a :class:`~policies.evaluate.PolicySnapshot`, then a seeded mix of checks
(instant messages to 1-3 people, posts in and joins of rooms of 5-200 members, a few file shares)
is timed one :func:`~policies.evaluate.decide` call at a time, in this process: the pure part of
``POST /api/v1/policy/check``, without HTTP, JSON or the store.

Then over HTTP: the same rules are loaded into a fresh embedded database (SQLite), ``archivist
serve`` is started over it in a subprocess, and a load generator in another process posts the same
checks to ``POST /api/v1/policy/check`` with an ``ingest`` token: open loop at a fixed rate (each
latency counted from the request's scheduled send time, so a slow answer cannot hide the ones
queued behind it), then closed loop (N clients as fast as they can) for the most the server
sustains. What the server does per check is all measured: token check, validation, the decision,
the ``policy_decision``/``disclaimer`` events written to staging, the audit entry for block and
alert decisions, and the JSON answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ParamSpec

import httpx
from sqlalchemy import func, select

from archive.app_schema import audit_log
from archive.principals import create_token
from archivist.migrate import upgrade
from bench.common import write_section
from bench.raw_http import RawHttpClient, RawHttpError
from ingest.db import create_db_engine
from ingest.staging import staged_events
from policies.evaluate import PolicySnapshot, decide
from policies.model import (
    ACTIONS,
    Action,
    CheckRequest,
    CheckRoom,
    Directory,
    DisclaimerRule,
    DisclaimerSpec,
    Group,
    Mode,
    Segment,
    Trigger,
    User,
    Wall,
    WallException,
    WallSpec,
)
from policies.store import PolicyStore

P = ParamSpec("P")
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


# --- over HTTP --------------------------------------------------------------------------------------------

CHECK_PATH = "/api/v1/policy/check"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def load_policies(url: str, directory: Directory, walls: Sequence[Wall], rules: Sequence[DisclaimerRule]) -> str:
    """Migrate the database at ``url``, store the firm's directory, walls and disclaimer rules
    in it (under their synthetic ids), and return a new ``ingest`` token."""
    engine = create_db_engine(url)
    try:
        upgrade(engine)
        store = PolicyStore(engine)
        store.import_directory(directory)
        for wall in walls:
            store.create_wall(WallSpec.model_validate(wall.model_dump(exclude={"id", "version"})), wall_id=wall.id)
        for rule in rules:
            spec = DisclaimerSpec.model_validate(rule.model_dump(exclude={"id", "version"}))
            store.create_disclaimer(spec, rule_id=rule.id)
        return create_token(engine, "ingest", "bench")
    finally:
        engine.dispose()


@contextmanager
def policy_server(
    workdir: Path, directory: Directory, walls: Sequence[Wall], rules: Sequence[DisclaimerRule]
) -> Iterator[tuple[str, str]]:
    """`archivist serve` over a fresh embedded data dir in ``workdir`` loaded with the rules;
    yields (base URL, ingest token) once it answers."""
    token = load_policies(database_url(workdir), directory, walls, rules)
    port = _free_port()
    environment = {
        **os.environ,
        "ARCHIVIST_DATA_DIR": str(workdir),
        "ARCHIVIST_DATABASE_URL": "",
        "ARCHIVIST_BROKER_URL": "",
        "ARCHIVIST_ELASTICSEARCH_URL": "",
        "ARCHIVIST_CONFIG": str(workdir / "absent.toml"),
    }
    command = [sys.executable, "-m", "archivist", "serve", "--port", str(port)]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/openapi.json", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None:
                    raise RuntimeError(f"archivist serve exited with {server.returncode}") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("archivist serve did not start")
        yield base, token
    finally:
        server.terminate()
        server.wait(timeout=30)


def database_url(workdir: Path) -> str:
    return f"sqlite:///{(workdir / 'archivist.sqlite3').resolve()}"


def recorded(workdir: Path) -> tuple[int, int]:
    """Events staged and audit entries written by the server so far."""
    engine = create_db_engine(database_url(workdir))
    try:
        with engine.connect() as connection:
            events = connection.execute(select(func.count()).select_from(staged_events)).scalar_one()
            audits = connection.execute(select(func.count()).select_from(audit_log)).scalar_one()
            return int(events), int(audits)
    finally:
        engine.dispose()


@dataclass
class LoadResult:
    """What one load run saw: per measured request, which body it sent, its latency, its status."""

    load: str
    indices: list[int]
    millis: list[float]
    statuses: list[int]
    """HTTP status, or 0 when no answer came (the exception's name is counted in ``failures``)."""
    seconds: float
    """From the first measured send (scheduled, in open loop) to the last answer."""
    failures: dict[str, int] = field(default_factory=dict)
    late_sends: int = 0
    sent: int = 0
    """Every request of the run, warm-up included."""
    """Open loop: requests queued more than 1 ms after their scheduled time (generator behind)."""

    @property
    def rate(self) -> float:
        return len(self.millis) / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> dict[str, int]:
        """Every answer other than 200, by status (or exception name)."""
        counted = dict(self.failures)
        for status in self.statuses:
            if status not in (0, 200):
                counted[str(status)] = counted.get(str(status), 0) + 1
        return counted


def _client(base: str, token: str, connections: int) -> RawHttpClient:
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    return RawHttpClient(base, headers, connections)


async def _post(client: RawHttpClient, request: bytes, failures: dict[str, int]) -> int:
    try:
        return await client.send(request)
    except RawHttpError as error:
        failures[str(error)[:60]] = failures.get(str(error)[:60], 0) + 1
        return 0


async def _open_loop(
    base: str, token: str, bodies: Sequence[bytes], rate: float, seconds: float, warmup: float, connections: int
) -> LoadResult:
    failures: dict[str, int] = {}
    skip = int(warmup * rate)
    total = skip + int(seconds * rate)
    loop = asyncio.get_running_loop()
    answers: list[tuple[int, float, float, int]] = []
    late = 0

    due: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def sender() -> None:
        # One per connection, taking the next due request from a plain FIFO (letting thousands
        # of requests wait inside the client's pool instead makes the client itself the bottleneck).
        while (item := await due.get()) is not None:
            index, scheduled = item
            status = await _post(client, requests[index % len(requests)], failures if index >= skip else {})
            answers.append((index, scheduled, loop.time(), status))

    client = _client(base, token, connections)
    requests = [client.request(CHECK_PATH, body) for body in bodies]
    try:
        senders = [asyncio.create_task(sender()) for _ in range(connections)]
        start = loop.time() + 0.1
        for index in range(total):
            scheduled = start + index / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif index >= skip and -delay > 0.001:
                late += 1
            due.put_nowait((index, scheduled))
        for _ in senders:
            due.put_nowait(None)
        await asyncio.gather(*senders)
    finally:
        await client.close()
    measured = sorted(a for a in answers if a[0] >= skip)
    first = start + skip / rate
    return LoadResult(
        load=f"open loop at {rate:,.0f}/s, up to {connections} connections",
        indices=[a[0] % len(bodies) for a in measured],
        millis=[(done - scheduled) * 1000 for _, scheduled, done, _ in measured],
        statuses=[a[3] for a in measured],
        seconds=max(a[2] for a in measured) - first,
        failures=failures,
        late_sends=late,
        sent=total,
    )


def open_loop(
    base: str, token: str, bodies: Sequence[bytes], rate: float, seconds: float, warmup: float, connections: int
) -> LoadResult:
    """Post ``bodies`` (cycled) at ``rate`` per second for ``warmup`` then ``seconds`` seconds,
    never waiting for an answer before the next send; only the requests after the warm-up count,
    each from its scheduled send time to its answer."""
    return asyncio.run(_open_loop(base, token, bodies, rate, seconds, warmup, connections))


async def _closed_loop(base: str, token: str, bodies: Sequence[bytes], clients: int, seconds: float) -> LoadResult:
    failures: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    answers: list[tuple[int, float, int]] = []
    counter = iter(range(sys.maxsize))

    sent = 0

    async def client_loop(until: float, keep: bool) -> None:
        nonlocal sent
        while loop.time() < until:
            index = next(counter) % len(bodies)
            started = loop.time()
            status = await _post(client, requests[index], failures if keep else {})
            sent += 1
            if keep:
                answers.append((index, (loop.time() - started) * 1000, status))

    client = _client(base, token, clients)
    requests = [client.request(CHECK_PATH, body) for body in bodies]
    try:
        warm_until = loop.time() + 1
        await asyncio.gather(*(client_loop(warm_until, False) for _ in range(clients)))
        start = loop.time()
        await asyncio.gather(*(client_loop(start + seconds, True) for _ in range(clients)))
        taken = loop.time() - start
    finally:
        await client.close()
    return LoadResult(
        load=f"closed loop, {clients} clients",
        indices=[a[0] for a in answers],
        millis=[a[1] for a in answers],
        statuses=[a[2] for a in answers],
        seconds=taken,
        failures=failures,
        sent=sent,
    )


def closed_loop(base: str, token: str, bodies: Sequence[bytes], clients: int, seconds: float) -> LoadResult:
    """``clients`` clients, each sending its next check as soon as the last is answered."""
    return asyncio.run(_closed_loop(base, token, bodies, clients, seconds))


def in_another_process(function: Callable[P, LoadResult], *args: P.args, **kwargs: P.kwargs) -> LoadResult:
    """Run a load generator in a fresh process (the server has its own; this one stays idle)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args, **kwargs).result()


@dataclass
class HttpRun:
    runs: list[LoadResult]
    events: int
    audits: int
    checks: int
    """Every check the server answered (warm-ups included)."""


def over_http(
    workdir: Path,
    policies: tuple[Directory, list[Wall], list[DisclaimerRule]],
    requests: Sequence[CheckRequest],
    *,
    rate: float,
    seconds: float,
    warmup: float,
    connections: int,
    clients: int,
    closed_seconds: float,
    lower_rates: Sequence[float] = (),
) -> HttpRun:
    """The target rate first, then each of ``lower_rates`` for half as long, then closed loop."""
    bodies = [json.dumps(request.model_dump(mode="json")).encode() for request in requests]
    runs = []
    with policy_server(workdir, *policies) as (base, token):
        first = httpx.post(
            base + CHECK_PATH,
            content=bodies[0],
            timeout=120,
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        first.raise_for_status()  # the server builds its snapshot on the first check
        runs.append(in_another_process(open_loop, base, token, bodies, rate, seconds, warmup, connections))
        for lower in lower_rates:
            runs.append(in_another_process(open_loop, base, token, bodies, lower, seconds / 2, warmup, connections))
        if clients:
            runs.append(in_another_process(closed_loop, base, token, bodies, clients, closed_seconds))
        events, audits = recorded(workdir)
    checks = 1 + sum(run.sent for run in runs)
    return HttpRun(runs, events, audits, checks)


def other_benchmarks() -> list[str]:
    """Other benchmark or test processes running now (this one and its children excepted)."""
    mine = {os.getpid(), os.getppid()}
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True, check=False).stdout
    found = []
    for line in listing.splitlines():
        pid, ppid, args = line.split(None, 2) if len(line.split(None, 2)) == 3 else (line, "", "")
        if not pid.isdigit() or int(pid) in mine or (ppid.isdigit() and int(ppid) in mine):
            continue
        if ("bench." in args or "bench/" in args or "pytest" in args) and "grep" not in args:
            found.append(args[:80])
    return found


# --- the report ---------------------------------------------------------------------------------------------


IN_PROCESS_TARGET_MICROS = 1000.0
HTTP_TARGET_MILLIS, HTTP_TARGET_RATE = 10.0, 500.0


def _met(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def _errors(run: LoadResult) -> str:
    errors = run.errors
    if not errors:
        return "0"
    return f"{sum(errors.values()):,} (" + ", ".join(f"{k}: {v:,}" for k, v in sorted(errors.items())) + ")"


def http_lines(http: HttpRun, requests: Sequence[CheckRequest]) -> list[str]:
    def row(load: str, kind: str, millis: list[float], rate: str, errors: str) -> str:
        figures = " | ".join(f"{percentile(millis, q):,.1f}" for q in (0.5, 0.95, 0.99))
        return f"| {load} | {kind} | {len(millis):,} | {rate} | {figures} | {max(millis):,.1f} | {errors} |"

    lines = [
        "| load | checks | answers | answers/s | p50 ms | p95 ms | p99 ms | max ms | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for number, run in enumerate(http.runs):
        lines.append(row(run.load, "all", run.millis, f"{run.rate:,.0f}", _errors(run)))
        if number == 0:
            kinds: dict[str, list[float]] = {}
            for index, taken in zip(run.indices, run.millis, strict=True):
                kinds.setdefault(check_kind(requests[index]), []).append(taken)
            lines += [row("", kind, taken, "", "") for kind, taken in sorted(kinds.items())]
    return lines


def report(
    rows: Sequence[Latency],
    build: float,
    snapshot: PolicySnapshot,
    counted: dict[str, int],
    seed: int,
    http: HttpRun | None = None,
    requests: Sequence[CheckRequest] = (),
    shared: Sequence[str] = (),
) -> str:
    total = sum(counted[k] for k in ("deny", "allow with a wall", "allow"))
    walls_per_user = statistics.mean(len(snapshot.walls_of(u.id)) for u in snapshot.directory.users)
    overall = rows[0]
    lines = [
        BEGIN,
        "## Policy checks (`bench/policy.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"seed {seed}: {len(snapshot.directory.users):,} users, {len(snapshot.directory.groups)} groups (nested), "
        f"{len(snapshot.walls)} walls (a user is on {walls_per_user:.1f} on average), "
        f"{len(snapshot.disclaimers)} disclaimer rules; {total:,} checks.",
        "",
        "### In process (`decide` over the snapshot, each check timed on its own)",
        "",
        "| path | checks | p50 µs | p99 µs | checks/s |",
        "| --- | --- | ---: | ---: | ---: |",
        *[f"| {r.path} | {r.kind} | {r.p50:,.0f} | {r.p99:,.0f} | {r.rate:,.0f} |" for r in rows],
        "",
        f"- Snapshot build (directory, walls and rules precomputed, templates compiled): **{build * 1000:,.0f} ms**.",
        f"- Outcomes: {counted['deny']:,} denied, {counted['allow with a wall']:,} allowed with an alert or log "
        f"wall, {counted['allow']:,} allowed with no wall; {counted['with disclaimers']:,} with disclaimers.",
        f"- In-process target, p99 under 1 ms: {_met(overall.p99 < IN_PROCESS_TARGET_MICROS)} "
        f"(p99 {overall.p99:,.0f} µs).",
    ]
    if http is not None:
        opened = http.runs[0]
        p99 = percentile(opened.millis, 0.99)
        ok = p99 < HTTP_TARGET_MILLIS and opened.rate >= 0.98 * HTTP_TARGET_RATE and not opened.errors
        lines += [
            "",
            "### Over HTTP (`POST /api/v1/policy/check` to `archivist serve`, load from a separate process)",
            "",
            "One `archivist serve` process (uvicorn, one worker, embedded mode: SQLite staging and audit log) "
            "loaded with the same rules; the load generator is another process (asyncio, pre-built requests on a "
            "minimal keep-alive HTTP/1.1 client, `bench/raw_http.py`: with httpx the generator used a whole core at "
            "about 180 requests/s and was the bottleneck). "
            "Open loop: requests leave on a fixed schedule whatever the answers do, and each latency runs from the "
            "scheduled send time to the answer (no coordinated omission); a warm-up is not counted. Closed loop: "
            "each client sends its next check when the last is answered (the most the server sustains). "
            "Every check is the full path: token, validation, decision, events staged, audit entry for block/alert.",
            "",
            *http_lines(http, requests),
            "",
            f"- Recorded by the server over the {http.checks:,} checks it answered (warm-ups included): "
            f"{http.events:,} events staged (policy_decision and disclaimer), {http.audits:,} audit entries.",
        ]
        if opened.late_sends:
            lines.append(
                f"- The generator sent {opened.late_sends:,} of the open-loop requests more than 1 ms late "
                "(their latency still counts from the scheduled time)."
            )
        lines.append(
            f"- Over-HTTP target, p99 under 10 ms at 500 requests/s: {_met(ok)} (p99 {p99:,.1f} ms at "
            f"{opened.rate:,.0f} answers/s offered {opened.load.split(', ')[0].removeprefix('open loop at ')}, "
            f"{sum(opened.errors.values()):,} errors)."
        )
    lines.append(
        f"- Machine shared during the run with: {'; '.join(shared)}."
        if shared
        else "- Machine not shared: no other benchmark or test process was running before or after the run."
    )
    lines.append(END)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=500.0, help="open-loop requests per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured open-loop seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="open-loop seconds not counted")
    parser.add_argument("--connections", type=int, default=64, help="open-loop connection pool")
    parser.add_argument(
        "--lower-rates", type=float, nargs="*", default=[100.0], help="also open loop at these rates, half as long"
    )
    parser.add_argument("--clients", type=int, default=16, help="closed-loop clients (0: no closed loop)")
    parser.add_argument("--closed-seconds", type=float, default=10.0)
    parser.add_argument("--no-http", action="store_true", help="in process only")
    parser.add_argument("--workdir", type=Path, help="where the server's data goes (default: a temporary dir)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    shared = set(other_benchmarks())
    policies = synthetic_policies(args.seed)
    directory, walls, rules = policies
    build = build_seconds(directory, walls, rules)
    snapshot = PolicySnapshot.build(directory, walls, rules)
    requests = sample_checks(directory, args.checks, args.seed)
    rows = in_process(snapshot, requests)
    http = None
    if not args.no_http:
        options = {
            "rate": args.rate,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "connections": args.connections,
            "clients": args.clients,
            "closed_seconds": args.closed_seconds,
            "lower_rates": args.lower_rates,
        }
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            http = over_http(args.workdir, policies, requests, **options)
        else:
            with tempfile.TemporaryDirectory(prefix="bench-policy-") as workdir:
                http = over_http(Path(workdir), policies, requests, **options)
    shared |= set(other_benchmarks())
    section = report(rows, build, snapshot, outcomes(snapshot, requests), args.seed, http, requests, sorted(shared))
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


if __name__ == "__main__":
    main()
