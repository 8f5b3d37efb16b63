"""Which documents of a review set a reviewer sees: filters (reviewed or not, a batch, a
reviewer's batches, a near-duplicate group) and a query in the search language with ``tag:``.

**``tag:<name>`` and ``-tag:<name>``** filter by coding: a document is ``tag:hot`` when it is
coded Hot (names ignore case; a name the case has no tag of is refused). The rest of the query
runs through the search service over the archive, restricted to the set: a document matches a
condition (a word, a phrase, ``from:bob``, ...) when one of its messages (or its uploaded file) is
a hit. NOT, AND and OR combine conditions **per document** (``tag:hot OR acme``,
``-tag:responsive from:bob``): a room-day where one message says "offer" and another does not
matches ``offer`` and not ``-offer``, and ``acme offer`` matches a room-day saying each in a
different message. So a document matches a query or its negation, never both, and a reviewer
can narrow what a search found by how it was coded. We chose the archive's hits over the set's short summaries:
a summary is a few hundred characters, and a reviewer who searches ``acme`` in a set expects
the documents that say it, as the search page would find them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, func, select

from exports.selection import select_hits
from formats.time_zones import time_zone
from review.schema import review_batch_documents, review_batches, review_codings, review_documents, review_tags
from review.sets import ReviewSet
from search.backends import SearchBackend
from search.memberships import Memberships
from search.query_ast import And, Current, Filter, Node, Not, Or, UnsupportedQuery, Within, uses_tags
from search.query_parser import parse_query
from search.service import resolve_people


class DocumentFilter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    query: str | None = Field(default=None, max_length=4000, description="the search language, with tag:<name>")
    reviewed: bool | None = None
    batch_id: str | None = Field(default=None, max_length=36)
    reviewer: str | None = Field(default=None, max_length=200, description="documents of this reviewer's batches")
    dup_group: str | None = Field(default=None, max_length=1000)  # a document key, like the keys

    def describe(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ReviewDocument(BaseModel):
    key: str
    position: int
    kind: str
    room_id: str
    first_at: datetime
    last_at: datetime
    message_ids: list[str]
    senders: list[str]
    summary: str
    added_by: str
    source: dict[str, Any]
    reviewed_by: str | None
    reviewed_at: datetime | None
    dup_group: str | None
    dup_similarity: float | None
    tags: list[str] = Field(default_factory=list)


def _tagged(engine: Engine, review_set: ReviewSet) -> Callable[[str], set[str]]:
    def keys(name: str) -> set[str]:
        with engine.connect() as connection:
            tag_id = connection.execute(
                select(review_tags.c.id).where(
                    review_tags.c.case_id == review_set.case_id, func.lower(review_tags.c.name) == name.lower()
                )
            ).scalar()
            if tag_id is None:
                raise UnsupportedQuery(f"tag:{name}: the case has no tag {name!r}")
            return set(
                connection.execute(
                    select(review_codings.c.doc_key).where(
                        review_codings.c.review_set_id == review_set.id, review_codings.c.tag_id == tag_id
                    )
                ).scalars()
            )

    return keys


def _hits(
    engine: Engine, backend: SearchBackend, review_set: ReviewSet, memberships: Memberships | None
) -> Callable[[Node], set[str]]:
    by_room: dict[str, list[tuple[str, list[str]]]] = {}

    def keys(node: Node) -> set[str]:
        if not by_room:  # read once, and only for a query with more than tag: in it
            docs = review_documents.c
            with engine.connect() as connection:
                for key, room, ids in connection.execute(
                    select(docs.doc_key, docs.room_id, docs.message_ids).where(docs.review_set_id == review_set.id)
                ):
                    by_room.setdefault(room, []).append((key, ids))
        selection = select_hits(backend, resolve_people(engine, node), memberships, time_zone(review_set.time_zone))
        found: set[str] = set()
        for room in set(selection.rooms) & by_room.keys():
            hit_ids = selection.room_hits(room).message_ids
            found.update(key for key, ids in by_room[room] if not hit_ids.isdisjoint(ids))
        return found

    return keys


def evaluate(
    node: Node, universe: set[str], tagged: Callable[[str], set[str]], hits: Callable[[Node], set[str]]
) -> set[str]:
    """The documents of ``universe`` matching ``node`` (see the module doc): NOT, AND and OR are
    taken per document, every other condition is the archive's hits (``hits``) or the coding
    (``tagged``). A document therefore matches a query or its negation, never both, with or
    without a ``tag:`` in the query."""
    match node:
        case Filter("tag", name):
            return tagged(name) & universe
        case Not(item):
            return universe - evaluate(item, universe, tagged, hits)
        case And(items):
            found = set(universe)
            for item in items:
                found &= evaluate(item, found, tagged, hits)
            return found
        case Or(items):
            matched: set[str] = set()
            for item in items:
                matched |= evaluate(item, universe, tagged, hits)
            return matched
        case Current() | Within() if uses_tags(node):
            raise UnsupportedQuery("tag: cannot stand inside current:, attachment: or file:")
    return hits(node) & universe


def selected_keys(
    engine: Engine,
    backend: SearchBackend,
    review_set: ReviewSet,
    wanted: DocumentFilter,
    memberships: Memberships | None = None,
) -> list[str]:
    """The keys of the set's documents ``wanted`` keeps, in the set's order. A bad query raises
    :class:`~search.query_parser.QuerySyntaxError` or :class:`~search.query_ast.UnsupportedQuery`."""
    node = parse_query(wanted.query) if wanted.query and wanted.query.strip() else None
    docs = review_documents.c
    query = select(docs.doc_key).where(docs.review_set_id == review_set.id)
    if wanted.reviewed is not None:
        query = query.where(docs.reviewed_by.is_not(None) if wanted.reviewed else docs.reviewed_by.is_(None))
    if wanted.dup_group is not None:
        query = query.where(docs.dup_group == wanted.dup_group)
    if wanted.batch_id is not None or wanted.reviewer is not None:
        members = (
            select(review_batch_documents.c.doc_key)
            .join(review_batches, review_batches.c.id == review_batch_documents.c.batch_id)
            .where(review_batch_documents.c.review_set_id == review_set.id)
        )
        if wanted.batch_id is not None:
            members = members.where(review_batches.c.id == wanted.batch_id)
        if wanted.reviewer is not None:
            members = members.where(review_batches.c.reviewer == wanted.reviewer)
        query = query.where(docs.doc_key.in_(members))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(docs.position)).all()
    if node is None:
        return [row.doc_key for row in rows]
    universe = {row.doc_key for row in rows}
    matched = evaluate(node, universe, _tagged(engine, review_set), _hits(engine, backend, review_set, memberships))
    return [row.doc_key for row in rows if row.doc_key in matched]


def documents_of(engine: Engine, set_id: str, keys: Sequence[str]) -> list[ReviewDocument]:
    """The documents ``keys`` of the set with their tags, in the order of ``keys``."""
    if not keys:
        return []
    docs = review_documents.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(review_documents).where(docs.review_set_id == set_id, docs.doc_key.in_(list(keys)))
        ).all()
        tags: dict[str, list[str]] = {}
        for key, name in connection.execute(
            select(review_codings.c.doc_key, review_tags.c.name)
            .join(review_tags, review_tags.c.id == review_codings.c.tag_id)
            .where(review_codings.c.review_set_id == set_id, review_codings.c.doc_key.in_(list(keys)))
            .order_by(review_tags.c.name)
        ):
            tags.setdefault(key, []).append(name)
    by_key = {
        row.doc_key: ReviewDocument(key=row.doc_key, tags=tags.get(row.doc_key, []), **dict(row._mapping))
        for row in rows
    }
    return [by_key[key] for key in keys if key in by_key]


def neighbours(keys: Sequence[str], key: str) -> tuple[str | None, str | None]:
    """The documents before and after ``key`` in ``keys`` (None at the ends or when absent)."""
    try:
        index = list(keys).index(key)
    except ValueError:
        return None, None
    return (keys[index - 1] if index > 0 else None, keys[index + 1] if index + 1 < len(keys) else None)
