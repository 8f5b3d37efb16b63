"""Migration 0007 adds a case's time zone: cases opened before it keep a case ledger that
vouches for them (a NULL zone compares equal to its absence from the recorded state), and the
ledger's baseline (0006) reads only the columns the tables had then."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from archivist.migrate import MIGRATIONS, upgrade
from cases.ledger import verify_ledger
from cases.model import CaseSpec
from cases.store import CaseStore
from ingest.db import create_db_engine


def _upgrade_to(engine_url: str, revision: str) -> None:
    engine = create_db_engine(engine_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_cases_opened_before_0007_are_still_vouched_for_and_get_a_zone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    _upgrade_to(url, "0005")
    engine = create_db_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO cases (id, name, description, custodians, rooms, created_by, created_at) "
                "VALUES ('c-old', 'Before zones', '', '[]', '[]', 'legal', '2026-01-05 10:00:00+00:00')"
            )
        )
    upgrade(engine)  # 0006 records the case as it is, 0007 adds the column
    assert verify_ledger(engine).ok, verify_ledger(engine).problem
    store = CaseStore(engine)
    old = store.get_case("c-old")
    assert old is not None
    assert old.time_zone is None
    store.update_case("c-old", CaseSpec(name=old.name, time_zone="America/New_York"))
    assert store.get_case("c-old").time_zone == "America/New_York"  # type: ignore[union-attr]
    assert verify_ledger(engine).ok
