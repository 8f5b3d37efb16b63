"""The archive of record: append-only, hash-chained, with derived tables (SQLite and PostgreSQL)."""

from __future__ import annotations

import itertools
import json
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from adapters.archive import ArchiveAdapter
from archive.hashchain import canonical_json, content_hash, event_payload_hash
from archive.membership_check import verify_memberships
from archive.record import append_events, archived_count, verify_archive
from archive.schema import (
    archive_events,
    archive_files,
    archive_memberships,
    archive_message_versions,
    archive_messages,
    archive_reads,
    archive_rooms,
)
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.errors import InvalidEvent
from ingest.events import MAX_INTEGER, Event, event_json_schema, event_to_json, parse_event
from ingest.staging import StagingStore
from tests.factories import posts

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def event(kind: str, minute: int, actor: str = "alice", room: str = "room:desk", **fields: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "room": {"id": room, "name": "#desk", "kind": "room"},
            "actor": {"id": f"user:{actor}", "name": actor},
            **fields,
        }
    )


def rows(store: StagingStore, table: Any) -> list[Any]:
    with store.engine.connect() as connection:
        return list(connection.execute(select(table)).all())


def test_events_are_archived_once_whatever_is_redelivered(store: StagingStore) -> None:
    archive = ArchiveAdapter(store.engine)
    batch = posts(40)
    assert archive.write(batch) == [None] * 40
    assert archive.write(batch[10:30] + posts(45)[40:]) == [None] * 25
    assert archived_count(store.engine) == 45
    assert verify_archive(store.engine).ok


def test_in_the_processors_transaction_the_staged_json_is_stored_as_it_is(store: StagingStore) -> None:
    batch = posts(3)
    staged = [event_to_json(e) for e in batch]
    with store.engine.begin() as connection:
        assert ArchiveAdapter(store.engine).write_in(connection, batch, staged) == [None] * 3
    assert [row.payload for row in sorted(rows(store, archive_events), key=lambda r: r.seq)] == staged
    assert verify_archive(store.engine).ok
    with store.engine.begin() as connection, pytest.raises(ValueError, match="2 payloads for 3 events"):
        append_events(connection, posts(3, run="other"), staged[:2])


def test_text_survives_byte_exact(store: StagingStore) -> None:
    text = "שלום 👋🏽 — naïve café\u200d\r\n\ttabs"
    ArchiveAdapter(store.engine).write([event("post", 0, message={"id": "m1", "text": text})])
    (message,) = rows(store, archive_messages)
    assert message.text == text
    (stored,) = rows(store, archive_events)
    assert parse_event(json.loads(stored.payload)).message.text == text  # type: ignore[union-attr]


def test_every_version_of_an_edited_then_deleted_message_is_kept(store: StagingStore) -> None:
    archive = ArchiveAdapter(store.engine)
    archive.write(
        [
            event("post", 0, message={"id": "m1", "text": "buy 100"}),
            event("edit", 1, message={"id": "m1", "text": "buy 1000"}),
            event("edit", 2, message={"id": "m1", "text": "buy 10"}),
            event("delete", 3, actor="moderator", message={"id": "m1"}),
        ]
    )
    (message,) = rows(store, archive_messages)
    assert (message.text, message.versions, message.deleted, message.deleted_by) == (
        "buy 10",
        3,
        True,
        "user:moderator",
    )
    versions = sorted(rows(store, archive_message_versions), key=lambda v: v.occurred_at)
    assert [(v.kind, v.text) for v in versions] == [("post", "buy 100"), ("edit", "buy 1000"), ("edit", "buy 10")]


def test_an_edit_arriving_before_its_post_loses_nothing(store: StagingStore) -> None:
    archive = ArchiveAdapter(store.engine)
    archive.write([event("edit", 5, message={"id": "m2", "text": "corrected"})])
    archive.write([event("post", 1, message={"id": "m2", "text": "original"})])
    (message,) = rows(store, archive_messages)
    assert (message.text, message.versions) == ("corrected", 2)
    assert message.posted_at is not None
    assert {v.text for v in rows(store, archive_message_versions)} == {"original", "corrected"}


def test_membership_intervals_follow_joins_and_leaves(store: StagingStore) -> None:
    ArchiveAdapter(store.engine).write(
        [
            event("leave", 0, actor="early"),  # was there before the archive began
            event("join", 1, actor="bob"),
            event("join", 2, actor="bob"),  # a repeated join opens nothing new
            event("leave", 3, actor="bob"),
            event("join", 4, actor="bob"),
        ]
    )
    intervals = sorted(
        ((m.actor_id, m.joined_at, m.left_at) for m in rows(store, archive_memberships)),
        key=lambda i: (i[0], i[1] or T0 - timedelta(days=1)),
    )

    def at(minute: int) -> datetime:
        return T0 + timedelta(minutes=minute)

    normalised = [(a, j and j.replace(tzinfo=UTC), left and left.replace(tzinfo=UTC)) for a, j, left in intervals]
    assert normalised == [
        ("user:bob", at(1), at(3)),
        ("user:bob", at(4), None),
        ("user:early", None, at(0)),
    ]


def test_reads_files_and_rooms_are_derived(store: StagingStore) -> None:
    file = {"name": "q3.xlsx", "size": 2048, "sha256": "b" * 64, "content_type": "application/vnd.ms-excel"}
    ArchiveAdapter(store.engine).write(
        [
            event("room_update", 0, room_update={"name": "#trading-desk", "description": "FX desk", "created": True}),
            event("post", 1, message={"id": "m1", "text": "see file"}),
            event("file_upload", 2, file=file),
            event("file_download", 3, actor="bob", file=file),
            event("read", 4, actor="bob", read={"message_id": "m1"}),
        ]
    )
    (room,) = rows(store, archive_rooms)
    assert (room.name, room.description) == ("#trading-desk", "FX desk")
    assert [
        (f.direction, f.actor_id, f.name) for f in sorted(rows(store, archive_files), key=lambda f: f.occurred_at)
    ] == [
        ("upload", "user:alice", "q3.xlsx"),
        ("download", "user:bob", "q3.xlsx"),
    ]
    assert [(r.message_id, r.actor_id) for r in rows(store, archive_reads)] == [("m1", "user:bob")]


def test_verify_names_a_row_changed_behind_the_archives_back(store: StagingStore) -> None:
    batch = posts(30)
    ArchiveAdapter(store.engine).write(batch)
    target = str(batch[17].event_id)
    with store.engine.begin() as connection:
        payload = connection.execute(
            select(archive_events.c.payload).where(archive_events.c.event_id == target)
        ).scalar_one()
        connection.execute(
            update(archive_events)
            .where(archive_events.c.event_id == target)
            .values(payload=payload.replace("message number 17", "message number 71"))
        )
    report = verify_archive(store.engine)
    assert not report.ok
    assert report.first_bad is not None
    assert report.first_bad.label == target
    assert report.checked == 17
    assert "content does not match" in (report.problem or "")


def test_verify_notices_a_removed_row(store: StagingStore) -> None:
    batch = posts(10)
    ArchiveAdapter(store.engine).write(batch)
    with store.engine.begin() as connection:
        connection.execute(archive_events.delete().where(archive_events.c.event_id == str(batch[4].event_id)))
    report = verify_archive(store.engine)
    assert report.first_bad is not None
    assert report.first_bad.label == str(batch[5].event_id)
    assert "does not link" in (report.problem or "")


def test_the_chain_continues_across_batches(store: StagingStore) -> None:
    archive = ArchiveAdapter(store.engine)
    for start in range(0, 100, 25):
        archive.write(posts(100)[start : start + 25])
    with store.engine.connect() as connection:
        chain = connection.execute(select(archive_events).order_by(archive_events.c.seq)).all()
    assert all(a.chain_hash == b.prev_hash for a, b in itertools.pairwise(chain))
    assert verify_archive(store.engine).checked == 100


def test_speaking_in_a_room_without_a_recorded_join_counts_as_being_there(store: StagingStore) -> None:
    adapter = ArchiveAdapter(store.engine)
    adapter.write([event("post", 10, actor="quiet", message={"id": "m1", "text": "hi"})])
    adapter.write([event("post", 5, actor="quiet", message={"id": "m0", "text": "earlier"})])  # arrives late
    adapter.write([event("join", 2, actor="quiet")])  # the join itself arrives last
    adapter.write([event("post", 20, actor="quiet", message={"id": "m2", "text": "still here"})])
    adapter.write([event("leave", 30, actor="quiet")])
    adapter.write([event("post", 40, actor="quiet", message={"id": "m3", "text": "back without a join"})])
    found = sorted(
        (m.joined_at.replace(tzinfo=UTC), m.left_at and m.left_at.replace(tzinfo=UTC), m.join_event_id is not None)
        for m in rows(store, archive_memberships)
    )
    assert found == [
        (T0 + timedelta(minutes=2), T0 + timedelta(minutes=30), True),
        (T0 + timedelta(minutes=40), None, False),
    ]
    assert verify_memberships(store.engine).ok


def shuffled_history(seed: int) -> list[Event]:
    """Posts, edits, deletes, joins and leaves of a few messages and people, delivered out of order."""
    chance = random.Random(seed)
    history: list[Event] = []
    for number in range(12):
        message = f"m{number}"
        history.append(event("post", chance.randrange(60), message={"id": message, "text": f"post {number}"}))
        for edit in range(chance.randrange(3)):
            text = f"edit {number}.{edit}"
            history.append(event("edit", chance.randrange(60), message={"id": message, "text": text}))
        if chance.random() < 0.4:
            history.append(event("delete", chance.randrange(60), actor="mod", message={"id": message}))
    for number in range(10):  # people who speak without (or before) a recorded join
        speaker = chance.choice(["bob", "carol"])
        history.append(
            event(
                "post",
                chance.randrange(60),
                actor=speaker,
                room=chance.choice(["room:a", "room:b"]),
                message={"id": f"s{number}", "text": f"said {number}"},
            )
        )
    for _ in range(40):
        kind = chance.choice(["join", "leave"])
        history.append(
            event(
                kind,
                chance.randrange(60),
                actor=chance.choice(["bob", "carol"]),
                room=chance.choice(["room:a", "room:b"]),
            )
        )
    chance.shuffle(history)
    return history


def derived_state(engine: Any) -> dict[str, list[tuple[Any, ...]]]:
    def plain(value: Any) -> Any:
        return value.astimezone(UTC) if isinstance(value, datetime) else value

    state = {}
    with engine.connect() as connection:
        for table in (archive_messages, archive_message_versions, archive_memberships, archive_rooms):
            found = connection.execute(select(table)).all()
            state[table.name] = sorted((tuple(plain(v) for v in row) for row in found), key=repr)
    return state


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("batch", [7, 1000])
def test_derived_tables_do_not_depend_on_how_events_are_batched(
    store: StagingStore, tmp_path: Path, seed: int, batch: int
) -> None:
    history = shuffled_history(seed)
    reference = create_db_engine(f"sqlite:///{tmp_path / 'one-by-one.sqlite3'}")
    upgrade(reference)
    one_by_one = ArchiveAdapter(reference)
    for item in history:
        assert one_by_one.write([item]) == [None]
    batched = ArchiveAdapter(store.engine)
    for start in range(0, len(history), batch):
        assert batched.write(history[start : start + batch]) == [None] * len(history[start : start + batch])
    assert derived_state(store.engine) == derived_state(reference)
    assert verify_archive(store.engine).ok
    for engine in (store.engine, reference):  # replaying the chain rebuilds the same intervals
        checked = verify_memberships(engine)
        assert checked.ok, (checked.first_bad, checked.problem)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.booleans())
@example({"lone": "\ud800", "big": 2**80, "tiny": 1.5e-300}, True)
@example({"pair": "\ud83d\ude00", "nul": "\x00"}, True)
def test_canonical_json_is_sorted_compact_json_dumps(value: Any, ascii_escaped: bool) -> None:
    """The chain's definition, whatever parser reads the stored document."""
    document = json.dumps(value, ensure_ascii=ascii_escaped)
    reference = json.dumps(json.loads(document), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        expected: bytes | None = reference.encode()
    except UnicodeEncodeError:  # a lone surrogate: neither way can hash it
        expected = None
    try:
        actual: bytes | None = canonical_json(document)
    except UnicodeEncodeError:
        actual = None
    assert actual == expected


NUMBER_SAFE_JSON = st.recursive(
    st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(NUMBER_SAFE_JSON, st.booleans())
@example({"pair": "\ud83d\ude00", "lone": "\ud800"}, True)
@example({"emoji": "😀", "nul": "\x00", "del": "\x7f", "sep": "\u2028", "max": 2**64 - 1, "min": -(2**63)}, False)
def test_the_fast_event_hash_is_the_chains_hash_for_documents_without_floats_or_huge_integers(
    value: Any, ascii_escaped: bool
) -> None:
    document = json.dumps(value, ensure_ascii=ascii_escaped)
    try:
        expected: str | None = content_hash(document)
    except UnicodeEncodeError:
        expected = None
    try:
        actual: str | None = event_payload_hash(document)
    except UnicodeEncodeError:
        actual = None
    assert actual == expected


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["post", "file_upload", "disclaimer", "policy_decision"]),
    text=st.text(),
    number=st.integers(min_value=1, max_value=MAX_INTEGER),
)
def test_the_fast_event_hash_is_the_chains_hash_for_any_event(kind: str, text: str, number: int) -> None:
    fields: Any = {
        "post": {"message": {"id": text or "m", "text": text}},
        "file_upload": {"file": {"name": text or "f", "size": number, "sha256": "a" * 64}},
        "disclaimer": {"disclaimer": {"rule_id": "r", "version": number, "locale": "en", "text": text}},
        "policy_decision": {
            "decision": {"action": "im", "outcome": "deny", "mode": "block", "wall_ids": [text], "targets": [text]}
        },
    }[kind]
    payload = event_to_json(event(kind, 0, actor=text or "a", **fields))
    assert event_payload_hash(payload) == content_hash(payload)


def test_events_carry_no_floats_and_no_integers_beyond_64_bits() -> None:
    """What the fast event hash relies on: a new float field, or an unbounded integer, fails here."""
    integers: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert node.get("type") != "number", f"a float field: {node}"
            if node.get("type") == "integer":
                integers.append(node)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(event_json_schema())
    assert integers, "the walk found the integer fields"
    for field in integers:
        assert "const" in field or field.get("maximum", math.inf) <= MAX_INTEGER, field
    with pytest.raises(InvalidEvent, match="less than or equal to 9223372036854775807"):
        event("file_upload", 0, file={"name": "f", "size": MAX_INTEGER + 1, "sha256": "a" * 64})
