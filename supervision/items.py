"""Adding review items: one per policy and evaluated event, whoever delivers the event again.

Ids are derived (UUID 5) from the policy id and the evaluated event's id, so a batch delivered
twice (after a crash, or by a second processor that re-claims it) adds nothing the second time:
the item, its matched terms and the id of the ``supervision_hit`` event archived for it are the
same values again, and conflicting rows are ignored.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from ingest.db import among, insert_ignoring_conflicts
from supervision.model import ItemReason, TermMatch
from supervision.schema import supervision_item_terms, supervision_items

ITEM_NAMESPACE = uuid.UUID("0b6f6c39-5c0e-4a8e-9f53-3f3f4b7d2a11")
"""The namespace of item ids (fixed: changing it would make a re-delivery a second item)."""
HIT_NAMESPACE = uuid.UUID("8e2a7d51-2f4c-4f0b-b8a9-6d3c5e1f7a42")
"""The namespace of ``supervision_hit`` event ids."""


def item_id_for(policy_id: str, event_id: str) -> str:
    """The id of the item ``policy_id`` makes of the evaluated event ``event_id``."""
    return str(uuid.uuid5(ITEM_NAMESPACE, f"{policy_id}\x00{event_id}"))


def hit_event_id_for(policy_id: str, event_id: str) -> uuid.UUID:
    """The id of the ``supervision_hit`` event archived for that item."""
    return uuid.uuid5(HIT_NAMESPACE, f"{policy_id}\x00{event_id}")


@dataclass(frozen=True)
class NewItem:
    """An item to add: ``event_id`` the evaluated event (a post, an edit or a ``file_text``),
    ``message_id`` the message it belongs to."""

    policy_id: str
    policy_version: int
    event_id: str
    message_id: str
    room_id: str
    sender: str
    sent_at: datetime
    reason: ItemReason
    matches: tuple[TermMatch, ...] = ()

    @property
    def item_id(self) -> str:
        return item_id_for(self.policy_id, self.event_id)

    @property
    def hit_event_id(self) -> uuid.UUID:
        return hit_event_id_for(self.policy_id, self.event_id)


def add_items(connection: Connection, items: Sequence[NewItem], now: datetime) -> list[str]:
    """Add ``items`` as ``pending`` in the caller's transaction; returns the ids of those that
    were not there yet (in the order given). Items already added are left exactly as they are
    (their state, assignee and history belong to the reviewers now)."""
    if not items:
        return []
    dialect = connection.dialect.name
    ids = [item.item_id for item in items]
    present = set(
        connection.execute(select(supervision_items.c.id).where(among(supervision_items.c.id, ids, dialect)))
        .scalars()
        .all()
    )
    new = [item for item in dict(zip(ids, items, strict=True)).values() if item.item_id not in present]
    if not new:
        return []
    connection.execute(
        insert_ignoring_conflicts(dialect, supervision_items),
        [
            {
                "id": item.item_id,
                "policy_id": item.policy_id,
                "policy_version": item.policy_version,
                "event_id": item.event_id,
                "message_id": item.message_id,
                "room_id": item.room_id,
                "sender": item.sender,
                "sent_at": item.sent_at,
                "reason": item.reason,
                "matches": [match.model_dump() for match in item.matches],
                "hit_event_id": str(item.hit_event_id),
                "state": "pending",
                "disposition": None,
                "assignee": None,
                "created_at": now,
                "updated_at": now,
                "closed_at": None,
            }
            for item in new
        ],
    )
    terms = [
        {"item_id": item.item_id, "term_id": term_id, "policy_id": item.policy_id, "hits": hits}
        for item in new
        for term_id, hits in Counter(match.term_id for match in item.matches).items()
    ]
    if terms:
        connection.execute(insert_ignoring_conflicts(dialect, supervision_item_terms), terms)
    return [item.item_id for item in new]


_FORGET_CHUNK = 500


def forget_matched_words(connection: Connection, event_ids: Sequence[str]) -> int:
    """Empty the matched words of the items made of ``event_ids`` (their evaluated events were
    disposed of), in the caller's transaction; returns how many items changed. The items,
    their terms and their history stay."""
    changed = 0
    dialect = connection.dialect.name
    for start in range(0, len(event_ids), _FORGET_CHUNK):
        chunk = list(event_ids[start : start + _FORGET_CHUNK])
        rows = connection.execute(
            select(supervision_items.c.id, supervision_items.c.matches).where(
                among(supervision_items.c.event_id, chunk, dialect)
            )
        ).all()
        values = [
            {"b_id": row.id, "b_matches": [{**match, "matched": ""} for match in row.matches]}
            for row in rows
            if any(match.get("matched") for match in row.matches)
        ]
        if values:
            connection.execute(
                update(supervision_items)
                .where(supervision_items.c.id == bindparam("b_id"))
                .values(matches=bindparam("b_matches")),
                values,
            )
        changed += len(values)
    return changed
