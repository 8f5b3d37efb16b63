"""Bulk coding of a review set: 100,000 documents coded in one action, beside a raw floor.

    python -m bench.review_coding [--documents 100000] [--postgres URL] [--no-sqlite]

A case and a review set of N synthetic documents (``message:bench-<i>``, as a search would have
added them) are written to a fresh database (SQLite in a temporary directory; and PostgreSQL,
a scratch database on the server of ``--postgres``, when given). Then, each timed on its own:

- ``code all``: every document of the set tagged Responsive in ONE coding action
  (:func:`review.coding.code`): the set's coding read, N ``review_codings`` rows and N
  ``review_coding_history`` rows (before and after) written in ``executemany`` batches in one
  transaction, and one audit entry;
- ``swap``: every document tagged Not responsive (a single-choice group: N codings deleted, N
  written, N history rows);
- ``select by tag``: the keys of ``tag:not-responsive`` in the set (the filter the review page
  and a bulk coding by query run);
- ``code selection``: Hot added to the documents of that query;
- ``floor``: a plain ``executemany`` of N rows into ``review_codings`` in one transaction (no
  reading, no history, no audit), in the same run, on the same database: what the coding costs
  beyond writing its rows.

``run(args)`` returns the figures (``bench/review.py`` calls it); ``--json`` prints them.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert

from archive.principals import Principal
from archivist.migrate import upgrade
from bench.common import drop_postgres, fresh_postgres
from cases.model import CaseSpec
from cases.store import CaseStore
from ingest.db import create_db_engine
from review import coding, queries, tags
from review.schema import review_codings, review_documents
from review.sets import ReviewSetSpec, create_set
from search.backends import TantivySearchBackend

CALLER = Principal("bench", "bench reviewer", "legal")
BATCH = 5000


def _documents(engine: Engine, set_id: str, count: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = (
        {
            "review_set_id": set_id,
            "doc_key": f"message:bench-{index}",
            "position": index + 1,
            "kind": "message",
            "room_id": f"room:{index % 50}",
            "first_at": start + timedelta(seconds=index),
            "last_at": start + timedelta(seconds=index),
            "message_ids": [f"bench-{index}"],
            "senders": [f"user:{index % 300}"],
            "summary": f"bench message {index}",
            "added_by": "bench",
            "added_at": start,
            "source": {"how": "bench"},
        }
        for index in range(count)
    )
    with engine.begin() as connection:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                connection.execute(insert(review_documents), batch)
                batch = []
        if batch:
            connection.execute(insert(review_documents), batch)


def _timed(figures: dict[str, object], name: str, work: Any) -> Any:
    started = time.perf_counter()
    result = work()
    figures[f"{name}_seconds"] = round(time.perf_counter() - started, 3)
    return result


def measure(engine: Engine, documents: int, scratch: Path) -> dict[str, object]:
    """The figures of one database (see the module doc)."""
    case = CaseStore(engine).create_case(CaseSpec(name="Bench matter"), "bench")
    review_set = create_set(engine, case.id, ReviewSetSpec(name="Bench set"), "bench")
    tag_set = tags.tag_set(engine, case.id)
    figures: dict[str, object] = {"documents": documents}
    _timed(figures, "load", lambda: _documents(engine, review_set.id, documents))
    backend = TantivySearchBackend(scratch / "index")  # never searched: the queries are tag: only
    everything = queries.DocumentFilter()
    keys = queries.selected_keys(engine, backend, review_set, everything)
    done = _timed(
        figures,
        "code_all",
        lambda: coding.code(engine, CALLER, review_set, keys, coding.CodingChange(add=["responsive"]), {}),
    )
    figures["code_all_changed"] = done.changed
    swapped = _timed(
        figures,
        "swap",
        lambda: coding.code(engine, CALLER, review_set, keys, coding.CodingChange(add=["not-responsive"]), {}),
    )
    figures["swap_changed"] = swapped.changed
    wanted = queries.DocumentFilter(query="tag:not-responsive")
    selected = _timed(figures, "select_by_tag", lambda: queries.selected_keys(engine, backend, review_set, wanted))
    figures["select_by_tag_documents"] = len(selected)
    hot = _timed(
        figures,
        "code_selection",
        lambda: coding.code(engine, CALLER, review_set, selected, coding.CodingChange(add=["hot"]), wanted.describe()),
    )
    figures["code_selection_changed"] = hot.changed
    # The floor: the same number of rows into the same table, nothing else.
    floor_tag = next(t for t in tag_set.tags if t.name == "attorney-client").id
    now = datetime.now(UTC)
    rows = [
        {"review_set_id": review_set.id, "doc_key": key, "tag_id": floor_tag, "coded_by": "bench", "coded_at": now}
        for key in keys
    ]

    def floor() -> None:
        with engine.begin() as connection:
            for start in range(0, len(rows), BATCH):
                connection.execute(insert(review_codings), rows[start : start + BATCH])

    _timed(figures, "floor", floor)
    with engine.begin() as connection:
        connection.execute(delete(review_codings).where(review_codings.c.tag_id == floor_tag))
    code_all = figures["code_all_seconds"]
    floor_seconds = figures["floor_seconds"]
    assert isinstance(code_all, float)
    assert isinstance(floor_seconds, float)
    figures["code_all_over_floor"] = round(code_all / floor_seconds, 1) if floor_seconds else None
    return figures


def run(args: Sequence[str] | argparse.Namespace | None = None) -> dict[str, object]:
    """Run the benchmark; the figures per database, and the machine."""
    options = args if isinstance(args, argparse.Namespace) else parser().parse_args(args)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}",
        "run_id": str(uuid.uuid4()),
    }
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if not options.no_sqlite:
            engine = create_db_engine(f"sqlite:///{root / 'review.sqlite3'}")
            upgrade(engine)
            results["sqlite"] = measure(engine, options.documents, root)
            engine.dispose()
        if options.postgres:
            url = fresh_postgres(options.postgres)
            try:
                engine = create_db_engine(url)
                results["postgresql"] = measure(engine, options.documents, root)
                engine.dispose()
            finally:
                drop_postgres(url, options.postgres)
    return results


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("--documents", type=int, default=100_000)
    made.add_argument("--postgres", help="a PostgreSQL server URL: measure on a scratch database there too")
    made.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    return made


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
