"""Soak: realistic traffic at a steady rate through every process, sampling memory and queue depth.

    python -m bench.soak [--duration 3600] [--rate 100] [--interval 30] [--write] [--keep]

Needs the local RabbitMQ (ARCHIVIST_BENCH_AMQP_URL) and PostgreSQL (ARCHIVIST_BENCH_POSTGRES_URL).
The soak makes a database, exchanges and queues, and a data directory of its own, and starts
real processes configured through ``ARCHIVIST_*`` environment variables: two ``archivist
consume``, two ``archivist process`` (sharing the Tantivy index, ``ARCHIVIST_INDEX_HOLD_WRITER=
false``) and one ``archivist serve``. A publisher process replays the demo's real ``#ubuntu``
IRC logs (``archivist/demo_data/ubuntu-irc``, from Kummerfeld et al., ACL 2019, CC BY 4.0)
at ``--rate`` events per second, looping over them with new event and message ids and the
time of publishing as ``occurred_at``; a thread searches through the API every
``--search-every`` seconds with a real token.

Every ``--interval`` seconds it samples each process's resident memory (psutil when installed,
else ``/proc/<pid>/status``), the queue depth, staging and archive rows and the searches'
latency, appends the sample to a JSON Lines file and prints a line. After ``--duration``
seconds the publisher stops, the pipeline drains, and the report gives, per process, memory
at the start of the steady phase (after ``--warmup`` of the run), at the end and at most, the
slope of a least-squares line through the second half of the run (MB per hour) with a verdict,
and whether every published event was archived exactly once. Everything it made is removed
at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kombu import Connection
from sqlalchemy import Engine, func, select

from archive.record import archived_count
from archive.schema import archive_events
from bench.common import RESULTS, drop_postgres, fresh_postgres
from ingest.db import create_db_engine
from ingest.events import Event, parse_event
from ingest.irc import read_irc_file
from ingest.publisher import Publisher
from ingest.staging import StagingStore, staged_events
from ingest.topology import Topology, queue_depth

AMQP_URL = os.environ.get("ARCHIVIST_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get("ARCHIVIST_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
BEGIN, END = "<!-- bench/soak.py begin -->", "<!-- bench/soak.py end -->"
HEADING = "## Soak"
ROOT = Path(__file__).resolve().parents[1]
"""The checkout whose code is soaked: the processes run ``python -m archivist`` from here."""
IRC_LOGS = ROOT / "archivist" / "demo_data" / "ubuntu-irc"
SOAK_NAMESPACE = uuid.UUID("5d1e4a38-0c7b-4f0e-9b7d-3a0f2c6e8b41")
MB = 1024 * 1024
BOUNDED_MB_PER_HOUR = 10.0
"""A process whose memory grows more slowly than this over the second half of the run is bounded."""
QUERIES = (
    "install*",
    '"sudo apt-get"',
    "windows OR linux",
    "boot NEAR/5 problem",
    "from:ikonia help",
    "in:#ubuntu server -windows",
    "grub",
)
"""Searches the load cycles through: words of the IRC logs, in the API's query language."""
PUBLISHER = "publisher (bench)"


# --- the pure parts: slopes, verdicts, percentiles, the BENCHMARKS.md section ---------------


def fit_slope(points: Sequence[tuple[float, float]]) -> float:
    """The slope of the least-squares line through ``(x, y)`` points (0 when it is undefined)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


@dataclass(frozen=True)
class MemoryPoint:
    seconds: float
    """Since the start of the load."""
    rss_mb: float
    anon_mb: float | None = None
    """Anonymous (heap) pages; the rest of the RSS is file-backed (libraries, mapped index files)."""


@dataclass(frozen=True)
class Growth:
    start_mb: float
    """RSS at the start of the steady phase (the first sample after the warm-up)."""
    end_mb: float
    max_mb: float
    slope_mb_per_hour: float
    """Least-squares slope of RSS over the second half of the run."""
    anon_start_mb: float | None
    anon_end_mb: float | None
    anon_slope_mb_per_hour: float | None
    verdict: str

    @property
    def bounded(self) -> bool:
        return self.verdict.startswith("bounded")


def growth(
    points: Sequence[MemoryPoint], *, warmup: float, duration: float, threshold: float = BOUNDED_MB_PER_HOUR
) -> Growth:
    """Memory of one process over the run: ``points`` sampled during the load (0..duration s).

    The steady phase starts after ``warmup`` seconds; the slope is fitted over the second half
    of the run (``duration / 2`` onwards). Bounded: the RSS slope is under ``threshold`` MB per
    hour; when only the anonymous memory is (the RSS grows with file-backed pages, such as a
    growing index the process maps), the verdict says so.
    """
    if not points:
        raise ValueError("no memory samples")
    ordered = sorted(points, key=lambda p: p.seconds)
    steady = [p for p in ordered if warmup <= p.seconds <= duration] or ordered
    second = [p for p in steady if p.seconds >= duration / 2] or steady[len(steady) // 2 :]
    slope = fit_slope([(p.seconds, p.rss_mb) for p in second]) * 3600
    anon = [p for p in second if p.anon_mb is not None]
    anon_slope = fit_slope([(p.seconds, p.anon_mb or 0.0) for p in anon]) * 3600 if anon else None
    if slope < threshold:
        verdict = "bounded"
    elif anon_slope is not None and anon_slope < threshold:
        verdict = "bounded heap (RSS grows with file-backed pages)"
    else:
        verdict = "GROWING"
    return Growth(
        start_mb=steady[0].rss_mb,
        end_mb=steady[-1].rss_mb,
        max_mb=max(p.rss_mb for p in steady),
        slope_mb_per_hour=slope,
        anon_start_mb=steady[0].anon_mb,
        anon_end_mb=steady[-1].anon_mb,
        anon_slope_mb_per_hour=anon_slope,
        verdict=verdict,
    )


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` of 1), or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def replace_section(text: str, section: str, begin: str = BEGIN, end: str = END, heading: str = HEADING) -> str:
    """``text`` with this script's section replaced by ``section`` (appended when absent).

    The section is what lies between ``begin`` and ``end`` (both included); a section written
    without the markers is found by its ``heading`` line and runs to the next ``## `` heading or
    ``<!--`` marker. Nothing else in ``text`` changes.
    """
    section = section.strip("\n")
    start = text.find(begin)
    if start >= 0:
        stop = text.find(end, start)
        if stop >= 0:
            return text[:start] + section + text[stop + len(end) :]
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.rstrip() == heading or line.startswith(heading + " "):
            after = number + 1
            while after < len(lines) and not lines[after].startswith(("## ", "<!--")):
                after += 1
            tail = "".join(lines[after:])
            return "".join(lines[:number]) + section + "\n" + ("\n" + tail if tail else "")
    return text.rstrip("\n") + "\n\n" + section + "\n"


def write_soak_section(section: str, results: Path = RESULTS) -> None:
    """Replace only the soak section of ``results``, reading the file right before writing it
    (others write their own sections meanwhile) and replacing it in one rename."""
    current = results.read_text(encoding="utf-8") if results.exists() else "# Benchmarks\n"
    updated = replace_section(current, section)
    scratch = results.with_name(f".{results.name}.soak-{os.getpid()}")
    scratch.write_text(updated, encoding="utf-8")
    os.replace(scratch, results)


# --- traffic --------------------------------------------------------------------------------


def irc_traffic(logs: Path = IRC_LOGS) -> list[dict[str, Any]]:
    """Every event of the demo IRC logs, in log order, as JSON payloads."""
    events: list[dict[str, Any]] = []
    for path in sorted(logs.glob("*.raw.txt")):
        events.extend(event.model_dump(mode="json") for event in read_irc_file(path))
    if not events:
        raise RuntimeError(f"no IRC logs under {logs}")
    return events


def rekey(payload: Mapping[str, Any], loop: int, occurred_at: datetime) -> dict[str, Any]:
    """The event of ``payload`` as replayed in pass ``loop`` over the logs: a new event id (and
    message id, for posts), occurring at ``occurred_at``; the rest as in the log."""
    event = dict(payload)
    event["event_id"] = str(uuid.uuid5(SOAK_NAMESPACE, f"{loop}:{payload['event_id']}"))
    event["occurred_at"] = occurred_at.isoformat()
    message = payload.get("message")
    if isinstance(message, Mapping) and "id" in message:
        event["message"] = {**message, "id": f"{message['id']}:soak{loop}"}
    return event


def replayed(traffic: Sequence[Mapping[str, Any]], number: int, occurred_at: datetime) -> Event:
    """The ``number``-th event of the endless replay of ``traffic``."""
    loop, position = divmod(number, len(traffic))
    return parse_event(rekey(traffic[position], loop, occurred_at))


def publish_steadily(amqp_url: str, topology: Topology, rate: float, stop: Any, progress: Any) -> None:
    """Publish the replayed logs at ``rate`` events/s until ``stop`` is set (the publisher
    process's body). ``progress`` holds (published, posts published, seconds behind at most)."""
    traffic = irc_traffic()
    published = posts = 0
    behind = 0.0
    with Publisher(amqp_url, topology, window=1000) as publisher:
        started = time.monotonic()
        while not stop.is_set():
            elapsed = time.monotonic() - started
            due = int(elapsed * rate)
            if due <= published:
                stop.wait(min(0.05, (published + 1) / rate - elapsed))
                continue
            behind = max(behind, (due - published - 1) / rate)
            now = datetime.now(UTC)
            batch = [replayed(traffic, number, now) for number in range(published, min(due, published + 1000))]
            publisher.publish_events(batch)
            published += len(batch)
            posts += sum(1 for event in batch if event.type == "post")
            with progress.get_lock():
                progress[0], progress[1], progress[2] = published, posts, behind


# --- memory ---------------------------------------------------------------------------------


def _psutil() -> Any:
    try:
        return importlib.import_module("psutil")
    except ImportError:
        return None


PSUTIL = _psutil()


def memory_of(pid: int) -> tuple[float, float | None] | None:
    """(RSS, anonymous) in MB of process ``pid``, or None once it has gone. psutil when it is
    installed (anonymous = rss - shared, Linux only), else ``/proc/<pid>/status``."""
    if PSUTIL is not None:
        try:
            info = PSUTIL.Process(pid).memory_info()
        except PSUTIL.Error:
            return None
        shared = getattr(info, "shared", None)
        return info.rss / MB, (info.rss - shared) / MB if shared is not None else None
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    fields = {}
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in {"VmRSS", "RssAnon"}:
            fields[name] = int(value.split()[0]) / 1024  # kB
    if "VmRSS" not in fields:
        return None
    return fields["VmRSS"], fields.get("RssAnon")


# --- the run --------------------------------------------------------------------------------


@dataclass
class SoakOptions:
    duration: float = 3600.0
    rate: float = 100.0
    interval: float = 30.0
    warmup: float = 0.1
    """Fraction of the run before the steady phase."""
    search_every: float = 2.0
    consumers: int = 2
    processors: int = 2
    samples: Path | None = None
    keep: bool = False
    amqp_url: str = AMQP_URL
    postgres_url: str = POSTGRES_URL
    drain_timeout: float = 300.0
    quiet: bool = False
    code_version: str = ""
    """What was soaked, for the report (default: the checkout's commit, see :func:`code_version`)."""


@dataclass
class Searches:
    """Latencies (ms) of the search load, and its errors."""

    latencies: list[tuple[float, float]] = field(default_factory=list)
    """(seconds since the start of the load, milliseconds)."""
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def since(self, seconds: float) -> list[float]:
        with self.lock:
            return [ms for at, ms in self.latencies if at >= seconds]


@dataclass
class SoakResult:
    options: SoakOptions
    started_at: datetime
    samples: list[dict[str, Any]]
    growth: dict[str, Growth]
    published: int
    posts_published: int
    publisher_behind_seconds: float
    archived: int
    archived_distinct: int
    staged_after: int
    parked_after: int
    dead_letters: int
    indexed: int | None
    max_queue: int
    max_staged: int
    max_in_flight: int
    drain_seconds: float | None
    search_ms: list[float]
    search_errors: list[str]
    exit_codes: dict[str, int | None]
    problems: list[str]
    final_lines: dict[str, str] = field(default_factory=dict)
    """The last line each worker printed on exit (what it consumed or processed)."""
    retry_reasons: dict[str, int] = field(default_factory=dict)
    """Why staged events waited for a retry: the most seen at once in a sample, per reason."""

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Load:
    """The publisher process and the search thread, and how to stop and read them."""

    publisher: Any
    """A ``multiprocessing`` process running :func:`publish_steadily`."""
    stop_publishing: Any
    progress: Any
    searches: Searches
    stop_searching: threading.Event
    token: str


class Pipeline:
    """The processes under test, their logs, and what they share."""

    def __init__(self, options: SoakOptions, work: Path, database_url: str, topology: Topology) -> None:
        self.options = options
        self.work = work
        self.data_dir = work / "data"
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        self.database_url = database_url
        self.topology = topology
        self.port = _free_port()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVIST_")}
        env.update(
            ARCHIVIST_CONFIG=str(self.work / "no-archivist.toml"),
            ARCHIVIST_DATA_DIR=str(self.data_dir),
            ARCHIVIST_DATABASE_URL=self.database_url,
            ARCHIVIST_BROKER_URL=self.options.amqp_url,
            ARCHIVIST_EXCHANGE=self.topology.exchange,
            ARCHIVIST_QUEUE=self.topology.queue,
            ARCHIVIST_DEAD_LETTER_EXCHANGE=self.topology.dead_letter_exchange,
            ARCHIVIST_DEAD_LETTER_QUEUE=self.topology.dead_letter_queue,
            ARCHIVIST_INDEX_HOLD_WRITER="false",  # several processors share the index
            PYTHONUNBUFFERED="1",
        )
        return env

    def archivist(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "archivist", *args]

    def create_token(self) -> str:
        done = subprocess.run(
            self.archivist("token", "create", "--role", "compliance_officer", "--label", "soak search load"),
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"archivist token create failed: {done.stderr.strip()}")
        return done.stdout.strip().splitlines()[-1]

    def start(self) -> None:
        roles = [(f"consume-{n + 1}", ["consume"]) for n in range(self.options.consumers)]
        roles += [(f"process-{n + 1}", ["process"]) for n in range(self.options.processors)]
        roles.append(("serve", ["serve", "--port", str(self.port)]))
        for name, args in roles:
            log = (self.logs / f"{name}.log").open("wb")
            self.processes[name] = subprocess.Popen(
                self.archivist(*args), cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT
            )
            log.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_until_serving(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"archivist serve did not answer within {timeout:.0f} s")

    def check_alive(self) -> None:
        dead = {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}
        if dead:
            tails = "\n".join(f"--- {name} (exit {code}):\n{self.tail(name)}" for name, code in dead.items())
            raise RuntimeError(f"processes exited during the soak: {dead}\n{tails}")

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 60.0) -> dict[str, int | None]:
        """SIGTERM every process (they finish their batch and exit 0), then wait; kill stragglers."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes[name] = None
        return codes


def code_version(root: Path = ROOT) -> str:
    """The commit of the checkout under test, and whether tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "code not in a git checkout"
    return f"commit {commit}" + (f" with {len(changed)} changed files" if changed else "")


def clean_exit(name: str, code: int | None) -> bool:
    """Whether a process stopped by SIGTERM exited cleanly: 0, or for ``serve`` the signal
    itself, which uvicorn raises again after a graceful shutdown (its log then ends with
    "Finished server process")."""
    return code == 0 or (name == "serve" and code == -signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def soak_topology() -> Topology:
    suffix = uuid.uuid4().hex[:8]
    return Topology(f"soak.events.{suffix}", f"soak.events.{suffix}", f"soak.dead.{suffix}", f"soak.dead.{suffix}")


@contextmanager
def declared(amqp_url: str, topology: Topology) -> Iterator[None]:
    """The soak's own exchanges and queues, deleted afterwards."""
    with Connection(amqp_url, connect_timeout=10) as connection:
        topology.declare(connection.channel())
    try:
        yield
    finally:
        with Connection(amqp_url, connect_timeout=10) as connection:
            channel = connection.channel()
            for queue in (topology.queue, topology.dead_letter_queue):
                channel.queue_delete(queue)
            for exchange in (topology.exchange, topology.dead_letter_exchange):
                channel.exchange_delete(exchange)


class Broker:
    """Queue depths by passive declares on one connection (reopened when a call fails)."""

    def __init__(self, amqp_url: str, topology: Topology) -> None:
        self.connection = Connection(amqp_url, connect_timeout=10)
        self.topology = topology
        self.channel: Any = None

    def depths(self) -> tuple[int, int]:
        for attempt in range(2):
            try:
                if self.channel is None:
                    self.connection.ensure_connection(max_retries=3)
                    self.channel = self.connection.channel()
                return (
                    queue_depth(self.channel, self.topology.queue),
                    queue_depth(self.channel, self.topology.dead_letter_queue),
                )
            except Exception:
                self.channel = None
                with suppress(Exception):
                    self.connection.close()
                self.connection = self.connection.clone()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with suppress(Exception):
            self.connection.close()


def search_load(base_url: str, token: str, every: float, started: float, stop: threading.Event, out: Searches) -> None:
    """One search every ``every`` seconds, cycling through ``QUERIES``, until ``stop``."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        number = 0
        while not stop.wait(max(0.0, started + number * every - time.monotonic())):
            query = QUERIES[number % len(QUERIES)]
            number += 1
            sent = time.perf_counter()
            try:
                response = client.post("/api/v1/search", json={"query": query})
            except httpx.HTTPError as error:
                with out.lock:
                    out.errors.append(f"{query}: {type(error).__name__}")
                continue
            milliseconds = (time.perf_counter() - sent) * 1000
            with out.lock:
                if response.status_code == 200:
                    out.latencies.append((time.monotonic() - started, milliseconds))
                else:
                    out.errors.append(f"{query}: HTTP {response.status_code}")


def staging_counts(engine: Engine) -> tuple[int, int]:
    counts = StagingStore(engine).counts()
    return counts.staged, counts.parked


def retry_reasons(engine: Engine) -> dict[str, int]:
    """Staged events waiting for a retry, by the reason of their last failure (paths cut off)."""
    reason = func.left(staged_events.c.last_error, 120)
    with engine.connect() as connection:
        rows = connection.execute(
            select(reason, func.count()).where(staged_events.c.attempts > 0).group_by(reason)
        ).all()
    found: dict[str, int] = {}
    for text, count in rows:
        key = reason_key(str(text))
        found[key] = found.get(key, 0) + int(count)
    return found


def reason_key(error: str) -> str:
    """A failure's reason without what varies (the path or detail after the last ": ")."""
    return error.rsplit(": ", 1)[0] if error.count(": ") > 1 else error


def reconnects(final_lines: Mapping[str, str]) -> dict[str, int]:
    """Broker reconnects the consumers reported on exit ("..., 2 reconnects")."""
    found = {}
    for name, line in final_lines.items():
        match = re.search(r"(\d+) reconnects", line)
        if match:
            found[name] = int(match[1])
    return found


def run_soak(options: SoakOptions) -> SoakResult:
    """Run the soak; every database, queue and directory it made is gone afterwards (unless
    ``options.keep``)."""
    started_at = datetime.now(UTC)
    say: Callable[[str], None] = (lambda _line: None) if options.quiet else (lambda line: print(line, flush=True))
    samples_path = options.samples or Path(tempfile.gettempdir()) / f"archivist-soak-{started_at:%Y%m%d-%H%M%S}.jsonl"
    work = Path(tempfile.mkdtemp(prefix="archivist-soak-"))
    database_url = fresh_postgres(options.postgres_url)
    topology = soak_topology()
    engine = create_db_engine(database_url)
    context = multiprocessing.get_context("spawn")
    stop_publishing = context.Event()
    progress: Any = context.Array("d", 3)
    publisher = context.Process(
        target=publish_steadily,
        args=(options.amqp_url, topology, options.rate, stop_publishing, progress),
        name="soak-publisher",
        daemon=True,
    )
    stop_searching = threading.Event()
    searches = Searches()
    pipeline: Pipeline | None = None
    broker: Broker | None = None
    exit_codes: dict[str, int | None] = {}
    final_lines: dict[str, str] = {}
    try:
        with declared(options.amqp_url, topology):
            pipeline = Pipeline(options, work, database_url, topology)
            token = pipeline.create_token()
            pipeline.start()
            pipeline.wait_until_serving()
            broker = Broker(options.amqp_url, topology)
            say(
                f"soak: {options.duration:.0f} s at {options.rate:g} events/s, samples every {options.interval:g} s "
                f"-> {samples_path}; work directory {work}"
            )
            load = Load(publisher, stop_publishing, progress, searches, stop_searching, token)
            result = _load_and_drain(options, pipeline, broker, engine, load, samples_path, started_at, say)
            exit_codes = pipeline.stop()
            final_lines = {name: pipeline.tail(name, 1) for name in pipeline.processes if name != "serve"}
            pipeline = None
    finally:
        stop_searching.set()
        stop_publishing.set()
        if publisher.is_alive():
            publisher.join(timeout=30)
        if publisher.is_alive():
            publisher.kill()
        if pipeline is not None:
            pipeline.stop()
        if broker is not None:
            broker.close()
        engine.dispose()
        if options.keep:
            say(f"kept: database {database_url}, work directory {work}")
        else:
            drop_postgres(database_url, options.postgres_url)
            shutil.rmtree(work, ignore_errors=True)
    result.exit_codes = exit_codes
    result.final_lines = final_lines
    result.problems += [f"{name} exited with {code}" for name, code in exit_codes.items() if not clean_exit(name, code)]
    return result


def _load_and_drain(
    options: SoakOptions,
    pipeline: Pipeline,
    broker: Broker,
    engine: Engine,
    load: Load,
    samples_path: Path,
    started_at: datetime,
    say: Callable[[str], None],
) -> SoakResult:
    publisher, progress, searches = load.publisher, load.progress, load.searches
    warmup = options.warmup * options.duration
    memory: dict[str, list[MemoryPoint]] = {}
    samples: list[dict[str, Any]] = []
    peaks = {"queue": 0, "staged": 0, "in_flight": 0}
    reasons: dict[str, int] = {}
    started = time.monotonic()
    publisher.start()
    searcher = threading.Thread(
        target=search_load,
        args=(pipeline.base_url, load.token, options.search_every, started, load.stop_searching, searches),
        name="soak-search",
        daemon=True,
    )
    searcher.start()

    def published() -> tuple[int, int, float]:
        with progress.get_lock():
            return int(progress[0]), int(progress[1]), float(progress[2])

    def sample(phase: str, last: float) -> dict[str, Any]:
        seconds = time.monotonic() - started
        queue, dead = broker.depths()
        staged, parked = staging_counts(engine)
        retrying = retry_reasons(engine)
        for reason, count in retrying.items():
            reasons[reason] = max(reasons.get(reason, 0), count)
        archived = archived_count(engine)
        sent, _posts, behind = published()
        rss: dict[str, float | None] = {}
        anon: dict[str, float | None] = {}
        pids = {name: p.pid for name, p in pipeline.processes.items()}
        if publisher.pid is not None:
            pids[PUBLISHER] = publisher.pid
        for name, pid in pids.items():
            found = memory_of(pid)
            rss[name], anon[name] = found if found is not None else (None, None)
            if found is not None and phase != "drained":
                memory.setdefault(name, []).append(MemoryPoint(seconds, found[0], found[1]))
        latencies = searches.since(last)
        row = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds, 1),
            "phase": phase,
            "published": sent,
            "archived": archived,
            "in_flight": sent - archived,
            "queue": queue,
            "dead_letters": dead,
            "staged": staged,
            "parked": parked,
            "retrying": retrying,
            "publisher_behind_s": round(behind, 2),
            "searches": len(latencies),
            "search_p50_ms": _round(percentile(latencies, 0.5)),
            "search_max_ms": _round(max(latencies, default=None)),
            "search_errors": len(searches.errors),
            "rss_mb": {k: _round(v) for k, v in rss.items()},
            "anon_mb": {k: _round(v) for k, v in anon.items()},
        }
        samples.append(row)
        with samples_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
        peaks["queue"] = max(peaks["queue"], queue)
        peaks["staged"] = max(peaks["staged"], staged)
        peaks["in_flight"] = max(peaks["in_flight"], sent - archived)
        memory_line = " ".join(f"{k.split(' ')[0]} {v:.0f}" for k, v in rss.items() if v is not None)
        say(
            f"[{seconds:6.0f} s {phase:8}] published {sent:,} archived {archived:,} queue {queue} staged {staged} "
            f"parked {parked} | RSS MB: {memory_line} | search p50 {row['search_p50_ms']} ms ({len(latencies)})"
        )
        return row

    last_sample = 0.0
    sample("warmup" if warmup > 0 else "steady", 0.0)
    next_sample = started + options.interval
    while time.monotonic() - started < options.duration:
        pipeline.check_alive()
        if not publisher.is_alive():
            raise RuntimeError(f"the publisher exited ({publisher.exitcode})")
        now = time.monotonic()
        if now >= next_sample:
            phase = "warmup" if now - started < warmup else "steady"
            sample(phase, last_sample)
            last_sample = now - started
            next_sample += options.interval
        else:
            queue, _dead = broker.depths()  # between samples too, for the peak
            peaks["queue"] = max(peaks["queue"], queue)
        time.sleep(max(0.0, min(1.0, next_sample - time.monotonic(), started + options.duration - time.monotonic())))
    sample("steady", last_sample)
    load_seconds = time.monotonic() - started  # every load sample is within it
    load.stop_searching.set()
    load.stop_publishing.set()
    publisher.join(timeout=60)
    searcher.join(timeout=60)
    sent, posts, behind = published()

    drained_at = time.monotonic()
    drain_seconds: float | None = None
    while time.monotonic() - drained_at < options.drain_timeout:
        pipeline.check_alive()
        staged, _parked = staging_counts(engine)
        queue, _dead = broker.depths()
        if staged == 0 and queue == 0 and archived_count(engine) >= sent:
            drain_seconds = time.monotonic() - drained_at
            break
        time.sleep(1.0)
    final = sample("drained", last_sample)

    with engine.connect() as connection:
        archived, distinct = connection.execute(
            select(func.count(), func.count(archive_events.c.event_id.distinct()))
        ).one()
    problems: list[str] = []
    if drain_seconds is None:
        problems.append(f"not drained within {options.drain_timeout:.0f} s")
    if archived != sent or distinct != sent:
        problems.append(f"published {sent:,}, archived {archived:,} ({distinct:,} distinct)")
    if final["parked"] or final["dead_letters"]:
        problems.append(f"{final['parked']} parked, {final['dead_letters']} dead-lettered")
    if searches.errors:
        problems.append(f"{len(searches.errors)} searches failed, e.g. {searches.errors[0]}")
    indexed = _indexed(pipeline.data_dir / "index")
    if indexed is not None and indexed != posts:
        problems.append(f"published {posts:,} posts, the index holds {indexed:,} documents")
    by_process = {name: growth(points, warmup=warmup, duration=load_seconds) for name, points in sorted(memory.items())}
    problems += [f"{name}: memory {g.verdict}" for name, g in by_process.items() if not g.bounded and name != PUBLISHER]
    return SoakResult(
        options=options,
        started_at=started_at,
        samples=samples,
        growth=by_process,
        published=sent,
        posts_published=posts,
        publisher_behind_seconds=behind,
        archived=int(archived),
        archived_distinct=int(distinct),
        staged_after=int(final["staged"]),
        parked_after=int(final["parked"]),
        dead_letters=int(final["dead_letters"]),
        indexed=indexed,
        max_queue=peaks["queue"],
        max_staged=peaks["staged"],
        max_in_flight=peaks["in_flight"],
        drain_seconds=drain_seconds,
        search_ms=[ms for _at, ms in searches.latencies],
        search_errors=list(searches.errors),
        exit_codes={},
        problems=problems,
        retry_reasons=reasons,
    )


def _indexed(index_dir: Path) -> int | None:
    """Documents in the Tantivy index (None when it cannot be opened)."""
    from search.tantivy_schema import open_index

    try:
        index = open_index(index_dir)
        index.reload()
        return int(index.searcher().num_docs)
    except (OSError, ValueError):
        return None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- the report -----------------------------------------------------------------------------


def _mb(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def report(result: SoakResult) -> str:
    options = result.options
    hours = options.duration / 3600
    length = f"{hours:g} hour" + ("s" if hours != 1 else "") if options.duration >= 3600 else f"{options.duration:g} s"
    p50, p95 = percentile(result.search_ms, 0.5), percentile(result.search_ms, 0.95)
    roles = ", ".join(
        [f"{options.consumers} `archivist consume`", f"{options.processors} `archivist process`", "1 `archivist serve`"]
    )
    lines = [
        BEGIN,
        "## Soak (`bench/soak.py`)",
        "",
        f"{result.started_at:%Y-%m-%d %H:%M} UTC, {length} at {options.rate:g} events/s, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {options.code_version or code_version()}; PostgreSQL + RabbitMQ, "
        f"{roles} (adapters archive, index, xml; the index shared by the processors), each a separate process "
        "configured by `ARCHIVIST_*` variables. "
        f"Traffic: the demo's real `#ubuntu` IRC logs (Kummerfeld et al., ACL 2019, CC BY 4.0), replayed in a "
        f"loop with new event and message ids, stamped with the time of publishing; one search every "
        f"{options.search_every:g} s through the API with a compliance_officer token. Memory sampled every "
        f"{options.interval:g} s; start = first sample after a {options.warmup:.0%} warm-up; slope = least-squares "
        f"line through the second half of the run; bounded = slope under {BOUNDED_MB_PER_HOUR:g} MB/hour. "
        f"Anon = anonymous (heap) pages; the rest of the RSS is file-backed (libraries, mapped index files). "
        f"{PUBLISHER} is the load generator (not judged).",
        "",
        "| process | RSS start MB | RSS end MB | RSS max MB | slope MB/h | anon start MB | anon end MB "
        "| anon slope MB/h | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, g in result.growth.items():
        anon_slope = "" if g.anon_slope_mb_per_hour is None else f"{g.anon_slope_mb_per_hour:+.1f}"
        lines.append(
            f"| {name} | {_mb(g.start_mb)} | {_mb(g.end_mb)} | {_mb(g.max_mb)} | {g.slope_mb_per_hour:+.1f} "
            f"| {_mb(g.anon_start_mb)} | {_mb(g.anon_end_mb)} | {anon_slope} | {g.verdict} |"
        )
    exactly_once = result.archived == result.published == result.archived_distinct
    drained = "not drained" if result.drain_seconds is None else f"drained {result.drain_seconds:.0f} s after"
    indexed = (
        "" if result.indexed is None else f"; index: {result.indexed:,} documents for {result.posts_published:,} posts"
    )
    search = (
        f"{len(result.search_ms):,} searches, p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {max(result.search_ms):.1f} ms"
        if p50 is not None and p95 is not None
        else "no search answered"
    )
    retried = (
        "; ".join(f"{reason} (up to {count:,} at once)" for reason, count in result.retry_reasons.items()) or "none"
    )
    reconnected = reconnects(result.final_lines)
    lines += [
        "",
        f"- Published {result.published:,}, archived {result.archived:,} ({result.archived_distinct:,} distinct): "
        f"{'**every event exactly once**' if exactly_once else '**MISMATCH**'}; {drained} the publisher stopped, "
        f"{result.staged_after} left in staging, {result.parked_after} parked, {result.dead_letters} dead-lettered"
        f"{indexed}.",
        f"- Queue depth at most {result.max_queue:,} (sampled every second); staging at most {result.max_staged:,} "
        f"rows; published but not yet archived at most {result.max_in_flight:,} events; the publisher was at most "
        f"{result.publisher_behind_seconds:.1f} s behind its schedule.",
        f"- Search through the API while loading: {search}; {len(result.search_errors)} errors.",
        f"- Staged events waiting for a retry when sampled, by reason: {retried}.",
        f"- Broker reconnects: {sum(reconnected.values())} "
        f"({', '.join(f'{name} {count}' for name, count in reconnected.items()) or 'no consumer reported'})"
        + (": the broker went away during the run." if any(reconnected.values()) else "."),
        "- Exit codes after SIGTERM: "
        + ", ".join(f"{name} {code}" for name, code in result.exit_codes.items())
        + " (uvicorn raises SIGTERM again after a graceful shutdown: serve's -15 is a clean stop). "
        + "On exit: "
        + "; ".join(f"{name}: {line}" for name, line in result.final_lines.items())
        + ".",
        f"- Verdict: **{'passed' if result.ok else 'failed'}**"
        + ("" if result.ok else ": " + "; ".join(result.problems))
        + ".",
        END,
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds of load (default 3600)")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second (default 100)")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between samples (default 30)")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the run before the steady phase")
    parser.add_argument("--search-every", type=float, default=2.0, help="seconds between searches (default 2)")
    parser.add_argument("--samples", type=Path, help="JSON Lines file for the samples (default: in the temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    parser.add_argument("--write", action="store_true", help="update the Soak section of BENCHMARKS.md")
    parser.add_argument("--results", type=Path, default=RESULTS, help="the file --write updates (BENCHMARKS.md)")
    parser.add_argument("--code-version", default="", help="what is soaked, for the report (default: git commit)")
    args = parser.parse_args()
    if args.duration <= 0 or args.rate <= 0 or args.interval <= 0 or not 0 <= args.warmup < 1:
        parser.error("--duration, --rate and --interval must be positive, --warmup in [0, 1)")
    options = SoakOptions(
        duration=args.duration,
        rate=args.rate,
        interval=args.interval,
        warmup=args.warmup,
        search_every=args.search_every,
        samples=args.samples,
        keep=args.keep,
        code_version=args.code_version or code_version(),
    )
    result = run_soak(options)
    section = report(result)
    print(section)
    summary = {name: asdict(g) for name, g in result.growth.items()}
    print(json.dumps({"growth": summary, "problems": result.problems}, indent=2))
    if args.write:
        write_soak_section(section, args.results)
    sys.exit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
