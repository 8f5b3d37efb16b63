"""Engines for the staging (and later archive) database: SQLite in WAL mode or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    DateTime,
    Dialect,
    Engine,
    Insert,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.sql.elements import ColumnClause


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever driver the URL names (or leaves out)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


SQLITE_POOL_SIZE = 40


def create_db_engine(url: str, connect_args: Mapping[str, str] | None = None) -> Engine:
    """An engine for ``url``; SQLite files get WAL, full fsync and writer-first transactions.

    ``connect_args`` go to the driver's connect (PostgreSQL's ``sslmode``, ``sslrootcert``, ...;
    see ``archivist.tls``) and win over the same parameters in the URL.
    """
    url = normalise_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, connect_args=dict(connect_args or {}))
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # A pool as large as the API's thread pool (40 threads): with the default 5 + 10 overflow,
    # concurrent requests opened and closed a connection each (with its PRAGMAs) under load.
    pooling = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": 8} if database and database != ":memory:" else {}
    engine = create_engine(url, connect_args={"timeout": 60}, **pooling)
    _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Leave transaction control to the "begin" hook below instead of pysqlite's own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed batch survives power loss, which is what lets us ack it.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
        # instead of one failing with "database is locked" when it upgrades a read lock.
        # A connection marked read-only (``read_only(engine)``) begins DEFERRED: in WAL mode a
        # reader never waits for a writer, and must not queue behind one's fsync.
        deferred = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


READ_ONLY_OPTION = "archivist_read_only"


def read_only(engine: Engine) -> Connection:
    """A connection for reads only: on SQLite it never takes (or waits for) the write lock."""
    return engine.connect().execution_options(**{READ_ONLY_OPTION: True})


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def insert_ignoring_conflicts(dialect_name: str, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the dialect in use (PostgreSQL or SQLite)."""
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def among(column: ColumnClause[str] | ColumnElement[str], keys: Iterable[str], dialect: str) -> ColumnElement[bool]:
    """``column IN keys`` with all the keys in one bound parameter.

    A batch of 1,000 keys rendered as 1,000 bound parameters (SQLAlchemy's expanding ``IN``)
    costs more to build and bind than the statement costs to run (ten times the lookup
    itself), and keying on a column without an index (``lease_owner``) scans the whole
    staging table. The keys go as one JSON array instead, unpacked by PostgreSQL's
    ``json_array_elements_text`` or SQLite's ``json_each``; either way the index on
    ``column`` does the lookups."""
    listed = bindparam(None, json.dumps(list(keys)), type_=String)
    if dialect == "postgresql":
        # ARRAY(SELECT ...) is computed once and probed through the index; the JSON text is
        # bound three times faster than the same ids as a text[] parameter (measured).
        elements = select(func.json_array_elements_text(func.cast(listed, JSON))).scalar_subquery()
        return column == any_(func.array(elements))
    rows = func.json_each(listed).table_valued("value")
    return column.in_(select(rows.c.value))


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps that are always aware and in UTC in Python, whatever the database keeps.

    SQLite has no time zones: SQLAlchemy would store an aware value's wall clock and return
    naive values. Binding converts to UTC first; results come back marked as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: archive times must carry a zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
