"""The append-only, hash-chained audit log of every search, view, export and policy change."""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text

from adapters.hashchain import GENESIS, ChainReport, content_hash, link_hash, read_chain, verify_rows
from search_api.app_schema import audit_log
from search_api.tokens import Principal

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
    documents = [_document(entry) for entry in batch]
    with engine.begin() as connection:
        _lock(connection)
        previous = connection.execute(_HEAD).scalar_one_or_none() or GENESIS
        rows = []
        for entry, document in zip(batch, documents, strict=True):
            digest = content_hash(document)
            chained = link_hash(previous, digest)
            rows.append(
                {
                    "entry_id": entry.entry_id,
                    "occurred_at": entry.occurred_at,
                    "actor": entry.actor,
                    "role": entry.role,
                    "action": entry.action,
                    "document": document,
                    "content_hash": digest,
                    "prev_hash": previous,
                    "chain_hash": chained,
                }
            )
            previous = chained
        connection.execute(_APPEND, rows)


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


def verify_audit(engine: Engine) -> ChainReport:
    with engine.connect() as connection:
        return verify_rows(read_chain(connection, audit_log, position="seq", label="entry_id", document="document"))


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
