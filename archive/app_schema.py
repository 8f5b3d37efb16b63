"""Tables of the search API: API tokens and the hash-chained audit log."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

from ingest.db import UtcDateTime

metadata = MetaData()

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(16), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("label", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("revoked_at", UtcDateTime(), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("entry_id", String(36), nullable=False, unique=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("actor", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("document", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    # 1: the link hashes content_hash alone (entries written before migration 0006); 2: it
    # hashes the record of every column (archive.audit.entry_record).
    Column("chain_version", Integer, nullable=False, server_default="1"),
)
