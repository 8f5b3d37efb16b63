from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

from ingest.events import Event, event_to_json, parse_event
from ingest.producer import (
    MAX_LINE_BYTES,
    FeedReport,
    Located,
    Overlong,
    Rejected,
    feed,
    read_jsonl,
    read_lines,
    write_jsonl,
)
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
    assert [event_to_json(e.event) for e in read_jsonl(path) if isinstance(e, Located)] == [
        event_to_json(e) for e in events
    ]


def test_staging_sink_is_idempotent(sqlite_store: StagingStore) -> None:
    sink = StagingSink(sqlite_store)
    first: FeedReport = feed(sink, posts(30), chunk_size=7)
    again = feed(sink, posts(30), chunk_size=7)
    assert first.accepted == again.accepted == 30
    assert sqlite_store.counts().staged == 30


# --- issue 15, items 14, 15 and 17 -----------------------------------------------------------------


class CountingReader(io.BufferedReader):
    """Remembers the most bytes any one read returned."""

    largest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        line = super().readline(size)
        self.largest = max(self.largest, len(line))
        return line


def test_a_line_longer_than_the_limit_is_rejected_by_number_without_being_held_whole(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as out:
        out.write(json.dumps(post_payload(1)).encode() + b"\n")
        for _ in range(3 * MAX_LINE_BYTES // 65536):
            out.write(b"x" * 65536)  # 3 MiB, no newline until the end
        out.write(b"\n" + json.dumps(post_payload(2)).encode() + b"\n" + b"y" * (MAX_LINE_BYTES + 1))
    with CountingReader(io.FileIO(path)) as stream:
        lines = list(read_lines(stream))
        assert stream.largest <= MAX_LINE_BYTES + 1
    assert lines[1] == Overlong(3 * MAX_LINE_BYTES)
    assert lines[3] == Overlong(MAX_LINE_BYTES + 1)
    items = list(read_jsonl(path))
    assert [i.where for i in items] == ["huge.jsonl:1", "huge.jsonl:2", "huge.jsonl:3", "huge.jsonl:4"]
    assert [type(i) for i in items] == [Located, Rejected, Located, Rejected]
    assert items[1].reason == "the line is 3,145,728 bytes long; the limit is 1,048,576 (one event per line)"  # type: ignore[union-attr]


def test_a_line_exactly_at_the_limit_is_read() -> None:
    line = b"z" * MAX_LINE_BYTES
    assert list(read_lines(io.BytesIO(line + b"\n" + line))) == [line + b"\n", line]


def test_a_byte_order_mark_before_the_first_line_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf" + json.dumps(post_payload(1)).encode() + b"\r\n" + json.dumps(post_payload(2)).encode()
    )
    assert [type(i) for i in read_jsonl(path)] == [Located, Located]
    path.write_bytes(json.dumps(post_payload(1)).encode() + b"\n\xef\xbb\xbf" + json.dumps(post_payload(2)).encode())
    assert [type(i) for i in read_jsonl(path)] == [Located, Rejected], "only before the first line"


def test_conflicts_are_reported_by_place_and_never_counted_as_accepted(
    sqlite_store: StagingStore, tmp_path: Path
) -> None:
    sink = StagingSink(sqlite_store)
    path = tmp_path / "second.jsonl"
    first = post_payload(1, text="the original")
    feed(sink, [Located(parse_event(first), "first.jsonl:1")])
    lines = [post_payload(2), first, post_payload(1, text="a forgery"), post_payload(3)]
    path.write_text("\n".join(json.dumps(line) for line in lines), encoding="utf-8")
    report = feed(sink, read_jsonl(path), chunk_size=2)
    assert report.accepted == 3
    assert [c.where for c in report.conflicts] == ["second.jsonl:3"]
    assert report.conflicts[0].reason.startswith(f"conflict: event_id {first['event_id']} is staged already")
    assert report.rejected == []


def test_a_file_that_cannot_be_read_is_one_rejection(tmp_path: Path) -> None:
    assert list(read_jsonl(tmp_path)) == [Rejected(tmp_path.name, "cannot read the file: Is a directory")]
