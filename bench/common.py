"""What the benchmarks share: scratch PostgreSQL databases and writing BENCHMARKS.md."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from archivist.migrate import upgrade
from ingest.db import create_db_engine

RESULTS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(section: str, begin: str, end: str, results: Path = RESULTS) -> None:
    current = results.read_text(encoding="utf-8") if results.exists() else "# Benchmarks\n"
    if begin in current:
        before, rest = current.split(begin, 1)
        updated = before + section + rest.split(end, 1)[1]
    else:
        updated = current.rstrip() + "\n\n" + section + "\n"
    results.write_text(updated, encoding="utf-8")


def _admin(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def fresh_postgres(server_url: str) -> str:
    """A new, migrated database on the server of ``server_url``; returns its URL."""
    name = f"archivist_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_admin(server_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    upgrade(create_db_engine(url))
    return url


def drop_postgres(url: str, server_url: str) -> None:
    """Drop the scratch database ``url``, connecting through ``server_url``'s database."""
    name = make_url(url).database
    with psycopg.connect(_admin(server_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
