"""The append-only, hash-chained audit log of every search, view, export and policy change.

Every column is covered: the document holds the entry id, time, actor, role and action, and
the chain (version 2) links the hash of the entry's record (:func:`entry_record`: those columns
and the document's hash). Entries written before version 2 link the document's hash alone;
``verify`` checks every entry's columns against its chained document, so theirs are covered
too."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from archive.app_schema import audit_log
from archive.hashchain import (
    CHAIN_VERSION,
    GENESIS,
    ChainReport,
    ChainRow,
    RecordValue,
    column_disagreement,
    content_hash,
    link_hash,
    record_hash,
    record_time,
    shown,
    verify_rows,
)
from archive.principals import Principal

_AUDIT_LOCK = 7_246_000_301
# Built once: SQLAlchemy then compiles each statement once per engine and reuses it, instead of
# constructing and cache-keying a fresh statement (and its bound values) on every entry.
_HEAD = select(audit_log.c.chain_hash).order_by(audit_log.c.seq.desc()).limit(1)
_APPEND = insert(audit_log)
_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    occurred_at: datetime
    actor: str
    role: str
    action: str
    details: dict[str, Any]


def record(engine: Engine, principal: Principal, action: str, details: dict[str, Any]) -> AuditEntry:
    """Append one entry (committed on return), chained after the current head."""
    entry = new_entry(principal, action, details)
    record_entries(engine, [entry])
    return entry


def new_entry(principal: Principal, action: str, details: dict[str, Any]) -> AuditEntry:
    """An entry stamped now, not yet appended (see :func:`record_entries`)."""
    return AuditEntry(
        entry_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        actor=f"{principal.label} ({principal.token_id})",
        role=principal.role,
        action=action,
        details=details,
    )


def record_entries(engine: Engine, batch: list[AuditEntry]) -> None:
    """Append ``batch`` in order, in one transaction (one commit for all), chained after the head."""
    if not batch:
        return
    with engine.begin() as connection:
        append_entries(connection, batch)


def append_entries(connection: Connection, batch: list[AuditEntry]) -> None:
    """Append ``batch`` in order, chained after the head, in the caller's transaction: the change
    being audited and its entries then commit (or roll back) together. Call it last, just
    before the commit: on PostgreSQL it holds the audit log's lock until the transaction ends,
    so every other auditor waits for the rest of this transaction."""
    if not batch:
        return
    documents = [_document(entry) for entry in batch]
    _lock(connection)
    previous = connection.execute(_HEAD).scalar_one_or_none() or GENESIS
    rows = []
    for entry, document in zip(batch, documents, strict=True):
        row: dict[str, Any] = {
            "entry_id": entry.entry_id,
            "occurred_at": entry.occurred_at,
            "actor": entry.actor,
            "role": entry.role,
            "action": entry.action,
            "document": document,
            "content_hash": content_hash(document),
            "prev_hash": previous,
            "chain_version": CHAIN_VERSION,
        }
        row["chain_hash"] = previous = link_hash(previous, record_hash(entry_record(row)))
        rows.append(row)
    connection.execute(_APPEND, rows)


_RECORD_COLUMNS = ("entry_id", "actor", "role", "action", "content_hash", "chain_version")
_DOCUMENT_COLUMNS = ("entry_id", "occurred_at", "actor", "role", "action")


def entry_record(row: Mapping[Any, Any]) -> dict[str, RecordValue]:
    """What a version 2 link covers of an ``audit_log`` row: every column but the document
    (its hash stands for it), ``seq`` (the links fix the order) and the chain's hashes."""
    record: dict[str, RecordValue] = {name: row[name] for name in _RECORD_COLUMNS}
    record["occurred_at"] = record_time(row["occurred_at"])
    return record


def _document(entry: AuditEntry) -> str:
    return json.dumps(
        {
            "entry_id": entry.entry_id,
            "occurred_at": entry.occurred_at.isoformat(),
            "actor": entry.actor,
            "role": entry.role,
            "action": entry.action,
            "details": entry.details,
        },
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(_ADVISORY_LOCK, {"key": _AUDIT_LOCK})


def entries(engine: Engine, *, limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """The newest entries first (``before``: a ``seq`` to page backwards from)."""
    query = select(audit_log.c.seq, audit_log.c.document).order_by(audit_log.c.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(audit_log.c.seq < before)
    with engine.connect() as connection:
        return [{"seq": seq, **json.loads(document)} for seq, document in connection.execute(query)]


@dataclass(frozen=True)
class AuditRow(ChainRow):
    columns: Mapping[Any, Any] | None = None


def verify_audit(engine: Engine) -> ChainReport:
    """Walk the whole chain; the report names the first entry whose document, columns or
    links do not hold (a column: by name)."""
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=5000).execute(select(audit_log).order_by(audit_log.c.seq))
        return verify_rows((_audit_row(values._mapping) for values in result), check=_column_check())


def _audit_row(values: Mapping[Any, Any]) -> AuditRow:
    return AuditRow(
        position=int(values["seq"]),
        label=str(values["entry_id"]),
        document=str(values["document"]),
        content_hash=str(values["content_hash"]),
        prev_hash=str(values["prev_hash"]),
        chain_hash=str(values["chain_hash"]),
        linked=record_hash(entry_record(values)) if values["chain_version"] == CHAIN_VERSION else None,
        columns=values,
    )


def _column_check() -> Callable[[ChainRow, bool], str | None]:
    newest = 0

    def check(row: ChainRow, _tombstoned: bool) -> str | None:
        nonlocal newest
        assert isinstance(row, AuditRow)
        columns = row.columns or {}
        version = columns["chain_version"]
        if version not in (1, CHAIN_VERSION) or version < newest:
            return f"its chain_version column ({shown(version)}) was changed"
        newest = version
        try:
            document = json.loads(row.document)
            said = {name: document[name] for name in _DOCUMENT_COLUMNS}
            said["occurred_at"] = datetime.fromisoformat(said["occurred_at"])
        except (ValueError, TypeError, KeyError) as error:
            return f"its document is not an audit entry whose columns can be checked ({error.__class__.__name__})"
        return column_disagreement(columns, said, _DOCUMENT_COLUMNS, "document")

    return check


class ChainStatus:
    """The audit chain's latest full verification, redone at most every ``max_age`` seconds.

    Walking every entry on every page of ``GET /audit`` would make reading the log cost O(n)
    per request; ``archivist verify`` still walks the whole chain whenever it runs."""

    def __init__(self, max_age: float = 30.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._report: ChainReport | None = None
        self._checked_at = 0.0
        self._verified_at = datetime.now(UTC)

    def current(self, engine: Engine) -> tuple[ChainReport, datetime]:
        """The latest report and when it was made."""
        with self._lock:
            if self._report is None or time.monotonic() - self._checked_at > self.max_age:
                self._report = verify_audit(engine)
                self._checked_at = time.monotonic()
                self._verified_at = datetime.now(UTC)
            return self._report, self._verified_at
