"""Connections to the real RabbitMQ, PostgreSQL and S3-compatible server the integration tests run against.

A missing service is a test failure, never a skip: CI must not go green without them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from kombu import Connection
from sqlalchemy.engine import make_url

from ingest.topology import Topology

AMQP_URL = os.environ.get("ARCHIVIST_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_URL = os.environ.get("ARCHIVIST_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# The S3-compatible server scripts/services.sh starts (versitygw) and its test credentials.
S3_URL = os.environ.get("ARCHIVIST_TEST_S3_URL", "http://127.0.0.1:7070")
S3_ACCESS_KEY = os.environ.get("ARCHIVIST_TEST_S3_ACCESS_KEY", "archivist-test")
S3_SECRET_KEY = os.environ.get("ARCHIVIST_TEST_S3_SECRET_KEY", "archivist-test-secret")
S3_REGION = os.environ.get("ARCHIVIST_TEST_S3_REGION", "us-east-1")


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


def s3_client() -> Any:
    """A boto3 client of the test S3 server (test code creates and inspects buckets with it)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=S3_URL,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY,
        aws_secret_access_key=S3_SECRET_KEY,
        config=Config(connect_timeout=5, retries={"max_attempts": 2}, s3={"addressing_style": "path"}),
    )


def require_s3() -> None:
    try:
        s3_client().list_buckets()
    except Exception as error:
        pytest.fail(f"an S3-compatible server is required at {S3_URL} (scripts/services.sh starts one) and: {error}")


def fresh_s3_bucket(*, object_lock: bool) -> str:
    """A new bucket of this test's own (with Object Lock when asked); :func:`drop_s3_bucket`
    removes what it can of it afterwards."""
    require_s3()
    name = f"archivist-test-{uuid.uuid4().hex[:16]}"
    s3_client().create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
    return name


def drop_s3_bucket(name: str) -> None:
    """Delete every version in a test bucket, then the bucket; versions under a compliance lock
    cannot be deleted (which is the point), so a bucket holding one stays, small, until its
    lock expires."""
    client = s3_client()
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                try:
                    client.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
                except Exception:  # noqa: S112 (locked: stays until its date)
                    continue
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
        client.delete_bucket(Bucket=name)
    except Exception:  # noqa: S110 (a bucket still holding a locked version)
        pass


@contextmanager
def s3_buckets() -> Iterator[Callable[[bool], str]]:
    """Make test buckets (``make(object_lock)``), dropped when the block ends."""
    made: list[str] = []

    def make(object_lock: bool) -> str:
        made.append(fresh_s3_bucket(object_lock=object_lock))
        return made[-1]

    try:
        yield make
    finally:
        for name in made:
            drop_s3_bucket(name)
