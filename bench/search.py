"""Search latency over a large embedded index: through the HTTP API and straight against Tantivy,
beside Sphinx and SQLite FTS5 on the same corpus.

    python -m bench.search [--messages 1000000] [--runs 30] [--write]

Builds (or reuses, in --workdir) an index of seeded synthetic traffic, starts `archivist serve`
(uvicorn, a separate process) over it, then times a set of typical queries:

- API: `POST /api/v1/search` over HTTP with a keep-alive client (parse, translate, search,
  highlights, exact total, token check, a durable hash-chained audit entry, JSON);
- direct: the same answer written straight against Tantivy in this process: the exact total,
  the top 50 by time with their documents and highlighted snippets. Its query is parsed and
  translated once, outside the timing, and it reads one document fewer (the API reads the 51st
  to know whether the page ends inside a run of equal timestamps) and fewer fields per hit;
- floor: bench/search_floor.py, served beside the API the same way, sent the same request: a bare
  route that checks the same token and appends the same durable audit entry, and nothing else
  (what the API adds beyond the floor and the direct query is the search path's own cost);
- the other engines (bench/other_engines.py): the same query in their own syntax, top 50 by
  time with the text fetched plus the exact total.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import tantivy

from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import create_token
from archivist.migrate import upgrade
from bench.common import write_section
from ingest.db import create_db_engine
from ingest.events import Event
from ingest.simulate import simulate_events
from search import tantivy_schema as fields
from search.query_parser import parse_query
from search.tantivy_backend import DAY_MICROS, scoped

BEGIN, END = "<!-- bench/search.py begin -->", "<!-- bench/search.py end -->"
QUERIES = {
    "single term": "deploy",
    "phrase": '"risk report"',
    "boolean + date range + room": "(audit OR kyc) -urgent in:#compliance sent>=2026-01-06 sent<2026-03-01",
    "proximity": "margin NEAR/3 call",
    "prefix": "settle*",
    "mention or hashtag": "#urgent OR @alice.smith",
}
FACETS = "facets"
FULL_SET = "full hit set"
EXTRA = {FACETS: "deploy", FULL_SET: "deploy"}
"""Beyond the top-50 queries: the single term with room/sender/day counts over every hit, and
every hit of it (what an export needs), paged 1,000 at a time."""
PAGE = 50
FULL_PAGE = 1000
ROOMS, USERS, SEED = 40, 400, 1


def corpus(messages: int) -> Iterator[Event]:
    return simulate_events(events=messages, rooms=ROOMS, users=USERS, seed=SEED)


def build_index(workdir: Path, messages: int) -> Path:
    index_dir = workdir / "index"
    marker = workdir / f"built-{messages}"
    if marker.exists():
        return index_dir
    adapter = TantivyIndexAdapter(index_dir)
    batch = []
    started = time.perf_counter()
    for event in corpus(messages):
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
    """The action's latencies in ms, ``runs`` of them after one warm-up."""
    return taking_turns([action], runs)[0]


def taking_turns(actions: list[Callable[[], object]], runs: int) -> list[list[float]]:
    """Each action's latencies in ms, ``runs`` each after one warm-up, the actions taking turns:
    a machine busy with other work then slows them alike, so their differences hold."""
    for action in actions:
        action()  # warm caches
    samples: list[list[float]] = [[] for _ in actions]
    for _ in range(runs):
        for action, taken in zip(actions, samples, strict=True):
            started = time.perf_counter()
            action()
            taken.append((time.perf_counter() - started) * 1000)
    return samples


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def api_server(workdir: Path) -> Iterator[tuple[str, str]]:
    """`archivist serve` over ``workdir`` (index and SQLite database); yields (base URL, token)."""
    token = _token(workdir)
    with _served(workdir, ["-m", "archivist", "serve"], "/openapi.json") as base:
        yield base, token


@contextmanager
def floor_server(workdir: Path) -> Iterator[str]:
    """bench/search_floor.py over the same database, served the same way; yields its base URL."""
    with _served(workdir, ["-m", "bench.search_floor"], "/docs") as base:
        yield base


def _token(workdir: Path) -> str:
    engine = create_db_engine(f"sqlite:///{(workdir / 'archivist.sqlite3').resolve()}")
    upgrade(engine)
    token = create_token(engine, "compliance_officer", "bench")
    engine.dispose()
    return token


@contextmanager
def _served(workdir: Path, arguments: list[str], ready: str) -> Iterator[str]:
    """``python arguments --port N`` with ``workdir`` as its data directory, once ``ready`` answers."""
    port = _free_port()
    environment = {**os.environ, "ARCHIVIST_DATA_DIR": str(workdir)}
    command = [sys.executable, *arguments, "--port", str(port)]
    server = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}{ready}", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"{' '.join(arguments)} did not start")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


class Direct:
    """The API's answers written straight against Tantivy (what the API adds is the difference)."""

    def __init__(self, index_dir: Path) -> None:
        self.index = fields.open_index(index_dir)
        self.searcher = self.index.searcher()

    def query(self, name: str, text: str) -> Callable[[], int]:
        query = scoped(parse_query(text), self.index.schema)
        if name == FULL_SET:
            return lambda: self._every_hit(query)
        return lambda: self._top(query, facets=name == FACETS)

    def _top(self, query: tantivy.Query, *, facets: bool) -> int:
        searcher = self.searcher
        result = searcher.search(query, limit=PAGE, count=True, order_by_field=fields.SENT, order=tantivy.Order.Asc)
        snippets = tantivy.SnippetGenerator.create(searcher, query, self.index.schema, fields.TEXT)
        for _sent, address in result.hits:
            document = searcher.doc(address)
            snippets.snippet_from_doc(document).to_html()
            fields.exact_text(document)
        if facets:
            searcher.aggregate(
                query,
                {
                    "room": {"terms": {"field": fields.ROOM_ID, "size": 20}},
                    "sender": {"terms": {"field": fields.SENDER_ID, "size": 20}},
                    "day": {"histogram": {"field": fields.SENT, "interval": DAY_MICROS}},
                },
            )
        return int(getattr(result, "count", 0) or 0)

    def _every_hit(self, query: tantivy.Query) -> int:
        searcher, offset = self.searcher, 0
        while True:
            result = searcher.search(
                query, limit=FULL_PAGE, offset=offset, count=False, order_by_field=fields.SENT, order=tantivy.Order.Asc
            )
            for _sent, address in result.hits:
                document = searcher.doc(address)
                fields.exact_text(document)
            offset += len(result.hits)
            if len(result.hits) < FULL_PAGE:
                return offset


def through_api(client: httpx.Client, name: str, text: str) -> Callable[[], int]:
    def search(body: dict[str, Any]) -> dict[str, Any]:
        response = client.post("/api/v1/search", json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    if name == FULL_SET:

        def every_hit() -> int:
            page = search({"query": text, "size": FULL_PAGE, "facets": False})
            seen = len(page["hits"])
            while page["next_cursor"] is not None:
                page = search({"query": text, "size": FULL_PAGE, "facets": False, "cursor": page["next_cursor"]})
                seen += len(page["hits"])
            return seen

        return every_hit
    return lambda: int(search({"query": text, "size": PAGE, "facets": name == FACETS})["total"])


def through_floor(client: httpx.Client, text: str) -> Callable[[], int]:
    """The floor's answer to the request the API is sent for a top-50 query."""

    def search() -> int:
        response = client.post("/api/v1/search", json={"query": text, "size": PAGE, "facets": False})
        response.raise_for_status()
        return int(response.json()["total"])

    return search


def _other_engines(workdir: Path, messages: int) -> list[Any]:
    try:
        from bench.other_engines import available_engines
    except ImportError as error:  # the module is optional tooling; say so rather than fail
        print(f"other engines not measured: {error}")
        return []
    engines = available_engines()
    for engine in engines:
        started = time.perf_counter()
        engine.prepare(workdir / f"other-engines-{messages}", corpus(messages))
        print(f"{engine.name}: ready in {time.perf_counter() - started:.0f}s")
    return engines


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} / {percentile(samples, 0.95):.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "archivist-bench-search")
    parser.add_argument("--no-others", action="store_true", help="skip Sphinx and SQLite FTS5")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    index_dir = build_index(args.workdir, args.messages)
    engines = [] if args.no_others else _other_engines(args.workdir, args.messages)
    direct = Direct(index_dir)
    rows: list[Row] = []
    with (
        api_server(args.workdir) as (base, token),
        floor_server(args.workdir) as floor_base,
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client,
        httpx.Client(base_url=floor_base, headers={"Authorization": f"Bearer {token}"}, timeout=60) as floor,
    ):
        for name, text in {**QUERIES, **EXTRA}.items():
            runs = max(3, args.runs // 5) if name == FULL_SET else args.runs
            api_call, direct_call = through_api(client, name, text), direct.query(name, text)
            total = api_call()
            if direct_call() != total:
                raise SystemExit(f"{name}: the API found {total} hits, the direct query {direct_call()}")
            floor_call = [] if name == FULL_SET else [through_floor(floor, text)]
            api, raw, *rest = taking_turns(
                [api_call, direct_call, *floor_call, *(e.query(name) for e in engines)], runs
            )
            # The full hit set has no floor: its first remaining column is the first other engine.
            floor_samples = rest[0] if floor_call else []
            others = rest[len(floor_call) :]
            rows.append(Row(name, text, total, api, raw, floor_samples, others))
    for engine in engines:
        engine.close()
    section = _report(args, rows, [engine.name for engine in engines])
    print(section)
    if args.write:
        write_section(section, BEGIN, END)


class Row(NamedTuple):
    name: str
    text: str
    total: int
    api: list[float]
    direct: list[float]
    floor: list[float]
    """The floor (bench/search_floor.py) for the same request; empty for the full hit set."""
    others: list[list[float]]

    def over_floor(self) -> float:
        """API p50 - (floor p50 + direct p50), in ms."""
        return statistics.median(self.api) - statistics.median(self.floor) - statistics.median(self.direct)


def _report(args: argparse.Namespace, rows: list[Row], engine_names: list[str]) -> str:
    header = (
        "| query | hits | API p50 / p95 ms | direct p50 / p95 ms | floor p50 / p95 ms | API / direct (p50) "
        "| API - floor - direct (p50) ms |"
    )
    rule = "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for engine in engine_names:
        header += f" {engine} p50 / p95 ms |"
        rule += " ---: |"
    lines = [
        BEGIN,
        "## Search (`bench/search.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.messages:,} simulated events in the embedded Tantivy index, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {args.runs} runs per query after one warm-up "
        f"({max(3, args.runs // 5)} for the full hit set), the API, direct, floor and other engines taking turns. "
        "API = `POST /api/v1/search` over HTTP to `archivist serve` "
        "in its own process (token check, parse, translate, exact total, top 50 by time, highlights, a durable "
        "hash-chained audit entry, JSON); direct = the same answer straight against Tantivy in the bench process "
        '(exact total, top 50 by time, documents, highlights); the top-50 requests say `"facets": false`. Facets: '
        "the same plus counts per room, sender and day over every hit. "
        f"Full hit set: every hit, {FULL_PAGE:,} per request with the cursor. Floor = `bench/search_floor.py`, "
        "served beside the API the same way (same settings, database and uvicorn options): a bare FastAPI route "
        "that checks the same token and appends the same durable audit entry, and nothing else, sent the same "
        "request.",
        "",
        header,
        rule,
    ]
    for row in rows:
        ratio = statistics.median(row.api) / max(statistics.median(row.direct), 1e-6)
        floor, over = (_ms(row.floor), f"{row.over_floor():.1f}") if row.floor else ("-", "-")
        line = f"| {row.name}: `{row.text}` | {row.total:,} | {_ms(row.api)} | {_ms(row.direct)} | {floor} "
        line += f"| {ratio:.1f}x | {over} |"
        line += "".join(f" {_ms(samples)} |" for samples in row.others)
        lines.append(line)
    typical = [row for row in rows if row.name in QUERIES]
    worst = max(percentile(row.api, 0.95) for row in typical)
    over_floor = max(row.over_floor() for row in rows if row.floor)
    lines += [
        "",
        f"- Slowest typical top-50 query through the API: p95 **{worst:.1f} ms** (target: under 50 ms).",
        f"- The API's p50 over the floor plus the direct query, at most **{over_floor:.1f} ms** (on the top-50 and "
        "facet queries; target: within 2 ms).",
    ]
    for index, engine in enumerate(engine_names):
        engine_faster = sum(statistics.median(row.direct) < statistics.median(row.others[index]) for row in rows)
        api_faster = sum(statistics.median(row.api) < statistics.median(row.others[index]) for row in rows)
        lines.append(
            f"- Engine against engine (direct Tantivy vs {engine}, both in the bench process, p50): Tantivy is "
            f"faster on **{engine_faster} of {len(rows)}** queries; through the whole API (HTTP, token, audit "
            f"entry) on {api_faster} of {len(rows)}."
        )
    fixed = statistics.median([statistics.median(row.api) - statistics.median(row.direct) for row in typical])
    lines += [
        f"- What the API adds to a typical query (median of API p50 - direct p50): **{fixed:.1f} ms**, "
        "a fixed cost per request: HTTP both ways (uvicorn, the httpx client), the token read, "
        "a trip to the thread pool each for the token check and the search, parsing and translating the "
        "query (the direct path does it once, untimed), the audit entry committed with a full fsync, "
        "JSON both ways; so the ratio is large for queries Tantivy answers in 1-2 ms and small for slower ones.",
        "- Full hit set: Tantivy reads every stored document (what an export needs); Sphinx and FTS5 return "
        "ids and times only.",
        END,
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
