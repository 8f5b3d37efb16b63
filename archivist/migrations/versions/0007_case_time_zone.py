"""a case's time zone: the IANA zone its exports and pages show times in by default (NULL: UTC)

A NULL column compares equal to its absence from the case ledger's recorded states, so the
ledger still vouches for every case as it was recorded (``cases.ledger``).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("time_zone", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("time_zone")
