"""policies: directory users and groups, ethical walls, disclaimer rules with every version,
and the policy revision counter

Revision ID: 0004
Revises: 0003
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _time(name: str) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "directory_users",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("external", sa.Boolean, nullable=False),
    )
    op.create_table(
        "directory_groups",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
    )
    op.create_table(
        "directory_group_members",
        sa.Column("group_id", sa.Text, sa.ForeignKey("directory_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("member_kind", sa.String(8), primary_key=True),
        sa.Column("member_id", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_directory_group_members_member", "directory_group_members", ["member_id"])
    op.create_table(
        "policy_walls",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_table(
        "policy_disclaimers",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        _time("created_at"),
        _time("updated_at"),
    )
    op.create_table(
        "policy_disclaimer_versions",
        sa.Column("rule_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("body", sa.Text, nullable=False),
        _time("created_at"),
    )
    revision_table = op.create_table(
        "policy_revision",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", BIGINT, nullable=False),
    )
    op.bulk_insert(revision_table, [{"id": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("policy_revision")
    op.drop_table("policy_disclaimer_versions")
    op.drop_table("policy_disclaimers")
    op.drop_table("policy_walls")
    op.drop_index("ix_directory_group_members_member", table_name="directory_group_members")
    op.drop_table("directory_group_members")
    op.drop_table("directory_groups")
    op.drop_table("directory_users")
