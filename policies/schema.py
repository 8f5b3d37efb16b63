"""Tables of the policy store: the directory, walls, disclaimer rules with every version, and
the revision counter (the migration ``0004`` in archivist/migrations creates them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, MetaData, String, Table, Text

from ingest.db import UtcDateTime

metadata = MetaData()

directory_users = Table(
    "directory_users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=True),
    Column("email", Text, nullable=True),
    Column("external", Boolean, nullable=False),
)

directory_groups = Table(
    "directory_groups",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
)

directory_group_members = Table(
    "directory_group_members",
    metadata,
    Column("group_id", Text, ForeignKey("directory_groups.id", ondelete="CASCADE"), primary_key=True),
    # ``user`` (``member_id`` is a user id) or ``group`` (a subgroup's id).
    Column("member_kind", String(8), primary_key=True),
    Column("member_id", Text, primary_key=True),
    # Order within the group's members (or subgroups) as written, so a group reads back equal.
    Column("position", Integer, nullable=False),
    Index("ix_directory_group_members_member", "member_id"),
)

policy_walls = Table(
    "policy_walls",
    metadata,
    Column("id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    # The WallSpec as JSON.
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

policy_disclaimers = Table(
    "policy_disclaimers",
    metadata,
    Column("id", Text, primary_key=True),
    # The current version; its text is also in ``policy_disclaimer_versions``.
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

policy_disclaimer_versions = Table(
    "policy_disclaimer_versions",
    metadata,
    Column("rule_id", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    # The DisclaimerSpec as JSON; kept forever, also after the rule changes or is deleted.
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

policy_revision = Table(
    "policy_revision",
    metadata,
    # Always 1: a single row.
    Column("id", Integer, primary_key=True),
    Column("revision", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
)
