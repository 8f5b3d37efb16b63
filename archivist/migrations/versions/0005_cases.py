"""cases: matters with saved searches and notes, legal holds, retention policies and runs, the
archive's disposition log (tombstones), and export jobs

Revision ID: 0005
Revises: 0004
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _time(name: str, nullable: bool = False) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("custodians", sa.JSON, nullable=False),
        sa.Column("rooms", sa.JSON, nullable=False),
        _time("date_from", nullable=True),
        _time("date_to", nullable=True),
        sa.Column("created_by", sa.Text, nullable=False),
        _time("created_at"),
        _time("closed_at", nullable=True),
    )
    op.create_table(
        "case_searches",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        _time("created_at"),
    )
    op.create_table(
        "case_notes",
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        _time("created_at"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("scope", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("placed_by", sa.Text, nullable=False),
        _time("placed_at"),
        sa.Column("released_by", sa.Text, nullable=True),
        _time("released_at", nullable=True),
        sa.Column("release_reason", sa.Text, nullable=True),
    )
    op.create_index("ix_legal_holds_case", "legal_holds", ["case_id"])
    op.create_table(
        "retention_policies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("scope_kind", sa.String(8), nullable=False),
        sa.Column("scope_id", sa.Text, nullable=False),
        sa.Column("keep_days", sa.Integer, nullable=True),
        sa.Column("created_by", sa.Text, nullable=False),
        _time("created_at"),
        sa.Column("updated_by", sa.Text, nullable=False),
        _time("updated_at"),
        sa.UniqueConstraint("scope_kind", "scope_id", name="uq_retention_policies_scope"),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        _time("started_at"),
        _time("finished_at", nullable=True),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("by", sa.Text, nullable=False),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_table(
        "archive_dispositions",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_hash", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        _time("disposed_at"),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("chain_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), nullable=True),
        sa.Column("format", sa.Text, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("events_total", sa.Integer, nullable=True),
        sa.Column("events_done", sa.Integer, nullable=False, server_default="0"),
        _time("created_at"),
        _time("started_at", nullable=True),
        _time("finished_at", nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("file_path", sa.Text, nullable=True),
        sa.Column("file_sha256", sa.String(64), nullable=True),
        sa.Column("file_size", sa.BigInteger, nullable=True),
        sa.Column("manifest", sa.Text, nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="ck_export_jobs_status"),
    )
    op.create_index("ix_export_jobs_status", "export_jobs", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_export_jobs_status", table_name="export_jobs")
    op.drop_table("export_jobs")
    op.drop_table("archive_dispositions")
    op.drop_table("retention_runs")
    op.drop_table("retention_policies")
    op.drop_index("ix_legal_holds_case", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_table("case_notes")
    op.drop_table("case_searches")
    op.drop_table("cases")
