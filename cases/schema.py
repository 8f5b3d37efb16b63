"""Tables of cases, legal holds, retention policies and runs, and export jobs (the migration
``0005`` in archivist/migrations creates them; the disposition log is
``adapters.archive.archive_dispositions``), and the case ledger that vouches for them
(``0006``, see cases.ledger); ``0007`` adds a case's time zone; ``0011`` the production log
(``case_productions``, see cases.productions)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from ingest.db import UtcDateTime

metadata = MetaData()

cases = Table(
    "cases",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("custodians", JSON, nullable=False),
    Column("rooms", JSON, nullable=False),
    Column("date_from", UtcDateTime(), nullable=True),
    Column("date_to", UtcDateTime(), nullable=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    # An IANA zone name (migration 0007); None: UTC.
    Column("time_zone", String(100), nullable=True),
)

case_searches = Table(
    "case_searches",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

case_notes = Table(
    "case_notes",
    metadata,
    Column("case_id", String(36), ForeignKey("cases.id"), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("text", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    # The HoldScope as JSON.
    Column("scope", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("placed_by", Text, nullable=False),
    Column("placed_at", UtcDateTime(), nullable=False),
    Column("released_by", Text, nullable=True),
    Column("released_at", UtcDateTime(), nullable=True),
    Column("release_reason", Text, nullable=True),
)

retention_policies = Table(
    "retention_policies",
    metadata,
    Column("id", String(36), primary_key=True),
    # ``default`` (scope_id ''), ``room`` (a room id) or ``group`` (a directory group id).
    Column("scope_kind", String(8), nullable=False),
    Column("scope_id", Text, nullable=False),
    # None: keep forever.
    Column("keep_days", Integer, nullable=True),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

retention_runs = Table(
    "retention_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("dry_run", Boolean, nullable=False),
    Column("by", Text, nullable=False),
    Column("counts", JSON, nullable=False),
    Column("error", Text, nullable=True),
)

case_ledger = Table(
    "case_ledger",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # The covered table's name and the row's primary key (canonical JSON), for lookups; the
    # document says both, and verify checks these columns against it.
    Column("entity", String(32), nullable=False),
    Column("entity_key", Text, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("document", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Index("ix_case_ledger_entity", "entity", "entity_key"),
)

case_productions = Table(
    "case_productions",
    metadata,
    # One production is one export: its job's id.
    Column("export_id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey("cases.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("prefix", String(20), nullable=False),
    Column("width", Integer, nullable=False),
    # The first number reserved; first_number/last_number: the range the production used
    # (NULL while it runs, when it failed, or when it numbered no document).
    Column("start_number", BigInteger, nullable=False),
    Column("first_number", BigInteger, nullable=True),
    Column("last_number", BigInteger, nullable=True),
    Column("documents", Integer, nullable=True),
    Column("unit", String(16), nullable=False),
    Column("time_zone", String(100), nullable=False),
    Column("recipients", JSON, nullable=False),
    Column("query", Text, nullable=False),
    Column("formats", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("zip_sha256", String(64), nullable=True),
    Column("manifest_sha256", String(64), nullable=True),
    Column("error", Text, nullable=True),
    # The process running it (``host:pid:token``, :func:`cases.productions.process_owner`).
    Column("owner", Text, nullable=True),
    CheckConstraint("state IN ('running', 'done', 'failed')", name="ck_case_productions_state"),
    Index("ix_case_productions_case", "case_id", "prefix", "started_at"),
    # At most one running production per case: the guard behind the case row lock.
    Index(
        "uq_case_productions_running",
        "case_id",
        unique=True,
        postgresql_where=text("state = 'running'"),
        sqlite_where=text("state = 'running'"),
    ),
)
