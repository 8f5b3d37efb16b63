"""Private servers for the fault-tolerance suite: started here, killed by the tests, always
cleaned up. One that cannot be started fails the test; it is never skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.servers import PrivatePostgres, PrivateRabbitMQ, ServerStartError


@pytest.fixture
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    try:
        server = PrivatePostgres(tmp_path / "logs")
    except ServerStartError as error:
        pytest.fail(f"cannot start a private PostgreSQL: {error}")
    try:
        try:
            server.start()
        except ServerStartError as error:
            pytest.fail(f"cannot start a private PostgreSQL: {error}")
        yield server
    finally:
        server.close()


@pytest.fixture
def private_rabbitmq(tmp_path: Path) -> Iterator[PrivateRabbitMQ]:
    try:
        server = PrivateRabbitMQ(tmp_path / "logs")
    except ServerStartError as error:
        pytest.fail(f"cannot start a private RabbitMQ node: {error}")
    try:
        try:
            server.start()
        except ServerStartError as error:
            pytest.fail(f"cannot start a private RabbitMQ node: {error}")
        yield server
    finally:
        server.close()
