"""Tables of review (migration ``0012`` creates them).

A review set belongs to a case and holds documents in one document unit and time zone (the
unit of ``exports.documents``); a document is named by its key (``exports.documents.Document.key``).
Coding is a set of tags per document; every change is a row of ``review_coding_history`` (before
and after) and the action an audit entry. Redactions belong to the case (a message redacted in
one review set is redacted in every production of the case); the archive is never altered.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from cases.schema import cases
from ingest.db import UtcDateTime

metadata = MetaData()

review_sets = Table(
    "review_sets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey(cases.c.id), nullable=False),
    Column("name", Text, nullable=False),
    Column("unit", String(16), nullable=False),
    Column("time_zone", String(100), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_review_sets_case", "case_id", "created_at"),
)

review_documents = Table(
    "review_documents",
    metadata,
    Column("review_set_id", String(36), ForeignKey("review_sets.id"), primary_key=True),
    Column("doc_key", Text, primary_key=True),
    # Order of the set (room, then time): next/previous and batches follow it.
    Column("position", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("room_id", Text, nullable=False),
    Column("first_at", UtcDateTime(), nullable=False),
    Column("last_at", UtcDateTime(), nullable=False),
    Column("message_ids", JSON, nullable=False),
    Column("senders", JSON, nullable=False),
    Column("summary", Text, nullable=False),
    Column("added_by", Text, nullable=False),
    Column("added_at", UtcDateTime(), nullable=False),
    # How it came in: {"how": "search" | "slice" | "hand", "query": ..., ...}.
    Column("source", JSON, nullable=False),
    Column("reviewed_by", Text, nullable=True),
    Column("reviewed_at", UtcDateTime(), nullable=True),
    Column("privilege_description", Text, nullable=True),
    Column("text_sha256", String(64), nullable=True),
    Column("dup_group", Text, nullable=True),
    Column("dup_similarity", Float, nullable=True),
    Index("ix_review_documents_position", "review_set_id", "position"),
    Index("ix_review_documents_dup", "review_set_id", "dup_group"),
)

review_tag_groups = Table(
    "review_tag_groups",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey(cases.c.id), nullable=False),
    Column("name", Text, nullable=False),
    # A group inside another group (a hierarchy: Privilege > Attorney-client ...).
    Column("parent_id", String(36), ForeignKey("review_tag_groups.id"), nullable=True),
    Column("choice", String(8), nullable=False),
    Column("position", Integer, nullable=False),
    CheckConstraint("choice IN ('single', 'multi')", name="ck_review_tag_groups_choice"),
    Index("ix_review_tag_groups_case", "case_id", "position"),
)

review_tags = Table(
    "review_tags",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey(cases.c.id), nullable=False),
    Column("group_id", String(36), ForeignKey("review_tag_groups.id"), nullable=False),
    # The name searched with tag:<name> (unique in a case, case-insensitive: migration 0013's
    # unique indexes on (case_id, lower(name)) and (case_id, lower(shortcut))).
    Column("name", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("shortcut", String(8), nullable=True),
    Column("position", Integer, nullable=False),
    # Set on privilege tags: the type the privilege log names ("Attorney-Client", "Work Product").
    Column("privilege_type", Text, nullable=True),
    # A document with this tag is withheld from productions (logged in the privilege log).
    Column("withhold", Boolean, nullable=False),
    Index("ix_review_tags_case", "case_id", "name"),
)

review_codings = Table(
    "review_codings",
    metadata,
    Column("review_set_id", String(36), ForeignKey("review_sets.id"), primary_key=True),
    Column("doc_key", Text, primary_key=True),
    Column("tag_id", String(36), ForeignKey("review_tags.id"), primary_key=True),
    Column("coded_by", Text, nullable=False),
    Column("coded_at", UtcDateTime(), nullable=False),
    Index("ix_review_codings_tag", "review_set_id", "tag_id"),
)

review_notes = Table(
    "review_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("review_set_id", String(36), ForeignKey("review_sets.id"), nullable=False),
    Column("doc_key", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_review_notes_document", "review_set_id", "doc_key"),
)

review_coding_history = Table(
    "review_coding_history",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("review_set_id", String(36), nullable=False),
    Column("doc_key", Text, nullable=False),
    # One coding action (a click, a bulk coding of a search) is one id and one audit entry.
    Column("action_id", String(36), nullable=False),
    # {"tags": [names...], "note": ..., "reviewed": ...}: the document's coding before and after.
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_review_coding_history_document", "review_set_id", "doc_key", "seq"),
    Index("ix_review_coding_history_action", "action_id"),
)

review_batches = Table(
    "review_batches",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("review_set_id", String(36), ForeignKey("review_sets.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("reviewer", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_review_batches_set", "review_set_id", "reviewer"),
)

review_batch_documents = Table(
    "review_batch_documents",
    metadata,
    Column("batch_id", String(36), ForeignKey("review_batches.id"), primary_key=True),
    Column("doc_key", Text, primary_key=True),
    Column("review_set_id", String(36), nullable=False),
    Column("position", BigInteger, nullable=False),
    # A document is in at most one batch of a set.
    Index("uq_review_batch_documents_set", "review_set_id", "doc_key", unique=True),
)

review_redactions = Table(
    "review_redactions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("case_id", String(36), ForeignKey(cases.c.id), nullable=False),
    # 'message': a span of one version of a message's text (the post is version 1, each edit
    # the next); 'file': a span of an upload's extracted text.
    Column("target", String(8), nullable=False),
    Column("message_id", Text, nullable=True),
    Column("version", Integer, nullable=True),
    Column("file_event_id", String(36), nullable=True),
    # Character offsets (Python str indices) into that text, end exclusive.
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    # SHA-256 of the whole text the span was drawn on: a span on other text is refused.
    Column("text_sha256", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("removed_by", Text, nullable=True),
    Column("removed_at", UtcDateTime(), nullable=True),
    CheckConstraint("target IN ('message', 'file')", name="ck_review_redactions_target"),
    CheckConstraint('"start" >= 0 AND "end" > "start"', name="ck_review_redactions_span"),
    Index("ix_review_redactions_message", "case_id", "message_id"),
    Index("ix_review_redactions_file", "case_id", "file_event_id"),
)
