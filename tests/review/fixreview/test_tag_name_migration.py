"""Migration 0013 makes tag names and shortcuts unique in a case (ignoring case); tags stored
twice before it are kept, renamed ``<name>~2`` (and their repeated shortcut cleared)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, insert, select
from sqlalchemy.exc import IntegrityError

from archivist.migrate import MIGRATIONS, upgrade
from cases import service
from cases.model import CaseSpec
from review.schema import review_tag_groups, review_tags
from tests.cases.helpers import OPERATOR
from tests.services import fresh_postgres_database


def _to_0012(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0012")


def _tag(case_id: str, group_id: str, name: str, shortcut: str | None, position: int) -> dict[str, object]:
    return {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "group_id": group_id,
        "name": name,
        "label": name,
        "shortcut": shortcut,
        "position": position,
        "privilege_type": None,
        "withhold": False,
    }


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_tags_stored_twice_are_renamed_and_then_refused(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        _renamed_then_refused(create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    else:
        with fresh_postgres_database() as url:  # its own database, at 0012 first
            _renamed_then_refused(create_engine(url))


def _renamed_then_refused(engine: Engine) -> None:
    _to_0012(engine)
    case_id = service.open_case(engine, OPERATOR, CaseSpec(name="Old tags")).id
    group_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(review_tag_groups),
            {"id": group_id, "case_id": case_id, "name": "G", "parent_id": None, "choice": "multi", "position": 0},
        )
        connection.execute(
            insert(review_tags),
            [
                _tag(case_id, group_id, "Hot", "h", 0),
                _tag(case_id, group_id, "hot", "H", 1),
                _tag(case_id, group_id, "hot~2", None, 2),
                _tag(case_id, group_id, "cold", None, 3),
            ],
        )
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(
            select(review_tags.c.name, review_tags.c.shortcut).order_by(review_tags.c.position)
        ).all()
    assert [tuple(row) for row in rows] == [("Hot", "h"), ("hot~3", None), ("hot~2", None), ("cold", None)]
    for clash in (_tag(case_id, group_id, "COLD", None, 4), _tag(case_id, group_id, "warm", "H", 4)):
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(insert(review_tags), clash)
    engine.dispose()
