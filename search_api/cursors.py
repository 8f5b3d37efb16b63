"""The page cursors of a search (:mod:`search.request`) as opaque text, for ``POST /search``.

A cursor says where the previous page ended in a total order: (sent, message_id) for hits in
time order, (occurred_at, seq) for archived events, an offset for relevance order (scores have
no stable key). It is bound to the query, sort and time zone it came from (the zone says which
days ``sent:`` dates are), so a cursor pasted into another search is refused instead of silently
paging something else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from search.request import Cursor, EventsCursor, HitsCursor, RankCursor

MAX_OFFSET = 10**9


class BadCursor(ValueError):
    """A cursor this API did not hand out for this query and sort."""


_KINDS: dict[type[Any], str] = {HitsCursor: "hits", RankCursor: "rank", EventsCursor: "events"}


def _binding(query: str, sort: str, time_zone: str) -> str:
    # UTC binds as before time zones were asked, so cursors handed out then still continue.
    bound = f"{sort}\n{query}" if time_zone == "UTC" else f"{sort}\n{time_zone}\n{query}"
    return hashlib.sha256(bound.encode()).hexdigest()[:16]


def encode(cursor: Cursor, *, query: str, sort: str, time_zone: str = "UTC") -> str:
    position: list[Any]
    match cursor:
        case HitsCursor((sent, message_id)):
            position = [sent, message_id]
        case RankCursor(offset):
            position = [offset]
        case EventsCursor((moment, seq)):
            position = [moment.isoformat(), seq]
    document = json.dumps(
        {"k": _KINDS[type(cursor)], "p": position, "b": _binding(query, sort, time_zone)}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode(text: str, *, query: str, sort: str, time_zone: str = "UTC") -> Cursor:
    """The cursor in ``text``; raises ``BadCursor`` with a reason a person understands."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        document = json.loads(raw)
    except (ValueError, binascii.Error) as error:
        raise BadCursor("cursor: not a cursor this API returned") from error
    if not isinstance(document, dict) or document.get("b") != _binding(query, sort, time_zone):
        raise BadCursor("cursor: it belongs to another query or sort (or time zone); start again without a cursor")
    kind, position = document.get("k"), document.get("p")
    if not isinstance(position, list):
        raise BadCursor("cursor: not a cursor this API returned")
    match kind, position:
        case "hits", [int() as sent, str() as message_id] if abs(sent) < 2**63:
            return HitsCursor((sent, message_id))
        case "rank", [int() as offset] if 0 <= offset <= MAX_OFFSET:
            return RankCursor(offset)
        case "events", [str() as moment, int() as seq] if 0 <= seq < 2**63:
            try:
                parsed = datetime.fromisoformat(moment)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return EventsCursor((parsed, seq))
    raise BadCursor("cursor: not a cursor this API returned")
