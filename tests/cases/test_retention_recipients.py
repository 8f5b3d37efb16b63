"""Retention and the recipients of direct messages (issue 17, finding 5): a recipient is in the
conversation from the first message that names them, a custodian hold on the recipient keeps
those messages, and disposing of such a message keeps the interval provable from the record."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from archive.membership_check import verify_memberships
from archive.people import find_people
from archive.record import verify_archive
from archive.schema import archive_memberships
from cases.model import HoldScope
from ingest.events import Event, parse_event
from ingest.staging import StagingStore
from tests.cases.helpers import at
from tests.cases.test_retention import archive, disposed_ids, hold, keep, run

IM = {"id": "im:ann:bob", "kind": "im"}
ANN = {"id": "user:ann", "name": "Ann"}
BOB = {"id": "user:bob", "name": "Bob"}


def direct(actor: dict[str, Any], to: dict[str, Any], when: datetime, text: str, **extra: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "post",
            "occurred_at": when.isoformat(),
            "room": IM,
            "actor": actor,
            "message": {"id": f"msg:{uuid.uuid4().hex[:8]}", "text": text},
            "recipients": [to],
            **extra,
        }
    )


FIRST = direct(ANN, BOB, at(100), "first, unanswered")
SECOND = direct(ANN, BOB, at(100, 5), "second, unanswered")
REPLY = direct(BOB, ANN, at(1), "a late reply")


def bobs_intervals(store: StagingStore) -> list[tuple[str, Any, Any]]:
    c = archive_memberships.c
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(c.room_id, c.joined_at, c.actor_name).where(c.actor_id == "user:bob").order_by(c.id)
        ).all()
    return [tuple(row) for row in rows]


def test_a_hold_on_the_recipient_keeps_the_messages_written_to_them(store: StagingStore) -> None:
    archive(store.engine, [FIRST, SECOND, REPLY])
    keep(store.engine, 30)
    hold(store.engine, HoldScope(custodians=("user:bob",)))
    run(store.engine)
    assert disposed_ids(store.engine) == set()


def test_disposing_of_a_direct_message_keeps_its_recipients_interval_provable(store: StagingStore) -> None:
    archive(store.engine, [FIRST, SECOND, REPLY])
    before = bobs_intervals(store)
    assert [(room, name) for room, _joined, name in before] == [("im:ann:bob", "Bob")]
    keep(store.engine, 30)
    assert run(store.engine).disposed == 2
    assert disposed_ids(store.engine) == {str(FIRST.event_id), str(SECOND.event_id)}
    assert bobs_intervals(store) == before, "the interval the first message opened is kept"
    assert verify_archive(store.engine).ok
    checked = verify_memberships(store.engine)
    assert checked.ok, checked.problem
    assert run(store.engine).disposed == 0  # a later run verifies the intervals and goes on


def test_names_stay_known_after_disposal(store: StagingStore) -> None:
    archive(store.engine, [FIRST, SECOND, REPLY])
    keep(store.engine, 30)
    run(store.engine)
    assert [p.id for p in find_people(store.engine, "Bob")] == ["user:bob"]
