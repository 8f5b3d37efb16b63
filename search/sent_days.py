"""Days of a time zone as instants: what ``sent:`` dates and the date facet's buckets mean.

A search reads its dates in one IANA zone (:attr:`search.request.SearchRequest.time_zone`,
UTC unless asked): ``sent:2026-03-08`` is every instant from midnight of that day in the zone
to midnight of the next (23 hours in New York, where daylight saving time starts that day),
``sent>=`` and ``sent<`` start or end at such a midnight. Every backend (Tantivy, the
Elasticsearch translation, the archive's own search) compares the instants given here, so they
agree on which day an instant belongs to.

Near the ends of the calendar a local midnight can fall outside what a ``datetime`` holds
(midnight of 0001-01-01 in Tokyo is in the year 0): it is clamped to the first or last instant,
which no archived time passes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from search.query_ast import SentRange

UTC_ZONE = ZoneInfo("UTC")
FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT = datetime.max.replace(tzinfo=UTC)


def day_start(day: date, zone: ZoneInfo = UTC_ZONE) -> datetime:
    """The first instant of ``day`` in ``zone``, in UTC (clamped to the calendar's ends)."""
    try:
        return datetime.combine(day, time(), zone).astimezone(UTC)
    except OverflowError:
        return FIRST_INSTANT if day.year == 1 else LAST_INSTANT


def sent_bounds(node: SentRange, zone: ZoneInfo = UTC_ZONE) -> tuple[datetime | None, datetime | None]:
    """The instants ``node`` spans in ``zone``: from the first (inclusive) to the second
    (exclusive); None where the range is open."""
    start = None if node.start is None else day_start(node.start, zone)
    end = None if node.end is None else day_start(node.end, zone)
    return start, end


def local_day(moment: datetime, zone: ZoneInfo = UTC_ZONE) -> date:
    """The day ``moment`` falls on in ``zone`` (an instant whose day there is before year 1 or
    after 9999 is on the first or last day)."""
    try:
        return moment.astimezone(zone).date()
    except OverflowError:
        return moment.astimezone(UTC).date()


def is_utc(zone: ZoneInfo) -> bool:
    """Whether ``zone`` is UTC itself (its days are UTC days; the backends' fast paths)."""
    return zone.key == "UTC"
