"""Private servers for the fault-tolerance suite: started here, killed by the tests, always
cleaned up. One that cannot be started fails the test; it is never skipped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol, TypeVar

import pytest

from tests.faults.servers import PrivatePostgres, PrivateRabbitMQ, ServerStartError


class _Server(Protocol):
    def start(self) -> None: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=_Server)


def _started(make: Callable[[Path], S], logs: Path, what: str) -> Iterator[S]:
    """``make(logs)`` started, closed afterwards; a server that cannot start fails the test."""
    try:
        server = make(logs)
    except ServerStartError as error:
        pytest.fail(f"cannot start {what}: {error}")
    try:
        try:
            server.start()
        except ServerStartError as error:
            pytest.fail(f"cannot start {what}: {error}")
        yield server
    finally:
        server.close()


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    yield from _started(PrivatePostgres, tmp_path / "logs", "a private PostgreSQL")


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    yield from _started(PrivateRabbitMQ, tmp_path / "logs", "a private RabbitMQ node")
