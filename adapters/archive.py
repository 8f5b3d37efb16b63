"""The ``archive`` adapter: the append-only, hash-chained system of record.

Every event is appended to ``archive_events`` exactly once (keyed on ``event_id``) with the
hash of its canonical JSON chained to the previous row; the derived tables (rooms, messages
with every version, membership intervals, reads, files) are updated in the same transaction.
Appends are serialised (an advisory lock on PostgreSQL, the write lock on SQLite) because the
chain has one head.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from adapters.archive_derived import apply_derived
from adapters.archive_schema import archive_events
from adapters.base import AdapterContext, DeliveryResult, Failure
from adapters.hashchain import GENESIS, ChainReport, content_hash, link_hash, read_chain, verify_rows
from adapters.sql import among
from ingest.events import Event, event_to_json, parse_event_json

log = logging.getLogger(__name__)

_CHAIN_LOCK = 7_246_000_201


class ArchiveAdapter:
    name = "archive"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        """Append the batch in one transaction: all of it is archived, or none of it."""
        try:
            with self.engine.begin() as connection:
                appended = append_events(connection, batch)
        except SQLAlchemyError as error:
            reason = f"archive write failed: {error.__class__.__name__}: {getattr(error, 'orig', error)}"
            log.warning("%s", reason)
            return [Failure(reason)] * len(batch)
        log.debug("archived %d new events of %d", appended, len(batch))
        return [None] * len(batch)

    def write_in(self, connection: Connection, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        """Append the batch inside the caller's transaction (the processor's record of it)."""
        appended = append_events(connection, batch)
        log.debug("archived %d new events of %d", appended, len(batch))
        return [None] * len(batch)

    def close(self) -> None:
        """The engine belongs to the caller."""


def create(context: AdapterContext) -> ArchiveAdapter:
    return ArchiveAdapter(context.engine)


def _lock_chain(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})


def append_events(connection: Connection, batch: Sequence[Event]) -> int:
    """Append the events not archived yet, chained after the current head; returns how many."""
    _lock_chain(connection)
    keyed = [(str(e.event_id), e) for e in batch]
    known = set(
        connection.execute(
            select(archive_events.c.event_id).where(
                among(archive_events.c.event_id, [key for key, _event in keyed], connection.dialect.name)
            )
        ).scalars()
    )
    fresh: dict[str, Event] = {}
    for key, event in keyed:
        if key not in known:
            fresh.setdefault(key, event)
    if not fresh:
        return 0
    head = connection.execute(
        select(archive_events.c.chain_hash).order_by(archive_events.c.seq.desc()).limit(1)
    ).scalar_one_or_none()
    rows = chained_rows(list(fresh.values()), head or GENESIS, datetime.now(UTC))
    connection.execute(insert(archive_events), rows)
    apply_derived(connection, list(fresh.values()))
    return len(rows)


def chained_rows(events: Sequence[Event], previous: str, archived_at: datetime) -> list[dict[str, Any]]:
    """``archive_events`` rows for ``events``, each linked to the one before, starting after ``previous``."""
    rows: list[dict[str, Any]] = []
    for event in events:
        payload = event_to_json(event)
        digest = content_hash(payload)
        chained = link_hash(previous, digest)
        rows.append(
            {
                "event_id": str(event.event_id),
                "event_type": event.type,
                "occurred_at": event.occurred_at,
                "room_id": event.room.id,
                "actor_id": event.actor.id,
                "payload": payload,
                "payload_hash": digest,
                "prev_hash": previous,
                "chain_hash": chained,
                "archived_at": archived_at,
            }
        )
        previous = chained
    return rows


def archived_events(engine: Engine, chunk: int = 5000) -> Iterator[Event]:
    """Every archived event in archive order (for rebuilding derived indexes)."""
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=chunk).execute(
            select(archive_events.c.payload).order_by(archive_events.c.seq)
        )
        for (payload,) in result:
            yield parse_event_json(payload)


def verify_archive(engine: Engine) -> ChainReport:
    """Walk the whole archive chain; the report names the first row that does not hold."""
    with engine.connect() as connection:
        return verify_rows(read_chain(connection, archive_events, position="seq", label="event_id", document="payload"))


def archived_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(archive_events)).scalar_one())


__all__ = [
    "ArchiveAdapter",
    "append_events",
    "archived_count",
    "archived_events",
    "chained_rows",
    "create",
    "verify_archive",
]
