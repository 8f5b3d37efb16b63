"""The time line of one room: every archived event in a window of time, in order, paged.

Parameters arrive as text and are checked here, so a malformed day or an unknown room is a
:class:`BadTimeline` (a 400/422 page), never a framework error. The archive is read through
:mod:`archive.timeline`; the conversation view and the time line describe events with the same
:func:`describe`.

Days are the reader's time zone's (``search_api.web.core.viewer_zone``): ``day=2026-03-08`` in
America/New_York is the 23 hours from 05:00Z that day, and the day links lead to the days
with activity in that zone. ``from``/``until`` without an offset are UTC.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from archive import timeline as archive_timeline
from archive.people import label
from archive.principals import Principal
from formats.time_zones import day_span, local_date
from ingest.events import EVENT_TYPES
from search_api import read_audit
from search_api.web.file_states import with_file_states

PAGE_SIZE = 100
MAX_SPAN = timedelta(days=31)
WITHOUT_READS: tuple[str, ...] = tuple(kind for kind in EVENT_TYPES if kind != "read")
LABELS = {
    "post": "Post",
    "edit": "Edit",
    "delete": "Deletion",
    "join": "Join",
    "leave": "Leave",
    "read": "Read",
    "file_upload": "File shared",
    "file_download": "File downloaded",
    "file_text": "Text extracted",
    "disclaimer": "Disclaimer",
    "policy_decision": "Policy decision",
    "room_update": "Room update",
    "supervision_hit": "Supervision hit",
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
FIRST_DAY = date(1, 1, 2)
LAST_DAY = date(9999, 12, 30)
"""The days a time line can show: a window, its span and its neighbours are computed a day
either side, which must stay within Python's years 1 to 9999."""
EARLIEST = datetime.combine(FIRST_DAY, time(), tzinfo=UTC)
LATEST = datetime.combine(LAST_DAY, time.max, tzinfo=UTC)


_RANGE = f"{FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}"


class BadTimeline(Exception):
    """A time line that cannot be shown as asked: ``status`` is 400 or 422, ``message`` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Window:
    """The span shown: ``day`` when one whole day (of the reader's zone) was asked for."""

    start: datetime
    end: datetime
    day: date | None

    @property
    def query(self) -> dict[str, str]:
        """The parameters that ask for this window again."""
        if self.day is not None:
            return {"day": self.day.isoformat()}
        return {"from": self.start.isoformat(), "until": self.end.isoformat()}


@dataclass(frozen=True)
class Asked:
    """A time line request as typed in the address bar (every field still text)."""

    room: str | None
    day: str | None = None
    since: str | None = None
    until: str | None = None
    page: str | None = None
    hit: str | None = None
    reads: bool = False

    @property
    def types(self) -> tuple[str, ...]:
        return EVENT_TYPES if self.reads else WITHOUT_READS


# --- parameters ---------------------------------------------------------------------------


def parse_day(text: str) -> date:
    if not _DAY.match(text):
        raise BadTimeline(422, f"The day {text!r} is not a date like 2009-03-03.")
    try:
        found = date.fromisoformat(text)
    except ValueError:
        raise BadTimeline(422, f"The day {text!r} does not exist.") from None
    if not FIRST_DAY <= found <= LAST_DAY:
        raise BadTimeline(422, f"The day {text!r} is outside the days a time line can show ({_RANGE}).")
    return found


def parse_instant(text: str, name: str) -> datetime:
    """An RFC 3339 time (no zone means UTC) or a date (its midnight, UTC)."""
    if _DAY.match(text):
        return datetime.combine(parse_day(text), time(), tzinfo=UTC)
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise BadTimeline(422, f"{name} {text!r} is not a time like 2009-03-03T06:30:00Z or a day.") from None
    try:
        instant = (found if found.tzinfo else found.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:  # an offset that moves it past year 1 or 9999
        instant = None
    if instant is None or not EARLIEST <= instant <= LATEST:
        raise BadTimeline(422, f"{name} {text!r} is outside the times a time line can show ({_RANGE}).")
    return instant


def parse_page(text: str | None) -> int:
    if text is None or text == "":
        return 1
    if not text.isdigit() or int(text) < 1:
        raise BadTimeline(422, f"The page {text!r} is not a whole number from 1.")
    return int(text)


def day_window(day: date, zone: ZoneInfo | None = None) -> Window:
    """``day`` from its midnight to the next in ``zone`` (UTC when None)."""
    if zone is None or zone.key == "UTC":
        start = datetime.combine(day, time(), tzinfo=UTC)
        return Window(start, start + timedelta(days=1), day)
    start, end = day_span(day, zone)
    return Window(start, end, day)


def window_of(asked: Asked, latest: Callable[[], date], zone: ZoneInfo | None = None) -> Window:
    """The window ``asked`` names; without day or from/until, the room's latest day with activity."""
    if asked.day and (asked.since or asked.until):
        raise BadTimeline(422, "Ask for a day, or for from/until, not both.")
    if asked.day:
        return day_window(parse_day(asked.day), zone)
    if not asked.since and not asked.until:
        return day_window(latest(), zone)
    start = parse_instant(asked.since, "from") if asked.since else None
    end = parse_instant(asked.until, "until") if asked.until else None
    if start is None:
        assert end is not None  # from or until was given
        start = end - timedelta(days=1)
    end = end or start + timedelta(days=1)
    if end <= start:
        raise BadTimeline(422, "until must be after from.")
    if end - start > MAX_SPAN:
        raise BadTimeline(422, f"A time line covers at most {MAX_SPAN.days} days; ask for a shorter span.")
    return Window(start, end, None)


def link(query: dict[str, str]) -> str:
    return "/timeline?" + urlencode(query)


# --- the page -----------------------------------------------------------------------------


def gather(engine: Engine, caller: Principal, asked: Asked, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """Everything the time line page shows, audited like a conversation view; days in ``zone``."""
    if not asked.room:
        raise BadTimeline(422, "Say which room: add room=<room id>, like room=room:ubuntu.")
    room = archive_timeline.room(engine, asked.room)
    if room is None:
        raise BadTimeline(400, f"There is no room {asked.room!r} in the archive.")
    room_id: str = room["room_id"]
    window = window_of(asked, lambda: latest_day(engine, room, zone), zone)
    wanted = parse_page(asked.page)
    total = archive_timeline.count_events(engine, room_id, window.start, window.end, asked.types)
    pages = pages_for(total)
    hit_page = page_of(engine, room_id, window, asked.types, asked.hit) if asked.hit and not asked.page else None
    page = min(hit_page or wanted, pages)
    events = events_page(engine, room_id, window, asked.types, page)
    for event in events:
        event["hit"] = event["event_id"] == asked.hit
    details = {"room": room_id, "from": window.start.isoformat(), "until": window.end.isoformat(), "page": page}
    read_audit.record(engine, caller, "view_timeline", details | ({"hit": asked.hit} if asked.hit else {}))
    return {
        "room": room,
        "window": window,
        "events": events,
        "total": total,
        "page": page,
        "pages": pages,
        "first_shown": (page - 1) * PAGE_SIZE + 1,
        "hit": asked.hit,
        "hit_found": any(event["hit"] for event in events),
        "reads": asked.reads,
        "links": links(room_id, window, asked, page, pages, neighbour_days(engine, room_id, window, zone)),
    }


def links(
    room_id: str, window: Window, asked: Asked, page: int, pages: int, days: tuple[date | None, date | None]
) -> dict[str, str | None]:
    """Where the pager, the day links and the reads switch lead (None: nowhere to go)."""
    keep = {"reads": "1"} if asked.reads else {}
    here = {"room": room_id, **window.query, **keep}
    previous_day, next_day = days
    return {
        "previous_page": link(here | {"page": str(page - 1)}) if page > 1 else None,
        "next_page": link(here | {"page": str(page + 1)}) if page < pages else None,
        "previous_day": link({"room": room_id, "day": previous_day.isoformat(), **keep}) if previous_day else None,
        "next_day": link({"room": room_id, "day": next_day.isoformat(), **keep}) if next_day else None,
        "previous_day_label": previous_day.isoformat() if previous_day else None,
        "next_day_label": next_day.isoformat() if next_day else None,
        "toggle_reads": link({"room": room_id, **window.query, **({} if asked.reads else {"reads": "1"})}),
    }


# --- reading the archive ------------------------------------------------------------------


def _day_of(moment: datetime, zone: ZoneInfo | None) -> date:
    if zone is None or zone.key == "UTC":
        return moment.date()
    try:
        return local_date(moment, zone)
    except OverflowError:  # the first or last day of the range: its UTC day
        return moment.date()


def latest_day(engine: Engine, room: dict[str, Any], zone: ZoneInfo | None = None) -> date:
    """The day (in ``zone``) of the room's newest archived event (the day it was first seen, if none)."""
    newest = archive_timeline.latest_activity(engine, room["room_id"])
    first_seen: datetime = room["first_seen_at"]
    return _day_of(newest or first_seen, zone)


def page_of(engine: Engine, room_id: str, window: Window, types: Sequence[str], event_id: str) -> int | None:
    """The page (from 1) that shows ``event_id``, or None when it is not in this time line."""
    before = archive_timeline.events_before(engine, room_id, window.start, window.end, types, event_id)
    return None if before is None else before // PAGE_SIZE + 1


def neighbour_days(
    engine: Engine, room_id: str, window: Window, zone: ZoneInfo | None = None
) -> tuple[date | None, date | None]:
    """The nearest days (in ``zone``) with activity in the room before the window and after it."""
    before, after = archive_timeline.neighbour_activity(engine, room_id, window.start, window.end)
    return (_day_of(before, zone) if before else None, _day_of(after, zone) if after else None)


def events_page(engine: Engine, room_id: str, window: Window, types: Sequence[str], page: int) -> list[dict[str, Any]]:
    """One page of the room's events in the window, in time order, each described."""
    rows = archive_timeline.events(
        engine, room_id, window.start, window.end, types, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    payloads = [_payload(row.payload) for row in rows]
    deleted = archive_timeline.deleted_texts(
        engine, [message_id_of(p) or "" for row, p in zip(rows, payloads, strict=True) if row.event_type == "delete"]
    )
    listed = [
        {
            "event_id": row.event_id,
            "type": row.event_type,
            "label": LABELS.get(row.event_type, row.event_type),
            "at": row.occurred_at,
            "actor": row.actor_id,
            "message_id": message_id_of(payload),
            "sent_offset": _sent_offset(payload),
            "text": describe(row.event_type, payload, deleted),
            "file": payload.get("file", {}),
        }
        for row, payload in zip(rows, payloads, strict=True)
    ]
    return with_file_states(engine, listed)


def pages_for(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


# --- describing events --------------------------------------------------------------------


def _payload(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _sent_offset(payload: dict[str, Any]) -> str | None:
    """The UTC offset the event's sender's clock had, when it was not UTC."""
    found = payload.get("occurred_offset")
    return found if isinstance(found, str) else None


def message_id_of(payload: dict[str, Any]) -> str | None:
    found = payload.get("message", {}).get("id") or payload.get("read", {}).get("message_id")
    return str(found) if found else None


def who(payload: dict[str, Any]) -> str:
    """The actor as pages show a person: the name of the moment and the id (``Ann (user:ann)``)."""
    actor = payload.get("actor", {})
    actor_id = actor.get("id")
    if not actor_id:
        return str(actor.get("name") or "someone")
    return label(actor.get("name"), str(actor_id))


def describe(event_type: str, payload: dict[str, Any], deleted: dict[str, str] | None = None) -> str:
    """One line for an archived event, as the conversation and the time line show it."""
    if payload.get("tombstone"):
        return f"disposed of under retention policy {payload.get('policy', '?')} (run {payload.get('run_id', '?')})"
    name = who(payload)
    match event_type:
        case "post":
            return f"{name}: {payload.get('message', {}).get('text', '')}"
        case "edit":
            message = payload.get("message", {})
            return f"{name} edited {message.get('id', '?')} to: {message.get('text', '')}"
        case "delete":
            message_id = str(payload.get("message", {}).get("id", "?"))
            kept = (deleted or {}).get(message_id)
            return f"{name} deleted {message_id}" + (f" (the archive keeps its text: {kept})" if kept else "")
        case "read":
            seen = payload.get("read", {}).get("message_id")
            return f"{name} read {seen}" if seen else f"{name} viewed the room's history"
        case "policy_decision":
            return describe_decision(name, payload.get("decision", {}))
        case "supervision_hit":
            return describe_hit(payload.get("hit", {}))
        case _:
            return describe_presence(event_type, name, payload)


def describe_decision(name: str, decision: dict[str, Any]) -> str:
    mode = decision.get("mode", "?")
    verb = "blocked" if decision.get("outcome") == "deny" else ("alerted on" if mode == "alert" else "logged")
    walls = ", ".join(decision.get("wall_ids", [])) or "none"
    targets = ", ".join(decision.get("targets", [])) or "none"
    return f"wall check {verb} {decision.get('action', '?')} by {name} (mode {mode}; walls {walls}; across {targets})"


def describe_hit(hit: dict[str, Any]) -> str:
    """A ``supervision_hit``: which policy made an item of which message, and why (the term ids,
    not the words: the message itself is the line the item points at)."""
    policy = f"{hit.get('policy_name', '?')} (v{hit.get('policy_version', '?')})"
    message = hit.get("evaluated_message", "?")
    if hit.get("reason") == "sample":
        return f"supervision policy {policy} drew message {message} for review (sampling)"
    terms = ", ".join(dict.fromkeys(str(m.get("term_id", "?")) for m in hit.get("matches", []))) or "none"
    where = " in its attachment" if hit.get("evaluated_type") == "file_text" else ""
    return f"supervision policy {policy} matched message {message}{where}: terms {terms}"


def describe_presence(event_type: str, name: str, payload: dict[str, Any]) -> str:
    """Joins, leaves, files, disclaimers and room updates."""
    match event_type:
        case "join":
            return f"{name} joined"
        case "leave":
            return f"{name} left"
        case "file_upload" | "file_download":
            info = payload.get("file", {})
            verb = "shared" if event_type == "file_upload" else "downloaded"
            return f"{name} {verb} the file {info.get('name', '?')} ({info.get('size', '?')} bytes)"
        case "file_text":
            extracted = payload.get("extracted", {})
            state = extracted.get("state", "?")
            found = f"{extracted.get('text_chars', 0)} characters" if state == "extracted" else state
            why = f": {extracted['reason']}" if extracted.get("reason") else ""
            file_event_id, extractor = extracted.get("file_event_id", "?"), extracted.get("extractor", "?")
            return f"text of file {file_event_id} read by {extractor}: {found}{why}"
        case "disclaimer":
            shown = payload.get("disclaimer", {})
            rule = f"{shown.get('rule_id', '?')} v{shown.get('version', '?')}"
            return f"disclaimer {rule} shown to {name}: {shown.get('text', '')}"
        case _:
            update = payload.get("room_update", {})
            return f"{name} updated the room: " + ", ".join(f"{k} = {v}" for k, v in update.items() if v)
