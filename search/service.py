"""The one way in to searching, for the API, the web pages, exports and legal holds.

A query naming events the text index does not hold (``type:join``, ``type:read``, ...) is
answered from the archive itself; any other by the configured :class:`SearchBackend`. The
``participant:`` filter reads its membership intervals from the archive, given here to every
backend.

A person is their id: ``from:`` and ``participant:`` find them by id, e-mail address or any
display name they ever had (``archive.people``). Names are resolved to ids here, at query time,
from the archive (:func:`resolve_people`), so both backends match the ids the index holds; an
index document's ``sender_keys`` are written when the message is indexed and only know the name
of that moment, so indexing names would leave earlier messages unfound under a later name until
every one of them were indexed again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Engine

from archive.people import Person, find_people
from search.archive_search import needs_archive, search_archive
from search.backends import SearchBackend, every_hit
from search.memberships import Memberships, intervals_of
from search.query_ast import And, Filter, Node, Not, Or
from search.request import Cursor, EventsCursor, HitsCursor, RankCursor, SearchRequest
from search.results import ArchivePage, Hit, Page


class WrongCursor(ValueError):
    """A cursor of another kind than the search it is passed to (another query or sort)."""

    def __init__(self) -> None:
        super().__init__("cursor: it belongs to another query or sort")


def memberships_in(engine: Engine) -> Memberships:
    """The archive's membership intervals, as the ``participant:`` filter reads them."""
    return lambda actor: intervals_of(engine, actor)


@dataclass(frozen=True)
class PeopleMatch:
    """Who one ``from:``/``participant:`` value names: more than one person when a name was
    shared ("Sam"), none when nobody was ever seen under it."""

    field: str
    value: str
    people: tuple[Person, ...]


def _person_filters(node: Node) -> list[Filter]:
    match node:
        case Filter("from" | "participant", _):
            return [node]
        case Not(item):
            return _person_filters(item)
        case And(items) | Or(items):
            return [found for item in items for found in _person_filters(item)]
    return []


def people_in(engine: Engine, node: Node) -> list[PeopleMatch]:
    """The people each ``from:``/``participant:`` value of ``node`` names, in query order."""
    seen: dict[tuple[str, str], PeopleMatch] = {}
    for found in _person_filters(node):
        key = (found.field, found.value)
        if key not in seen:
            seen[key] = PeopleMatch(found.field, found.value, tuple(find_people(engine, found.value)))
    return list(seen.values())


def resolve_people(engine: Engine, node: Node) -> Node:
    """``node`` with each ``from:`` value also matching the ids of everyone it names (by any
    name, e-mail address or id they had): what both backends then match on ``sender_keys``.
    ``participant:`` resolves names when it reads the membership intervals (:mod:`search.memberships`)."""
    match node:
        case Filter("from", value):
            ids = [person.id for person in find_people(engine, value)]
            extra = tuple(Filter("from", actor_id) for actor_id in ids if actor_id != value)
            return Or((node, *extra)) if extra else node
        case Not(item):
            return Not(resolve_people(engine, item))
        case And(items):
            return And(tuple(resolve_people(engine, item) for item in items))
        case Or(items):
            return Or(tuple(resolve_people(engine, item) for item in items))
    return node


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
        return search_archive(
            engine, resolve_people(engine, request.node), after=after, size=request.size, zone=request.time_zone
        )
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
    return backend.search(replace(request, node=resolve_people(engine, request.node)))


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
    return every_hit(backend, resolve_people(engine, node), memberships=memberships_in(engine))
