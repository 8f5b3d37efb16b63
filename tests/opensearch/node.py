"""A real OpenSearch 2.19 node for the live tests: built from tests/opensearch-node/ with Maven, started as a
child process on free loopback ports with its own data directory, stopped at the end.

A node that cannot be built or started is an error (OpenSearchNodeError), which the fixtures turn into a test
failure, never a skip. The node stops by itself when the test process dies (its standard input closes).

Environment:
- ARCHIVIST_TEST_OPENSEARCH_URL: use that server instead of starting a node (e.g. a real cluster).
- ARCHIVIST_TEST_OPENSEARCH_JAVA: the java binary (default: $JAVA_HOME/bin/java, then Debian's Java 17, then
  `java` on PATH). OpenSearch 2.19 runs on Java 17.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

NODE_PROJECT = Path(__file__).resolve().parent.parent / "opensearch-node"
JAR = NODE_PROJECT / "target" / "opensearch-node.jar"
CLASSPATH_FILE = NODE_PROJECT / "target" / "classpath.txt"
# Touched after each successful build: Maven leaves classpath.txt alone when its content is unchanged, so the
# files it writes cannot tell whether the build is newer than the sources.
BUILT_STAMP = NODE_PROJECT / "target" / ".built"
MAIN_CLASS = "archivist.opensearch.TestNode"
DEBIAN_JAVA_17 = Path("/usr/lib/jvm/java-17-openjdk-amd64/bin/java")
DEFAULT_HEAP_MB = 512


class OpenSearchNodeError(RuntimeError):
    """The test node could not be built, started or made healthy; the message says why."""


def java_binary() -> str:
    configured = os.environ.get("ARCHIVIST_TEST_OPENSEARCH_JAVA")
    if configured:
        return configured
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    if DEBIAN_JAVA_17.exists():
        return str(DEBIAN_JAVA_17)
    found = shutil.which("java")
    if found is None:
        raise OpenSearchNodeError("no java binary: install Java 17 (Debian: openjdk-17-jdk-headless)")
    return found


def _sources() -> list[Path]:
    return [NODE_PROJECT / "pom.xml", *sorted((NODE_PROJECT / "src").rglob("*"))]


def _up_to_date() -> bool:
    if not (JAR.exists() and CLASSPATH_FILE.exists() and BUILT_STAMP.exists()):
        return False
    built = BUILT_STAMP.stat().st_mtime
    return all(source.stat().st_mtime <= built for source in _sources() if source.is_file())


def build(timeout: float = 900.0) -> list[str]:
    """Builds the launcher if its jar is missing or older than its sources; returns the java classpath.

    Tries Maven offline first (dependencies already in ~/.m2), then online (first build: Maven Central). A file
    lock keeps two test processes from building at once.
    """
    mvn = shutil.which("mvn")
    (NODE_PROJECT / "target").mkdir(exist_ok=True)
    with open(NODE_PROJECT / "target" / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _up_to_date():
            if mvn is None:
                raise OpenSearchNodeError("Maven (mvn) is not installed: scripts/services.sh installs it as root")
            output = ""
            for offline in (True, False):
                command = [mvn, "-q", "-B", "-Dstyle.color=never", *(["-o"] if offline else []), "package"]
                done = subprocess.run(
                    command, cwd=NODE_PROJECT, capture_output=True, text=True, timeout=timeout, check=False
                )
                output = done.stdout + done.stderr
                if done.returncode == 0:
                    BUILT_STAMP.touch()
                    break
            else:
                raise OpenSearchNodeError(f"building {NODE_PROJECT} failed:\n{output[-4000:]}")
    return [str(JAR), *CLASSPATH_FILE.read_text().strip().split(os.pathsep)]


def http_json(url: str, method: str = "GET", body: Any = None, timeout: float = 30.0) -> Any:
    """One JSON request with the standard library (the node's own checks need no client library)."""
    data = None if body is None else json.dumps(body).encode()
    if not url.startswith(("http://", "https://")):
        raise OpenSearchNodeError(f"not an http URL: {url}")
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (checked above)
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (checked above)
        return json.loads(response.read())


def wait_for_health(
    url: str, *, status: str = "yellow", nodes: int | None = None, timeout: float = 120.0
) -> dict[str, Any]:
    """Waits until the cluster at `url` is at least `status` (and has `nodes` nodes); returns the health."""
    deadline = time.monotonic() + timeout
    query = f"wait_for_status={status}&timeout=5s" + (f"&wait_for_nodes={nodes}" if nodes else "")
    last: object = None
    while time.monotonic() < deadline:
        try:
            health: dict[str, Any] = http_json(f"{url}/_cluster/health?{query}", timeout=10)
            if not health.get("timed_out"):
                return health
            last = health
        except (urllib.error.URLError, OSError, ValueError) as error:
            last = error
        time.sleep(0.5)
    raise OpenSearchNodeError(f"{url} is not {status} after {timeout:.0f} s: {last}")


@dataclass
class OpenSearchNode:
    """One running node: its process, directories and bound ports."""

    home: Path
    node_name: str
    cluster_name: str
    command: list[str]
    process: subprocess.Popen[bytes]
    http_port: int
    transport_port: int
    log: Path
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def transport_address(self) -> str:
        return f"127.0.0.1:{self.transport_port}"

    def log_tail(self, characters: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-characters:]
        except OSError:
            return ""

    def rss_kib(self) -> int:
        """Resident memory of the node's JVM, from /proc (Linux)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise OpenSearchNodeError(f"no VmRSS for pid {self.process.pid}")

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (the node closes cleanly), then SIGKILL if it has not exited within `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_pipes()

    def kill(self) -> None:
        """SIGKILL, as in a crash (the fault test): the data directory stays for a restart."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def start_node(
    home: Path,
    *,
    classpath: Sequence[str] | None = None,
    cluster_name: str = "archivist-test",
    node_name: str = "archivist-test-node",
    http_port: int = 0,
    transport_port: int = 0,
    seed_hosts: Sequence[str] = (),
    initial_managers: Sequence[str] = (),
    heap_mb: int = DEFAULT_HEAP_MB,
    timeout: float = 120.0,
) -> OpenSearchNode:
    """Starts one node with its data and logs under `home` and waits until it has bound its ports.

    Port 0 lets the node take any free loopback port (no race with other processes); the bound ports are read
    from its ready file. Without seed hosts the node is a single-node cluster. Health is not awaited here: see
    wait_for_health. Starting again on the same `home` (after stop or kill) keeps the data.
    """
    home.mkdir(parents=True, exist_ok=True)
    ready = home / "ready"
    ready.unlink(missing_ok=True)
    classpath = list(classpath) if classpath is not None else build()
    command = [
        java_binary(),
        f"-Xms{heap_mb}m",
        f"-Xmx{heap_mb}m",
        "-XX:+UseG1GC",
        "-cp",
        os.pathsep.join(classpath),
        MAIN_CLASS,
        "--home",
        str(home),
        "--cluster-name",
        cluster_name,
        "--node-name",
        node_name,
        "--http-port",
        str(http_port),
        "--transport-port",
        str(transport_port),
        "--ready-file",
        str(ready),
        "--stop-on-stdin-eof",
        "true",
    ]
    if seed_hosts:
        command += ["--seed-hosts", ",".join(seed_hosts)]
    if initial_managers:
        command += ["--initial-managers", ",".join(initial_managers)]
    log = home / "node.log"
    log_file = open(log, "ab")  # noqa: SIM115 (closed by OpenSearchNode.stop/kill)
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT)
    node = OpenSearchNode(home, node_name, cluster_name, command, process, 0, 0, log, log_file)
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if process.poll() is not None:
            node.stop()
            raise OpenSearchNodeError(
                f"OpenSearch node {node_name} exited with {process.returncode} before starting; log {log}:\n"
                + node.log_tail()
            )
        if time.monotonic() > deadline:
            node.stop()
            raise OpenSearchNodeError(
                f"OpenSearch node {node_name} did not start in {timeout:.0f} s; log {log}:\n" + node.log_tail()
            )
        time.sleep(0.2)
    ports = dict(line.split("=", 1) for line in ready.read_text().split())
    node.http_port = int(ports["http"])
    node.transport_port = int(ports["transport"])
    return node
