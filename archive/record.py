"""The archive of record: appending events to the hash chain, disposing of them, verifying it.

Every event is appended to ``archive_events`` exactly once (keyed on ``event_id``) with the
hash of its canonical JSON; the chain links the hash of the row's record (:func:`event_record`:
event id, type, room, actor, occurrence and archiving times, payload hash), so no column a
decision reads can change unnoticed. Rows written before chain version 2 link the payload hash
alone; ``verify`` checks their columns against their chained payload. The derived tables (rooms, messages
with every version, membership intervals, reads, files) are updated in the same transaction.
Appends are serialised (an advisory lock on PostgreSQL, the write lock on SQLite) because the
chain has one head.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    Connection,
    Engine,
    Row,
    bindparam,
    case,
    func,
    insert,
    select,
    text,
    update,
)

from archive.derived import apply_derived
from archive.hashchain import (
    CHAIN_VERSION,
    GENESIS,
    ChainReport,
    ChainRow,
    RecordValue,
    canonical_json,
    column_disagreement,
    content_hash,
    event_payload_hash,
    link_hash,
    read_chain,
    record_hash,
    record_time,
    shown,
    verify_rows,
)
from archive.schema import archive_dispositions, archive_events
from ingest.db import among, read_only
from ingest.events import Event, event_to_json, parse_event_json, present_by

log = logging.getLogger(__name__)

_CHAIN_LOCK = 7_246_000_201


def _lock_chain(connection: Connection) -> None:
    """Take the chain's lock until the caller's transaction ends (SQLite: its write lock does).

    Design: the one lock several processors take turns on, and it has to be. Each row links
    the chain hash of the row before it, so an append reads the head and inserts after it, and
    the head it read must still be the head when it commits: two appends reading one head
    would both link to it (a fork, which ``verify`` rejects as a row linking to the wrong
    one). PostgreSQL would not show one transaction the other's uncommitted rows, so only a
    lock held until the commit prevents it; the derived tables written in the same
    transaction (a message's versions, open membership intervals, thread links) are read,
    changed and written back on the same grounds. A transaction-scoped advisory lock is
    released by the commit or rollback, even when the process dies. Keep it short: the
    processor takes it only after the adapters outside the database (a search engine) have
    answered, and after it comes only database work and the commit
    (:meth:`adapters.processor.BatchProcessor._record`)."""
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
    archived = record_time(archived_at)  # the same for the whole batch: formatted once
    for event_id, event, payload in entries:
        digest = event_payload_hash(payload)
        row: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event.type,
            "occurred_at": event.occurred_at,
            "room_id": event.room.id,
            "actor_id": event.actor.id,
            "payload": payload,
            "payload_hash": digest,
            "prev_hash": previous,
            "archived_at": archived_at,
            "chain_version": CHAIN_VERSION,
        }
        row["chain_hash"] = previous = link_hash(previous, record_hash(_record(row, archived)))
        rows.append(row)
    return rows


_RECORD_COLUMNS = ("event_id", "event_type", "room_id", "actor_id", "payload_hash", "chain_version")
_PAYLOAD_COLUMNS = ("event_id", "event_type", "room_id", "actor_id", "occurred_at")


def event_record(row: Mapping[Any, Any]) -> dict[str, RecordValue]:
    """What a version 2 link covers of an ``archive_events`` row: every column but the
    payload itself (its hash stands for it), ``seq`` (the links fix the order) and the
    hashes of the chain."""
    return _record(row, record_time(row["archived_at"]))


def _record(row: Mapping[Any, Any], archived_at: int) -> dict[str, RecordValue]:
    record: dict[str, RecordValue] = {name: row[name] for name in _RECORD_COLUMNS}
    record["occurred_at"] = record_time(row["occurred_at"])
    record["archived_at"] = archived_at
    return record


@dataclass(frozen=True)
class ArchiveRow(ChainRow):
    """A chain row of ``archive_events`` with every column, to check them one by one."""

    columns: Mapping[Any, Any] | None = None


def _archive_row(values: Mapping[Any, Any]) -> ArchiveRow:
    version = values["chain_version"]
    return ArchiveRow(
        position=int(values["seq"]),
        label=str(values["event_id"]),
        document=str(values["payload"]),
        content_hash=str(values["payload_hash"]),
        prev_hash=str(values["prev_hash"]),
        chain_hash=str(values["chain_hash"]),
        linked=record_hash(event_record(values)) if version == CHAIN_VERSION else None,
        columns=values,
    )


def _loads(payload: str) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return json.loads(payload)  # what orjson refuses (a lone surrogate escape)


def payload_disagreement(columns: Mapping[Any, Any], payload: str) -> str | None:
    """The first column of an ``archive_events`` row that differs from what its payload says
    (event id, type, room, actor, occurrence time), as a sentence; None when all agree."""
    try:
        document = _loads(payload)
        said: dict[str, Any] = {
            "event_id": str(document["event_id"]),
            "event_type": document["type"],
            "room_id": document["room"]["id"],
            "actor_id": document["actor"]["id"],
            "occurred_at": datetime.fromisoformat(document["occurred_at"]),
        }
    except (ValueError, TypeError, KeyError, OverflowError) as error:
        return f"its payload is not an event whose columns can be checked ({error.__class__.__name__})"
    return column_disagreement(columns, said, _PAYLOAD_COLUMNS, "payload")


def row_disagreement(row: ArchiveRow, tombstoned: bool) -> str | None:
    """What does not hold of one row beyond its payload hash and its place in the chain: its
    columns against its payload (unless disposed: the payload is a tombstone then), and for
    version 2 its record against its chain hash."""
    columns = row.columns or {}
    version = columns.get("chain_version")
    if version not in (1, CHAIN_VERSION):
        return f"its chain_version column ({shown(version)}) is not one this archive writes: the column was changed"
    if not tombstoned:
        problem = payload_disagreement(columns, row.document)
        if problem is not None:
            return problem
    if row.linked is not None and link_hash(row.prev_hash, row.linked) != row.chain_hash:
        changed = (
            "one of its columns event_type, room_id, actor_id, occurred_at, archived_at"
            if tombstoned
            else "its archived_at column"
        )
        return f"{changed} (or its chain hash) was changed: its record no longer links into the chain"
    return None


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


_PRESENCE_PAYLOAD = case(
    (archive_events.c.event_type.in_(("post", "file_upload")), archive_events.c.payload), else_=None
).label("payload")
"""The payload of a disposed event that can show others present (read for its tombstone)."""


def _others_present(payload: str) -> list[dict[str, str | None]]:
    """Who besides its actor the event of ``payload`` showed present (``present_by``)."""
    try:
        document = json.loads(payload)
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    room = document.get("room")
    if not document.get("recipients") or not isinstance(room, dict) or room.get("kind") != "im":
        return []
    return [{"id": party.id, "name": party.name} for party in present_by(parse_event_json(payload))[1:]]


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
        select(archive_events.c.event_id, archive_events.c.payload_hash, _PRESENCE_PAYLOAD)
        .outerjoin(archive_dispositions, archive_dispositions.c.event_id == archive_events.c.event_id)
        .where(
            among(archive_events.c.event_id, [d.event_id for d in disposals], dialect),
            archive_dispositions.c.seq.is_(None),
        )
    )
    hashes: dict[str, str] = {}
    present: dict[str, list[dict[str, str | None]]] = {}
    for event_id, payload_hash, payload in found:
        hashes[event_id] = payload_hash
        if payload is not None:
            present[event_id] = _others_present(payload)
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
                {
                    "eid": r["event_id"],
                    "tombstone": tombstone(
                        r["event_id"], run_id, r["policy"], disposed_at, present.get(str(r["event_id"]), [])
                    ),
                }
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
        result = connection.execution_options(yield_per=5000).execute(
            select(archive_events).order_by(archive_events.c.seq)
        )
        rows = (_archive_row(values._mapping) for values in result)
        return verify_rows(rows, disposed=lambda row: is_recorded_tombstone(row, disposed), check=_versioned_check())


def _versioned_check() -> Callable[[ChainRow, bool], str | None]:
    """:func:`row_disagreement`, and versions only ever go up along the chain (a version 1 row
    after a version 2 one had its ``chain_version`` lowered to escape the record check)."""
    newest = 0

    def check(row: ChainRow, tombstoned: bool) -> str | None:
        nonlocal newest
        assert isinstance(row, ArchiveRow)
        problem = row_disagreement(row, tombstoned)
        if problem is not None:
            return problem
        version = int((row.columns or {})["chain_version"])
        if version < newest:
            return f"its chain_version column ({version}) is lower than the rows before it: the column was changed"
        newest = version
        return None

    return check


def check_before_disposal(connection: Connection, event_ids: Sequence[str]) -> dict[str, str]:
    """Per event about to be disposed of, what does not hold of its row (its payload against
    its hash, its columns against its payload, its record or payload hash against its chain
    hash); events whose rows hold are absent. Read in the disposing transaction, so what
    retention decided on is what the chain says even when a column changed after the run's
    full verification."""
    found = connection.execute(
        select(archive_events).where(among(archive_events.c.event_id, list(event_ids), connection.dialect.name))
    )
    problems: dict[str, str] = {}
    for values in found:
        row = _archive_row(values._mapping)
        problem: str | None
        if content_hash(row.document) != row.content_hash:
            problem = "its payload does not match its stored hash (the row was changed)"
        else:
            problem = row_disagreement(row, tombstoned=False)
        if problem is None and row.linked is None and link_hash(row.prev_hash, row.content_hash) != row.chain_hash:
            problem = "its chain hash is wrong (the chain was rewritten)"
        if problem is not None:
            problems[row.label] = problem
    return problems


def _noting_disposals(rows: Iterable[ChainRow], disposed: dict[str, str]) -> Iterator[ChainRow]:
    for row in rows:
        try:
            record = json.loads(row.document)
        except ValueError:
            record = None
        if isinstance(record, dict):
            disposed[str(record.get("event_id"))] = str(record.get("event_hash"))
        yield row


def tombstone(
    event_id: str,
    run_id: str,
    policy: str,
    disposed_at: datetime,
    present: Sequence[dict[str, str | None]] = (),
) -> str:
    """The payload a disposed event's archive row keeps (its hashes stay as they were). A direct
    message keeps who it showed present besides its actor (``present``: ids and names, no
    content), so the membership intervals it opened still follow from the record
    (``archive.membership_check``), as the intervals themselves are kept."""
    document: dict[str, object] = {
        "tombstone": True,
        "event_id": event_id,
        "run_id": run_id,
        "policy": policy,
        "disposed_at": disposed_at.isoformat(),
    }
    if present:
        document["present"] = list(present)
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


def chain_head(engine: Engine) -> dict[str, Any]:
    """The archive's newest chain link (what an export records as the state it reflects)."""
    columns = archive_events.c
    with read_only(engine) as connection:
        row = connection.execute(
            select(columns.seq, columns.chain_hash, columns.archived_at).order_by(columns.seq.desc()).limit(1)
        ).first()
    if row is None:
        return {"seq": 0, "chain_hash": None, "archived_at": None}
    return {"seq": row.seq, "chain_hash": row.chain_hash, "archived_at": row.archived_at.isoformat()}


def undisposed_after(connection: Connection, after: int, size: int) -> Sequence[Row[Any, Any, Any, Any, Any, Any]]:
    """The next ``size`` archived events after ``seq`` ``after`` that were not disposed of, in
    chain order: ``seq``, ``event_id``, ``event_type``, ``occurred_at``, ``room_id``, ``actor_id``."""
    events = archive_events.c
    return connection.execute(
        select(events.seq, events.event_id, events.event_type, events.occurred_at, events.room_id, events.actor_id)
        .outerjoin(archive_dispositions, archive_dispositions.c.event_id == events.event_id)
        .where(events.seq > after, archive_dispositions.c.seq.is_(None))
        .order_by(events.seq)
        .limit(size)
    ).all()


def payloads_of(connection: Connection, event_ids: Sequence[str]) -> dict[str, str]:
    """The archived payload (canonical JSON, or a tombstone) of each of ``event_ids`` found."""
    found = connection.execute(
        select(archive_events.c.event_id, archive_events.c.payload).where(
            among(archive_events.c.event_id, event_ids, connection.dialect.name)
        )
    )
    return {event_id: payload for event_id, payload in found}


__all__ = [
    "Disposal",
    "append_events",
    "archive_dispositions",
    "archived_count",
    "archived_events",
    "chain_head",
    "chained_rows",
    "check_before_disposal",
    "dispose_events",
    "event_record",
    "is_recorded_tombstone",
    "payload_disagreement",
    "payloads_of",
    "tombstone",
    "undisposed_after",
    "verify_archive",
]
