"""scripts/services.sh: once the services are up (the test command ran it first), it is quiet,
changes nothing and answers for each service; as a normal user it never tries to install."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services.sh"


def _run(*, env: dict[str, str] | None = None, user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(SCRIPT)]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_second_run_is_quiet_and_leaves_every_service_up() -> None:
    first = _run()
    assert first.returncode == 0, first.stderr
    again = _run()
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
    assert _answers(5432)
    assert _answers(5672)


def test_none_means_services_elsewhere_and_changes_nothing() -> None:
    done = _run(env={"ARCHIVIST_SERVICES": "none"})
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_the_opensearch_test_node_is_built_newer_than_its_sources() -> None:
    node = SCRIPT.parents[1] / "tests" / "opensearch-node"
    done = _run()
    assert done.returncode == 0, done.stderr
    built = node / "target" / ".built"
    assert (node / "target" / "opensearch-node.jar").is_file()
    assert all(Path(jar).is_file() for jar in (node / "target" / "classpath.txt").read_text().strip().split(":"))
    assert all(source.stat().st_mtime <= built.stat().st_mtime for source in (node / "src").rglob("*.java"))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to a normal user")
def test_a_normal_user_with_everything_up_needs_nothing() -> None:
    user = pwd.getpwnam("nobody").pw_name
    done = _run(user=user)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
