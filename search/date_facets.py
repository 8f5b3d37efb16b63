"""The date facet's buckets: days, or months or years when the hits spread too far for days.

Both backends count hits per bucket with the same rule, so they give the same facet answer:
the bucket size follows from the first and last hit's day alone (days of the search's time zone,
:mod:`search.sent_days`; UTC unless asked), and a bucket is named by
the query text that finds exactly its hits (``2024-03-05`` for a day, ``2024-03-01..2024-03-31``
for a month, ``1800-01-01..1800-12-31`` for a year: ``sent:`` plus the name is that bucket).

Counting per day over hits from year 1 to year 9999 would be 3.6 million buckets, far past what
either engine allows (Tantivy refuses more than 65,000, Elasticsearch 65,536), so one event
with an outlying date failed every faceted search that matched it.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import Literal

MAX_DATE_BUCKETS = 10_000
"""Most buckets the date facet may span; the bucket grows from day to month to year to stay
within it (years 1 to 9999 are 9,999 buckets)."""

Granularity = Literal["day", "month", "year"]


def _months(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def granularity(first: date, last: date) -> Granularity:
    """The smallest bucket that spans ``first`` to ``last`` (the hits' first and last days) in at
    most ``MAX_DATE_BUCKETS`` buckets."""
    if (last - first).days + 1 <= MAX_DATE_BUCKETS:
        return "day"
    if _months(first, last) <= MAX_DATE_BUCKETS:
        return "month"
    return "year"


def bucket_start(day: date, unit: Granularity) -> date:
    """The first day of the bucket holding ``day``."""
    match unit:
        case "day":
            return day
        case "month":
            return day.replace(day=1)
    return date(day.year, 1, 1)


def next_start(start: date, unit: Granularity) -> date | None:
    """The first day of the bucket after the one starting on ``start`` (None past 9999-12-31)."""
    try:
        match unit:
            case "day":
                return start + timedelta(days=1)
            case "month":
                return date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return date(start.year + 1, 1, 1)
    except (OverflowError, ValueError):  # the year 10000
        return None


def bucket_starts(first: date, last: date, unit: Granularity) -> list[date]:
    """Every bucket's first day from the one holding ``first`` to the one holding ``last``."""
    starts: list[date] = []
    start: date | None = bucket_start(first, unit)
    while start is not None and start <= last:
        starts.append(start)
        start = next_start(start, unit)
    return starts


def bucket_name(start: date, unit: Granularity) -> str:
    """The facet value of the bucket starting on ``start``: its day, or its range of days."""
    match unit:
        case "day":
            return start.isoformat()
        case "month":
            end = start.replace(day=calendar.monthrange(start.year, start.month)[1])
            return f"{start.isoformat()}..{end.isoformat()}"
    return f"{start.isoformat()}..{date(start.year, 12, 31).isoformat()}"
