"""The one way in to searching, for the API, the web pages, exports and legal holds.

A query naming events the text index does not hold (``type:join``, ``type:read``, ...) is
answered from the archive itself; any other by the configured :class:`SearchBackend`. The
``participant:`` filter reads its membership intervals from the archive, given here to every
backend.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import Engine

from search.archive_search import needs_archive, search_archive
from search.backends import SearchBackend, every_hit
from search.memberships import Memberships, intervals_of
from search.query_ast import Node
from search.request import Cursor, EventsCursor, HitsCursor, RankCursor, SearchRequest
from search.results import ArchivePage, Hit, Page


class WrongCursor(ValueError):
    """A cursor of another kind than the search it is passed to (another query or sort)."""

    def __init__(self) -> None:
        super().__init__("cursor: it belongs to another query or sort")


def memberships_in(engine: Engine) -> Memberships:
    """The archive's membership intervals, as the ``participant:`` filter reads them."""
    return lambda actor: intervals_of(engine, actor)


def search(backend: SearchBackend, engine: Engine, request: SearchRequest) -> Page | ArchivePage:
    """One page of ``request``: archived events (oldest first) when the query names events the
    index does not hold, else hits from ``backend``; raises ``WrongCursor`` for a cursor of
    the other kind or order."""
    if answered_by_archive(request.node):
        match request.cursor:
            case None:
                after = None
            case EventsCursor(after):
                pass
            case _:
                raise WrongCursor()
        return search_archive(engine, request.node, after=after, size=request.size)
    match request.cursor:
        case None:
            pass
        case RankCursor() if request.by_relevance:
            pass
        case HitsCursor() if not request.by_relevance:
            pass
        case _:
            raise WrongCursor()
    if request.memberships is None:
        request = replace(request, memberships=memberships_in(engine))
    return backend.search(request)


def next_cursor(request: SearchRequest, found: Page | ArchivePage) -> Cursor | None:
    """Where the page after ``found`` starts; None when ``found`` is the last page."""
    if isinstance(found, ArchivePage):
        return EventsCursor(found.next_after) if found.next_after else None
    if request.by_relevance:
        following = request.offset + len(found.hits)
        more = bool(found.hits) and following < found.total
        return RankCursor(following) if more else None
    return HitsCursor(found.next_after) if found.next_after else None


def answered_by_archive(node: Node) -> bool:
    """Whether :func:`search` answers ``node`` from the archive (events the index does not
    hold), not from the backend: such a query has no message hits to walk for an export."""
    return needs_archive(node)


def every_message_hit(backend: SearchBackend, engine: Engine, node: Node) -> list[Hit]:
    """Every hit of ``node`` in (sent, message_id) order (the whole set: legal holds)."""
    return every_hit(backend, node, memberships=memberships_in(engine))
