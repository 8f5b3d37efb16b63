"""natives being deleted: ``archive_natives.deleting`` marks bytes a retention run is to delete
(their last reference was disposed of); handing the bytes over again clears it

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("archive_natives") as batch:
        batch.add_column(sa.Column("deleting", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("archive_natives") as batch:
        batch.drop_column("deleting")
