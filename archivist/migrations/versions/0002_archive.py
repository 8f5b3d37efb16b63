"""archive of record, per-adapter delivery progress, processor leases

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _time(name: str, nullable: bool = True) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("staged_events") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(128), nullable=True))
    op.create_table(
        "staged_deliveries",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("adapter", sa.String(64), primary_key=True),
        _time("delivered_at", nullable=False),
    )
    op.create_table(
        "archive_events",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(32), nullable=False),
        _time("occurred_at", nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        _time("archived_at", nullable=False),
    )
    op.create_index("ix_archive_events_room_time", "archive_events", ["room_id", "occurred_at"])
    op.create_index("ix_archive_events_time", "archive_events", ["occurred_at"])
    op.create_table(
        "archive_rooms",
        sa.Column("room_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("description", sa.Text),
        _time("first_seen_at", nullable=False),
    )
    op.create_table(
        "archive_messages",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=False),
        _time("posted_at"),
        sa.Column("post_event_id", sa.String(36)),
        sa.Column("text", sa.Text),
        sa.Column("format", sa.String(16)),
        sa.Column("versions", sa.Integer, nullable=False),
        _time("edited_at"),
        sa.Column("deleted", sa.Boolean, nullable=False),
        _time("deleted_at"),
        sa.Column("deleted_by", sa.Text),
    )
    op.create_index("ix_archive_messages_room_time", "archive_messages", ["room_id", "posted_at"])
    op.create_table(
        "archive_message_versions",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=False),
        _time("occurred_at", nullable=False),
    )
    op.create_index("ix_archive_message_versions_message", "archive_message_versions", ["message_id", "occurred_at"])
    op.create_table(
        "archive_memberships",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=False),
        sa.Column("actor_name", sa.Text),
        _time("joined_at"),
        _time("left_at"),
        sa.Column("join_event_id", sa.String(36)),
        sa.Column("leave_event_id", sa.String(36)),
    )
    op.create_index("ix_archive_memberships_room", "archive_memberships", ["room_id", "actor_id", "joined_at"])
    op.create_table(
        "archive_reads",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("message_id", sa.Text),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=False),
        _time("read_at", nullable=False),
    )
    op.create_index("ix_archive_reads_message", "archive_reads", ["message_id"])
    op.create_table(
        "archive_files",
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("actor_id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content_type", sa.Text, nullable=False),
        sa.Column("url", sa.Text),
        _time("occurred_at", nullable=False),
    )
    op.create_index("ix_archive_files_room_time", "archive_files", ["room_id", "occurred_at"])


def downgrade() -> None:
    for table in (
        "archive_files",
        "archive_reads",
        "archive_memberships",
        "archive_message_versions",
        "archive_messages",
        "archive_rooms",
        "archive_events",
        "staged_deliveries",
    ):
        op.drop_table(table)
    with op.batch_alter_table("staged_events") as batch:
        batch.drop_column("lease_owner")
