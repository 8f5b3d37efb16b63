"""The backtest: a draft policy over archived messages, nothing created."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.archive import ArchiveAdapter
from ingest.events import Event, parse_event
from ingest.staging import StagingStore, staged_events
from supervision.backtest import backtest
from supervision.detect import PolicyCompileError
from supervision.model import LexiconTerm, PolicySpec, Scope
from supervision.sampling import confidence_interval, drawn
from supervision.schema import supervision_items, supervision_scope_days
from tests.supervision.detect.fake_lexicon import fake_compiler

DAY1 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def event(n: int, kind: str, text: str, at: datetime, actor: str = "user:ann", room: str = "room:desk") -> Event:
    payload: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.UUID(int=n + 1)),
        "type": kind,
        "occurred_at": at.isoformat(),
        "room": {"id": room, "name": "#desk", "kind": "room"},
        "actor": {"id": actor},
        "message": {"id": f"m{n}" if kind == "post" else f"m{n - 100}", "text": text},
    }
    return parse_event(payload)


SPEC = PolicySpec(
    name="Promises",
    lexicon=(
        LexiconTerm(id="guarantee", expression="guarantee", label="Guarantees"),
        LexiconTerm(id="sure", expression="sure thing"),
    ),
    exclusions=("disclaimer",),
    scope=Scope(people=("user:ann",)),
    reviewers=("rev-a", "rev-b"),
)


def archive(store: StagingStore) -> list[Event]:
    events = [
        event(0, "post", "we guarantee it", DAY1),
        event(1, "post", "a sure thing, guarantee, guarantee", DAY1 + timedelta(hours=1)),
        event(2, "post", "hello", DAY1 + timedelta(hours=2)),
        event(3, "post", "guarantee (disclaimer)", DAY1 + timedelta(hours=3)),
        event(4, "post", "guarantee from bob", DAY1, actor="user:bob"),
        event(5, "post", "guarantee next day", DAY1 + timedelta(days=1)),
        event(6, "post", "guarantee out of the period", DAY1 + timedelta(days=5)),
        event(102, "edit", "hello, guarantee", DAY1 + timedelta(hours=4)),
    ]
    assert ArchiveAdapter(store.engine).write(events) == [None] * len(events)
    return events


def test_a_draft_over_archived_messages_creates_nothing(store: StagingStore) -> None:
    """On SQLite and PostgreSQL (the messages are read with a streamed cursor)."""
    sqlite_store = store
    archive(sqlite_store)
    report = backtest(sqlite_store.engine, SPEC, DAY1, DAY1 + timedelta(days=2), compiler=fake_compiler)
    assert report.messages == 7  # six posts and an edit in the period
    assert (report.in_scope, report.matched, report.sampled, report.items) == (4, 3, 0, 4)
    assert [(d.day.isoformat(), d.items, d.matched, d.per_reviewer) for d in report.per_day] == [
        ("2026-11-02", 3, 2, 1.5),
        ("2026-11-03", 1, 1, 0.5),
    ]
    assert report.items_per_reviewer_per_day == 1.0
    assert [(t.term_id, t.label, t.items, t.hits) for t in report.top_terms] == [
        ("guarantee", "Guarantees", 4, 5),
        ("sure", None, 1, 1),
    ]
    by_message = {s.message_id: s for s in report.samples}
    second = by_message["m1"]
    assert second.text == "a sure thing, guarantee, guarantee"
    assert [(m.term_id, m.start, m.end) for m in second.matches] == [
        ("guarantee", 14, 23),
        ("guarantee", 25, 34),
        ("sure", 2, 12),
    ]
    assert by_message["m2"].text == "hello, guarantee"  # the edit
    engine = sqlite_store.engine
    with engine.connect() as connection:
        for table in (supervision_items, supervision_scope_days, staged_events):
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0


def test_sampling_is_reported_with_its_interval(sqlite_store: StagingStore) -> None:
    events = [event(n, "post", "hello", DAY1 + timedelta(minutes=n)) for n in range(400)]
    assert ArchiveAdapter(sqlite_store.engine).write(events) == [None] * 400
    spec = SPEC.model_copy(update={"sampling_percent": 10.0, "sampling_seed": "s1"})
    report = backtest(sqlite_store.engine, spec, DAY1, DAY1 + timedelta(days=1), policy_id="p1", compiler=fake_compiler)
    expected = sum(drawn("s1", "p1", str(e.event_id), 10.0) for e in events)
    assert report.sampled == expected
    assert report.in_scope == 400
    low, high = confidence_interval(expected, 400)
    assert report.sampling_interval == (100 * low, 100 * high)
    assert report.observed_percent == pytest.approx(100 * expected / 400)


def test_bad_input(sqlite_store: StagingStore) -> None:
    with pytest.raises(ValueError, match="must end after it starts"):
        backtest(sqlite_store.engine, SPEC, DAY1, DAY1, compiler=fake_compiler)
    broken = SPEC.model_copy(update={"lexicon": (LexiconTerm(id="b", expression="BROKEN("),)})
    with pytest.raises(PolicyCompileError, match="draft"):
        backtest(sqlite_store.engine, broken, DAY1, DAY1 + timedelta(days=1), compiler=fake_compiler)
