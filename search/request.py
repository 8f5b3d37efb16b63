"""One page of a search as every caller asks for it, and where the previous page ended."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from search.memberships import Memberships
from search.query_ast import Node
from search.results import After, EventsAfter
from search.sent_days import UTC_ZONE


@dataclass(frozen=True)
class HitsCursor:
    """Time order: after the hit at (sent micros, message_id)."""

    after: After


@dataclass(frozen=True)
class RankCursor:
    """Relevance order: from this offset."""

    offset: int


@dataclass(frozen=True)
class EventsCursor:
    """Archived events: after the event at (occurred_at, seq)."""

    after: EventsAfter


Cursor = HitsCursor | RankCursor | EventsCursor
"""Where the previous page of a search ended, in the order of its kind."""


@dataclass(frozen=True)
class SearchRequest:
    """One page: oldest first in (sent, message_id) order continuing a ``HitsCursor``, or best
    first ``by_relevance`` from a ``RankCursor``; with the exact total and, if asked, facets
    (``highlights=False``: hits without highlighted text, for exports that need every hit).
    Archived events (:mod:`search.service`) continue an ``EventsCursor``. ``time_zone``: the
    zone whose days ``sent:`` dates and the day facet are (:mod:`search.sent_days`)."""

    node: Node
    size: int = 50
    by_relevance: bool = False
    cursor: Cursor | None = None
    memberships: Memberships | None = None
    facets: bool = False
    highlights: bool = True
    time_zone: ZoneInfo = UTC_ZONE

    @property
    def after(self) -> After | None:
        """Where the previous time-ordered page of hits ended."""
        return self.cursor.after if isinstance(self.cursor, HitsCursor) else None

    @property
    def offset(self) -> int:
        """How many hits of the relevance order earlier pages held."""
        return self.cursor.offset if isinstance(self.cursor, RankCursor) else 0
