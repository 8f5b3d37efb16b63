"""people: every display name and e-mail address each actor id was seen with, and when
(``archive_people``, filled from the archived events), for ``from:``/``participant:`` by any name

Revision ID: 0008
Revises: 0007
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "archive_people",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("actor_id", sa.Text, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("value_hash", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_archive_people_value", "archive_people", ["value_hash", "actor_id"], unique=True)
    op.create_index("ix_archive_people_actor", "archive_people", ["actor_id", "first_seen_at"])
    op.create_index("ix_archive_people_key", "archive_people", ["key_hash"])
    from archive.people import rebuild

    found = rebuild(op.get_bind())
    if found:
        logging.getLogger("alembic").warning("archive_people filled from the archive: %d names and addresses", found)


def downgrade() -> None:
    op.drop_index("ix_archive_people_key", table_name="archive_people")
    op.drop_index("ix_archive_people_actor", table_name="archive_people")
    op.drop_index("ix_archive_people_value", table_name="archive_people")
    op.drop_table("archive_people")
