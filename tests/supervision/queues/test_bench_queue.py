"""bench/supervision_queue.py on a small queue: every view and the page are measured on SQLite
and PostgreSQL, and the figures are consistent."""

from __future__ import annotations

from bench.supervision_queue import parser, run
from tests.services import POSTGRES_URL, require_postgresql

VIEWS = {"all_open", "mine", "unassigned", "escalated", "overdue", "closed", "all_open_page_2", "web_page"}


def test_the_benchmark_times_every_view_and_the_page_on_both_databases() -> None:
    require_postgresql()
    figures = run(parser().parse_args(["--items", "2000", "--repeat", "3", "--postgres", POSTGRES_URL]))
    for database in ("sqlite", "postgresql"):
        measured = figures[database]
        assert isinstance(measured, dict)
        assert measured["items"] == 2000
        assert set(measured) >= VIEWS
        for view in VIEWS:
            assert 0 < measured[view]["p50_ms"] <= measured[view]["p95_ms"], (database, view)
