"""attachments: the natives the file store holds (``archive_natives``), the text extracted from
each uploaded file (``archive_file_texts``, derived from ``file_text`` events) and the extraction
adapter's progress (``archive_extraction_jobs``)

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "archive_natives",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_via", sa.String(16), nullable=False),
    )
    op.create_table(
        "archive_file_texts",
        sa.Column("file_event_id", sa.String(36), primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("extractor", sa.Text, nullable=False),
        sa.Column("extractor_version", sa.Text, nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=True),
        sa.Column("text_chars", sa.BigInteger, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_archive_file_texts_text", "archive_file_texts", ["text_sha256"])
    op.create_table(
        "archive_extraction_jobs",
        sa.Column("file_event_id", sa.String(36), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.Text, nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_archive_extraction_jobs_state", "archive_extraction_jobs", ["state", "updated_at"])
    op.create_index("ix_archive_extraction_jobs_sha256", "archive_extraction_jobs", ["sha256"])
    op.create_index("ix_archive_files_sha256", "archive_files", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_archive_files_sha256", table_name="archive_files")
    op.drop_index("ix_archive_extraction_jobs_sha256", table_name="archive_extraction_jobs")
    op.drop_index("ix_archive_extraction_jobs_state", table_name="archive_extraction_jobs")
    op.drop_table("archive_extraction_jobs")
    op.drop_index("ix_archive_file_texts_text", table_name="archive_file_texts")
    op.drop_table("archive_file_texts")
    op.drop_table("archive_natives")
