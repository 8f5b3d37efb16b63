"""Running ``archivist`` commands as real child processes, for kill and signal tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from ingest.topology import Topology


def archivist_env(
    *, database_url: str | None = None, broker_url: str | None = None, topology: Topology | None = None, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVIST_")}
    env["ARCHIVIST_CONFIG"] = "/nonexistent/archivist.toml"
    if database_url:
        env["ARCHIVIST_DATABASE_URL"] = database_url
    if broker_url:
        env["ARCHIVIST_BROKER_URL"] = broker_url
    if topology is not None:
        env.update(
            ARCHIVIST_EXCHANGE=topology.exchange,
            ARCHIVIST_QUEUE=topology.queue,
            ARCHIVIST_DEAD_LETTER_EXCHANGE=topology.dead_letter_exchange,
            ARCHIVIST_DEAD_LETTER_QUEUE=topology.dead_letter_queue,
        )
    env.update({f"ARCHIVIST_{k.upper()}": v for k, v in extra.items()})
    return env


def start_archivist(args: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "archivist", *args],
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_archivist(args: list[str], env: Mapping[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archivist", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@contextmanager
def serving_archivist(env: Mapping[str, str], port: int) -> Iterator[str]:
    """``archivist serve`` on ``port`` with ``env``, once its health check answers: its base URL."""
    server = start_archivist(["serve", "--port", str(port)], env)
    try:

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    return True
            except OSError:
                assert server.poll() is None, "serve exited"
                return False

        wait_until(answers, timeout=60, what="the API to answer")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.communicate(timeout=30)
