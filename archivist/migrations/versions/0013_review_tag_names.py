"""review tag names and shortcuts unique in a case, ignoring case: unique indexes on
``(case_id, lower(name))`` and ``(case_id, lower(shortcut))`` (NULL shortcuts are distinct), so
two tags of one name (or shortcut) can never be created at once. Tags stored twice before it are
kept, renamed ``<name>~2``, ``<name>~3`` ... (and their repeated shortcut cleared), oldest
position first, so the index can be built.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"

_TAGS = sa.table(
    "review_tags",
    sa.column("id", sa.String),
    sa.column("case_id", sa.String),
    sa.column("group_id", sa.String),
    sa.column("name", sa.Text),
    sa.column("shortcut", sa.String),
    sa.column("position", sa.Integer),
)


def _deduplicate(connection: sa.Connection) -> None:
    rows = connection.execute(
        sa.select(_TAGS.c.id, _TAGS.c.case_id, _TAGS.c.name, _TAGS.c.shortcut).order_by(
            _TAGS.c.case_id, _TAGS.c.group_id, _TAGS.c.position, _TAGS.c.id
        )
    ).all()
    names: dict[tuple[str, str], int] = {}
    taken = {(row.case_id, row.name.lower()) for row in rows}
    shortcuts: set[tuple[str, str]] = set()
    for row in rows:
        key = (row.case_id, row.name.lower())
        seen = names.get(key, 0)
        names[key] = seen + 1
        values: dict[str, object] = {}
        if seen:
            number = seen + 1
            while (row.case_id, f"{row.name}~{number}".lower()) in taken:
                number += 1
            renamed = f"{row.name}~{number}"
            values["name"] = renamed
            taken.add((row.case_id, renamed.lower()))
        if row.shortcut is not None:
            shortcut = (row.case_id, row.shortcut.lower())
            if shortcut in shortcuts:
                values["shortcut"] = None
            shortcuts.add(shortcut)
        if values:
            connection.execute(sa.update(_TAGS).where(_TAGS.c.id == row.id).values(**values))


def upgrade() -> None:
    _deduplicate(op.get_bind())
    op.create_index(
        "uq_review_tags_case_name", "review_tags", ["case_id", sa.text("lower(name)")], unique=True
    )
    op.create_index(
        "uq_review_tags_case_shortcut", "review_tags", ["case_id", sa.text("lower(shortcut)")], unique=True
    )


def downgrade() -> None:
    op.drop_index("uq_review_tags_case_shortcut", table_name="review_tags")
    op.drop_index("uq_review_tags_case_name", table_name="review_tags")
