"""The review queue with 100,000 items: p50 and p95 of each queue view, and of the web page.

    python -m bench.supervision_queue [--items 100000] [--postgres URL] [--no-sqlite] [--json]

N items of 50 policies (SLAs of 24 to 168 hours) over 90 days, written straight into
``supervision_items`` (most closed, as a queue that has been worked for months: 10% pending, 5%
in review, 3% escalated; 20 reviewers) in a fresh database (SQLite in a temporary directory;
PostgreSQL, a scratch database on the server of ``--postgres``, when given). Then each view of
:func:`supervision.queue.queue` is timed ``--repeat`` times (after one untimed call): all open,
mine, unassigned, escalated, overdue, closed, the second page of all open (by its cursor); and
the web page ``/supervision`` (all open, 50 rows, counts) through the application, signed in.

``run(args)`` returns the figures (a ``bench/supervision.py`` may call it).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, text

from archive.principals import create_token
from archivist.migrate import upgrade
from bench.common import drop_postgres, fresh_postgres
from ingest.db import create_db_engine
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from supervision import queue
from supervision.model import PolicySpec
from supervision.policy_store import create_policy
from supervision.schema import supervision_items

POLICIES = 50
REVIEWERS = [f"reviewer{n}" for n in range(20)]
NOW = datetime.now(UTC)
BATCH = 5000


def fill(engine: Engine, count: int, seed: int = 22) -> None:
    """``count`` items of ``POLICIES`` policies (see the module doc)."""
    draw = random.Random(seed)
    with engine.begin() as connection:
        policies = [
            create_policy(
                connection,
                PolicySpec(name=f"Policy {n}", sla_hours=(24, 48, 72, 168)[n % 4], escalation_reviewers=("chief",)),
                "bench",
                "",
                NOW - timedelta(days=120),
            )
            for n in range(POLICIES)
        ]
    rows: list[dict[str, Any]] = []
    for n in range(count):
        policy = policies[n % POLICIES]
        created = NOW - timedelta(seconds=draw.uniform(0, 90 * 86400))
        roll = draw.random()
        state = "pending" if roll < 0.10 else "in_review" if roll < 0.15 else "escalated" if roll < 0.18 else "closed"
        assignee = None if state == "pending" and draw.random() < 0.5 else draw.choice(REVIEWERS)
        rows.append(
            {
                "id": str(uuid.UUID(int=draw.getrandbits(128))),
                "policy_id": policy.id,
                "policy_version": 1,
                "event_id": str(uuid.UUID(int=draw.getrandbits(128))),
                "message_id": f"msg:bench{n}",
                "room_id": f"room:{n % 300}",
                "sender": f"user:{n % 2000}",
                "sent_at": created,
                "reason": "lexicon" if draw.random() < 0.9 else "sample",
                "matches": [{"term_id": "t1", "field": "text", "start": 0, "end": 5, "matched": "guara"}],
                "hit_event_id": str(uuid.UUID(int=draw.getrandbits(128))),
                "state": state,
                "disposition": draw.choice(["no_issue", "false_positive", "breach", "reported"])
                if state == "closed"
                else None,
                "assignee": assignee,
                "created_at": created,
                "updated_at": created,
                "closed_at": created + timedelta(hours=5) if state == "closed" else None,
            }
        )
    with engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(supervision_items), rows[start : start + BATCH])
    # As autovacuum leaves a table that has settled: statistics, and the visibility map that
    # lets PostgreSQL count from the index alone.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def _timed(work: Callable[[], object], repeat: int) -> dict[str, float]:
    work()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - start)
    seconds.sort()
    return {
        "p50_ms": round(statistics.median(seconds) * 1000, 2),
        "p95_ms": round(seconds[max(0, int(len(seconds) * 0.95) - 1)] * 1000, 2),
    }


def measure(engine: Engine, items: int, repeat: int, root: Path) -> dict[str, object]:
    started = time.perf_counter()
    fill(engine, items)
    figures: dict[str, object] = {"items": items, "fill_seconds": round(time.perf_counter() - started, 1)}
    views = {
        "all_open": queue.QueueFilter(states=queue.OPEN_STATES),
        "mine": queue.QueueFilter(states=queue.OPEN_STATES, assignee=REVIEWERS[3]),
        "unassigned": queue.QueueFilter(states=queue.OPEN_STATES, unassigned=True),
        "escalated": queue.QueueFilter(states=("escalated",)),
        "overdue": queue.QueueFilter(states=queue.OPEN_STATES, overdue=True),
        "closed": queue.QueueFilter(states=("closed",)),
    }
    for name, wanted in views.items():
        figures[name] = _timed(lambda wanted=wanted: queue.queue(engine, wanted), repeat)  # type: ignore[misc]
    cursor = queue.queue(engine, views["all_open"]).next_cursor
    figures["all_open_page_2"] = _timed(lambda: queue.queue(engine, views["all_open"], cursor=cursor), repeat)
    services = AppServices(engine=engine, index_dir=root / "index", sink=StagingSink(StagingStore(engine)))
    token = create_token(engine, "supervisor", REVIEWERS[3])
    with TestClient(create_app(services), follow_redirects=False) as client:
        login = client.get("/login")
        csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        assert client.post("/login", data={"token": token, "csrf": csrf, "next": "/"}).status_code == 303

        def page() -> None:
            answer = client.get("/supervision")
            assert answer.status_code == 200, answer.text[:300]

        figures["web_page"] = _timed(page, repeat)
    return figures


def run(args: Sequence[str] | argparse.Namespace | None = None) -> dict[str, object]:
    """Run the benchmark; the figures per database, and the machine."""
    options = args if isinstance(args, argparse.Namespace) else parser().parse_args(args)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if not options.no_sqlite:
            engine = create_db_engine(f"sqlite:///{root / 'queue.sqlite3'}")
            upgrade(engine)
            results["sqlite"] = measure(engine, options.items, options.repeat, root)
            engine.dispose()
        if options.postgres:
            url = fresh_postgres(options.postgres)
            try:
                engine = create_db_engine(url)
                results["postgresql"] = measure(engine, options.items, options.repeat, root)
                engine.dispose()
            finally:
                drop_postgres(url, options.postgres)
    return results


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("--items", type=int, default=100_000)
    made.add_argument("--repeat", type=int, default=100)
    made.add_argument("--postgres", help="a PostgreSQL server URL: measure on a scratch database there too")
    made.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    return made


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
