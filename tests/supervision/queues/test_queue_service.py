"""The queue service on SQLite and PostgreSQL: listing (filters, oldest first, cursor pages, SLA
age and overdue), every transition with its history row and audit entry agreeing, the refusals
(409 states, required and too long comments, bulk limits) changing and auditing nothing, the
escalation's notice in the same transaction, and two reviewers racing for one item."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from archive import audit
from archive.app_schema import audit_log
from archive.principals import Principal
from ingest.staging import StagingStore
from supervision import queue
from supervision.schema import supervision_item_actions, supervision_items, supervision_webhook_deliveries
from tests.supervision.queues.items import NOW, make_items, make_policy

ALICE = Principal(token_id="t-alice", label="alice", role="supervisor")
BOB = Principal(token_id="t-bob", label="bob", role="compliance_officer")


def _audited(engine: Engine, prefix: str = "supervision_item_") -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.document).where(audit_log.c.action.like(f"{prefix}%")).order_by(audit_log.c.seq)
        ).scalars()
        return [json.loads(document) for document in rows]


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_queue_is_oldest_first_paged_by_cursor_with_sla_age(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine, sla_hours=24)
    ids = make_items(engine, policy, 7, created=NOW - timedelta(hours=30), step=timedelta(hours=2))
    seen: list[str] = []
    cursor = None
    while True:
        page = queue.queue(engine, queue.QueueFilter(), limit=3, cursor=cursor, now=NOW)
        seen.extend(row.id for row in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ids
    first = queue.queue(engine, queue.QueueFilter(), limit=3, now=NOW).items[0]
    assert first.age_hours == 30.0
    assert first.sla_hours == 24
    assert first.overdue
    assert first.policy_name == "Guarantees"
    assert first.terms == ["g1"]
    late = queue.queue(engine, queue.QueueFilter(overdue=True), now=NOW).items
    # created 30, 28, 26, 24 (not over), 22 ... hours ago
    assert [row.id for row in late] == ids[:3]
    on_time = queue.queue(engine, queue.QueueFilter(overdue=False), now=NOW).items
    assert [row.id for row in on_time] == ids[3:]
    assert queue.queue(engine, queue.QueueFilter(), now=NOW).counts == {
        "pending": 7,
        "in_review": 0,
        "escalated": 0,
    }


def test_filters_by_state_assignee_mine_unassigned_policy_reason(store: StagingStore) -> None:
    engine = store.engine
    guarantees = make_policy(engine)
    gifts = make_policy(engine, "Gifts")
    ids = make_items(engine, guarantees, 4, created=NOW - timedelta(hours=5))
    other = make_items(engine, gifts, 2, created=NOW - timedelta(hours=4), message_prefix="gift")
    queue.start(engine, ALICE, ids[0], now=NOW)
    queue.assign(engine, BOB, ids[1], "bob", now=NOW)
    queue.close(engine, ALICE, ids[2], "no_issue", now=NOW)

    def listed(**wanted: Any) -> list[str]:
        return [row.id for row in queue.queue(engine, queue.QueueFilter(**wanted), now=NOW).items]

    assert listed(states=("in_review",)) == [ids[0]]
    assert listed(states=("pending", "in_review")) == [ids[0], ids[1], ids[3], *other]
    assert listed(assignee="alice") == [ids[0], ids[2]]
    assert listed(assignee="bob", states=queue.OPEN_STATES) == [ids[1]]
    assert listed(unassigned=True) == [ids[3], *other]
    assert listed(policy_id=gifts.id) == other
    assert listed(reason="sample") == []
    assert listed(states=("closed",)) == [ids[2]]
    closed = queue.queue(engine, queue.QueueFilter(states=("closed",)), now=NOW).items[0]
    assert closed.disposition == "no_issue"
    assert not closed.overdue
    assert closed.age_hours == 4.97


def test_every_transition_writes_the_item_its_history_and_an_audit_entry_that_agree(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine, escalation_reviewers=("chief", "deputy"))
    [item_id] = make_items(engine, policy, 1, created=NOW - timedelta(hours=1))
    steps = [
        queue.start(engine, ALICE, item_id, now=NOW),
        queue.assign(engine, ALICE, item_id, "bob", "bob knows the desk", now=NOW),
        queue.escalate(engine, BOB, item_id, "looks like a promise of returns", now=NOW),
        queue.close(engine, BOB, item_id, "breach", "client was promised 12%", now=NOW),
        queue.reopen(engine, ALICE, item_id, "wrong client", now=NOW),
        queue.close(engine, ALICE, item_id, "reported", now=NOW),
    ]
    assert [(s.before["state"], s.after["state"]) for s in steps] == [
        ("pending", "in_review"),
        ("in_review", "in_review"),
        ("in_review", "escalated"),
        ("escalated", "closed"),
        ("closed", "in_review"),
        ("in_review", "closed"),
    ]
    assert [s.after["assignee"] for s in steps] == ["alice", "bob", "chief", "chief", "alice", "alice"]
    assert steps[3].after["disposition"] == "breach"
    assert steps[5].after["disposition"] == "reported"
    history = queue.history(engine, item_id)
    entries = _audited(engine)
    assert len(history) == len(entries) == 6
    for step, row, entry in zip(steps, history, entries, strict=True):
        assert (row.seq, row.before, row.after, row.comment) == (step.seq, step.before, step.after, step.comment)
        details = entry["details"]
        assert entry["action"] == f"supervision_item_{row.action}"
        assert (details["item_id"], details["history_seq"]) == (item_id, row.seq)
        assert (details["before"], details["after"], details["comment"]) == (row.before, row.after, row.comment)
        assert entry["actor"].startswith(row.actor)
        assert entry["role"] == row.role
    assert [row.actor for row in history] == ["alice", "alice", "bob", "bob", "alice", "alice"]
    item = queue.get_item(engine, item_id, now=NOW).item
    assert (item.state, item.disposition, item.assignee) == ("closed", "reported", "alice")
    assert item.closed_at is not None


def test_escalation_queues_its_notice_in_the_same_transaction(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine, escalation_reviewers=("chief",))
    [item_id] = make_items(engine, policy, 1, created=NOW - timedelta(hours=1))
    queue.escalate(engine, ALICE, item_id, "promise of returns", now=NOW)
    with engine.connect() as connection:
        bodies = connection.execute(select(supervision_webhook_deliveries.c.body)).scalars().all()
    assert len(bodies) == 1
    body = json.loads(bodies[0])
    assert body["kind"] == "escalation"
    assert body["item_id"] == item_id
    assert body["policy"] == {"id": policy.id, "name": "Guarantees", "version": 1}
    assert (body["message_id"], body["room_id"], body["sender"]) == ("msg:0", "room:desk", "trader")
    assert (body["escalated_by"], body["comment"], body["assignee"]) == ("alice", "promise of returns", "chief")
    assert body["link"] == f"/supervision/items/{item_id}"
    assert body["escalated_at"] == NOW.isoformat()


def test_refusals_change_and_audit_nothing(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine)
    ids = make_items(engine, policy, 3, created=NOW - timedelta(hours=1))
    queue.close(engine, ALICE, ids[0], "false_positive", now=NOW)
    before = (_count(engine, supervision_item_actions), len(_audited(engine)))
    with pytest.raises(queue.ItemInvalid, match="comment: required to escalate"):
        queue.escalate(engine, ALICE, ids[1], "  ", now=NOW)
    with pytest.raises(queue.ItemInvalid, match="comment: required to close as breach"):
        queue.close(engine, ALICE, ids[1], "breach", None, now=NOW)
    with pytest.raises(queue.ItemInvalid, match="at most 4000 characters"):
        queue.close(engine, ALICE, ids[1], "no_issue", "x" * 4001, now=NOW)
    with pytest.raises(queue.ItemInvalid, match="disposition: one of"):
        queue.close(engine, ALICE, ids[1], "fine", now=NOW)
    with pytest.raises(queue.ItemInvalid, match="comment: required to reopen"):
        queue.reopen(engine, ALICE, ids[0], "", now=NOW)
    with pytest.raises(queue.ItemConflict, match="is closed"):
        queue.close(engine, ALICE, ids[0], "no_issue", now=NOW)
    with pytest.raises(queue.ItemConflict, match="is closed"):
        queue.escalate(engine, ALICE, ids[0], "why", now=NOW)
    with pytest.raises(queue.ItemConflict, match="not closed"):
        queue.reopen(engine, ALICE, ids[1], "why", now=NOW)
    queue.start(engine, ALICE, ids[1], now=NOW)
    with pytest.raises(queue.ItemConflict, match="in review, not pending"):
        queue.start(engine, BOB, ids[1], now=NOW)
    with pytest.raises(queue.ItemConflict, match="assigned to alice already"):
        queue.assign(engine, BOB, ids[1], "alice", now=NOW)
    with pytest.raises(queue.ItemNotFound):
        queue.start(engine, ALICE, "no-such-item", now=NOW)
    # A bulk naming a closed item closes none of them.
    with pytest.raises(queue.ItemConflict, match=ids[0]):
        queue.bulk_close_false_positives(engine, ALICE, [ids[2], ids[0]], now=NOW)
    with pytest.raises(queue.ItemInvalid, match="at most 500"):
        queue.bulk_close_false_positives(engine, ALICE, [f"id-{n}" for n in range(501)], now=NOW)
    with pytest.raises(queue.ItemNotFound):
        queue.bulk_close_false_positives(engine, ALICE, [ids[2], "missing"], now=NOW)
    assert queue.get_item(engine, ids[2], now=NOW).item.state == "pending"
    # The one start above is the only change since.
    assert (_count(engine, supervision_item_actions), len(_audited(engine))) == (before[0] + 1, before[1] + 1)


def test_bulk_close_gives_each_item_its_history_row_and_audit_entry(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine)
    ids = make_items(engine, policy, 5, created=NOW - timedelta(hours=1))
    queue.escalate(engine, ALICE, ids[3], "odd", now=NOW)
    changes = queue.bulk_close_false_positives(engine, BOB, [ids[1], ids[3], ids[4], ids[1]], "newsletter", now=NOW)
    assert sorted(change.item_id for change in changes) == sorted([ids[1], ids[3], ids[4]])
    with engine.connect() as connection:
        states = dict(connection.execute(select(supervision_items.c.id, supervision_items.c.disposition)).all())
    assert [states[i] for i in ids] == [None, "false_positive", None, "false_positive", "false_positive"]
    closes = [entry for entry in _audited(engine) if entry["action"] == "supervision_item_close"]
    assert sorted(entry["details"]["item_id"] for entry in closes) == sorted([ids[1], ids[3], ids[4]])
    assert all(entry["details"]["bulk"] == 3 and entry["details"]["comment"] == "newsletter" for entry in closes)
    for item_id in (ids[1], ids[3], ids[4]):
        last = queue.history(engine, item_id)[-1]
        assert (last.action, last.after["state"], last.after["disposition"]) == ("close", "closed", "false_positive")
    assert queue.history(engine, ids[3])[-1].before["state"] == "escalated"


def test_two_reviewers_starting_one_item_get_one_change_and_one_refusal(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine)
    [item_id] = make_items(engine, policy, 1, created=NOW - timedelta(hours=1))
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def reviewer(caller: Principal) -> None:
        barrier.wait()
        try:
            queue.start(engine, caller, item_id, now=NOW)
            outcomes.append("started")
        except queue.ItemConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=reviewer, args=(caller,)) for caller in (ALICE, BOB)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "started"]
    assert len(queue.history(engine, item_id)) == 1


def test_bad_cursor_and_limit_are_refused(store: StagingStore) -> None:
    with pytest.raises(queue.ItemInvalid, match="cursor"):
        queue.queue(store.engine, queue.QueueFilter(), cursor="not-a-cursor")
    with pytest.raises(queue.ItemInvalid, match="limit"):
        queue.queue(store.engine, queue.QueueFilter(), limit=0)


def test_an_escalation_whose_notice_fails_changes_nothing(store: StagingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.engine
    policy = make_policy(engine)
    [item_id] = make_items(engine, policy, 1, created=NOW - timedelta(hours=1))
    audited = len(_audited(engine))

    def broken(*_args: object) -> str:
        raise RuntimeError("the outbox is full")

    monkeypatch.setattr(queue, "record_escalation", broken)
    with pytest.raises(RuntimeError, match="outbox"):
        queue.escalate(engine, ALICE, item_id, "promise of returns", now=NOW)
    item = queue.get_item(engine, item_id, now=NOW).item
    assert (item.state, item.assignee) == ("pending", None)
    assert queue.history(engine, item_id) == []
    assert _count(engine, supervision_webhook_deliveries) == 0
    assert len(_audited(engine)) == audited


def test_a_change_whose_audit_entry_fails_changes_nothing(store: StagingStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The change, its history row and its audit entry commit together: an audit log that
    cannot be written leaves the item as it was (evidence of review is never missing a change)."""
    engine = store.engine
    policy = make_policy(engine)
    [item_id] = make_items(engine, policy, 1, created=NOW - timedelta(hours=1))
    audited = len(_audited(engine))

    def broken(*_args: object) -> None:
        raise RuntimeError("the audit log is unavailable")

    monkeypatch.setattr(audit, "append_entries", broken)
    with pytest.raises(RuntimeError, match="audit log"):
        queue.close(engine, ALICE, item_id, "breach", "promise of returns", now=NOW)
    item = queue.get_item(engine, item_id, now=NOW).item
    assert (item.state, item.disposition) == ("pending", None)
    assert queue.history(engine, item_id) == []
    assert len(_audited(engine)) == audited


def test_a_bulk_close_of_the_most_items_allowed(store: StagingStore) -> None:
    engine = store.engine
    policy = make_policy(engine)
    ids = make_items(engine, policy, queue.MAX_BULK, created=NOW - timedelta(days=2), step=timedelta(seconds=1))
    changes = queue.bulk_close_false_positives(engine, BOB, ids, now=NOW)
    assert len(changes) == queue.MAX_BULK
    assert len({change.seq for change in changes}) == queue.MAX_BULK
    assert queue.queue(engine, queue.QueueFilter(states=queue.OPEN_STATES), now=NOW).items == []
    closes = [entry for entry in _audited(engine) if entry["action"] == "supervision_item_close"]
    assert sorted(entry["details"]["item_id"] for entry in closes) == sorted(ids)
    assert {entry["details"]["history_seq"] for entry in closes} == {change.seq for change in changes}
