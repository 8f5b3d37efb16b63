"""The shared supervision store: policy versions (every change kept, concurrent edits refused)
and adding items (idempotent per policy and evaluated event), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from ingest.staging import StagingStore
from supervision.items import NewItem, add_items, hit_event_id_for, item_id_for
from supervision.model import LexiconTerm, PolicySpec, TermMatch
from supervision.policy_store import (
    PolicyConflict,
    PolicyNotFound,
    create_policy,
    enabled_policies,
    get_policy,
    list_policies,
    policies_revision,
    policy_versions,
    update_policy,
)
from supervision.schema import supervision_item_terms, supervision_items

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _spec(name: str = "Guarantees", *, enabled: bool = True) -> PolicySpec:
    return PolicySpec(
        name=name,
        lexicon=(LexiconTerm(id="g1", expression="guarantee*"), LexiconTerm(id="g2", expression='"no risk"')),
        enabled=enabled,
    )


def test_every_version_is_kept_and_a_stale_edit_is_refused(store: StagingStore) -> None:
    with store.engine.begin() as connection:
        first = create_policy(connection, _spec(), "alice (t1)", "first draft", NOW)
        second = update_policy(
            connection,
            first.id,
            _spec("Guarantees v2"),
            "bob (t2)",
            "wider",
            NOW + timedelta(hours=1),
            expected_version=1,
        )
        assert second.version == 2
        with pytest.raises(PolicyConflict, match="at version 2 now, not 1"):
            update_policy(connection, first.id, _spec("Lost"), "carol (t3)", "", NOW, expected_version=1)
    with store.engine.connect() as connection:
        versions = policy_versions(connection, first.id)
        assert [(p.version, p.spec.name, p.changed_by, p.comment) for p in versions] == [
            (1, "Guarantees", "alice (t1)", "first draft"),
            (2, "Guarantees v2", "bob (t2)", "wider"),
        ]
        assert get_policy(connection, first.id).spec.name == "Guarantees v2"
        assert get_policy(connection, first.id, 1).spec == _spec()
        with pytest.raises(PolicyNotFound):
            get_policy(connection, first.id, 3)
        with pytest.raises(PolicyNotFound):
            policy_versions(connection, "missing")


def test_names_are_unique_ignoring_case_and_drafts_are_not_enabled(store: StagingStore) -> None:
    with store.engine.begin() as connection:
        create_policy(connection, _spec(), "alice (t1)", "", NOW)
        draft = create_policy(connection, _spec("Gifts", enabled=False), "alice (t1)", "", NOW)
        with pytest.raises(PolicyConflict, match="exists already"):
            create_policy(connection, _spec("GUARANTEES"), "alice (t1)", "", NOW)
        with pytest.raises(PolicyConflict, match="exists already"):
            update_policy(connection, draft.id, _spec("guarantees", enabled=False), "alice (t1)", "", NOW)
    with store.engine.connect() as connection:
        before = policies_revision(connection)
        assert [p.spec.name for p in list_policies(connection)] == ["Gifts", "Guarantees"]
        assert [p.spec.name for p in enabled_policies(connection)] == ["Guarantees"]
    with store.engine.begin() as connection:
        update_policy(connection, draft.id, _spec("Gifts"), "alice (t1)", "enable", NOW + timedelta(minutes=1))
    with store.engine.connect() as connection:
        assert policies_revision(connection) != before
        assert [p.spec.name for p in enabled_policies(connection)] == ["Gifts", "Guarantees"]


def test_adding_an_item_twice_adds_it_once(store: StagingStore) -> None:
    with store.engine.begin() as connection:
        policy = create_policy(connection, _spec(), "alice (t1)", "", NOW)
    item = NewItem(
        policy_id=policy.id,
        policy_version=1,
        event_id="7a0c5d8e-1111-4222-8333-944455556666",
        message_id="m-1",
        room_id="#desk",
        sender="user:ann",
        sent_at=NOW,
        reason="lexicon",
        matches=(
            TermMatch(term_id="g1", start=3, end=12, matched="guarantee"),
            TermMatch(term_id="g1", start=20, end=30, matched="guaranteed"),
            TermMatch(term_id="g2", start=40, end=47, matched="no risk"),
        ),
    )
    with store.engine.begin() as connection:
        assert add_items(connection, [item, item], NOW) == [item_id_for(policy.id, item.event_id)]
    with store.engine.begin() as connection:
        assert add_items(connection, [item], NOW + timedelta(minutes=5)) == []
    with store.engine.connect() as connection:
        rows = connection.execute(select(supervision_items)).all()
        assert len(rows) == 1
        assert rows[0].state == "pending"
        assert rows[0].hit_event_id == str(hit_event_id_for(policy.id, item.event_id))
        assert rows[0].created_at == NOW
        assert rows[0].matches[1] == {"term_id": "g1", "field": "text", "start": 20, "end": 30, "matched": "guaranteed"}
        terms = dict(connection.execute(select(supervision_item_terms.c.term_id, supervision_item_terms.c.hits)).all())
        assert terms == {"g1": 2, "g2": 1}
        assert connection.execute(select(func.count()).select_from(supervision_item_terms)).scalar_one() == 2


def test_retention_forgets_the_matched_words_of_disposed_events_but_keeps_the_items(store: StagingStore) -> None:
    from adapters.base import SupportsDelete
    from supervision.adapter import SupervisionAdapter

    with store.engine.begin() as connection:
        policy = create_policy(connection, _spec(), "alice (t1)", "", NOW)
    kept, disposed = (
        NewItem(
            policy_id=policy.id,
            policy_version=1,
            event_id=event_id,
            message_id=message_id,
            room_id="#desk",
            sender="user:ann",
            sent_at=NOW,
            reason="lexicon",
            matches=(TermMatch(term_id="g1", start=3, end=12, matched="guarantee"),),
        )
        for event_id, message_id in (("e-kept", "m-kept"), ("e-gone", "m-gone"))
    )
    with store.engine.begin() as connection:
        add_items(connection, [kept, disposed], NOW)
    adapter = SupervisionAdapter(store.engine)
    assert isinstance(adapter, SupportsDelete)
    adapter.delete(["e-gone", "e-never-evaluated"])
    adapter.delete(["e-gone"])  # idempotent
    with store.engine.connect() as connection:
        rows = {row.event_id: row for row in connection.execute(select(supervision_items))}
    assert rows["e-gone"].matches == [{"term_id": "g1", "field": "text", "start": 3, "end": 12, "matched": ""}]
    assert rows["e-gone"].state == "pending"
    assert rows["e-kept"].matches[0]["matched"] == "guarantee"
