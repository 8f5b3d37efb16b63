"""Search latency over a large embedded index: through the HTTP API and straight against Tantivy,
beside Sphinx and SQLite FTS5 on the same corpus.

    python -m bench.search [--messages 1000000] [--runs 30] [--engines tantivy,sphinx,fts5,opensearch] [--write]
    python -m bench.search --quick   # a small corpus in a fresh directory, a few runs (for a smoke test)

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
  time with the text fetched plus the exact total;
- OpenSearch (bench/opensearch_engine.py): the same corpus written through the ``opensearch``
  adapter into a node the bench starts (its data directory kept in --workdir), searched through
  ``OpenSearchSearchBackend`` (top 50 with highlights and the exact total; every hit through
  ``every_hit``: a point in time and ``search_after``).

Every engine's totals are checked against Tantivy's; a difference is reported, not hidden. A
second table walks the full hit set of every typical query (Tantivy direct, and each engine).
``--engines`` runs only some of them (``tantivy``: the API, direct and floor columns; without
it the Tantivy index still answers the reference totals, untimed).
"""

from __future__ import annotations

import argparse
import contextlib
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
from functools import partial
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
ENGINES = ("tantivy", "sphinx", "fts5", "opensearch")
"""What ``--engines`` chooses from: ``tantivy`` is the API, direct and floor columns."""
QUICK_MESSAGES, QUICK_RUNS = 2_000, 3


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

    def every(self, text: str) -> Callable[[], int]:
        """Every hit of ``text`` (documents read), as the full hit set row reads them."""
        query = scoped(parse_query(text), self.index.schema)
        return lambda: self._every_hit(query)

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


def engine_names(value: str) -> list[str]:
    """``--engines``: a comma-separated subset of :data:`ENGINES`, in that order."""
    chosen = {name.strip().lower() for name in value.split(",") if name.strip()}
    unknown = sorted(chosen - set(ENGINES))
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown engine {', '.join(unknown) or '(none given)'}; choose from {', '.join(ENGINES)}"
        )
    return [name for name in ENGINES if name in chosen]


def _other_engines(workdir: Path, messages: int, args: argparse.Namespace) -> list[Any]:
    chosen = set(args.engines)
    engines: list[Any] = []
    if chosen & {"sphinx", "fts5"}:
        try:
            from bench.other_engines import SphinxEngine, available_engines
        except ImportError as error:  # the module is optional tooling; say so rather than fail
            print(f"other engines not measured: {error}")
        else:
            engines += [
                engine
                for engine in available_engines()
                if ("sphinx" if isinstance(engine, SphinxEngine) else "fts5") in chosen
            ]
    setup_errors: tuple[type[Exception], ...] = ()
    if "opensearch" in chosen:
        from bench.opensearch_engine import OpenSearchBenchError, OpenSearchEngine

        setup_errors = (OpenSearchBenchError,)
        engines.append(
            OpenSearchEngine(args.opensearch_url, heap_mb=args.opensearch_heap_mb, reindex=args.reindex_opensearch)
        )
    prepared: list[Any] = []
    try:
        for engine in engines:
            started = time.perf_counter()
            prepared.append(engine)
            engine.prepare(workdir / f"other-engines-{messages}", corpus(messages))
            print(f"{engine.name}: ready in {time.perf_counter() - started:.0f}s", flush=True)
    except setup_errors as error:  # a node that does not start, a server that does not answer
        _close(prepared)
        raise SystemExit(f"bench/search.py: {error}") from error
    except BaseException:
        _close(prepared)
        raise
    return engines


def _close(engines: list[Any]) -> None:
    for engine in engines:
        engine.close()


def _ms(samples: list[float]) -> str:
    return f"{statistics.median(samples):.1f} / {percentile(samples, 0.95):.1f}"


def positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of at least 1")
    return number


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=positive, default=None, help="default 1,000,000 (--quick: 2,000)")
    parser.add_argument("--runs", type=positive, default=None, help="default 30 (--quick: 3)")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a folder in the temp directory")
    parser.add_argument(
        "--engines", type=engine_names, default=list(ENGINES), help=f"comma-separated, of {', '.join(ENGINES)}"
    )
    parser.add_argument("--no-others", action="store_true", help="skip Sphinx and SQLite FTS5")
    parser.add_argument("--opensearch-url", help="index into this OpenSearch server instead of starting a node")
    parser.add_argument("--opensearch-heap-mb", type=positive, default=None, help="the started node's heap")
    parser.add_argument("--reindex-opensearch", action="store_true", help="index again into the kept node")
    parser.add_argument("--quick", action="store_true", help="a small corpus in a fresh directory, a few runs")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if args.write and args.quick:
        parser.error("--quick figures are not written to BENCHMARKS.md")
    args.messages = args.messages or (QUICK_MESSAGES if args.quick else 1_000_000)
    args.runs = args.runs or (QUICK_RUNS if args.quick else 30)
    if args.no_others:
        args.engines = [name for name in args.engines if name not in ("sphinx", "fts5")]
    if args.opensearch_heap_mb is None:
        from bench.opensearch_engine import HEAP_MB, QUICK_HEAP_MB

        args.opensearch_heap_mb = QUICK_HEAP_MB if args.quick else HEAP_MB
    return args


def main(argv: list[str] | None = None) -> str:
    """Run the bench; returns the section (printed, and written with --write)."""
    args = parse_arguments(argv)
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            args.workdir = (
                Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="archivist-bench-search-")))
                if args.quick
                else Path(tempfile.gettempdir()) / "archivist-bench-search"
            )
        args.workdir.mkdir(parents=True, exist_ok=True)
        index_dir = build_index(args.workdir, args.messages)
        engines = _other_engines(args.workdir, args.messages, args)
        for engine in engines:
            stack.callback(engine.close)
        rows, every, mismatches = _measure(args, stack, Direct(index_dir), engines)
        section = _report(args, rows, [engine.name for engine in engines], every, mismatches, engines)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)
    return section


def _measure(
    args: argparse.Namespace, stack: contextlib.ExitStack, direct: Direct, engines: list[Any]
) -> tuple[list[Row], list[EveryRow], list[str]]:
    """The main table's rows, the full hit set of every typical query, and every total that differs
    from Tantivy's."""
    tantivy = "tantivy" in args.engines
    if tantivy:
        base, token = stack.enter_context(api_server(args.workdir))
        floor_base = stack.enter_context(floor_server(args.workdir))
        headers = {"Authorization": f"Bearer {token}"}
        client = stack.enter_context(httpx.Client(base_url=base, headers=headers, timeout=60))
        floor = stack.enter_context(httpx.Client(base_url=floor_base, headers=headers, timeout=60))
    rows: list[Row] = []
    mismatches: list[str] = []

    def checked(engine: Any, name: str, call: Callable[[], int], expected: int) -> Callable[[], int]:
        found = call()
        if found != expected:
            mismatches.append(f"{engine.name}, {name}: {found:,} hits, Tantivy {expected:,}")
            print(f"MISMATCH {mismatches[-1]}", flush=True)
        return call

    for name, text in {**QUERIES, **EXTRA}.items():
        runs = max(3, args.runs // 5) if name == FULL_SET else args.runs
        direct_call = direct.query(name, text)
        total = direct_call()
        tantivy_calls: list[Callable[[], int]] = []
        if tantivy:
            api_call = through_api(client, name, text)
            if api_call() != total:
                raise SystemExit(f"{name}: the API found {api_call()} hits, the direct query {total}")
            floor_call = [] if name == FULL_SET else [through_floor(floor, text)]
            tantivy_calls = [api_call, direct_call, *floor_call]
        others = [checked(engine, name, engine.query(name), total) for engine in engines]
        print(f"{name}: {total:,} hits; timing", flush=True)
        samples = taking_turns([*tantivy_calls, *others], runs)
        if tantivy:
            api, raw, *rest = samples
            floors = len(tantivy_calls) - 2  # the full hit set has no floor
            rows.append(Row(name, text, total, api, raw, rest[0] if floors else [], rest[floors:]))
        else:
            rows.append(Row(name, text, total, [], [], [], samples))
    every: list[EveryRow] = []
    runs = max(3, args.runs // 10)
    walkers = [engine for engine in engines if hasattr(engine, "search")]
    for name, text in QUERIES.items():
        reference = direct.every(text)
        total = reference()
        calls = [
            checked(engine, f"{name}, every hit", partial(_every_total, engine, text), total) for engine in walkers
        ]
        print(f"{name}, every hit: {total:,}; timing", flush=True)
        tantivy_calls = [reference] if tantivy else []
        samples = taking_turns([*tantivy_calls, *calls], runs)
        every.append(EveryRow(name, text, total, samples[0] if tantivy else [], samples[len(tantivy_calls) :]))
    return rows, every, mismatches


def _every_total(engine: Any, text: str) -> int:
    return int(engine.search(text, every=True).total)


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


class EveryRow(NamedTuple):
    """Every hit of one typical query: Tantivy direct (documents read) and each engine that walks them."""

    name: str
    text: str
    total: int
    direct: list[float]
    """Empty when Tantivy is not timed (``--engines`` without ``tantivy``)."""
    others: list[list[float]]


def _report(
    args: argparse.Namespace,
    rows: list[Row],
    engine_names: list[str],
    every: list[EveryRow],
    mismatches: list[str],
    engines: list[Any],
) -> str:
    tantivy = "tantivy" in args.engines
    header, rule = "| query | hits |", "| --- | ---: |"
    if tantivy:
        header += (
            " API p50 / p95 ms | direct p50 / p95 ms | floor p50 / p95 ms | API / direct (p50) "
            "| API - floor - direct (p50) ms |"
        )
        rule += " ---: | ---: | ---: | ---: | ---: |"
    for engine in engine_names:
        header += f" {engine} p50 / p95 ms |"
        rule += " ---: |"
    timed_engines = ", ".join(["the API, direct, floor"] * tantivy + engine_names) or "nothing"
    lines = [
        BEGIN,
        "## Search (`bench/search.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {args.messages:,} simulated events in the embedded Tantivy index, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}; {args.runs} runs per query after one warm-up "
        f"({max(3, args.runs // 5)} for the full hit set), {timed_engines} taking turns. "
        "API = `POST /api/v1/search` over HTTP to `archivist serve` "
        "in its own process (token check, parse, translate, exact total, top 50 by time, highlights, a durable "
        "hash-chained audit entry, JSON); direct = the same answer straight against Tantivy in the bench process "
        '(exact total, top 50 by time, documents, highlights); the top-50 requests say `"facets": false`. Facets: '
        "the same plus counts per room, sender and day over every hit. "
        f"Full hit set: every hit, {FULL_PAGE:,} per request with the cursor. Floor = `bench/search_floor.py`, "
        "served beside the API the same way (same settings, database and uvicorn options): a bare FastAPI route "
        "that checks the same token and appends the same durable audit entry, and nothing else, sent the same "
        "request. Hits: Tantivy's total, against which every other engine's is checked.",
        "",
        header,
        rule,
    ]
    for row in rows:
        line = f"| {row.name}: `{row.text}` | {row.total:,} |"
        if tantivy:
            ratio = statistics.median(row.api) / max(statistics.median(row.direct), 1e-6)
            floor, over = (_ms(row.floor), f"{row.over_floor():.1f}") if row.floor else ("-", "-")
            line += f" {_ms(row.api)} | {_ms(row.direct)} | {floor} | {ratio:.1f}x | {over} |"
        line += "".join(f" {_ms(samples)} |" for samples in row.others)
        lines.append(line)
    lines.append("")
    typical = [row for row in rows if row.name in QUERIES]
    if tantivy:
        worst = max(percentile(row.api, 0.95) for row in typical)
        over_floor = max(row.over_floor() for row in rows if row.floor)
        lines += [
            f"- Slowest typical top-50 query through the API: p95 **{worst:.1f} ms** (target: under 50 ms).",
            f"- The API's p50 over the floor plus the direct query, at most **{over_floor:.1f} ms** (on the top-50 "
            "and facet queries; target: within 2 ms).",
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
        ]
    lines.append(
        "- Full hit set: Tantivy reads every stored document (what an export needs); Sphinx and FTS5 return "
        "ids and times only; OpenSearch reads every hit's document (`every_hit`: a point in time, pages of "
        f"{FULL_PAGE:,} with `search_after`)."
    )
    lines += _opensearch_notes(engines)
    lines.append(
        "- Totals against Tantivy's: "
        + ("; ".join(mismatches) if mismatches else "every engine found the same number of hits for every query")
        + "."
    )
    if every:
        lines += _every_table(
            args, every, tantivy, [name for name, e in zip(engine_names, engines, strict=True) if hasattr(e, "search")]
        )
    lines.append(END)
    return "\n".join(lines)


def _opensearch_notes(engines: list[Any]) -> list[str]:
    """What engines that say how they were built say (OpenSearch: indexing rate, heap, index size)."""
    return [f"- {engine.describe()}" for engine in engines if hasattr(engine, "describe")]


def _every_table(args: argparse.Namespace, every: list[EveryRow], tantivy: bool, walkers: list[str]) -> list[str]:
    header, rule = "| query | hits |", "| --- | ---: |"
    if tantivy:
        header += " Tantivy direct p50 / p95 ms |"
        rule += " ---: |"
    for name in walkers:
        header += f" {name} p50 / p95 ms |"
        rule += " ---: |"
    lines = [
        "",
        f"Every hit of each typical query ({max(3, args.runs // 10)} runs after one warm-up, taking turns): Tantivy "
        "direct reads every document in time order, 1,000 at a time; OpenSearch walks a point in time with "
        "`search_after` (`every_hit`, 1,000 per page, documents read); Sphinx pages of 10,000 ids and times; "
        "FTS5 one ordered statement of ids and times.",
        "",
        header,
        rule,
    ]
    for row in every:
        line = f"| {row.name}: `{row.text}` | {row.total:,} |"
        if tantivy:
            line += f" {_ms(row.direct)} |"
        line += "".join(f" {_ms(samples)} |" for samples in row.others)
        lines.append(line)
    return lines


if __name__ == "__main__":
    main()
