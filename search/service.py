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

from archive.people import Person, TooManyPeople, find_people
from search.archive_search import needs_archive, search_archive
from search.backends import SearchBackend, every_hit
from search.memberships import Memberships, intervals_of
from search.query_ast import And, Filter, Node, Not, Or, UnsupportedQuery
from search.request import Cursor, EventsCursor, HitsCursor, RankCursor, SearchRequest
from search.results import ArchivePage, Hit, Page


class WrongCursor(ValueError):
    """A cursor of another kind than the search it is passed to (another query or sort)."""

    def __init__(self) -> None:
        super().__init__("cursor: it belongs to another query or sort")


MAX_PEOPLE = 1000
"""How many people one ``from:``/``participant:`` value may name: a name more common than that
is refused (422), to be searched by id or e-mail address instead."""


class TooCommonName(UnsupportedQuery):
    """A ``from:``/``participant:`` value naming more than :data:`MAX_PEOPLE` people."""


class PeopleLookup:
    """Who each ``from:``/``participant:`` value names (``archive.people.find_people``), asked of
    the archive once per value and search: the backends' ``from:`` ids, the ``participant:``
    intervals and the answer's list of people found all read the same resolution. Raises
    :class:`TooCommonName` for a value naming more than ``at_most`` people (None: no bound, for
    legal holds, which must keep every message of everyone a name ever named)."""

    def __init__(self, engine: Engine, at_most: int | None = MAX_PEOPLE) -> None:
        self.engine = engine
        self.at_most = at_most
        self.found: dict[str, tuple[Person, ...]] = {}

    def __call__(self, value: str) -> tuple[Person, ...]:
        people = self.found.get(value)
        if people is None:
            try:
                people = self.found[value] = tuple(find_people(self.engine, value, self.at_most))
            except TooManyPeople as error:
                raise TooCommonName(str(error)) from error
        return people


def memberships_in(engine: Engine, people: PeopleLookup | None = None) -> Memberships:
    """The archive's membership intervals, as the ``participant:`` filter reads them (the
    people a value names found by ``people``, or a lookup of their own)."""
    lookup = PeopleLookup(engine) if people is None else people
    return lambda actor: intervals_of(engine, actor, lookup)


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


def people_in(engine: Engine, node: Node, people: PeopleLookup | None = None) -> list[PeopleMatch]:
    """The people each ``from:``/``participant:`` value of ``node`` names, in query order (read
    from ``people``, the search's own lookup, when given)."""
    lookup = PeopleLookup(engine) if people is None else people
    seen: dict[tuple[str, str], PeopleMatch] = {}
    for found in _person_filters(node):
        key = (found.field, found.value)
        if key not in seen:
            seen[key] = PeopleMatch(found.field, found.value, lookup(found.value))
    return list(seen.values())


def resolve_people(engine: Engine, node: Node, people: PeopleLookup | None = None) -> Node:
    """``node`` with each ``from:`` value also matching the ids of everyone it names (by any
    name, e-mail address or id they had): what both backends then match on ``sender_keys``.
    ``participant:`` resolves names when it reads the membership intervals (:mod:`search.memberships`).
    Raises :class:`TooCommonName` for a value naming more than :data:`MAX_PEOPLE` people."""
    lookup = PeopleLookup(engine) if people is None else people
    match node:
        case Filter("from", value):
            ids = [person.id for person in lookup(value)]
            extra = tuple(Filter("from", actor_id) for actor_id in ids if actor_id != value)
            return Or((node, *extra)) if extra else node
        case Not(item):
            return Not(resolve_people(engine, item, lookup))
        case And(items):
            return And(tuple(resolve_people(engine, item, lookup) for item in items))
        case Or(items):
            return Or(tuple(resolve_people(engine, item, lookup) for item in items))
    return node


def search(
    backend: SearchBackend, engine: Engine, request: SearchRequest, people: PeopleLookup | None = None
) -> Page | ArchivePage:
    """One page of ``request``: archived events (oldest first) when the query names events the
    index does not hold, else hits from ``backend``; raises ``WrongCursor`` for a cursor of
    the other kind or order. The query's people are found by ``people`` (give the lookup to
    :func:`people_in` afterwards to say who they were without asking the archive again)."""
    people = PeopleLookup(engine) if people is None else people
    if answered_by_archive(request.node):
        match request.cursor:
            case None:
                after = None
            case EventsCursor(after):
                pass
            case _:
                raise WrongCursor()
        return search_archive(
            engine,
            resolve_people(engine, request.node, people),
            after=after,
            size=request.size,
            zone=request.time_zone,
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
        request = replace(request, memberships=memberships_in(engine, people))
    return backend.search(replace(request, node=resolve_people(engine, request.node, people)))


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
    """Every hit of ``node`` in (sent, message_id) order (the whole set: legal holds). A name is
    never refused here for naming too many people: a hold keeps everything it names (the bound is
    checked when the hold is placed, :func:`people_in`)."""
    people = PeopleLookup(engine, at_most=None)
    return every_hit(backend, resolve_people(engine, node, people), memberships=memberships_in(engine, people))
