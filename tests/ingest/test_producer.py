from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ingest.events import Event, event_to_json
from ingest.producer import FeedReport, Rejected, feed, read_jsonl, write_jsonl
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from tests.factories import post_payload, posts


class RecordingSink:
    def __init__(self) -> None:
        self.chunks: list[list[Event]] = []

    def submit(self, events: Sequence[Event]) -> int:
        self.chunks.append(list(events))
        return len(events)

    def close(self) -> None:
        pass


def test_feed_submits_in_chunks_and_reports_after_each() -> None:
    sink = RecordingSink()
    seen: list[int] = []
    report = feed(sink, posts(25), chunk_size=10, on_progress=lambda r: seen.append(r.accepted))
    assert [len(c) for c in sink.chunks] == [10, 10, 5]
    assert seen == [10, 20, 25]
    assert report.accepted == 25


def test_feed_collects_rejections_without_stopping() -> None:
    sink = RecordingSink()
    items: list[Event | Rejected] = [*posts(3), Rejected("f:4", "bad"), *posts(2, run="x")]
    report = feed(sink, items, chunk_size=100)
    assert report.accepted == 5
    assert report.rejected == [Rejected("f:4", "bad")]


def test_read_jsonl_names_the_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    lines = [
        json.dumps(post_payload(1)),
        "",
        "{broken",
        json.dumps(post_payload(2) | {"schema_version": 9}),
        json.dumps(post_payload(3)),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items = list(read_jsonl(path))
    rejected = [i for i in items if isinstance(i, Rejected)]
    assert [r.where for r in rejected] == ["events.jsonl:3", "events.jsonl:4"]
    assert "not valid JSON" in rejected[0].reason
    assert "unknown schema_version 9" in rejected[1].reason
    assert len(items) - len(rejected) == 2


def test_write_then_read_jsonl_round_trips(tmp_path: Path) -> None:
    events = posts(20)
    path = tmp_path / "out.jsonl"
    assert write_jsonl(events, path) == 20
    assert [event_to_json(e) for e in read_jsonl(path) if not isinstance(e, Rejected)] == [
        event_to_json(e) for e in events
    ]


def test_staging_sink_is_idempotent(sqlite_store: StagingStore) -> None:
    sink = StagingSink(sqlite_store)
    first: FeedReport = feed(sink, posts(30), chunk_size=7)
    again = feed(sink, posts(30), chunk_size=7)
    assert first.accepted == again.accepted == 30
    assert sqlite_store.counts().staged == 30
