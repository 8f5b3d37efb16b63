"""SQLite engines: writers queue for the write lock; read-only connections never wait for it."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from ingest.db import create_db_engine, read_only


def test_a_read_only_connection_does_not_wait_for_an_open_writer(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with engine.begin() as setup:
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
        setup.execute(text("INSERT INTO t VALUES (1)"))
    with engine.begin() as writer:  # holds the write lock (BEGIN IMMEDIATE) until the block ends
        writer.execute(text("INSERT INTO t VALUES (2)"))
        started = time.monotonic()
        with read_only(engine) as reader:
            seen = reader.execute(text("SELECT count(*) FROM t")).scalar_one()
        assert time.monotonic() - started < 1.0, "the reader did not queue behind the writer"
        assert seen == 1, "it reads the last committed state (WAL)"
