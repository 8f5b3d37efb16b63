"""Review items for the queue tests: a policy (with its SLA, reviewers and escalation
reviewers) and items made by :func:`supervision.items.add_items`, as the adapter makes them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from ingest.events import PostEvent
from supervision.items import NewItem, add_items
from supervision.model import LexiconTerm, Policy, PolicySpec, TermMatch
from supervision.policy_store import create_policy
from tests.cases.helpers import post

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def make_policy(
    engine: Engine,
    name: str = "Guarantees",
    *,
    sla_hours: int = 24,
    escalation_reviewers: Sequence[str] = ("chief",),
) -> Policy:
    spec = PolicySpec(
        name=name,
        lexicon=(LexiconTerm(id="g1", expression="guarantee*"), LexiconTerm(id="g2", expression='"no risk"')),
        reviewers=("alice", "bob"),
        escalation_reviewers=tuple(escalation_reviewers),
        sla_hours=sla_hours,
    )
    with engine.begin() as connection:
        return create_policy(connection, spec, "officer (t0)", "first", NOW - timedelta(days=30))


def make_items(
    engine: Engine,
    policy: Policy,
    count: int,
    *,
    created: datetime,
    step: timedelta = timedelta(minutes=1),
    message_prefix: str = "msg",
    text: str = "I guarantee it, no risk at all",
) -> list[str]:
    """``count`` items, one a ``step`` apart from ``created`` on; their ids, oldest first."""
    made: list[str] = []
    with engine.begin() as connection:
        for number in range(count):
            at = created + step * number
            start = text.index("guarantee") if "guarantee" in text else 0
            item = NewItem(
                policy_id=policy.id,
                policy_version=policy.version,
                event_id=f"{message_prefix}-ev-{number}",
                message_id=f"{message_prefix}:{number}",
                room_id="room:desk",
                sender="trader",
                sent_at=at,
                reason="lexicon",
                matches=(TermMatch(term_id="g1", start=start, end=start + 9, matched=text[start : start + 9]),),
            )
            made.extend(add_items(connection, [item], at))
    return made


DESK = "room:desk"
DAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SAID = (
    "morning all",
    "I guarantee it, no risk at all",
    "lunch at noon?",
    "returns of 12% <b>guaranteed</b> & more",
    "see you",
    "we promise a guaranteed profit",
)


def desk_events() -> list[PostEvent]:
    """A trading desk's morning: six messages, three saying "guarantee"."""
    made = [
        post(f"user:{'trader' if n % 2 else 'sales'}", DESK, DAY + timedelta(minutes=n), text, f"msg:desk{n}")
        for n, text in enumerate(SAID)
    ]
    # Ids fixed by the message, so the items made later name the events archived.
    return [event.model_copy(update={"event_id": uuid.uuid5(uuid.NAMESPACE_URL, event.message.id)}) for event in made]


def items_of(engine: Engine, policy: Policy, events: Sequence[PostEvent], created: datetime) -> list[str]:
    """An item for each of ``events`` saying "guarantee" (the match at its offsets), as the
    adapter would make it; their ids, oldest first (a minute apart from ``created``)."""
    made: list[str] = []
    with engine.begin() as connection:
        for event in events:
            text = event.message.text
            if "guarantee" not in text:
                continue
            start = text.index("guarantee")
            item = NewItem(
                policy_id=policy.id,
                policy_version=policy.version,
                event_id=str(event.event_id),
                message_id=event.message.id,
                room_id=event.room.id,
                sender=event.actor.id,
                sent_at=event.occurred_at,
                reason="lexicon",
                matches=(TermMatch(term_id="g1", start=start, end=start + 9, matched=text[start : start + 9]),),
            )
            made.extend(add_items(connection, [item], created + timedelta(minutes=len(made))))
    return made
