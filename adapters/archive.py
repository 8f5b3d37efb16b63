"""The ``archive`` adapter: the append-only, hash-chained system of record.

Every event is appended to ``archive_events`` exactly once (keyed on ``event_id``) with the
hash of its canonical JSON chained to the previous row; the derived tables (rooms, messages
with every version, membership intervals, reads, files) are updated in the same transaction.
Appends are serialised (an advisory lock on PostgreSQL, the write lock on SQLite) because the
chain has one head.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from adapters.archive_derived import apply_derived
from adapters.archive_schema import archive_events, metadata
from adapters.base import AdapterContext, DeliveryResult, Failure
from adapters.hashchain import (
    GENESIS,
    ChainReport,
    ChainRow,
    canonical_json,
    content_hash,
    event_payload_hash,
    link_hash,
    read_chain,
    verify_rows,
)
from adapters.sql import among
from ingest.db import UtcDateTime
from ingest.events import Event, event_to_json, parse_event_json

log = logging.getLogger(__name__)

_CHAIN_LOCK = 7_246_000_201

archive_dispositions = Table(
    "archive_dispositions",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_hash", String(64), nullable=False),
    Column("run_id", String(36), nullable=False),
    Column("policy", Text, nullable=False),
    Column("disposed_at", UtcDateTime(), nullable=False),
    Column("document", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
)
"""The disposition log (retention): one hash-chained record per disposed event, naming the
``payload_hash`` its archive row keeps after its payload was replaced by a tombstone. The
record's ``document`` (canonical JSON of event_id, event_hash, run_id, policy, disposed_at) is
what verification trusts; the other columns are for lookups."""


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

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        """Append the batch inside the caller's transaction (the processor's record of it),
        storing the staged JSON as it is."""
        appended = append_events(connection, batch, payloads)
        log.debug("archived %d new events of %d", appended, len(batch))
        return [None] * len(batch)

    def close(self) -> None:
        """The engine belongs to the caller."""


def create(context: AdapterContext) -> ArchiveAdapter:
    return ArchiveAdapter(context.engine)


def _lock_chain(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})


def append_events(connection: Connection, batch: Sequence[Event], payloads: Sequence[str] | None = None) -> int:
    """Append the events not archived yet, chained after the current head; returns how many.

    ``payloads``: the events' JSON when the caller has it already (as staged, which is
    :func:`event_to_json` of the event); otherwise each event is serialised here."""
    _lock_chain(connection)
    if payloads is None:
        payloads = [event_to_json(e) for e in batch]
    elif len(payloads) != len(batch):
        raise ValueError(f"{len(payloads)} payloads for {len(batch)} events")
    keyed = [(str(e.event_id), e, payload) for e, payload in zip(batch, payloads, strict=True)]
    known = set(
        connection.execute(
            select(archive_events.c.event_id).where(
                among(archive_events.c.event_id, [key for key, _event, _payload in keyed], connection.dialect.name)
            )
        ).scalars()
    )
    fresh: dict[str, tuple[str, Event, str]] = {}
    for entry in keyed:
        if entry[0] not in known:
            fresh.setdefault(entry[0], entry)
    if not fresh:
        return 0
    head = connection.execute(
        select(archive_events.c.chain_hash).order_by(archive_events.c.seq.desc()).limit(1)
    ).scalar_one_or_none()
    rows = chained_rows(list(fresh.values()), head or GENESIS, datetime.now(UTC))
    connection.execute(insert(archive_events), rows)
    apply_derived(connection, [event for _key, event, _payload in fresh.values()])
    return len(rows)


def chained_rows(
    entries: Sequence[tuple[str, Event, str]], previous: str, archived_at: datetime
) -> list[dict[str, Any]]:
    """``archive_events`` rows for ``entries`` (event id, event, its JSON), each linked to the
    one before, starting after ``previous``."""
    rows: list[dict[str, Any]] = []
    for event_id, event, payload in entries:
        digest = event_payload_hash(payload)
        chained = link_hash(previous, digest)
        rows.append(
            {
                "event_id": event_id,
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
            select(archive_events.c.payload)
            .outerjoin(archive_dispositions, archive_dispositions.c.event_id == archive_events.c.event_id)
            .where(archive_dispositions.c.seq.is_(None))  # disposed events are tombstones now
            .order_by(archive_events.c.seq)
        )
        for (payload,) in result:
            yield parse_event_json(payload)


@dataclass(frozen=True)
class Disposal:
    event_id: str
    policy: str
    """The retention policy that disposes of the event (its label, e.g. ``room:r1``)."""


_TOMBSTONE = (
    update(archive_events).where(archive_events.c.event_id == bindparam("eid")).values(payload=bindparam("tombstone"))
)


def dispose_events(connection: Connection, disposals: Sequence[Disposal], run_id: str, disposed_at: datetime) -> int:
    """Dispose of events in the caller's transaction: each row's payload becomes a tombstone
    (its ``payload_hash``, ``prev_hash`` and ``chain_hash`` stay, so the chain still links) and
    the disposition log gets a chained record naming the event with that hash. Events not
    archived or disposed already are skipped; returns how many were disposed."""
    _lock_chain(connection)
    dialect = connection.dialect.name
    found = connection.execute(
        select(archive_events.c.event_id, archive_events.c.payload_hash)
        .outerjoin(archive_dispositions, archive_dispositions.c.event_id == archive_events.c.event_id)
        .where(
            among(archive_events.c.event_id, [d.event_id for d in disposals], dialect),
            archive_dispositions.c.seq.is_(None),
        )
    )
    hashes: dict[str, str] = {event_id: payload_hash for event_id, payload_hash in found}
    previous = (
        connection.execute(
            select(archive_dispositions.c.chain_hash).order_by(archive_dispositions.c.seq.desc()).limit(1)
        ).scalar_one_or_none()
        or GENESIS
    )
    records: list[dict[str, Any]] = []
    for disposal in disposals:
        event_hash = hashes.pop(disposal.event_id, None)
        if event_hash is None:
            continue
        record: dict[str, object] = {
            "event_id": disposal.event_id,
            "event_hash": event_hash,
            "run_id": run_id,
            "policy": disposal.policy,
            "disposed_at": disposed_at.isoformat(),
        }
        document = canonical_json(record).decode()
        digest = content_hash(document)
        chained = link_hash(previous, digest)
        records.append(
            {
                **record,
                "disposed_at": disposed_at,
                "document": document,
                "content_hash": digest,
                "prev_hash": previous,
                "chain_hash": chained,
            }
        )
        previous = chained
    if records:
        connection.execute(insert(archive_dispositions), records)
        connection.execute(
            _TOMBSTONE,
            [
                {"eid": r["event_id"], "tombstone": tombstone(r["event_id"], run_id, r["policy"], disposed_at)}
                for r in records
            ],
        )
    return len(records)


def verify_archive(engine: Engine) -> ChainReport:
    """Walk the disposition log's chain, then the whole archive chain; the report names the
    first row that does not hold. A row whose payload is a tombstone verifies only when a
    disposition record names its event with the hash the row keeps."""
    with engine.connect() as connection:
        disposed: dict[str, str] = {}
        log_rows = read_chain(connection, archive_dispositions, position="seq", label="event_id", document="document")
        report = verify_rows(_noting_disposals(log_rows, disposed))
        if not report.ok:
            return ChainReport(report.checked, report.first_bad, f"the disposition log does not hold: {report.problem}")
        rows = read_chain(connection, archive_events, position="seq", label="event_id", document="payload")
        return verify_rows(rows, disposed=lambda row: is_recorded_tombstone(row, disposed))


def _noting_disposals(rows: Iterable[ChainRow], disposed: dict[str, str]) -> Iterator[ChainRow]:
    for row in rows:
        try:
            record = json.loads(row.document)
        except ValueError:
            record = None
        if isinstance(record, dict):
            disposed[str(record.get("event_id"))] = str(record.get("event_hash"))
        yield row


def tombstone(event_id: str, run_id: str, policy: str, disposed_at: datetime) -> str:
    """The payload a disposed event's archive row keeps (its hashes stay as they were)."""
    document = {
        "tombstone": True,
        "event_id": event_id,
        "run_id": run_id,
        "policy": policy,
        "disposed_at": disposed_at.isoformat(),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def is_recorded_tombstone(row: ChainRow, disposed: Mapping[str, str]) -> bool:
    """A tombstone naming its own event, which the disposition log names with the row's hash."""
    if disposed.get(row.label) != row.content_hash:
        return False
    try:
        document = json.loads(row.document)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("tombstone") is True and document.get("event_id") == row.label


def archived_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(archive_events)).scalar_one())


__all__ = [
    "ArchiveAdapter",
    "Disposal",
    "append_events",
    "archive_dispositions",
    "archived_count",
    "archived_events",
    "chained_rows",
    "create",
    "dispose_events",
    "is_recorded_tombstone",
    "tombstone",
    "verify_archive",
]
