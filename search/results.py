"""What a search answers, whichever backend answered it: hits and pages from a text index,
archived events from the archive, and where each kind of page ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from search.versions import Version


@dataclass(frozen=True)
class AttachmentHit:
    """The uploaded file a hit is (a hit on a file document): what the search page shows under
    its message, with an excerpt of the text extracted from it."""

    file_event_id: str
    name: str
    size: int
    sha256: str
    content_type: str
    file_type: str
    extraction: str
    """``pending`` (no text yet), or the extraction's state: extracted, empty, unsupported, failed."""
    reason: str | None = None
    extractor: str | None = None
    extractor_version: str | None = None
    truncated: bool = False
    excerpt: str | None = None
    """A piece of the extracted text with the matched words in <b>...</b> (HTML-escaped); its
    beginning when the words matched elsewhere (the name); None without text or highlights."""


@dataclass(frozen=True)
class Hit:
    message_id: str
    event_id: str
    room_id: str
    sender_id: str
    sent: int
    text: str
    deleted: bool
    highlight: str | None = None
    """The text with matched words in <b>...</b> (HTML-escaped), for the hits of a page."""
    matched_versions: tuple[Version, ...] = ()
    """The versions of the message the query matched (:func:`search.versions.matched_versions`),
    each with when it was current; ``text`` stays the current (or deleted) text."""
    attachment: AttachmentHit | None = None
    """The file, for a hit on an uploaded file (``message_id`` ``file:<event_id>``)."""


After = tuple[int, str]
"""Where a time-ordered page ends: the last hit's (sent, message_id). Hits are ordered by
(sent, message_id), a total order, so paging with it returns every hit exactly once even when
many messages share a timestamp (IRC logs have minute resolution)."""


@dataclass(frozen=True)
class Page:
    total: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    next_after: After | None = None
    """Time order: pass as ``after`` for the next page; None when this page is the last."""


EventsAfter = tuple[datetime, int]
"""Where a page of archived events ends: the last event's (occurred_at, seq), a total order."""


@dataclass(frozen=True)
class ArchivePage:
    total: int
    events: list[dict[str, Any]]
    next_after: EventsAfter | None = None


class HitIds(Protocol):
    """Every hit of a query as ids and times only, a room at a time (what an export selects)."""

    total: int

    def rooms(self) -> tuple[str, ...]:
        """Every room with a hit, sorted."""
        ...

    def span(self) -> tuple[int, int] | None:
        """The first and last ``sent`` (microseconds since the epoch) of the hits."""
        ...

    def room_ids_and_days(self, room_id: str) -> tuple[set[str], set[int]]:
        """One room's hits as their message ids and the days (microseconds // a day) they fall on."""
        ...
