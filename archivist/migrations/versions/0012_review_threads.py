"""review and threads: review sets of a case and their documents, a case's tag groups and tags,
coding, notes and the coding history (before and after of every change), reviewer batches,
redactions (spans of a message version's or an upload's text, beside the record); the derived
thread of every message (``archive_thread_links``) and a message's explicit ``reply_to``

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("archive_messages") as batch:
        batch.add_column(sa.Column("reply_to", sa.Text, nullable=True))
    op.create_table(
        "archive_thread_links",
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_id", sa.Text, nullable=True),
        sa.Column("thread_id", sa.Text, nullable=False),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("model", sa.String(64), nullable=True),
        sa.Column("score", sa.Float, nullable=True),
    )
    op.create_index("ix_archive_thread_links_room_time", "archive_thread_links", ["room_id", "posted_at"])
    op.create_index("ix_archive_thread_links_thread", "archive_thread_links", ["thread_id"])
    op.create_table(
        "review_coding_history",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("review_set_id", sa.String(36), nullable=False),
        sa.Column("doc_key", sa.Text, nullable=False),
        sa.Column("action_id", sa.String(36), nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_coding_history_action", "review_coding_history", ["action_id"])
    op.create_index("ix_review_coding_history_document", "review_coding_history", ["review_set_id", "doc_key", "seq"])
    op.create_table(
        "review_redactions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("target", sa.String(8), nullable=False),
        sa.Column("message_id", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("file_event_id", sa.String(36), nullable=True),
        sa.Column("start", sa.Integer, nullable=False),
        sa.Column("end", sa.Integer, nullable=False),
        sa.Column("text_sha256", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_by", sa.Text, nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("target IN ('message', 'file')", name="ck_review_redactions_target"),
        sa.CheckConstraint('"start" >= 0 AND "end" > "start"', name="ck_review_redactions_span"),
    )
    op.create_index("ix_review_redactions_file", "review_redactions", ["case_id", "file_event_id"])
    op.create_index("ix_review_redactions_message", "review_redactions", ["case_id", "message_id"])
    op.create_table(
        "review_sets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(100), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_sets_case", "review_sets", ["case_id", "created_at"])
    op.create_table(
        "review_tag_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("parent_id", sa.String(36), sa.ForeignKey("review_tag_groups.id"), nullable=True),
        sa.Column("choice", sa.String(8), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.CheckConstraint("choice IN ('single', 'multi')", name="ck_review_tag_groups_choice"),
    )
    op.create_index("ix_review_tag_groups_case", "review_tag_groups", ["case_id", "position"])
    op.create_table(
        "review_batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("review_set_id", sa.String(36), sa.ForeignKey("review_sets.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_batches_set", "review_batches", ["review_set_id", "reviewer"])
    op.create_table(
        "review_documents",
        sa.Column("review_set_id", sa.String(36), sa.ForeignKey("review_sets.id"), primary_key=True),
        sa.Column("doc_key", sa.Text, primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_ids", sa.JSON, nullable=False),
        sa.Column("senders", sa.JSON, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("added_by", sa.Text, nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("reviewed_by", sa.Text, nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("privilege_description", sa.Text, nullable=True),
        sa.Column("text_sha256", sa.String(64), nullable=True),
        sa.Column("dup_group", sa.Text, nullable=True),
        sa.Column("dup_similarity", sa.Float, nullable=True),
    )
    op.create_index("ix_review_documents_dup", "review_documents", ["review_set_id", "dup_group"])
    op.create_index("ix_review_documents_position", "review_documents", ["review_set_id", "position"])
    op.create_table(
        "review_notes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("review_set_id", sa.String(36), sa.ForeignKey("review_sets.id"), nullable=False),
        sa.Column("doc_key", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_notes_document", "review_notes", ["review_set_id", "doc_key"])
    op.create_table(
        "review_tags",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("case_id", sa.String(36), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("group_id", sa.String(36), sa.ForeignKey("review_tag_groups.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("label", sa.Text, nullable=False),
        sa.Column("shortcut", sa.String(8), nullable=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("privilege_type", sa.Text, nullable=True),
        sa.Column("withhold", sa.Boolean, nullable=False),
    )
    op.create_index("ix_review_tags_case", "review_tags", ["case_id", "name"])
    op.create_table(
        "review_batch_documents",
        sa.Column("batch_id", sa.String(36), sa.ForeignKey("review_batches.id"), primary_key=True),
        sa.Column("doc_key", sa.Text, primary_key=True),
        sa.Column("review_set_id", sa.String(36), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    op.create_index(
        "uq_review_batch_documents_set", "review_batch_documents", ["review_set_id", "doc_key"], unique=True
    )
    op.create_table(
        "review_codings",
        sa.Column("review_set_id", sa.String(36), sa.ForeignKey("review_sets.id"), primary_key=True),
        sa.Column("doc_key", sa.Text, primary_key=True),
        sa.Column("tag_id", sa.String(36), sa.ForeignKey("review_tags.id"), primary_key=True),
        sa.Column("coded_by", sa.Text, nullable=False),
        sa.Column("coded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_review_codings_tag", "review_codings", ["review_set_id", "tag_id"])


def downgrade() -> None:
    op.drop_index("ix_review_codings_tag", table_name="review_codings")
    op.drop_table("review_codings")
    op.drop_index("uq_review_batch_documents_set", table_name="review_batch_documents")
    op.drop_table("review_batch_documents")
    op.drop_index("ix_review_tags_case", table_name="review_tags")
    op.drop_table("review_tags")
    op.drop_index("ix_review_notes_document", table_name="review_notes")
    op.drop_table("review_notes")
    op.drop_index("ix_review_documents_dup", table_name="review_documents")
    op.drop_index("ix_review_documents_position", table_name="review_documents")
    op.drop_table("review_documents")
    op.drop_index("ix_review_batches_set", table_name="review_batches")
    op.drop_table("review_batches")
    op.drop_index("ix_review_tag_groups_case", table_name="review_tag_groups")
    op.drop_table("review_tag_groups")
    op.drop_index("ix_review_sets_case", table_name="review_sets")
    op.drop_table("review_sets")
    op.drop_index("ix_review_redactions_file", table_name="review_redactions")
    op.drop_index("ix_review_redactions_message", table_name="review_redactions")
    op.drop_table("review_redactions")
    op.drop_index("ix_review_coding_history_action", table_name="review_coding_history")
    op.drop_index("ix_review_coding_history_document", table_name="review_coding_history")
    op.drop_table("review_coding_history")
    op.drop_index("ix_archive_thread_links_room_time", table_name="archive_thread_links")
    op.drop_index("ix_archive_thread_links_thread", table_name="archive_thread_links")
    op.drop_table("archive_thread_links")
    with op.batch_alter_table("archive_messages") as batch:
        batch.drop_column("reply_to")
