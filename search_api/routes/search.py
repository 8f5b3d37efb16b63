"""``POST /search``: the e-discovery query language over the embedded index, audited."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from adapters.tantivy_schema import from_micros
from search_api import archive_queries, audit
from search_api.archive_search import needs_archive, search_archive
from search_api.deps import AppServices, Services, allowed
from search_api.query_ast import Node
from search_api.query_parser import parse_query
from search_api.tokens import Principal

router = APIRouter(prefix="/search", tags=["search"])


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000, examples=['"media player" from:crimsun sent>=2005-01-01'])
    sort: Literal["time", "relevance"] = "time"
    size: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")


class SearchHit(BaseModel):
    event_id: str
    type: str = "post"
    message_id: str | None
    room: str
    actor: str
    occurred_at: datetime
    text: str
    deleted: bool
    highlight: str


class SearchResults(BaseModel):
    total: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    next_cursor: str | None


# Offsets beyond 10^12 hits cannot come from this API and would overflow the index's integers.
_MAX_CURSOR_DIGITS = 12


def _cursor_offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > _MAX_CURSOR_DIGITS:
        raise HTTPException(status_code=422, detail={"message": "cursor: not a cursor this API returned"})
    return int(cursor)


@router.post("", response_model=SearchResults, summary="Search the archive")
def search(
    request: SearchRequest,
    services: Services,
    caller: Annotated[Principal, Depends(allowed("search"))],
) -> SearchResults:
    """Every hit is counted in ``total``; ``hits`` is one page, oldest first; the search is
    written to the audit log with its query and hit count."""
    node = parse_query(request.query)
    offset = _cursor_offset(request.cursor)
    results = (
        _archive_results(services, node, offset, request.size)
        if needs_archive(node)
        else _index_results(services, node, offset, request.size, by_relevance=request.sort == "relevance")
    )
    audit.record(
        services.engine,
        caller,
        "search",
        {"query": request.query, "sort": request.sort, "hits": results.total, "offset": offset},
    )
    return results


def _next_cursor(offset: int, size: int, total: int) -> str | None:
    following = offset + size
    return str(following) if following < total else None


def _index_results(services: AppServices, node: Node, offset: int, size: int, *, by_relevance: bool) -> SearchResults:
    page = services.search_backend().search(
        node,
        offset=offset,
        size=size,
        by_relevance=by_relevance,
        memberships=lambda actor: archive_queries.intervals_of(services.engine, actor),
    )
    return SearchResults(
        total=page.total,
        hits=[
            SearchHit(
                event_id=hit.event_id,
                message_id=hit.message_id,
                room=hit.room_id,
                actor=hit.sender_id,
                occurred_at=from_micros(hit.sent),
                text=hit.text,
                deleted=hit.deleted,
                highlight=hit.highlight or html.escape(hit.text),
            )
            for hit in page.hits
        ],
        facets=page.facets,
        next_cursor=_next_cursor(offset, size, page.total),
    )


def _archive_results(services: AppServices, node: Node, offset: int, size: int) -> SearchResults:
    page = search_archive(services.engine, node, offset=offset, size=size)
    return SearchResults(
        total=page.total,
        hits=[
            SearchHit(
                event_id=event["event_id"],
                type=event["event_type"],
                message_id=None,
                room=event["room_id"],
                actor=event["actor_id"],
                occurred_at=event["occurred_at"],
                text="",
                deleted=False,
                highlight="",
            )
            for event in page.events
        ],
        facets={},
        next_cursor=_next_cursor(offset, size, page.total),
    )
