"""Tables of the archive of record (the migration in archivist/migrations creates them).

``archive_events`` is append-only and hash-chained (every column: see adapters.archive); every
other table is derived from it and
could be rebuilt by replaying it.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

from ingest.db import UtcDateTime

metadata = MetaData()

archive_events = Table(
    "archive_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(32), nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Column("room_id", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("payload_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("archived_at", UtcDateTime(), nullable=False),
    # 1: the link hashes payload_hash alone (rows written before migration 0006); 2: it hashes
    # the record of every column (adapters.archive.event_record).
    Column("chain_version", Integer, nullable=False, server_default="1"),
    Index("ix_archive_events_room_time", "room_id", "occurred_at"),
    Index("ix_archive_events_time", "occurred_at"),
)

archive_rooms = Table(
    "archive_rooms",
    metadata,
    Column("room_id", Text, primary_key=True),
    Column("name", Text, nullable=True),
    Column("kind", String(8), nullable=False),
    Column("description", Text, nullable=True),
    Column("first_seen_at", UtcDateTime(), nullable=False),
)

archive_messages = Table(
    "archive_messages",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("room_id", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("posted_at", UtcDateTime(), nullable=True),
    Column("post_event_id", String(36), nullable=True),
    Column("text", Text, nullable=True),
    Column("format", String(16), nullable=True),
    Column("versions", Integer, nullable=False),
    Column("edited_at", UtcDateTime(), nullable=True),
    Column("deleted", Boolean, nullable=False),
    Column("deleted_at", UtcDateTime(), nullable=True),
    Column("deleted_by", Text, nullable=True),
    # The message this one answers, as the platform gave it (the contract's ``reply_to``, 0012).
    Column("reply_to", Text, nullable=True),
    Index("ix_archive_messages_room_time", "room_id", "posted_at"),
)

archive_thread_links = Table(
    # Derived (0012): the thread of every message, rebuildable from the archive. ``parent_id`` is
    # the message it answers (None: it starts a thread); ``thread_id`` the thread's first
    # message. ``source``: 'explicit' (the platform's reply_to) or 'model' (reconstructed by
    # ``disentangle`` for rooms without replies), with the model's name and its score.
    "archive_thread_links",
    metadata,
    Column("message_id", Text, primary_key=True),
    Column("room_id", Text, nullable=False),
    Column("posted_at", UtcDateTime(), nullable=True),
    Column("parent_id", Text, nullable=True),
    Column("thread_id", Text, nullable=False),
    Column("source", String(8), nullable=False),
    Column("model", String(64), nullable=True),
    Column("score", Float, nullable=True),
    Index("ix_archive_thread_links_room_time", "room_id", "posted_at"),
    Index("ix_archive_thread_links_thread", "thread_id"),
)

archive_message_versions = Table(
    "archive_message_versions",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("message_id", Text, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("text", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Index("ix_archive_message_versions_message", "message_id", "occurred_at"),
)

archive_memberships = Table(
    "archive_memberships",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("room_id", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("actor_name", Text, nullable=True),
    Column("joined_at", UtcDateTime(), nullable=True),
    Column("left_at", UtcDateTime(), nullable=True),
    Column("join_event_id", String(36), nullable=True),
    Column("leave_event_id", String(36), nullable=True),
    Index("ix_archive_memberships_room", "room_id", "actor_id", "joined_at"),
)

archive_people = Table(
    "archive_people",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("actor_id", Text, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("value", Text, nullable=False),
    Column("value_hash", String(64), nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("first_seen_at", UtcDateTime(), nullable=False),
    Column("last_seen_at", UtcDateTime(), nullable=False),
    Index("ix_archive_people_value", "value_hash", "actor_id", unique=True),
    Index("ix_archive_people_actor", "actor_id", "first_seen_at"),
    Index("ix_archive_people_key", "key_hash"),
)
"""Every display name and e-mail address each person (actor id) was seen with, and when first
and last (``archive.people``): ``kind`` is ``name`` or ``email``; ``value_hash`` is the SHA-256
of ``kind`` and the value as recorded, ``key_hash`` of the folded value a search matches
(hashes, so that a name of any length is an index key)."""

archive_reads = Table(
    "archive_reads",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("message_id", Text, nullable=True),
    Column("room_id", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("read_at", UtcDateTime(), nullable=False),
    Index("ix_archive_reads_message", "message_id"),
)

archive_files = Table(
    "archive_files",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("direction", String(8), nullable=False),
    Column("room_id", Text, nullable=False),
    Column("actor_id", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("content_type", Text, nullable=False),
    Column("url", Text, nullable=True),
    Column("occurred_at", UtcDateTime(), nullable=False),
    Index("ix_archive_files_room_time", "room_id", "occurred_at"),
    Index("ix_archive_files_sha256", "sha256"),
)

archive_natives = Table(
    "archive_natives",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("stored_at", UtcDateTime(), nullable=False),
    Column("received_via", String(16), nullable=False),
    Column("deleting", Boolean, nullable=False, server_default=false()),
)
"""The files whose bytes the file store holds (``archive.file_store``), one row per content: the
same bytes uploaded twice are stored once. Not derived from the chain: the bytes arrive beside
their events (``POST /api/v1/files``, ``archivist publish --files``, a fetch of the event's url),
and are checked against the SHA-256 the event sealed. A ``file_upload`` whose ``sha256`` has no
row here is pending. ``stored_at``: when the bytes were last handed over (each receipt refreshes
it). ``deleting``: a retention run disposed of their last reference and is to delete them
(until it has, the bytes are still stored); handing them over again clears it, and retention
deletes only bytes it marked, received before the run began, and not handed over since."""

archive_file_texts = Table(
    "archive_file_texts",
    metadata,
    Column("file_event_id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("sha256", String(64), nullable=False),
    Column("state", String(12), nullable=False),
    Column("reason", Text, nullable=True),
    Column("extractor", Text, nullable=False),
    Column("extractor_version", Text, nullable=False),
    Column("text_sha256", String(64), nullable=True),
    Column("text_chars", BigInteger, nullable=False),
    Column("truncated", Boolean, nullable=False),
    Column("extracted_at", UtcDateTime(), nullable=False),
    Index("ix_archive_file_texts_text", "text_sha256"),
)
"""Derived from the ``file_text`` events: the text extracted from each uploaded file (the text
itself is in the file store under ``text_sha256``). ``event_id`` is the ``file_text`` event's."""

archive_extraction_jobs = Table(
    "archive_extraction_jobs",
    metadata,
    Column("file_event_id", String(36), primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_archive_extraction_jobs_state", "state", "updated_at"),
    Index("ix_archive_extraction_jobs_sha256", "sha256"),
)
"""The extraction adapter's own progress, one row per uploaded file: ``waiting`` (its bytes have
not arrived), ``queued``, ``running`` (leased), ``done`` (its ``file_text`` event is staged, in
the same transaction that set this). It lags the archive and never holds up archiving."""

archive_dispositions = Table(
    "archive_dispositions",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_hash", String(64), nullable=False),
    Column("run_id", String(36), nullable=False),
    Column("policy", Text, nullable=False),
    Column("disposed_at", UtcDateTime(), nullable=False),
    Column("document", Text, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
)
"""The disposition log (retention): one hash-chained record per disposed event, naming the
``payload_hash`` its archive row keeps after its payload was replaced by a tombstone. The
record's ``document`` (canonical JSON of event_id, event_hash, run_id, policy, disposed_at) is
what verification trusts; the other columns are for lookups."""
