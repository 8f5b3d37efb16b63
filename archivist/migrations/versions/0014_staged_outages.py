"""``staged_events.outages``: of an event's attempts, those that found a store unreachable.
They set the delay before the next attempt but not parking (issue 21: after an outage longer
than ``max_attempts`` tries, an event parked on its first ordinary failure).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    with op.batch_alter_table("staged_events") as table:
        table.add_column(sa.Column("outages", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staged_events") as table:
        table.drop_column("outages")
