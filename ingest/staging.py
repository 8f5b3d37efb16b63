"""The staging store: the only buffer between the queue and the adapters.

Consumers and embedded producers insert validated events here; the batch processor claims
them, hands them to every adapter and deletes them once all have succeeded (its statements on
staging are :mod:`ingest.staging_claims`'s). ``event_id`` is
the primary key, so a redelivered or re-sent event is absorbed by ``ON CONFLICT DO NOTHING``.

An event id is recorded once, with the content it first came with. :meth:`StagingStore.stage`
tells a copy of a recorded event (a duplicate: absorbed) from another event under a recorded
id (a conflict: refused, the first kept), against staging and against the archive of record,
which still holds the event once staging has let go of it. The archive is asked after the
insert, in the same transaction: the processor deletes a staged row in the transaction that
archives it, so an event is always visible in one of the two.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    column,
    delete,
    func,
    select,
    table,
)
from sqlalchemy.dialects import sqlite

from ingest.db import UtcDateTime, among, read_only
from ingest.events import Event, event_to_json

metadata = MetaData()

staged_events = Table(
    "staged_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("event_type", String(32), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("payload", Text, nullable=False),
    Column("staged_at", UtcDateTime(), nullable=False, server_default=func.current_timestamp()),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # Of ``attempts``, those that found a store unreachable (Failure.unreachable): they set the
    # delay but not parking, which counts only the attempts the event itself may be at fault for.
    Column("outages", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("parked", Boolean, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("lease_owner", String(128), nullable=True),
    Index("ix_staged_events_occurred", "occurred_at", "event_id"),
)

staged_deliveries = Table(
    "staged_deliveries",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("adapter", String(64), primary_key=True),
    Column("delivered_at", UtcDateTime(), nullable=False),
)


@dataclass(frozen=True)
class StagedRow:
    event_id: str
    event_type: str
    occurred_at: datetime
    payload: str


def to_row(event: Event) -> StagedRow:
    return StagedRow(str(event.event_id), event.type, event.occurred_at, event_to_json(event))


_archived = table("archive_events", column("event_id", String), column("payload", Text), column("payload_hash", String))
"""What staging reads of the archive of record (``archive.schema``), without importing it."""


def _same_but_offset(sent: str, recorded: str) -> bool:
    """Whether ``sent`` is ``recorded`` with the sender's ``occurred_offset`` added: the same
    event, recorded by a version of Archivist that did not keep the offset yet (its bytes are
    kept as they were; issue 17)."""
    if '"occurred_offset"' not in sent or '"occurred_offset"' in recorded:
        return False
    try:
        document = orjson.loads(sent)
        document.pop("occurred_offset", None)
        return bool(document == orjson.loads(recorded))
    except (orjson.JSONDecodeError, AttributeError):
        return False


def payload_digest(payload: str) -> str:
    """The SHA-256 of a payload's canonical JSON (sorted keys, compact, UTF-8): what the archive
    keeps as ``payload_hash`` (``archive.hashchain.event_payload_hash``; a test holds them equal)."""
    return hashlib.sha256(orjson.dumps(orjson.loads(payload), option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True)
class Conflict:
    """A row whose event id is recorded with other content: refused, the first version kept."""

    position: int
    """Where the row was in the sequence given to :meth:`StagingStore.stage`."""
    event_id: str
    reason: str


@dataclass(frozen=True)
class StageOutcome:
    new: int
    """Rows inserted into staging."""
    duplicates: int
    """Rows whose event was recorded already with the same content: absorbed."""
    conflicts: tuple[Conflict, ...]


def _conflict(position: int, event_id: str, where: str) -> Conflict:
    return Conflict(
        position,
        event_id,
        f"conflict: event_id {event_id} is {where} with different content; the first version is kept "
        "(a new event needs a new event_id; a correction is an edit event)",
    )


@dataclass(frozen=True)
class StagingCounts:
    staged: int
    parked: int


@dataclass(frozen=True)
class AdapterDeliveries:
    """How many staged events one adapter has taken, and when it took the latest."""

    adapter: str
    delivered: int
    last_at: datetime | None


# PostgreSQL: COPY into a per-session temporary table, then one INSERT ... SELECT that skips
# known ids. Measured here: 59,000 rows/s, against 21,000 for a multi-row VALUES insert and
# 14,000 for unnest() over array parameters.
_PG_INCOMING = (
    "CREATE TEMP TABLE IF NOT EXISTS staging_incoming "
    "(event_id text, event_type text, occurred_at timestamptz, payload text) ON COMMIT DELETE ROWS"
)
_PG_COPY = "COPY staging_incoming (event_id, event_type, occurred_at, payload) FROM STDIN"
_PG_COPY_NEW = "COPY staged_events (event_id, event_type, occurred_at, payload) FROM STDIN"
_UNIQUE_VIOLATION = "23505"
_PG_MOVE = (
    "INSERT INTO staged_events (event_id, event_type, occurred_at, payload) "
    "SELECT event_id, event_type, occurred_at, payload FROM staging_incoming "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)


class StagingStore:
    """Idempotent writes into ``staged_events`` and the counts ``archivist status``, the
    overview and ``/metrics`` show."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def insert(self, rows: Sequence[StagedRow]) -> int:
        """:meth:`stage` ``rows``; returns how many were new (conflicts are not inserted)."""
        return self.stage(rows).new

    def stage(self, rows: Sequence[StagedRow]) -> StageOutcome:
        """Insert ``rows`` in one transaction, committed on return, and say what became of each.

        The caller may acknowledge the new and duplicate events to their producer once this
        returns: they are durable. Conflicts are not inserted; the caller reports them.
        """
        if not rows:
            return StageOutcome(0, 0, ())
        if self.engine.dialect.name == "postgresql":
            # Fast path: COPY straight into staged_events, which holds when none of the ids is
            # staged yet (every batch but a redelivered one). One conflict makes the COPY fail
            # as a whole and roll back; the rows then go in again below, skipping known ids.
            try:
                with self.engine.begin() as connection:
                    return _stage_in(connection, rows, _copy_new_into_postgresql)
            except Exception as error:
                if getattr(error, "sqlstate", None) != _UNIQUE_VIOLATION:
                    raise
        with self.engine.begin() as connection:
            return self.stage_in(connection, rows)

    def check(self, rows: Sequence[StagedRow]) -> tuple[Conflict, ...]:
        """The conflicts staging ``rows`` would meet now (a read: nothing is inserted)."""
        with read_only(self.engine) as connection:
            return _stage_in(connection, rows, _insert_nothing).conflicts

    def insert_in(self, connection: Connection, rows: Sequence[StagedRow]) -> int:
        """:meth:`stage_in`, returning how many rows were new."""
        return self.stage_in(connection, rows).new

    def stage_in(self, connection: Connection, rows: Sequence[StagedRow]) -> StageOutcome:
        """:meth:`stage` inside the caller's transaction."""
        if connection.dialect.name == "postgresql":
            return _stage_in(connection, rows, _copy_into_postgresql)
        return _stage_in(connection, rows, _insert_into_sqlite)

    def counts(self) -> StagingCounts:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(staged_events.c.parked, func.count()).group_by(staged_events.c.parked)
            ).all()
        by_flag = {bool(parked): int(count) for parked, count in rows}
        return StagingCounts(staged=by_flag.get(False, 0), parked=by_flag.get(True, 0))

    def counts_without_transaction(self) -> StagingCounts:
        """:meth:`counts` on a raw DBAPI connection: no SQLAlchemy transaction, so on SQLite no
        ``BEGIN IMMEDIATE`` waiting behind a processor's write lock (for probes and scrapes)."""
        parked = staged_events.c.parked.name
        sql = f"SELECT {parked}, COUNT(*) FROM {staged_events.name} GROUP BY {parked}"  # noqa: S608 (names from our schema)
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(sql)
                by_flag = {bool(flag): int(count) for flag, count in cursor.fetchall()}
            finally:
                cursor.close()
        finally:
            connection.close()
        return StagingCounts(staged=by_flag.get(False, 0), parked=by_flag.get(True, 0))

    def deliveries(self) -> list[AdapterDeliveries]:
        """Each adapter's deliveries of the rows still staged, by adapter name."""
        columns = staged_deliveries.c
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(columns.adapter, func.count(), func.max(columns.delivered_at)).group_by(columns.adapter)
            ).all()
        found = [AdapterDeliveries(adapter, int(delivered), last) for adapter, delivered, last in rows]
        return sorted(found, key=lambda deliveries: deliveries.adapter)

    def event_ids(self) -> set[str]:
        """Every staged event id (for tests and checks on small stores)."""
        with self.engine.connect() as connection:
            return set(connection.execute(select(staged_events.c.event_id)).scalars())


__all__ = [
    "AdapterDeliveries",
    "Conflict",
    "StageOutcome",
    "StagedRow",
    "StagingCounts",
    "StagingStore",
    "metadata",
    "staged_deliveries",
    "staged_events",
    "to_row",
]


_Insert = Callable[[Connection, Sequence[StagedRow]], set[str]]
"""Inserts rows of distinct ids, skipping staged ids; returns the ids it inserted."""


def staged_before(connection: Connection, cutoff: datetime) -> int:
    """Events still staged (or parked) that occurred before ``cutoff``: not delivered yet."""
    return int(
        connection.execute(
            select(func.count()).select_from(staged_events).where(staged_events.c.occurred_at < cutoff)
        ).scalar_one()
    )


def _stage_in(connection: Connection, rows: Sequence[StagedRow], insert: _Insert) -> StageOutcome:
    by_id: dict[str, list[int]] = {}
    for position, row in enumerate(rows):
        by_id.setdefault(row.event_id, []).append(position)
    inserted = insert(connection, [rows[positions[0]] for positions in by_id.values()])
    skipped = by_id.keys() - inserted
    recorded: dict[str, tuple[str, str | None, str]] = {}
    """event id -> (payload, payload hash, where) of the version recorded before this batch."""
    staged = _lookup(connection, select(staged_events.c.event_id, staged_events.c.payload), skipped)
    for event_id, (payload,) in staged.items():
        recorded[event_id] = (payload, None, "staged already")
    # Rows just inserted, and skipped ones that left staging meanwhile, may be archived already.
    unknown = inserted | (skipped - staged.keys())
    query = select(_archived.c.event_id, _archived.c.payload, _archived.c.payload_hash)
    for event_id, (payload, payload_hash) in _lookup(connection, query, unknown).items():
        recorded[event_id] = (payload, payload_hash, "archived already")
    archived_now = inserted & recorded.keys()
    dialect = connection.dialect.name
    for chunk in _chunks(sorted(archived_now)):
        connection.execute(delete(staged_events).where(among(staged_events.c.event_id, chunk, dialect)))
    new = duplicates = 0
    conflicts: list[Conflict] = []
    for event_id, positions in by_id.items():
        if event_id in recorded:
            payload, payload_hash, where = recorded[event_id]
        else:
            new += 1  # its first row went in: the others of this batch are measured against it
            payload, payload_hash, where = rows[positions[0]].payload, None, "earlier in the same batch"
            positions = positions[1:]
        for position in positions:
            row = rows[position]
            if (
                row.payload == payload
                or (payload_hash is not None and payload_digest(row.payload) == payload_hash)
                or _same_but_offset(row.payload, payload)
            ):
                duplicates += 1
            else:
                conflicts.append(_conflict(position, event_id, where))
    conflicts.sort(key=lambda c: c.position)
    return StageOutcome(new, duplicates, tuple(conflicts))


_LOOKUP_CHUNK = 5000
"""Ids per lookup: bounds one statement's JSON parameter (an HTTP batch holds up to 10,000)."""


def _chunks(keys: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(keys), _LOOKUP_CHUNK):
        yield keys[start : start + _LOOKUP_CHUNK]


def _lookup(connection: Connection, query: Any, wanted: Iterable[str]) -> dict[str, tuple[Any, ...]]:
    """``event_id -> the rest of the row`` for the ids of ``wanted`` that ``query`` (whose first
    column is the event id) finds."""
    id_column = query.selected_columns[0]
    found: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(sorted(wanted)):
        for event_id, *rest in connection.execute(query.where(among(id_column, chunk, connection.dialect.name))):
            found[event_id] = tuple(rest)
    return found


def _insert_nothing(_connection: Connection, _rows: Sequence[StagedRow]) -> set[str]:
    return set()


def _insert_into_sqlite(connection: Connection, rows: Sequence[StagedRow]) -> set[str]:
    # SQLite runs one writer at a time (the transaction holds the write lock): what is staged
    # now stays staged until the commit, so reading first is exact.
    staged = _lookup(connection, select(staged_events.c.event_id), (r.event_id for r in rows))
    fresh = [r for r in rows if r.event_id not in staged]
    if fresh:
        connection.execute(
            sqlite.insert(staged_events).on_conflict_do_nothing(index_elements=["event_id"]),
            [
                {"event_id": r.event_id, "event_type": r.event_type, "occurred_at": r.occurred_at, "payload": r.payload}
                for r in fresh
            ],
        )
    return {r.event_id for r in fresh}


def _copy_into_postgresql(connection: Connection, rows: Sequence[StagedRow]) -> set[str]:
    driver_connection: Any = connection.connection.dbapi_connection
    with driver_connection.cursor() as cursor:
        cursor.execute(_PG_INCOMING)
        with cursor.copy(_PG_COPY) as copy:
            for row in rows:
                copy.write_row((row.event_id, row.event_type, row.occurred_at, row.payload))
        cursor.execute(_PG_MOVE)
        inserted = {event_id for (event_id,) in cursor.fetchall()}
        # ON COMMIT DELETE ROWS empties it at commit; an outer transaction may insert again first.
        cursor.execute("TRUNCATE staging_incoming")
        return inserted


def _copy_new_into_postgresql(connection: Connection, rows: Sequence[StagedRow]) -> set[str]:
    """COPY rows straight into staged_events; fails with a unique violation if any id is staged."""
    driver_connection: Any = connection.connection.dbapi_connection
    with driver_connection.cursor() as cursor:
        with cursor.copy(_PG_COPY_NEW) as copy:
            for row in rows:
                copy.write_row((row.event_id, row.event_type, row.occurred_at, row.payload))
        return {row.event_id for row in rows}
