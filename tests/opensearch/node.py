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
import socket
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
    _process: subprocess.Popen[bytes] | None
    http_port: int
    transport_port: int
    log: Path
    _log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise OpenSearchNodeError(f"node {self.node_name} was never launched")
        return self._process

    def launch(self) -> None:
        """Starts the node's process with its command (the ready file of an earlier run removed first)."""
        if self._process is not None and self._process.poll() is None:
            raise OpenSearchNodeError(f"node {self.node_name} is already running (pid {self._process.pid})")
        (self.home / "ready").unlink(missing_ok=True)
        self._log_file = open(self.log, "ab")  # noqa: SIM115 (closed by stop/kill)
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Waits until the node has started (its ready file names its bound ports) and records the ports; a node
        that exits or does not start in time is stopped and OpenSearchNodeError says why, with its log's end."""
        ready = self.home / "ready"
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if self.process.poll() is not None:
                code = self.process.returncode
                self.stop()
                raise OpenSearchNodeError(
                    f"OpenSearch node {self.node_name} exited with {code} before starting; log {self.log}:\n"
                    + self.log_tail()
                )
            if time.monotonic() > deadline:
                self.stop()
                raise OpenSearchNodeError(
                    f"OpenSearch node {self.node_name} did not start in {timeout:.0f} s; log {self.log}:\n"
                    + self.log_tail()
                )
            time.sleep(0.2)
        ports = dict(line.split("=", 1) for line in ready.read_text().split())
        self.http_port = int(ports["http"])
        self.transport_port = int(ports["transport"])

    def restart(self, timeout: float = 120.0) -> None:
        """Starts the node again after stop or kill: the same data directory, the same HTTP and transport ports
        (clients and the other nodes find it where it was), the same cluster; waits until it has started."""
        if self.process.poll() is None:
            raise OpenSearchNodeError(f"node {self.node_name} is still running: stop or kill it first")
        pinned = {"--http-port": str(self.http_port), "--transport-port": str(self.transport_port)}
        self.command = [
            pinned.get(self.command[i - 1], value) if i > 0 else value for i, value in enumerate(self.command)
        ]
        self.launch()
        self.wait_ready(timeout)

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
        if self._process is None:
            return
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
        if self._process is None:
            return
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


def free_loopback_ports(count: int) -> list[int]:
    """Free loopback ports from the kernel (released before use). A cluster's transport ports must be known
    before its nodes start (they are each other's seed hosts)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def launch_node(
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
) -> OpenSearchNode:
    """Starts the node's process and returns at once: OpenSearchNode.wait_ready waits until it has bound its
    ports. The nodes of a new cluster are launched together: each one's start waits for the cluster to form."""
    home.mkdir(parents=True, exist_ok=True)
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
        str(home / "ready"),
        "--stop-on-stdin-eof",
        "true",
    ]
    if seed_hosts:
        command += ["--seed-hosts", ",".join(seed_hosts)]
    if initial_managers:
        command += ["--initial-managers", ",".join(initial_managers)]
    node = OpenSearchNode(home, node_name, cluster_name, command, None, http_port, transport_port, home / "node.log")
    node.launch()
    return node


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
    wait_for_health. Starting again on the same `home` (after stop or kill) keeps the data: see
    OpenSearchNode.restart.
    """
    node = launch_node(
        home,
        classpath=classpath,
        cluster_name=cluster_name,
        node_name=node_name,
        http_port=http_port,
        transport_port=transport_port,
        seed_hosts=seed_hosts,
        initial_managers=initial_managers,
        heap_mb=heap_mb,
    )
    node.wait_ready(timeout)
    return node


def start_cluster(
    root: Path,
    names: Sequence[str] = ("n1", "n2", "n3"),
    *,
    classpath: Sequence[str] | None = None,
    cluster_name: str = "archivist-cluster",
    heap_mb: int = DEFAULT_HEAP_MB,
    timeout: float = 120.0,
) -> list[OpenSearchNode]:
    """Starts one node per name (data under root/name), all cluster-manager-eligible data nodes seeding each
    other, launched together; returns them once every one has started (health: see wait_for_health). A node
    that cannot start stops them all and raises OpenSearchNodeError."""
    classpath = list(classpath) if classpath is not None else build()
    seeds = [f"127.0.0.1:{port}" for port in free_loopback_ports(len(names))]
    nodes: list[OpenSearchNode] = []
    try:
        for name, seed in zip(names, seeds, strict=True):
            nodes.append(
                launch_node(
                    root / name,
                    classpath=classpath,
                    cluster_name=cluster_name,
                    node_name=name,
                    transport_port=int(seed.rsplit(":", 1)[1]),
                    seed_hosts=seeds,
                    initial_managers=names,
                    heap_mb=heap_mb,
                )
            )
        for node in nodes:
            node.wait_ready(timeout)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes
