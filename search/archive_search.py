"""Searching the archive itself for events the text index does not hold (``type:join``,
``type:leave``, ``type:read``, ``type:policy_decision``, ...): the query tree becomes SQL over
``archive_events``. Word conditions have no meaning for such events and are refused."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, and_, false, func, not_, or_, select, true

from archive.schema import archive_events, archive_rooms
from ingest.events import EVENT_TYPES
from search.query_ast import (
    And,
    Current,
    Filter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    UnsupportedQuery,
    Within,
)
from search.results import ArchivePage, EventsAfter
from search.sent_days import UTC_ZONE, sent_bounds
from search.tantivy_schema import filter_keys

INDEXED_TYPES = frozenset({"post", "file_upload"})
_events = archive_events.c


def needs_archive(node: Node) -> bool:
    """Whether the query names an event type the text index does not hold."""
    match node:
        case Filter("type", value):
            return value not in INDEXED_TYPES
        case Not(item):
            return needs_archive(item)
        case And(items) | Or(items):
            return any(needs_archive(item) for item in items)
    return False


VERSIONS_ARE_SEARCHED = (
    "type:edit and type:delete list edit and delete events and take no words; the words of every "
    "version of a message (the original, each edit, the deleted text) are searched already: "
    "is:edited ACME finds edited messages with ACME in any version, is:deleted ACME deleted ones, "
    "current:ACME looks only at the current text"
)


def _types(node: Node) -> set[str]:
    match node:
        case Filter("type", value):
            return {value}
        case Not(item) | Current(item) | Within(_, item):
            return _types(item)
        case And(items) | Or(items):
            return set().union(*(_types(item) for item in items))
    return set()


def _has_words(node: Node) -> bool:
    match node:
        case Term() | Phrase() | Prefix() | Near() | Current() | Within():
            return True
        case Not(item):
            return _has_words(item)
        case And(items) | Or(items):
            return any(_has_words(item) for item in items)
    return False


def condition(node: Node, zone: ZoneInfo = UTC_ZONE) -> ColumnElement[bool]:
    """``node`` as SQL over ``archive_events``; ``sent:`` dates are days of ``zone``."""
    match node:
        case Filter("type", value):
            if value not in EVENT_TYPES:
                raise UnsupportedQuery(f"type:{value} is not an event type; the types are {', '.join(EVENT_TYPES)}")
            return _events.event_type == value
        case Filter("from", value):
            keys = filter_keys("from", value)
            return func.lower(_events.actor_id).in_([*keys, *(f"user:{key}" for key in keys)])
        case Filter("in", value):
            keys = filter_keys("in", value)
            named = select(archive_rooms.c.room_id).where(
                func.lower(archive_rooms.c.name).in_([*keys, *(f"#{key}" for key in keys)])
            )
            return or_(
                func.lower(_events.room_id).in_([*keys, *(f"room:{key}" for key in keys)]), _events.room_id.in_(named)
            )
        case Filter("has", _):
            return _events.event_type.in_(("file_upload", "file_download"))
        case SentRange():
            start, end = sent_bounds(node, zone)
            bounds: list[ColumnElement[bool]] = [true()]
            if start is not None:
                bounds.append(_events.occurred_at >= start)
            if end is not None:
                bounds.append(_events.occurred_at < end)
            return and_(*bounds)
        case Not(item):
            return not_(condition(item, zone))
        case And(items):
            return and_(*(condition(item, zone) for item in items))
        case Or(items):
            return or_(*(condition(item, zone) for item in items)) if items else false()
        case Term() | Phrase() | Prefix() | Near() | Current() | Within():
            raise UnsupportedQuery(
                "words cannot be combined with type: of events that have no text; search those with "
                "from:, in:, has:file and sent: only"
            )
        case Filter(field, _):
            raise UnsupportedQuery(f"{field}: cannot be combined with type: of events that have no text")
    raise UnsupportedQuery(f"cannot search the archive for {node!r}")


def search_archive(
    engine: Engine, node: Node, *, after: EventsAfter | None = None, size: int = 50, zone: ZoneInfo = UTC_ZONE
) -> ArchivePage:
    """Archived events matching ``node``, oldest first, one page after ``after`` and the exact
    total; keyset paging, so events archived meanwhile never shift a page. ``sent:`` dates are
    days of ``zone``."""
    if _has_words(node) and _types(node) & {"edit", "delete"}:
        raise UnsupportedQuery(VERSIONS_ARE_SEARCHED)
    where = condition(node, zone)
    page_where = where
    if after is not None:
        moment, seq = after
        page_where = and_(
            where, or_(_events.occurred_at > moment, and_(_events.occurred_at == moment, _events.seq > seq))
        )
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(archive_events).where(where)).scalar_one()
        rows = connection.execute(
            select(
                _events.event_id,
                _events.event_type,
                _events.occurred_at,
                _events.room_id,
                _events.actor_id,
                _events.seq,
                _events.payload,
            )
            .where(page_where)
            .order_by(_events.occurred_at, _events.seq)
            .limit(size + 1)
        ).all()
    events = [_with_message(dict(row._mapping)) for row in rows[:size]]
    more = len(rows) > size
    return ArchivePage(
        total=int(total),
        events=events,
        next_after=(events[-1]["occurred_at"], int(events[-1]["seq"])) if more else None,
    )


def _with_message(event: dict[str, Any]) -> dict[str, Any]:
    """The row with the message id and text of events that carry a message (posts, edits, files),
    so a query that reaches posts through the archive still shows what was said."""
    message = json.loads(event.pop("payload")).get("message") or {}
    event["message_id"] = message.get("id")
    event["text"] = message.get("text") or ""
    return event
