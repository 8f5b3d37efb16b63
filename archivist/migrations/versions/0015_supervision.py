"""supervision (issue 22): policies and every version of them, review items with their matched
terms and the history of every change, the sampling ledger per policy version and day, and the
outbox of escalation webhooks with each delivery's outcome (``supervision.schema``).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "supervision_policies",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Integer, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_index("ux_supervision_policies_name", "supervision_policies", ["name"], unique=True)
    op.create_table(
        "supervision_policy_versions",
        sa.Column("policy_id", sa.String(36), sa.ForeignKey("supervision_policies.id"), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("changed_by", sa.Text, nullable=False),
        _time("changed_at"),
        sa.Column("comment", sa.Text, nullable=False),
    )
    op.create_table(
        "supervision_items",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("policy_id", sa.String(36), sa.ForeignKey("supervision_policies.id"), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("room_id", sa.Text, nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        _time("sent_at"),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("matches", sa.JSON, nullable=False),
        sa.Column("hit_event_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(16), nullable=True),
        sa.Column("assignee", sa.Text, nullable=True),
        _time("created_at"),
        _time("updated_at"),
        _time("closed_at", nullable=True),
        sa.UniqueConstraint("policy_id", "event_id", name="ux_supervision_items_policy_event"),
    )
    op.create_index("ix_supervision_items_queue", "supervision_items", ["state", "created_at"])
    op.create_index("ix_supervision_items_assignee", "supervision_items", ["assignee", "state"])
    op.create_index("ix_supervision_items_policy", "supervision_items", ["policy_id", "created_at"])
    op.create_index("ix_supervision_items_message", "supervision_items", ["message_id"])
    op.create_table(
        "supervision_item_terms",
        sa.Column("item_id", sa.String(36), sa.ForeignKey("supervision_items.id"), primary_key=True),
        sa.Column("term_id", sa.Text, primary_key=True),
        sa.Column("policy_id", sa.String(36), nullable=False),
        sa.Column("hits", sa.Integer, nullable=False),
    )
    op.create_index("ix_supervision_item_terms_policy", "supervision_item_terms", ["policy_id", "term_id"])
    op.create_table(
        "supervision_item_actions",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("supervision_items.id"), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        _time("at"),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
    )
    op.create_index("ix_supervision_item_actions_item", "supervision_item_actions", ["item_id", "seq"])
    op.create_table(
        "supervision_scope_days",
        sa.Column("policy_id", sa.String(36), sa.ForeignKey("supervision_policies.id"), primary_key=True),
        sa.Column("policy_version", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("in_scope", sa.BigInteger, nullable=False),
        sa.Column("matched", sa.BigInteger, nullable=False),
        sa.Column("sampled", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "supervision_webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("item_id", sa.String(36), sa.ForeignKey("supervision_items.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _time("created_at"),
        sa.Column("attempts", sa.Integer, nullable=False),
        _time("next_attempt_at"),
        _time("delivered_at", nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_supervision_webhook_due", "supervision_webhook_deliveries", ["delivered_at", "next_attempt_at"]
    )


def downgrade() -> None:
    for table in (
        "supervision_webhook_deliveries",
        "supervision_scope_days",
        "supervision_item_actions",
        "supervision_item_terms",
        "supervision_items",
        "supervision_policy_versions",
        "supervision_policies",
    ):
        op.drop_table(table)
