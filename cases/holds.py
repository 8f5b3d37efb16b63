"""What legal holds preserve: a predicate over archived events, evaluated at retention time.

An event is held when any active hold's scope matches it. The parts of a scope combine with
AND and a missing part means "any":

* ``custodians``: the event was sent by a custodian, **or** it happened in a room while a
  custodian was in it (from the archive's membership intervals: a custodian who joined at
  10:00 and left at 11:00 holds everything said in that room in that hour, whoever said it,
  which is what legal expects of a custodian's communications);
* ``rooms``: the event's room;
* ``date_from``/``date_to``: when the event occurred (inclusive);
* ``query``: the hits of a search query, resolved over the configured search backend; a hit
  holds its whole message (the post, its edits, its deletion, its read receipts).

Holds are evaluated over the whole archive whenever retention runs, so events that arrive
after a hold was placed are held too. A query hold fails closed: when the search backend
cannot answer, :class:`HoldUnavailable` is raised and retention disposes of nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine

from archive.queries import intervals_of_actors
from cases.model import Hold, HoldScope
from search.backends import SearchBackend
from search.query_parser import parse_query
from search.service import every_message_hit


class HoldUnavailable(RuntimeError):
    """A hold could not be evaluated (its query cannot be resolved): nothing may be disposed."""


@dataclass(frozen=True)
class ArchivedEvent:
    """What hold matching reads of one archived event."""

    event_id: str
    event_type: str
    occurred_at: datetime
    room_id: str
    actor_id: str
    message_id: str | None = None
    """The message the event posts, edits, deletes or reads (None for others)."""


def message_id_of(payload: str) -> str | None:
    """The message an archived event's payload concerns, if any."""
    document = json.loads(payload)
    message = document.get("message")
    if isinstance(message, dict) and isinstance(message.get("id"), str):
        return str(message["id"])
    read = document.get("read")
    if isinstance(read, dict) and isinstance(read.get("message_id"), str):
        return str(read["message_id"])
    return None


@dataclass(frozen=True)
class QueryHits:
    event_ids: frozenset[str]
    message_ids: frozenset[str]


_Interval = tuple[datetime | None, datetime | None]


@dataclass
class HoldMatcher:
    """Active holds, with their queries resolved and their custodians' room presence loaded."""

    holds: Sequence[Hold]
    hits: dict[str, QueryHits] = field(default_factory=dict)
    """Per hold id with a query: what the query found."""
    presence: dict[tuple[str, str], list[_Interval]] = field(default_factory=dict)
    """(room id, custodian) -> membership intervals."""

    @property
    def needs_message_ids(self) -> bool:
        return any(hold.scope.query is not None for hold in self.holds)

    def holding(self, event: ArchivedEvent) -> list[str]:
        """The ids of the holds that preserve ``event``."""
        return [hold.id for hold in self.holds if self._matches(hold, event)]

    def is_held(self, event: ArchivedEvent) -> bool:
        return any(self._matches(hold, event) for hold in self.holds)

    def _matches(self, hold: Hold, event: ArchivedEvent) -> bool:
        scope = hold.scope
        if scope.rooms and event.room_id not in scope.rooms:
            return False
        if scope.date_from is not None and event.occurred_at < scope.date_from:
            return False
        if scope.date_to is not None and event.occurred_at > scope.date_to:
            return False
        if scope.custodians and not self._custodial(scope, event):
            return False
        if scope.query is not None:
            found = self.hits[hold.id]
            return event.event_id in found.event_ids or (
                event.message_id is not None and event.message_id in found.message_ids
            )
        return True

    def _custodial(self, scope: HoldScope, event: ArchivedEvent) -> bool:
        if event.actor_id in scope.custodians:
            return True
        at = event.occurred_at
        return any(
            (joined is None or joined <= at) and (left is None or at <= left)
            for custodian in scope.custodians
            for joined, left in self.presence.get((event.room_id, custodian), ())
        )


Resolve = Callable[[str], Iterable[tuple[str, str]]]
"""A query's hits as (event id, message id) pairs; raises when the backend cannot answer."""


def hold_matcher(connection: Connection, holds: Sequence[Hold], resolve: Resolve | None) -> HoldMatcher:
    """Resolve the holds' queries (``resolve``: None when no search backend is configured) and
    load their custodians' membership intervals."""
    matcher = HoldMatcher(holds)
    for hold in holds:
        query = hold.scope.query
        if query is None:
            continue
        if resolve is None:
            raise HoldUnavailable(
                f"legal hold {hold.id} (case {hold.case_id}) holds the hits of {query!r}, "
                "but no search backend is available to resolve it; nothing was disposed"
            )
        try:
            pairs = list(resolve(query))
        except Exception as error:  # fail closed: whatever went wrong, nothing is disposed
            raise HoldUnavailable(
                f"legal hold {hold.id} (case {hold.case_id}): its query {query!r} could not be resolved "
                f"({error.__class__.__name__}: {error}); nothing was disposed"
            ) from error
        matcher.hits[hold.id] = QueryHits(
            frozenset(event_id for event_id, _message in pairs), frozenset(message for _event, message in pairs)
        )
    custodians = sorted({c for hold in holds for c in hold.scope.custodians})
    if custodians:
        presence: dict[tuple[str, str], list[_Interval]] = defaultdict(list)
        for row in intervals_of_actors(connection, custodians):
            presence[(row.room_id, row.actor_id)].append((row.joined_at, row.left_at))
        matcher.presence = dict(presence)
    return matcher


def search_resolver(engine: Engine, backend: SearchBackend) -> Resolve:
    """Resolve queries with every hit over ``backend``."""

    def resolve(query: str) -> list[tuple[str, str]]:
        hits = every_message_hit(backend, engine, parse_query(query))
        return [(hit.event_id, hit.message_id) for hit in hits]

    return resolve
