"""The pipeline under fault: real ``archivist`` processes, the steady publisher, and probes.

Every child writes its output to a log file of its own (a pipe nobody reads would fill and
stall it), and a failure message quotes the end of the logs that matter.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, LiteralString

import psycopg

from ingest.topology import Topology

ROOT = Path(__file__).resolve().parents[2]


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


class Child:
    """One child process with its output in ``log``; ``name`` says which in messages."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, f"{self.name} is already running"
        with self.log.open("ab") as out:
            out.write(f"--- start {self.starts + 1}: {' '.join(self.command)}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.command, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self.starts += 1

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> int:
        """SIGKILL; returns the exit status (``-SIGKILL``)."""
        assert self.running(), f"{self.name} was not running when it was to be killed:\n{tail(self.log)}"
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        return self.process.wait(timeout=10)

    def terminate(self, timeout: float) -> int | None:
        """SIGTERM and wait; the exit status, or None when it had to be killed after ``timeout``."""
        if self.process is None:
            return None
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            return None

    def ensure_dead(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)


def archivist(name: str, args: Sequence[str], env: Mapping[str, str], logs: Path) -> Child:
    return Child(name, [sys.executable, "-m", "archivist", "-v", *args], env, logs / f"{name}.log")


def steady_publisher(url: str, topology: Topology, rate: float, confirmed: Path, stats: Path, logs: Path) -> Child:
    command = [
        sys.executable,
        "-m",
        "tests.faults.load",
        f"--url={url}",
        f"--exchange={topology.exchange}",
        f"--queue={topology.queue}",
        f"--dead-letter-exchange={topology.dead_letter_exchange}",
        f"--dead-letter-queue={topology.dead_letter_queue}",
        f"--rate={rate}",
        f"--confirmed={confirmed}",
        f"--stats={stats}",
    ]
    return Child("publisher", command, dict(os.environ), logs / "publisher.log")


def confirmed_ids(path: Path) -> list[str]:
    """The event ids the publisher has been confirmed so far (a line still being written is left out)."""
    if not path.exists():
        return []
    text = path.read_text()
    return text[: text.rfind("\n") + 1].splitlines()


class Database:
    """Questions to the private PostgreSQL; each opens its own short connection, so a probe
    never holds anything across a kill of the server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _query(self, sql: LiteralString, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url, connect_timeout=3) as connection:
            return connection.execute(sql, params).fetchall()

    def archived_among(self, event_ids: Sequence[str]) -> int:
        rows = self._query("SELECT count(*) FROM archive_events WHERE event_id = ANY(%s)", [list(event_ids)])
        return int(rows[0][0])

    def staging(self) -> tuple[int, int]:
        """Events in staging, and how many of them are parked."""
        rows = self._query("SELECT count(*), count(*) FILTER (WHERE parked) FROM staged_events")
        return int(rows[0][0]), int(rows[0][1])

    def leases_held_by(self, pid: int) -> int:
        """Staged events leased to the processor with this pid (its owner is host:pid:random)."""
        rows = self._query(
            "SELECT count(*) FROM staged_events WHERE lease_owner LIKE %s AND lease_until > now()", [f"%:{pid}:%"]
        )
        return int(rows[0][0])

    def archive_counts(self) -> dict[str, int]:
        """event_id -> how many archive rows carry it."""
        return {
            str(event_id): int(count)
            for event_id, count in self._query("SELECT event_id, count(*) FROM archive_events GROUP BY event_id")
        }


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.25) -> float:
    """Poll ``condition`` until it holds; the seconds it took. Errors while polling (a server
    still coming back) count as "not yet"."""
    started = time.monotonic()
    last_error: Exception | None = None
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except (psycopg.Error, OSError) as error:
            last_error = error
        if time.monotonic() - started > timeout:
            detail = f" (last error: {last_error})" if last_error else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        time.sleep(interval)
