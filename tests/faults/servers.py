"""Private PostgreSQL and RabbitMQ servers that the fault-tolerance suite may SIGKILL.

The shared servers on 5432 and 5672 serve every other test on this machine, so the suite never
touches them: it runs a PostgreSQL cluster (``initdb`` into a temporary directory, its own
port, its unix socket in that directory, trust authentication) and a RabbitMQ node (its own
node name, AMQP and distribution ports, its own ``epmd`` on a port of its own, mnesia, logs
and config in a temporary directory, no plugins) and kills and restarts those.

Each server runs in a process group of its own, so that stopping it at the end also ends
whatever it left behind (PostgreSQL backends orphaned by a killed postmaster, RabbitMQ's
port helpers). A server that cannot be started raises :class:`ServerStartError`; the
fixtures turn that into a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import amqp
import psycopg

START_TIMEOUT = 60.0
"""Seconds a server gets to accept connections (a RabbitMQ node boots in about 3 s here)."""


class ServerStartError(RuntimeError):
    """A private server could not be started (its log is in the message)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _newest(pattern: str) -> Path | None:
    """The path matching ``pattern`` with the highest version number in it (PostgreSQL 15 < 16)."""

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(part) for part in path.split("/") if part.isdigit())

    found = sorted(glob.glob(pattern), key=version)
    return Path(found[-1]) if found else None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"(no log: {error})"


def _keep_log(log: Path, logs: Path) -> None:
    """Copy a server's log out of its directory before that is removed (for a failure's post-mortem)."""
    with contextlib.suppress(OSError):
        logs.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, logs / log.name)


def _end_group(process: subprocess.Popen[bytes] | None, *, grace: float, first: signal.Signals) -> None:
    """Send ``first`` to ``process``, give it ``grace`` seconds, then SIGKILL its process group
    (the group is the one it was started in: ``start_new_session``)."""
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(first)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _wait_until_up(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, what: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise ServerStartError(f"{what} exited with {process.returncode} while starting:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ServerStartError(f"{what} did not accept connections within {timeout:.0f}s:\n{_tail(log)}")
        time.sleep(0.1)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster. As root it runs as the ``postgres`` user, because
    ``initdb`` and ``postgres`` refuse to run as root. Its directory is removed by
    :meth:`close`, after its log is copied to ``logs``."""

    def __init__(self, logs: Path) -> None:
        initdb = _newest("/usr/lib/postgresql/*/bin/initdb")
        if initdb is None:
            raise ServerStartError("no /usr/lib/postgresql/*/bin/initdb: install PostgreSQL (Debian: postgresql)")
        self.bin = initdb.parent
        self.user: int | None = None
        self.group: int | None = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError as error:
                raise ServerStartError("running as root needs a 'postgres' user to run the server as") from error
            self.user, self.group = account.pw_uid, account.pw_gid
        # Not under pytest's tmp dir: that is private to root (0700) and the server user must reach it.
        self.logs = logs
        self.root = Path(tempfile.mkdtemp(prefix="archivist-fault-pg-"))
        if self.user is not None:
            os.chown(self.root, self.user, self.group if self.group is not None else -1)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._groups: list[subprocess.Popen[bytes]] = []
        self.restarts = 0

    def _as_server_user(self) -> dict[str, Any]:
        """Popen arguments that run a child as the server user (nothing when not root)."""
        if self.user is None:
            return {}
        return {"user": self.user, "group": self.group, "extra_groups": []}

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        result = subprocess.run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            capture_output=True,
            text=True,
            **self._as_server_user(),
            cwd=self.root,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed ({result.returncode}): {result.stderr or result.stdout}")
        self._launch()

    def _launch(self) -> None:
        """Start the postmaster on the existing data directory; retried while the one killed
        before still has backends attached to its shared memory (they exit on their own)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with self.log.open("ab") as log:
                process = subprocess.Popen(
                    [
                        str(self.bin / "postgres"),
                        "-D",
                        str(self.data),
                        "-p",
                        str(self.port),
                        "-k",
                        str(self.root),
                        "-c",
                        "listen_addresses=127.0.0.1",
                        "-c",
                        "max_connections=60",
                        "-c",
                        "shared_buffers=32MB",
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    **self._as_server_user(),
                    cwd=self.root,
                    start_new_session=True,
                )
            self._groups.append(process)
            try:
                _wait_until_up(self._accepts, process, self.log, "PostgreSQL", max(1.0, deadline - time.monotonic()))
            except ServerStartError:
                if process.poll() is None or time.monotonic() > deadline:
                    _end_group(process, grace=5, first=signal.SIGQUIT)
                    raise
                time.sleep(0.5)
                continue
            self.process = process
            return

    def _accepts(self) -> bool:
        try:
            with psycopg.connect(self.admin_dsn, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.admin_dsn, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def kill(self) -> None:
        """SIGKILL the postmaster (only it: its backends find out and exit by themselves)."""
        assert self.process is not None, "PostgreSQL was never started"
        assert self.process.poll() is None, "PostgreSQL is not running"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start again on the same data directory and port (crash recovery runs first)."""
        self._launch()
        self.restarts += 1

    def close(self) -> None:
        """Stop the server (fast shutdown), end anything left in its process groups, remove its files."""
        try:
            _end_group(self.process, grace=15, first=signal.SIGINT)
            for group in self._groups:
                _end_group(group, grace=0, first=signal.SIGKILL)
        finally:
            _keep_log(self.log, self.logs)
            shutil.rmtree(self.root, ignore_errors=True)


class PrivateRabbitMQ:
    """A throwaway single RabbitMQ node, named ``archivist-fault-<random>@localhost``, with its
    own ``epmd``: nothing about it is visible to the shared node or its tools. Its directory
    is removed by :meth:`close`, after its logs are copied to ``logs``."""

    def __init__(self, logs: Path) -> None:
        server = _newest("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")
        if server is None:
            found = shutil.which("rabbitmq-server")
            server = Path(found) if found else None
        epmd = shutil.which("epmd") or _newest("/usr/lib/erlang/erts-*/bin/epmd")
        if server is None or epmd is None:
            raise ServerStartError("rabbitmq-server and epmd are needed (Debian: rabbitmq-server)")
        self.server = server
        self.epmd = Path(epmd)
        self.logs = logs
        self.root = root = Path(tempfile.mkdtemp(prefix="archivist-fault-rabbitmq-"))
        self.node = f"archivist-fault-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.log = root / "rabbitmq.out"
        self.pid_file = root / "rabbitmq.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self.epmd_process: subprocess.Popen[bytes] | None = None
        self._groups: list[subprocess.Popen[bytes]] = []
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        root = self.root
        env.update(
            HOME=str(root),  # the Erlang cookie is created here, not in the real home
            ERL_EPMD_PORT=str(self.epmd_port),
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(root / "mnesia"),
            RABBITMQ_LOG_BASE=str(root / "log"),
            RABBITMQ_PID_FILE=str(self.pid_file),
            RABBITMQ_CONFIG_FILE=str(root / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(root / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(root / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(root / "enabled_plugins"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}",
        )
        return env

    def start(self) -> None:
        (self.root / "rabbitmq.conf").write_text(f"listeners.tcp.default = 127.0.0.1:{self.port}\n")
        (self.root / "rabbitmq-env.conf").write_text("")  # not /etc/rabbitmq's, which names the shared node
        (self.root / "enabled_plugins").write_text("[].\n")  # no management plugin
        with (self.root / "epmd.out").open("ab") as log:
            self.epmd_process = subprocess.Popen(
                [str(self.epmd), "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._launch()

    def _launch(self) -> None:
        self.pid_file.unlink(missing_ok=True)
        with self.log.open("ab") as log:
            process = subprocess.Popen(
                [str(self.server)],
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,
            )
        self._groups.append(process)
        try:
            _wait_until_up(self._accepts, process, self.log, f"RabbitMQ node {self.node}", START_TIMEOUT)
        except ServerStartError:
            _end_group(process, grace=0, first=signal.SIGKILL)
            raise
        self.process = process

    def _accepts(self) -> bool:
        connection = amqp.Connection(f"127.0.0.1:{self.port}", userid="guest", password="guest", connect_timeout=2)
        try:
            connection.connect()
            return True
        except (OSError, amqp.exceptions.AMQPError):
            return False
        finally:
            with contextlib.suppress(OSError, amqp.exceptions.AMQPError):
                connection.collect()

    def beam_pid(self) -> int:
        """The node's Erlang VM (``beam.smp``), from the pid file the node writes when it boots."""
        deadline = time.monotonic() + 10
        while True:
            text = self.pid_file.read_text().strip() if self.pid_file.exists() else ""
            if text.isdigit():
                return int(text)
            if time.monotonic() > deadline:
                raise AssertionError(f"RabbitMQ wrote no pid to {self.pid_file}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the node's ``beam.smp`` (the ``rabbitmq-server`` script around it exits too)."""
        assert self.process is not None, "RabbitMQ was never started"
        assert self.process.poll() is None, "RabbitMQ is not running"
        pid = self.beam_pid()
        os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=15)

    def restart(self) -> None:
        """Boot again with the same node name, ports and mnesia directory (durable queues and
        persistent messages are recovered from it)."""
        self._launch()
        self.restarts += 1

    def close(self) -> None:
        """Stop the node, its ``epmd`` and anything left in their process groups; remove its files."""
        try:
            if self.process is not None and self.process.poll() is None:
                with contextlib.suppress(ProcessLookupError, AssertionError):
                    os.kill(self.beam_pid(), signal.SIGTERM)  # a graceful stop
            _end_group(self.process, grace=20, first=signal.SIGTERM)
            for group in self._groups:
                _end_group(group, grace=0, first=signal.SIGKILL)
            _end_group(self.epmd_process, grace=5, first=signal.SIGTERM)
        finally:
            _keep_log(self.log, self.logs)
            for log in sorted((self.root / "log").glob("*.log")):
                _keep_log(log, self.logs)
            shutil.rmtree(self.root, ignore_errors=True)
