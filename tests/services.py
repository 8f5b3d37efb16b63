"""Connections to the real RabbitMQ and PostgreSQL the integration tests run against.

A missing service is a test failure, never a skip: CI must not go green without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from kombu import Connection
from sqlalchemy.engine import make_url

from ingest.topology import Topology

AMQP_URL = os.environ.get("ARCHIVIST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get("ARCHIVIST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def require_rabbitmq() -> None:
    try:
        with Connection(AMQP_URL, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=3, interval_start=1)
    except Exception as error:
        pytest.fail(f"RabbitMQ is required at {AMQP_URL} and is not reachable: {error}")


def _admin_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


def require_postgresql() -> None:
    try:
        with psycopg.connect(_admin_dsn(), connect_timeout=5):
            pass
    except psycopg.Error as error:
        pytest.fail(f"PostgreSQL is required at {POSTGRES_URL} and is not reachable: {error}")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database for one test session; dropped afterwards. Yields its URL."""
    require_postgresql()
    name = f"archivist_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_admin_dsn(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def private_topology() -> Iterator[Topology]:
    """Exchanges and queues of this test's own, deleted afterwards."""
    require_rabbitmq()
    suffix = uuid.uuid4().hex[:10]
    topology = Topology(
        exchange=f"test.events.{suffix}",
        queue=f"test.events.{suffix}",
        dead_letter_exchange=f"test.dead.{suffix}",
        dead_letter_queue=f"test.dead.{suffix}",
    )
    try:
        yield topology
    finally:
        with Connection(AMQP_URL) as connection:
            channel = connection.channel()
            for queue in (topology.queue, topology.dead_letter_queue):
                channel.queue_delete(queue)
            for exchange in (topology.exchange, topology.dead_letter_exchange):
                channel.exchange_delete(exchange)
