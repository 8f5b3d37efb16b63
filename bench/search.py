"""Search latency over a large embedded index: through the API and straight against Tantivy.

    python -m bench.search [--messages 1000000] [--runs 30] [--write]

Builds (or reuses, in --workdir) an index of seeded synthetic traffic, then times a set of
typical queries: each through the FastAPI app in process (parse, translate, search, facets,
highlights, audit entry) and the same translated query directly against Tantivy (top 50,
ordered by time). Sphinx and SQLite FTS5 comparisons are not written yet.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import tantivy
from fastapi.testclient import TestClient

from adapters import tantivy_schema as fields
from adapters.index_adapter import TantivyIndexAdapter
from archivist.migrate import upgrade
from bench.common import write_section
from ingest.db import create_db_engine
from ingest.simulate import simulate_events
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from search_api.query_parser import parse_query
from search_api.tantivy_backend import scoped
from search_api.tokens import create_token

BEGIN, END = "<!-- bench/search.py begin -->", "<!-- bench/search.py end -->"
QUERIES = {
    "single term": "deploy",
    "phrase": '"risk report"',
    "boolean + date range + room": "(audit OR kyc) -urgent in:#compliance sent>=2026-01-06 sent<2026-03-01",
    "proximity": "margin NEAR/3 call",
    "prefix": "settle*",
    "mention or hashtag": "#urgent OR @alice.smith",
}


def build_index(workdir: Path, messages: int) -> Path:
    index_dir = workdir / "index"
    marker = workdir / f"built-{messages}"
    if marker.exists():
        return index_dir
    adapter = TantivyIndexAdapter(index_dir)
    batch = []
    started = time.perf_counter()
    for event in simulate_events(events=messages, rooms=40, users=400, seed=1):
        batch.append(event)
        if len(batch) == 50_000:
            adapter.write(batch)
            batch = []
    if batch:
        adapter.write(batch)
    adapter.close()
    print(f"indexed {messages:,} events in {time.perf_counter() - started:.0f}s")
    marker.touch()
    return index_dir


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(action: Callable[[], object], runs: int) -> list[float]:
    action()  # warm caches
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "archivist-bench-search")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    index_dir = build_index(args.workdir, args.messages)
    engine = create_db_engine(f"sqlite:///{args.workdir / 'api.sqlite3'}")
    upgrade(engine)
    token = create_token(engine, "compliance_officer", "bench")
    app = create_app(AppServices(engine=engine, index_dir=index_dir, sink=StagingSink(StagingStore(engine))))
    index = fields.open_index(index_dir)
    searcher = index.searcher()
    rows = []
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {token}"}
        for name, query in QUERIES.items():
            translated = scoped(parse_query(query), index.schema)

            def direct(q: tantivy.Query = translated) -> object:
                result = searcher.search(q, limit=50, order_by_field=fields.SENT, order=tantivy.Order.Asc)
                return [searcher.doc(address) for _key, address in result.hits]

            def through_api(text: str = query) -> object:
                response = client.post("/api/v1/search", json={"query": text, "size": 50}, headers=headers)
                response.raise_for_status()
                return response.json()["total"]

            total = through_api()
            api = timed(through_api, args.runs)
            raw = timed(direct, args.runs)
            rows.append((name, query, total, api, raw))
    lines = [
        BEGIN,
        "## Search (`bench/search.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.messages:,} simulated events in the embedded Tantivy index, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {args.runs} runs per query after one warm-up. "
        "API = the FastAPI app in process (parse, translate, top 50 by time, exact total, facets, highlights, "
        "audit entry); direct = the same translated query straight against Tantivy: top 50 by time, documents fetched.",
        "",
        "| query | hits | API p50 ms | API p95 ms | direct p50 ms | direct p95 ms | API / direct (p50) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, query, total, api, raw in rows:
        ratio = statistics.median(api) / max(statistics.median(raw), 1e-6)
        lines.append(
            f"| {name}: `{query}` | {total:,} | {statistics.median(api):.1f} | {percentile(api, 0.95):.1f} | "
            f"{statistics.median(raw):.1f} | {percentile(raw, 0.95):.1f} | {ratio:.1f}x |"
        )
    lines += ["", "Sphinx and SQLite FTS5 on the same corpus are not measured yet.", END]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


if __name__ == "__main__":
    main()
