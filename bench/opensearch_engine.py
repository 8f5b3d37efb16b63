"""OpenSearch beside Tantivy, Sphinx and FTS5 for ``bench/search.py``: the same corpus indexed
through the ``opensearch`` adapter (what users run), searched through ``OpenSearchSearchBackend``.

    python -m bench.opensearch_engine [--messages 20000] [--runs 10] [--url URL]

checks every typical query's total and full hit set against Tantivy's and prints the latencies.

The node
--------
Without a URL, :class:`OpenSearchEngine` starts a single OpenSearch 2.19 node
(``tests/opensearch/node.py``, the test node, with a larger heap: :data:`HEAP_MB`) whose data
directory is ``workdir/opensearch/node``: the index built once stays there for the next run
(``built.json`` marks it; ``reindex=True`` builds it again). With a URL (an existing cluster, or
the test suite's node) it indexes into a fresh prefix and deletes those indices on ``close``.

Indexing
--------
The events go through ``OpenSearchAdapter.write`` in batches of :data:`BATCH` (the processor's
``process_batch_size``), one client, one batch at a time, as one processor delivers them: bulk
requests of at most 500 actions, an event document per event and a scripted upsert of the
message for each post, edit and deletion. A refused event is an error (the comparison would be
meaningless). Then a refresh and a force merge to one segment per shard, so every engine is
measured on a merged index (Tantivy merges as it writes, Sphinx and FTS5 build once).

Queries
-------
Typical queries: ``OpenSearchSearchBackend.search`` for the top 50 by time with highlights and
the exact total (facets: the room, sender and day counts too). The full hit set:
``OpenSearchSearchBackend.every_hit`` (a point in time, pages of 1,000 with ``search_after``),
which reads every hit's document, as Tantivy's full hit set in the bench does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, Final, Protocol

from adapters.base import DeliveryResult, Failure
from adapters.opensearch_adapter import OpenSearchAdapter
from bench.other_engines import FACETS, FULL_HIT_SET, QUERY_NAMES, TOP, Result, query_text
from ingest.events import Event
from search.backends import OpenSearchSearchBackend
from search.es_mapping import events_index, messages_index
from search.opensearch_client import opensearch_client
from search.query_parser import parse_query
from search.request import SearchRequest

HEAP_MB: Final = 3072
"""The node's heap when the bench starts it (the test node's default, 512 MB, is for small indices)."""
QUICK_HEAP_MB: Final = 1024
"""The node's heap for ``bench/search.py --quick`` (a corpus of thousands of events)."""
BATCH: Final = 1000
"""Events per ``OpenSearchAdapter.write``, as a processor claims them (``process_batch_size``)."""
FULL_PAGE: Final = 1000
"""Hits per page of ``every_hit``."""
_LAYOUT: Final = 1
_CLIENT_TIMEOUT: Final = 120.0
_MERGE_TIMEOUT: Final = 3600.0
"""Seconds the force merge may take: it answers when it is done."""


class OpenSearchBenchError(RuntimeError):
    """The node did not start, or the adapter refused events of the corpus."""


@dataclass(frozen=True)
class Indexed:
    """How the corpus went through the adapter."""

    events: int
    seconds: float
    merge_seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class NodeStats:
    heap_used_mb: float
    heap_max_mb: float
    messages_mb: float
    events_mb: float
    messages: int
    rss_mb: float | None
    """The node's resident memory, when the bench started it."""


class Writer(Protocol):
    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]: ...


def index_corpus(
    adapter: Writer,
    events: Iterable[Event],
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write ``events`` through ``adapter`` ``batch`` at a time; the number written. Raises
    :class:`OpenSearchBenchError` at the first batch with a refused event. ``progress`` is told
    the number written after every 100 batches."""
    written = 0
    iterator: Iterator[Event] = iter(events)
    while chunk := list(islice(iterator, batch)):
        results = adapter.write(chunk)
        refused = [(event, result) for event, result in zip(chunk, results, strict=True) if isinstance(result, Failure)]
        if refused:
            event, failure = refused[0]
            raise OpenSearchBenchError(
                f"the opensearch adapter refused {len(refused)} of {len(chunk)} events "
                f"(first: {event.event_id}: {failure.reason})"
            )
        written += len(chunk)
        if progress is not None and written % (100 * batch) == 0:
            progress(written)
    return written


class OpenSearchEngine:
    """The corpus in OpenSearch through the ``opensearch`` adapter, queried through its backend."""

    def __init__(self, url: str | None = None, *, heap_mb: int = HEAP_MB, reindex: bool = False) -> None:
        self.url = url
        self.heap_mb = heap_mb
        self.reindex = reindex
        self.name = "OpenSearch"
        self.prefix = "archivist" if url is None else f"archivist-bench-{uuid.uuid4().hex[:8]}"
        self.indexed: Indexed | None = None
        self.documents = 0
        self._node: Any = None
        self._client: Any = None
        self._backend: OpenSearchSearchBackend | None = None

    def prepare(self, workdir: Path, events: Iterable[Event]) -> None:
        directory = workdir / "opensearch"
        url = self.url or self._start_node(directory / "node")
        self._client = opensearch_client(url, timeout=_CLIENT_TIMEOUT)
        try:
            version = self._client.info()["version"]["number"]
        except Exception as error:  # the client raises many transport errors; its URL may hold a password
            which = "server given" if self.url else "node"
            raise OpenSearchBenchError(f"the OpenSearch {which} does not answer: {error.__class__.__name__}") from error
        self.name = f"OpenSearch {version}"
        marker = directory / "built.json"
        built = _read_marker(marker) if self.url is None and not self.reindex else None
        if built is None:
            marker.unlink(missing_ok=True)
            self._client.indices.delete(index=f"{self.prefix}-*", ignore_unavailable=True)
            self.indexed = self._index(events)
            if self.url is None:
                marker.parent.mkdir(parents=True, exist_ok=True)
                marker.write_text(
                    json.dumps(
                        {
                            "layout": _LAYOUT,
                            "events": self.indexed.events,
                            "seconds": self.indexed.seconds,
                            "merge_seconds": self.indexed.merge_seconds,
                        }
                    ),
                    encoding="utf-8",
                )
        else:
            self.indexed = Indexed(int(built["events"]), float(built["seconds"]), float(built["merge_seconds"]))
        self._backend = OpenSearchSearchBackend(self._client, prefix=self.prefix)
        self.documents = self.stats().messages

    def _start_node(self, home: Path) -> str:
        from tests.opensearch.node import OpenSearchNodeError, build, start_node, wait_for_health

        try:
            self._node = start_node(home, classpath=build(), node_name="archivist-bench", heap_mb=self.heap_mb)
            wait_for_health(self._node.url, timeout=300)
        except OpenSearchNodeError as error:
            self.close()
            raise OpenSearchBenchError(f"the OpenSearch node did not start: {error}") from error
        url: str = self._node.url
        return url

    def _index(self, events: Iterable[Event]) -> Indexed:
        adapter = OpenSearchAdapter(self._client, prefix=self.prefix)
        started = time.perf_counter()
        written = index_corpus(adapter, events, progress=partial(_progress, started))
        indices = f"{messages_index(self.prefix)},{events_index(self.prefix)}"
        self._client.indices.refresh(index=indices)
        indexed = time.perf_counter()
        self._client.indices.forcemerge(index=indices, max_num_segments=1, request_timeout=_MERGE_TIMEOUT)
        self._client.indices.refresh(index=indices)
        return Indexed(written, indexed - started, time.perf_counter() - indexed)

    def _search(self) -> OpenSearchSearchBackend:
        if self._backend is None:
            raise RuntimeError("prepare() first")
        return self._backend

    def search(self, text: str, *, facets: bool = False, every: bool = False) -> Result:
        """Any query of the language: the top 50 by time with highlights (and facets), or every hit."""
        backend = self._search()
        node = parse_query(text)
        if every:
            hits = backend.every_hit(node, page=FULL_PAGE)
            return Result(len(hits), [(0, hit.sent) for hit in hits])
        page = backend.search(SearchRequest(node, size=TOP, facets=facets))
        return Result(page.total, [(0, hit.sent) for hit in page.hits], page.facets)

    def run(self, name: str) -> Result:
        """Typical query ``name`` once."""
        return self.search(query_text(name), facets=name == FACETS, every=name == FULL_HIT_SET)

    def query(self, name: str) -> Callable[[], int]:
        if name not in QUERY_NAMES:
            raise KeyError(f"unknown typical query {name!r}; one of {', '.join(QUERY_NAMES)}")
        return lambda: self.run(name).total

    def stats(self) -> NodeStats:
        """The node's heap and the size of the two indices (after the force merge)."""
        if self._client is None:
            raise RuntimeError("prepare() first")
        jvm = [node["jvm"]["mem"] for node in self._client.nodes.stats(metric="jvm")["nodes"].values()]
        stores = self._client.indices.stats(index=f"{messages_index(self.prefix)},{events_index(self.prefix)}")
        sizes = {name: index["primaries"] for name, index in stores["indices"].items()}
        messages = sizes.get(messages_index(self.prefix), {})
        events = sizes.get(events_index(self.prefix), {})
        mb = 1024 * 1024
        return NodeStats(
            heap_used_mb=sum(m["heap_used_in_bytes"] for m in jvm) / mb,
            heap_max_mb=sum(m["heap_max_in_bytes"] for m in jvm) / mb,
            messages_mb=messages.get("store", {}).get("size_in_bytes", 0) / mb,
            events_mb=events.get("store", {}).get("size_in_bytes", 0) / mb,
            messages=int(messages.get("docs", {}).get("count", 0)),
            rss_mb=None if self._node is None else self._node.rss_kib() / 1024,
        )

    def describe(self) -> str:
        """How the corpus was indexed and what the node holds, for the report."""
        if self.indexed is None:
            raise RuntimeError("prepare() first")
        stats, indexed = self.stats(), self.indexed
        node = "one node started by the bench" if self.url is None else "the server given"
        resident = "" if stats.rss_mb is None else f", resident {stats.rss_mb:,.0f} MB"
        return (
            f"{self.name}: {node} (heap {stats.heap_max_mb:,.0f} MB, {stats.heap_used_mb:,.0f} MB in use after "
            f"the run{resident}); the corpus written "
            f"through the `opensearch` adapter, {BATCH:,} events per write, one writer (as one processor "
            f"delivers them): {indexed.events:,} events in {indexed.seconds:,.0f} s (**{indexed.rate:,.0f} "
            f"events/s**), then a force merge to one segment ({indexed.merge_seconds:,.0f} s); messages index "
            f"{stats.messages:,} documents, {stats.messages_mb:,.0f} MB; events index {stats.events_mb:,.0f} MB "
            "(primaries, after the merge). Top 50: `OpenSearchSearchBackend.search` (highlights, exact total)."
        )

    def close(self) -> None:
        client, self._client, self._backend = self._client, None, None
        if client is not None:
            if self.url is not None:  # indices of our own on someone else's cluster
                try:
                    client.indices.delete(index=f"{self.prefix}-*", ignore_unavailable=True)
                except Exception as error:  # the client raises many transport errors
                    print(f"could not delete the bench's indices {self.prefix}-*: {error.__class__.__name__}")
            client.close()
        node, self._node = self._node, None
        if node is not None:
            node.stop(timeout=60)


def _progress(started: float, written: int) -> None:
    elapsed = time.perf_counter() - started
    print(f"opensearch adapter: {written:,} events in {elapsed:.0f}s ({written / elapsed:,.0f}/s)", flush=True)


def _read_marker(marker: Path) -> dict[str, Any] | None:
    if not marker.exists():
        return None
    built: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
    return built if built.get("layout") == _LAYOUT else None


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(samples):.1f} / {p95:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--url", help="an OpenSearch server to use instead of starting a node")
    parser.add_argument("--heap-mb", type=int, default=HEAP_MB)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "archivist-bench-search")
    args = parser.parse_args()
    from bench.other_engines import tantivy_result
    from bench.search import build_index, corpus, timed

    args.workdir.mkdir(parents=True, exist_ok=True)
    index_dir = build_index(args.workdir, args.messages)  # where bench/search.py keeps them
    engine = OpenSearchEngine(args.url, heap_mb=args.heap_mb)
    try:
        engine.prepare(args.workdir / f"other-engines-{args.messages}", corpus(args.messages))
        assert engine.indexed is not None
        stats = engine.stats()
        print(
            f"{engine.name}: {engine.indexed.events:,} events in {engine.indexed.seconds:.0f}s "
            f"({engine.indexed.rate:,.0f}/s) through the adapter, force merge {engine.indexed.merge_seconds:.0f}s; "
            f"heap {stats.heap_used_mb:,.0f} of {stats.heap_max_mb:,.0f} MB; {stats.messages:,} messages, "
            f"{stats.messages_mb:,.0f} MB (events index {stats.events_mb:,.0f} MB)"
        )
        for name in QUERY_NAMES:
            mine, theirs = engine.run(name), tantivy_result(index_dir, name)
            same = "same" if [s for _i, s in mine.hits] == [s for _i, s in theirs.hits] else "hit times differ"
            print(f"{name:<30} {mine.total:>8} {theirs.total:>8} {_ms(timed(engine.query(name), args.runs))} {same}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
