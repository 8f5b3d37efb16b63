"""Time zones: which one a view or an export shows times in, and how a time is written there.

The archive keeps every time in UTC (the sort key) and, beside it, the offset the sender's
clock had (``occurred_offset`` of the event contract, ``+09:00``; absent when it was sent in
UTC). A reader chooses a zone by its IANA name (``America/New_York``); times are then shown
in that zone, conversation-days are cut at that zone's midnight (so a day is 23 or 25 hours
long when daylight saving time starts or ends), and a time whose sender was elsewhere also
says the sender's own offset: ``2026-11-22 00:00:00 UTC (+09:00 as sent)``.

Zone names are checked against the IANA database (the ``tzdata`` package when the system has
none), so an unknown name is refused with the closest names instead of silently meaning UTC.
"""

from __future__ import annotations

import difflib
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from ingest.events import offset_text

DEFAULT_ZONE = "UTC"


class UnknownTimeZone(ValueError):
    """A name that is not an IANA time zone; the message says so and suggests close ones."""


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted (what a page offers in its select)."""
    return tuple(sorted(available_timezones() | {DEFAULT_ZONE}))


@cache
def _lower_names() -> dict[str, str]:
    return {name.lower(): name for name in zone_names()}


def time_zone(name: str) -> ZoneInfo:
    """The zone called ``name`` (an IANA name, exactly as the database spells it), or
    :class:`UnknownTimeZone` naming it and the closest names."""
    if name in zone_names():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # listed, yet unreadable: refused below
            pass
    shown = name if len(name) <= 60 and name.isprintable() else repr(name[:60])
    exact_case = _lower_names().get(name.lower())
    close = [exact_case] if exact_case else difflib.get_close_matches(name, zone_names(), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else " (use a name like Europe/London or America/New_York)"
    raise UnknownTimeZone(f"unknown time zone {shown}: not an IANA time zone name{hint}")


def zone_name(zone: ZoneInfo) -> str:
    return zone.key


def local(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` (aware) as the wall clock of ``zone``."""
    return moment.astimezone(zone)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    """The day ``moment`` falls on in ``zone``: what a conversation-day is cut by."""
    return moment.astimezone(zone).date()


def day_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The first instant of ``day`` in ``zone`` and the first instant of the day after, both in
    UTC (23 or 25 hours apart on the days daylight saving time starts or ends). The year-9999
    end of time is clamped to the last representable instant."""
    start = datetime.combine(day, time(), zone).astimezone(UTC)
    try:
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    except OverflowError:
        end = datetime.max.replace(tzinfo=UTC)
    return start, end


def utc_dates_of(day: date, zone: ZoneInfo) -> set[date]:
    """The UTC dates that ``day`` of ``zone`` overlaps (one or two)."""
    start, end = day_span(day, zone)
    last = end - timedelta(microseconds=1)
    return {start.date(), last.date()}


def iso_local(moment: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 with microseconds and ``zone``'s offset: ``2026-03-08T23:30:00.000000-05:00``
    (``Z`` for UTC). Years 1 and 9999 near the ends of the range stay in UTC rather than overflow."""
    try:
        wall = moment.astimezone(zone)
    except OverflowError:
        wall = moment.astimezone(UTC)
    offset = wall.utcoffset()
    suffix = offset_text(offset) if offset else "Z"
    return (
        f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d}T{wall.hour:02d}:{wall.minute:02d}:{wall.second:02d}"
        f".{wall.microsecond:06d}{suffix}"
    )


def clock(moment: datetime, zone: ZoneInfo, *, seconds: bool = True, day: bool = True) -> str:
    """``2026-03-08 23:30:00 EST``: the wall clock of ``zone`` with its abbreviation."""
    try:
        wall = moment.astimezone(zone)
    except OverflowError:
        wall = moment.astimezone(UTC)
    shown = f"{wall.hour:02d}:{wall.minute:02d}" + (f":{wall.second:02d}" if seconds else "")
    if day:
        shown = f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d} {shown}"
    return f"{shown} {wall.tzname() or offset_text(wall.utcoffset() or timedelta(0))}"


def as_sent(moment: datetime, zone: ZoneInfo, sent_offset: str | None) -> str:
    """`` (+09:00 as sent)`` when the sender's offset differs from ``zone``'s at ``moment``
    (nothing when they agree, or when the event was sent in UTC and is shown in UTC)."""
    sent = sent_offset or "+00:00"
    try:
        shown_offset = offset_text(moment.astimezone(zone).utcoffset() or timedelta(0))
    except OverflowError:
        shown_offset = "+00:00"
    return "" if sent == shown_offset else f" ({sent} as sent)"


def sent_clock(moment: datetime, sent_offset: str | None) -> str:
    """The sender's own wall clock, ISO 8601 with their offset: ``2026-11-22T09:00:00+09:00``."""
    if not sent_offset:
        return iso_local(moment, ZoneInfo(DEFAULT_ZONE))
    sign = -1 if sent_offset[0] == "-" else 1
    parts = [int(p) for p in sent_offset[1:].split(":")]
    delta = timedelta(hours=parts[0], minutes=parts[1], seconds=parts[2] if len(parts) > 2 else 0) * sign
    try:
        wall = moment.astimezone(timezone(delta))
    except OverflowError:
        return iso_local(moment, ZoneInfo(DEFAULT_ZONE))
    return (
        f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d}T{wall.hour:02d}:{wall.minute:02d}:{wall.second:02d}"
        f".{wall.microsecond:06d}{sent_offset}"
    )
