"""The ``export_jobs`` table (created by migration 0005)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

from ingest.db import UtcDateTime

metadata = MetaData()

export_jobs = Table(
    "export_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), nullable=True),
    Column("format", Text, nullable=False),
    Column("query", Text, nullable=False),
    Column("requested_by", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("events_total", Integer, nullable=True),
    Column("events_done", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("started_at", UtcDateTime(), nullable=True),
    Column("finished_at", UtcDateTime(), nullable=True),
    Column("error", Text, nullable=True),
    Column("file_path", Text, nullable=True),
    Column("file_sha256", String(64), nullable=True),
    Column("file_size", BigInteger, nullable=True),
    Column("manifest", Text, nullable=True),
    # The process running it (``host:pid:token``, :func:`cases.productions.process_owner`; 0011).
    Column("owner", Text, nullable=True),
)
