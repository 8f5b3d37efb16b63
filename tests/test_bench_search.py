"""``bench/search.py`` with OpenSearch beside Tantivy: its options, the check of every engine's totals
against Tantivy's, and a quick run against the session's OpenSearch node (``opensearch_url``)."""

from __future__ import annotations

import argparse
import contextlib
import socket
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from adapters.base import DeliveryResult, Failure
from bench.opensearch_engine import OpenSearchBenchError, OpenSearchEngine, index_corpus
from bench.other_engines import QUERY_NAMES, Result, tantivy_result
from bench.search import QUERIES, Direct, _measure, build_index, corpus, engine_names, main, parse_arguments
from ingest.events import Event

MESSAGES = 400


def test_engines_are_chosen_by_name_in_a_fixed_order() -> None:
    assert engine_names("opensearch, Tantivy") == ["tantivy", "opensearch"]
    with pytest.raises(argparse.ArgumentTypeError, match="unknown engine elastic; choose from tantivy"):
        engine_names("elastic,tantivy")
    with pytest.raises(argparse.ArgumentTypeError, match="none given"):
        engine_names(" , ")


def test_bad_options_are_refused_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--engines", "solr"], ["--messages", "0"], ["--runs", "many"], ["--quick", "--write"]):
        with pytest.raises(SystemExit) as exited:
            parse_arguments(argv)
        assert exited.value.code == 2
    errors = capsys.readouterr().err
    assert "unknown engine solr" in errors
    assert "'0' is not a whole number of at least 1" in errors
    assert "--quick figures are not written" in errors


def test_quick_mode_is_a_small_corpus_and_few_runs() -> None:
    quick = parse_arguments(["--quick", "--no-others"])
    assert (quick.messages, quick.runs, quick.engines) == (2_000, 3, ["tantivy", "opensearch"])
    full = parse_arguments(["--engines", "sphinx,opensearch", "--opensearch-heap-mb", "2048"])
    assert (full.messages, full.runs, full.engines, full.opensearch_heap_mb) == (
        1_000_000,
        30,
        ["sphinx", "opensearch"],
        2048,
    )


class _Miscounting:
    """An engine that finds one hit more than Tantivy for every query."""

    name = "Miscounting"

    def __init__(self, direct: Direct) -> None:
        self.direct = direct

    def query(self, name: str) -> Callable[[], int]:
        from bench.other_engines import query_text

        text = query_text(name)
        call = self.direct.every(text) if name == "full hit set" else self.direct.query(name, text)
        return lambda: call() + 1

    def search(self, text: str, *, every: bool = False) -> Result:
        return Result(self.direct.every(text)() + 1, [])


def test_a_total_that_differs_from_tantivys_is_reported(tmp_path: Path) -> None:
    direct = Direct(build_index(tmp_path, MESSAGES))
    args = argparse.Namespace(engines=["opensearch"], runs=1, workdir=tmp_path)
    with contextlib.ExitStack() as stack:
        rows, every, mismatches = _measure(args, stack, direct, [_Miscounting(direct)])
    assert [row.name for row in rows] == list(QUERY_NAMES)
    assert [row.name for row in every] == list(QUERIES)
    expected = [f"Miscounting, {row.name}: {row.total + 1:,} hits, Tantivy {row.total:,}" for row in rows]
    expected += [f"Miscounting, {row.name}, every hit: {row.total + 1:,} hits, Tantivy {row.total:,}" for row in every]
    assert mismatches == expected
    # one run each (--runs 1), at least 3 of a full hit set
    assert [len(samples) for row in rows for samples in row.others] == [1] * len(QUERIES) + [1, 3]
    assert [len(samples) for row in every for samples in row.others] == [3] * len(QUERIES)


class _Refusing:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        self.batches.append(len(batch))
        results: list[DeliveryResult] = [None] * len(batch)
        if len(self.batches) == 2:
            results[3] = Failure("mapper_parsing_exception")
        return results


def test_indexing_stops_at_the_first_refused_event() -> None:
    adapter = _Refusing()
    with pytest.raises(OpenSearchBenchError, match=r"refused 1 of 10 events \(first: .*: mapper_parsing_exception\)"):
        index_corpus(adapter, corpus(50), batch=10)
    assert adapter.batches == [10, 10]


def test_opensearch_finds_what_tantivy_finds(opensearch_url: str, tmp_path: Path) -> None:
    index_dir = build_index(tmp_path, MESSAGES)
    engine = OpenSearchEngine(opensearch_url)
    try:
        engine.prepare(tmp_path / "other-engines", corpus(MESSAGES))
        assert engine.indexed is not None
        assert engine.indexed.events == MESSAGES
        assert engine.name.startswith("OpenSearch 2.19.")
        for name in QUERY_NAMES:
            mine, theirs = engine.run(name), tantivy_result(index_dir, name)
            assert mine.total == theirs.total, name
            assert [sent for _id, sent in mine.hits] == [sent for _id, sent in theirs.hits], name
        stats = engine.stats()
        assert stats.messages == engine.documents > 0
        assert stats.messages_mb > 0
        assert stats.heap_max_mb > 0
        prefix = engine.prefix
    finally:
        engine.close()
    client = OpenSearch(opensearch_url)
    try:
        assert client.cat.indices(index=f"{prefix}-*", format="json") == []
    finally:
        client.close()


def test_the_quick_bench_puts_opensearch_beside_tantivy(opensearch_url: str, tmp_path: Path) -> None:
    section = main(
        [
            "--quick",
            "--engines",
            "tantivy,opensearch",
            "--opensearch-url",
            opensearch_url,
            "--messages",
            str(MESSAGES),
            "--runs",
            "1",
            "--workdir",
            str(tmp_path),
        ]
    )
    lines = section.splitlines()
    header = next(line for line in lines if line.startswith("| query | hits | API"))
    assert header.endswith("| OpenSearch 2.19.6 p50 / p95 ms |")
    assert "- Totals against Tantivy's: every engine found the same number of hits for every query." in lines
    assert any(line.startswith("- OpenSearch 2.19.6: the server given") for line in lines)
    assert "the corpus written through the `opensearch` adapter" in section
    every = next(line for line in lines if line.startswith("| query | hits | Tantivy direct"))
    assert every.endswith("| OpenSearch 2.19.6 p50 / p95 ms |")
    rows = [line for line in lines if line.startswith("| ") and "`" in line]
    assert len(rows) == len(QUERY_NAMES) + len(QUERIES)
    assert all(line.count("|") == header.count("|") for line in rows[: len(QUERY_NAMES)])


def test_the_node_the_bench_starts_keeps_its_index_between_runs(tmp_path: Path) -> None:
    """Two node starts, the second on the first's data directory (about a minute on a busy machine)."""

    def prepared(events: list[Event]) -> tuple[int, int, float, float | None]:
        engine = OpenSearchEngine(heap_mb=512)
        try:
            engine.prepare(tmp_path, events)
            assert engine.indexed is not None
            stats = engine.stats()
            return engine.indexed.events, engine.documents, engine.indexed.seconds, stats.rss_mb
        finally:
            engine.close()

    events = list(corpus(200))
    first = prepared(events)
    assert (tmp_path / "opensearch" / "built.json").exists()
    assert first[3] is not None  # the node's resident memory, read from /proc
    again = prepared([])  # nothing to index: the kept index answers
    assert again[:3] == first[:3]


def test_an_unreachable_opensearch_server_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    argv = ["--quick", "--engines", "opensearch", "--messages", "50", "--workdir", str(tmp_path)]
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--opensearch-url", f"http://user:secret@127.0.0.1:{port}"])
    message = str(exited.value.code)
    assert message.startswith("bench/search.py: the OpenSearch server given does not answer: ConnectionError")
    assert "secret" not in message
