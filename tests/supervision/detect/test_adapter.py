"""The ``supervision`` adapter: items with matched terms and offsets, hit events staged once per
new item, the sampling ledger, re-delivery, edits and attachment texts, and a policy that
cannot be compiled (the batch waits, nothing parks)."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapters.archive import ArchiveAdapter
from adapters.base import Adapter
from adapters.processor import BatchProcessor, ProcessorOptions
from archive.fs_file_store import FsFileStore
from ingest.events import SupervisionHitEvent, parse_event, parse_event_json
from ingest.staging import StagingStore, staged_events, to_row
from policies.model import Group, User
from policies.store import PolicyStore
from search.query_parser import parse_query
from search.request import SearchRequest
from search.results import ArchivePage
from search.service import search
from supervision.adapter import SupervisionAdapter, create
from supervision.items import hit_event_id_for, item_id_for
from supervision.model import LexiconTerm, PolicySpec, Scope
from supervision.policy_store import create_policy, update_policy
from supervision.schema import supervision_items, supervision_scope_days
from tests.attachment_events import file_text, upload
from tests.supervision.detect.fake_lexicon import ENGINES, fake_compiler

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
SENT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def promises(**extra: Any) -> PolicySpec:
    values: dict[str, Any] = {
        "name": "Promises",
        "lexicon": [
            LexiconTerm(id="guarantee", expression="guarantee"),
            LexiconTerm(id="risk", expression="risk free"),
        ],
        "exclusions": ["disclaimer"],
        "scope": Scope(people=("user:ann",)),
    }
    return PolicySpec.model_validate(values | extra)


def new_policy(engine: Engine, spec: PolicySpec) -> str:
    with engine.begin() as connection:
        return create_policy(connection, spec, "officer", "first", NOW).id


def post(n: int, text: str, actor: str = "user:ann", room: str = "room:desk", kind: str = "room") -> Any:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.UUID(int=n + 1)),
            "type": "post",
            "occurred_at": (SENT + timedelta(seconds=n)).isoformat(),
            "room": {"id": room, "name": "#desk", "kind": kind},
            "actor": {"id": actor, "name": actor.removeprefix("user:")},
            "message": {"id": f"m{n}", "text": text},
        }
    )


def adapter(engine: Engine, **extra: Any) -> SupervisionAdapter:
    return SupervisionAdapter(engine, compiler=fake_compiler, clock=lambda: NOW, **extra)


def items(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(select(supervision_items).order_by(supervision_items.c.message_id))
        return [dict(row._mapping) for row in rows]


def ledger(engine: Engine) -> list[tuple[Any, ...]]:
    table = supervision_scope_days.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(table.policy_version, table.day, table.in_scope, table.matched, table.sampled).order_by(table.day)
        )
        return [tuple(row) for row in rows]


def staged_hits(engine: Engine) -> list[SupervisionHitEvent]:
    with engine.connect() as connection:
        payloads = connection.execute(
            select(staged_events.c.payload).where(staged_events.c.event_type == "supervision_hit")
        ).scalars()
        found = [parse_event_json(p) for p in payloads]
    assert all(isinstance(e, SupervisionHitEvent) for e in found)
    return found  # type: ignore[return-value]


def test_a_match_is_an_item_with_its_terms_and_offsets_and_a_hit_event(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    policy_id = new_policy(engine, promises())
    batch = [
        post(0, "We guarantee it, totally risk free"),
        post(1, "lunch?"),
        post(2, "guarantee from bob", actor="user:bob"),  # not in scope
        post(3, "guarantee, see the disclaimer"),  # excluded
    ]
    assert adapter(engine).write(batch) == [None] * 4
    (item,) = items(engine)
    assert item["id"] == item_id_for(policy_id, str(batch[0].event_id))
    assert (item["message_id"], item["reason"], item["state"], item["policy_version"]) == (
        "m0",
        "lexicon",
        "pending",
        1,
    )
    assert [(m["term_id"], m["field"], m["start"], m["end"], m["matched"]) for m in item["matches"]] == [
        ("guarantee", "text", 3, 12, "guarantee"),
        ("risk", "text", 25, 34, "risk free"),
    ]
    (hit,) = staged_hits(engine)
    assert hit.event_id == hit_event_id_for(policy_id, str(batch[0].event_id))
    assert (hit.actor.id, hit.room.id, hit.occurred_at) == ("system:supervision", "room:desk", NOW)
    assert (hit.hit.item_id, hit.hit.policy_id, hit.hit.policy_name, hit.hit.evaluated_message) == (
        item["id"],
        policy_id,
        "Promises",
        "m0",
    )
    assert [(m.term_id, m.start, m.end) for m in hit.hit.matches] == [("guarantee", 3, 12), ("risk", 25, 34)]
    # in scope: m0 (matched) and m1; m2 is out of scope, m3 excluded
    assert ledger(engine) == [(1, SENT.date(), 2, 1, 0)]


def test_redelivery_adds_nothing_and_counts_no_match_twice(store: StagingStore) -> None:
    """On SQLite and PostgreSQL (the ledger's upsert is each dialect's own)."""
    engine = store.engine
    new_policy(engine, promises(sampling_percent=100.0, sampling_seed="s"))
    batch = [post(0, "we guarantee"), post(1, "drawn by sampling")]
    supervision = adapter(engine)
    assert supervision.write(batch) == [None, None]
    assert ledger(engine) == [(1, SENT.date(), 2, 1, 1)]
    assert supervision.write(batch) == [None, None]
    assert adapter(engine).write(batch[::-1]) == [None, None]
    assert [(i["message_id"], i["reason"]) for i in items(engine)] == [("m0", "lexicon"), ("m1", "sample")]
    assert len(staged_hits(engine)) == 2
    assert ledger(engine) == [(1, SENT.date(), 2, 1, 1)]


def test_edits_and_attachment_texts_are_evaluated(sqlite_store: StagingStore, tmp_path: Path) -> None:
    engine = sqlite_store.engine
    store = FsFileStore(tmp_path / "files")
    policy_id = new_policy(engine, promises())
    edit = parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "edit",
            "occurred_at": SENT.isoformat(),
            "room": {"id": "room:desk", "kind": "room"},
            "actor": {"id": "user:ann"},
            "message": {"id": "m7", "text": "now I guarantee it"},
        }
    )
    shared = upload("terms.pdf", actor="ann")
    text = file_text(shared, "Page 1: returns we guarantee", store)
    batch = [edit, shared, text]
    assert adapter(engine, file_store=store).write(batch) == [None, None, None]
    by_event = {i["event_id"]: i for i in items(engine)}
    assert by_event[str(edit.event_id)]["message_id"] == "m7"
    assert by_event[str(edit.event_id)]["matches"][0]["start"] == 6
    attached = by_event[str(text.event_id)]
    assert attached["message_id"] == str(shared.event_id)
    assert attached["matches"] == [
        {"term_id": "guarantee", "field": "attachment", "start": 19, "end": 28, "matched": "guarantee"}
    ]
    assert {h.hit.evaluated_type for h in staged_hits(engine)} == {"edit", "file_text"}
    assert ledger(engine) == []  # the ledger counts posts (messages), not their versions
    assert policy_id


def test_a_text_not_in_the_file_store_yet_fails_alone(sqlite_store: StagingStore, tmp_path: Path) -> None:
    engine = sqlite_store.engine
    new_policy(engine, promises())
    shared = upload("terms.pdf", actor="ann")
    missing = file_text(shared, "we guarantee", None)
    results = adapter(engine, file_store=FsFileStore(tmp_path / "files")).write([post(0, "guarantee"), missing])
    assert results[0] is None
    assert results[1] is not None
    assert "not in the file store" in results[1].reason
    assert len(items(engine)) == 1


def test_other_events_and_its_own_hits_succeed_untouched(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    new_policy(engine, promises(sampling_percent=100.0))
    supervision = adapter(engine)
    assert supervision.write([post(0, "we guarantee")]) == [None]
    (hit,) = staged_hits(engine)
    join = parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "join",
            "occurred_at": SENT.isoformat(),
            "room": {"id": "room:desk"},
            "actor": {"id": "user:ann"},
        }
    )
    ENGINES.clear()
    assert supervision.write([hit, join]) == [None, None]
    assert len(items(engine)) == 1
    assert ENGINES == []  # nothing compiled again


def test_policies_are_compiled_once_per_revision(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    policy_id = new_policy(engine, promises())
    supervision = adapter(engine)
    ENGINES.clear()
    supervision.write([post(0, "hello")])
    supervision.write([post(1, "hello again")])
    assert len(ENGINES) == 1
    assert ENGINES[0].calls == 2  # one lexicon pass per message
    with engine.begin() as connection:
        update_policy(connection, policy_id, promises(name="Promises v2"), "officer", "renamed", NOW + timedelta(1))
    supervision.write([post(2, "we guarantee")])
    assert len(ENGINES) == 2
    assert items(engine)[0]["policy_version"] == 2


def test_a_policy_that_cannot_be_compiled_holds_the_messages_without_parking(
    sqlite_store: StagingStore, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sqlite_store.engine
    new_policy(engine, promises())
    broken = new_policy(engine, promises(name="Broken", lexicon=[LexiconTerm(id="b", expression="BROKEN(")]))
    join = parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "join",
            "occurred_at": SENT.isoformat(),
            "room": {"id": "room:desk"},
            "actor": {"id": "user:ann"},
        }
    )
    with caplog.at_level(logging.ERROR, logger="supervision.adapter"):
        results = adapter(engine).write([post(0, "we guarantee"), join])
    failure = results[0]
    assert failure is not None
    assert failure.unreachable
    assert not failure.permanent
    assert broken in failure.reason
    assert results[1] is None
    assert broken in caplog.text
    assert items(engine) == []


def test_through_the_processor_hits_are_archived_and_searchable(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    policy_id = new_policy(engine, promises())
    batch = [post(n, "we guarantee" if n % 3 == 0 else "hello") for n in range(9)]
    sqlite_store.insert([to_row(e) for e in batch])
    adapters: list[Adapter] = [ArchiveAdapter(engine), adapter(engine)]
    BatchProcessor(engine, adapters, ProcessorOptions(backoff_initial=0.01)).run(interval=0.01, until_empty=True)
    assert len(items(engine)) == 3
    assert ledger(engine) == [(1, SENT.date(), 9, 3, 0)]

    class NoBackend:
        def search(self, request: SearchRequest) -> None:
            raise AssertionError("answered by the archive")

    page = search(NoBackend(), engine, SearchRequest(parse_query("type:supervision_hit")))  # type: ignore[arg-type]
    assert isinstance(page, ArchivePage)
    assert page.total == 3
    expected = {str(hit_event_id_for(policy_id, str(e.event_id))) for e in batch[::3]}
    assert {str(e["event_id"]) for e in page.events} == expected
    assert sqlite_store.counts().staged == 0


def test_the_entry_point_builds_the_adapter(sqlite_store: StagingStore, tmp_path: Path) -> None:
    from adapters.base import AdapterContext, WritesInStagingTransaction
    from adapters.registry import load_factory

    factory = load_factory("supervision")
    built = factory(AdapterContext(engine=sqlite_store.engine, data_dir=tmp_path))
    assert isinstance(built, SupervisionAdapter)
    assert isinstance(built, WritesInStagingTransaction)
    assert create.__module__ == "supervision.adapter"


def test_an_event_twice_in_one_batch_is_one_item_counted_once(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    new_policy(engine, promises())
    twice = post(0, "we guarantee")
    assert adapter(engine).write([twice, twice]) == [None, None]
    assert len(items(engine)) == 1
    assert len(staged_hits(engine)) == 1
    assert ledger(engine) == [(1, SENT.date(), 1, 1, 0)]


def test_groups_and_directions_read_the_directory_in_the_batchs_transaction(store: StagingStore) -> None:
    """On SQLite a second connection would wait for the write lock the batch holds (and on
    PostgreSQL the same, through the processor)."""
    sqlite_store = store
    engine = sqlite_store.engine
    directory = PolicyStore(engine)
    directory.put_user(User(id="user:ann"))
    directory.put_user(User(id="user:ext", external=True))
    directory.put_group(Group(id="desk", name="Desk", members=("user:ann",)))
    new_policy(engine, promises(scope=Scope(groups=("desk",), directions=("external",))))
    join = parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "join",
            "occurred_at": (SENT - timedelta(hours=1)).isoformat(),
            "room": {"id": "room:client"},
            "actor": {"id": "user:ext"},
        }
    )
    batch = [join, post(0, "we guarantee", room="room:client"), post(1, "we guarantee", room="room:desk")]
    processor = BatchProcessor(engine, [ArchiveAdapter(engine), adapter(engine)], ProcessorOptions())
    sqlite_store.insert([to_row(e) for e in batch])
    processor.run(interval=0.01, until_empty=True)
    assert [i["message_id"] for i in items(engine)] == ["m0"]  # with an outsider in the room


def test_with_the_real_lexicon_engine(sqlite_store: StagingStore, tmp_path: Path) -> None:
    """Phrases, prefixes, regular expressions and exclusions of supervision.lexicon, one pass for
    two policies, the offsets as the engine gives them; an uncompilable regex holds the batch."""
    engine = sqlite_store.engine
    store = FsFileStore(tmp_path / "files")
    returns = new_policy(
        engine,
        PolicySpec(
            name="Returns",
            lexicon=(
                LexiconTerm(id="phrase", expression='"guaranteed return"'),
                LexiconTerm(id="prefix", expression="risk*"),
                LexiconTerm(id="pct", kind="regex", expression=r"\d+\s?%"),
            ),
            exclusions=('"this is not investment advice"',),
        ),
    )
    offchannel = new_policy(
        engine, PolicySpec(name="Off channel", lexicon=(LexiconTerm(id="wa", expression="whatsapp"),))
    )
    shared = upload("deck.pdf", actor="ann")
    text = file_text(shared, "A guaranteed return of 12% a year", store)
    batch = [
        post(0, "This is a Guaranteed Return, riskless, 12 % a year; ping me on WhatsApp"),
        post(1, "guaranteed return. This is not investment advice."),
        shared,
        text,
    ]
    assert SupervisionAdapter(engine, store, clock=lambda: NOW).write(batch) == [None] * 4
    found = {(i["policy_id"], i["message_id"]): i for i in items(engine)}
    assert set(found) == {(returns, "m0"), (offchannel, "m0"), (returns, str(shared.event_id))}
    said = batch[0].message.text
    assert [(m["term_id"], said[m["start"] : m["end"]]) for m in found[(returns, "m0")]["matches"]] == [
        ("phrase", "Guaranteed Return"),
        ("prefix", "riskless"),
        ("pct", "12 %"),
    ]
    attached = found[(returns, str(shared.event_id))]["matches"]
    assert {(m["term_id"], m["field"], m["matched"]) for m in attached} == {
        ("phrase", "attachment", "guaranteed return"),
        ("pct", "attachment", "12%"),
    }
    with engine.begin() as connection:
        broken = PolicySpec(name="Broken", lexicon=(LexiconTerm(id="bad", kind="regex", expression="(unclosed"),))
        broken_id = create_policy(connection, broken, "officer", "", NOW).id
    results = SupervisionAdapter(engine, store).write([post(5, "guaranteed return")])
    assert results[0] is not None
    assert results[0].unreachable
    assert broken_id in results[0].reason
