"""Tables of supervision (migration ``0015`` creates them).

A policy is a name and its current version; every saved version is a row of
``supervision_policy_versions`` (the spec as JSON, who and when), never updated. A review item
is one message (one version of it: a post, an edit, or an attachment's text) that one policy
matched or sampled: unique per (policy, event), so delivering a batch twice makes no second
item. Its matched terms are rows of ``supervision_item_terms`` too, so the report counts per
term without reading JSON. Every change of an item is a row of ``supervision_item_actions``
(before and after) besides its audit entry. ``supervision_scope_days`` is the sampling ledger:
per policy version and day, the in-scope messages seen, matched and drawn. Escalation notices
wait in ``supervision_webhook_deliveries`` (an outbox written in the escalation's transaction)
until delivered; each attempt's outcome is kept there.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ingest.db import UtcDateTime

metadata = MetaData()

supervision_policies = Table(
    "supervision_policies",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", Text, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("enabled", Integer, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
Index("ux_supervision_policies_name", supervision_policies.c.name, unique=True)

supervision_policy_versions = Table(
    "supervision_policy_versions",
    metadata,
    Column("policy_id", String(36), ForeignKey("supervision_policies.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("changed_by", Text, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
    Column("comment", Text, nullable=False),
)

supervision_items = Table(
    "supervision_items",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("policy_id", String(36), ForeignKey("supervision_policies.id"), nullable=False),
    Column("policy_version", Integer, nullable=False),
    # The event that was evaluated (a post, an edit or a file_text) and the message it belongs to.
    Column("event_id", String(36), nullable=False),
    Column("message_id", Text, nullable=False),
    Column("room_id", Text, nullable=False),
    Column("sender", Text, nullable=False),
    Column("sent_at", UtcDateTime(), nullable=False),
    Column("reason", String(16), nullable=False),
    # [TermMatch as JSON, ...]: every match with its offsets (empty for a sampled item).
    Column("matches", JSON, nullable=False),
    # The id of the supervision_hit event archived for it.
    Column("hit_event_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),
    Column("disposition", String(16), nullable=True),
    Column("assignee", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    UniqueConstraint("policy_id", "event_id", name="ux_supervision_items_policy_event"),
)
Index("ix_supervision_items_queue", supervision_items.c.state, supervision_items.c.created_at)
Index("ix_supervision_items_assignee", supervision_items.c.assignee, supervision_items.c.state)
Index("ix_supervision_items_policy", supervision_items.c.policy_id, supervision_items.c.created_at)
Index("ix_supervision_items_message", supervision_items.c.message_id)

supervision_item_terms = Table(
    "supervision_item_terms",
    metadata,
    Column("item_id", String(36), ForeignKey("supervision_items.id"), primary_key=True),
    Column("term_id", Text, primary_key=True),
    Column("policy_id", String(36), nullable=False),
    Column("hits", Integer, nullable=False),
)
Index("ix_supervision_item_terms_policy", supervision_item_terms.c.policy_id, supervision_item_terms.c.term_id)

supervision_item_actions = Table(
    "supervision_item_actions",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("item_id", String(36), ForeignKey("supervision_items.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("role", String(32), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    # {"state": ..., "disposition": ..., "assignee": ...} before and after the action.
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Column("comment", Text, nullable=True),
)
Index("ix_supervision_item_actions_item", supervision_item_actions.c.item_id, supervision_item_actions.c.seq)

supervision_scope_days = Table(
    "supervision_scope_days",
    metadata,
    Column("policy_id", String(36), ForeignKey("supervision_policies.id"), primary_key=True),
    Column("policy_version", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("in_scope", BigInteger, nullable=False),
    Column("matched", BigInteger, nullable=False),
    Column("sampled", BigInteger, nullable=False),
)

supervision_webhook_deliveries = Table(
    "supervision_webhook_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("item_id", String(36), ForeignKey("supervision_items.id"), nullable=False),
    Column("kind", String(32), nullable=False),
    # The exact bytes sent (the signature covers them), as UTF-8 JSON text.
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
)
Index(
    "ix_supervision_webhook_due",
    supervision_webhook_deliveries.c.delivered_at,
    supervision_webhook_deliveries.c.next_attempt_at,
)
