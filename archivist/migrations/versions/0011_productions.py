"""the production log: every production of a case (``case_productions``), its control-number
prefix and the range it used, so that a case never numbers two documents the same; at most one
running production per case (a partial unique index); the process running a production or an
export job (``owner``: host, pid and a token of the process) so a server starting fails only the
ones whose process is gone

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.create_table(
        "case_productions",
        sa.Column("export_id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("start_number", sa.BigInteger, nullable=False),
        sa.Column("first_number", sa.BigInteger, nullable=True),
        sa.Column("last_number", sa.BigInteger, nullable=True),
        sa.Column("documents", sa.Integer, nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(100), nullable=False),
        sa.Column("recipients", sa.JSON, nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("formats", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("zip_sha256", sa.String(64), nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("owner", sa.Text, nullable=True),
        sa.CheckConstraint("state IN ('running', 'done', 'failed')", name="ck_case_productions_state"),
    )
    op.create_index("ix_case_productions_case", "case_productions", ["case_id", "prefix", "started_at"])
    op.create_index(
        "uq_case_productions_running",
        "case_productions",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text("state = 'running'"),
        sqlite_where=sa.text("state = 'running'"),
    )
    with op.batch_alter_table("export_jobs") as batch:
        batch.add_column(sa.Column("owner", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("export_jobs") as batch:
        batch.drop_column("owner")
    op.drop_index("uq_case_productions_running", table_name="case_productions")
    op.drop_index("ix_case_productions_case", table_name="case_productions")
    op.drop_table("case_productions")
