"""``POST /search``: the e-discovery query language over the embedded index, audited."""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from adapters.tantivy_schema import from_micros
from search_api import archive_queries, audit, cursors
from search_api.archive_search import EventsAfter, needs_archive, search_archive
from search_api.deps import AppServices, Services, allowed
from search_api.errors import ERROR_RESPONSES
from search_api.highlight import highlight_html
from search_api.query_ast import Node, UnsupportedQuery
from search_api.query_parser import MAX_QUERY_LENGTH, QuerySyntaxError, parse_query
from search_api.tantivy_backend import After
from search_api.tokens import Principal

router = APIRouter(prefix="/search", tags=["search"], responses=ERROR_RESPONSES)
log = logging.getLogger("archivist.api")
_MAX_REASON = 2000


class SearchRequest(BaseModel):
    # The length is checked by the parser (MAX_QUERY_LENGTH), not here, so that a query refused
    # for its length is audited like every other refused query.
    query: str = Field(
        min_length=1,
        examples=['"media player" from:crimsun sent>=2005-01-01'],
        description=f"at most {MAX_QUERY_LENGTH} characters",
        json_schema_extra={"maxLength": MAX_QUERY_LENGTH},
    )
    sort: Literal["time", "relevance"] = "time"
    size: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(
        default=None,
        max_length=2000,
        description="next_cursor of the previous page of the same query and sort",
    )
    facets: bool = Field(
        default=True, description="count every hit per room, sender and day (false: skip it, for speed)"
    )


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
    facets: dict[str, dict[str, int]] = Field(description="room, sender and day counts (when asked for)")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")


@router.post("", response_model=SearchResults, summary="Search the archive")
async def search(
    request: SearchRequest,
    services: Services,
    caller: Annotated[Principal, Depends(allowed("search"))],
) -> SearchResults:
    """Every hit is counted in ``total``; ``hits`` is one page (oldest first, or best first by
    relevance); paging with ``next_cursor`` returns every hit exactly once, even when messages
    share a timestamp. The search is written to the audit log with its query and hit count."""
    # The blocking part (search, then the durable audit entry) in one trip to the thread pool; the
    # answer is validated and serialised back here. A plain ``def`` route costs a second trip:
    # FastAPI validates a sync route's return value in the thread pool too.
    return await run_in_threadpool(_search, request, services, caller)


def _search(request: SearchRequest, services: AppServices, caller: Principal) -> SearchResults:
    """The answer, returned only once its audit entry is committed."""
    try:
        node = parse_query(request.query)
        cursor = _cursor(request)
        if needs_archive(node):
            results = _archive_results(services, request, node, cursor)
        else:
            results = _index_results(services, request, node, cursor)
    except (QuerySyntaxError, UnsupportedQuery, HTTPException) as error:
        # A refused search is still a search someone tried: it is audited with the reason.
        reason = error.detail if isinstance(error, HTTPException) else str(error)
        status = error.status_code if isinstance(error, HTTPException) else 422
        _audit_failure(services, caller, request, "search_refused", status, reason)
        raise
    except Exception as error:
        # A search the backend failed to answer (the caller gets a 500) is audited too.
        _audit_failure(services, caller, request, "search_failed", 500, f"{type(error).__name__}: {error}")
        raise
    audit.record(
        services.engine,
        caller,
        "search",
        {"query": request.query, "sort": request.sort, "hits": results.total, "page_after": request.cursor},
    )
    return results


def _audit_failure(
    services: AppServices, caller: Principal, request: SearchRequest, action: str, status: int, reason: object
) -> None:
    """The audit entry of a search that was not answered: who, what query, which status and why.
    A query too long to search is recorded up to the limit, with its length."""
    details: dict[str, object] = {
        "query": request.query[:MAX_QUERY_LENGTH],
        "sort": request.sort,
        "page_after": request.cursor,
        "status": status,
        "reason": reason if isinstance(reason, dict) else str(reason)[:_MAX_REASON],
    }
    if len(request.query) > MAX_QUERY_LENGTH:
        details["query_length"] = len(request.query)
    try:
        audit.record(services.engine, caller, action, details)
    except Exception:  # the search's own error is what the caller must see; this one is logged
        log.exception("could not audit a %s", action)


def _cursor(request: SearchRequest) -> cursors.Cursor | None:
    if request.cursor is None:
        return None
    try:
        return cursors.decode(request.cursor, query=request.query, sort=request.sort)
    except cursors.BadCursor as error:
        raise HTTPException(status_code=422, detail={"message": str(error)}) from error


def _wrong_kind() -> HTTPException:
    return HTTPException(status_code=422, detail={"message": "cursor: it belongs to another query or sort"})


def _encode(request: SearchRequest, cursor: cursors.Cursor | None) -> str | None:
    if cursor is None:
        return None
    return cursors.encode(cursor, query=request.query, sort=request.sort)


def _index_results(
    services: AppServices, request: SearchRequest, node: Node, cursor: cursors.Cursor | None
) -> SearchResults:
    by_relevance = request.sort == "relevance"
    after: After | None = None
    offset = 0
    match cursor:
        case None:
            pass
        case cursors.RankCursor(offset) if by_relevance:
            pass
        case cursors.HitsCursor(after) if not by_relevance:
            pass
        case _:
            raise _wrong_kind()
    page = services.search_backend().search(
        node,
        size=request.size,
        by_relevance=by_relevance,
        memberships=lambda actor: archive_queries.intervals_of(services.engine, actor),
        after=after,
        offset=offset,
        facets=request.facets,
    )
    if by_relevance:
        following = offset + len(page.hits)
        more = bool(page.hits) and following < page.total
        next_cursor = _encode(request, cursors.RankCursor(following) if more else None)
    else:
        next_cursor = _encode(request, cursors.HitsCursor(page.next_after) if page.next_after else None)
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
                highlight=highlight_html(hit.highlight, hit.text),
            )
            for hit in page.hits
        ],
        facets=page.facets,
        next_cursor=next_cursor,
    )


def _archive_results(
    services: AppServices, request: SearchRequest, node: Node, cursor: cursors.Cursor | None
) -> SearchResults:
    after: EventsAfter | None = None
    match cursor:
        case None:
            pass
        case cursors.EventsCursor(after):
            pass
        case _:
            raise _wrong_kind()
    page = search_archive(services.engine, node, after=after, size=request.size)
    return SearchResults(
        total=page.total,
        hits=[
            SearchHit(
                event_id=event["event_id"],
                type=event["event_type"],
                message_id=event["message_id"],
                room=event["room_id"],
                actor=event["actor_id"],
                occurred_at=event["occurred_at"],
                text=event["text"],
                deleted=False,
                highlight=html.escape(event["text"]),
            )
            for event in page.events
        ],
        facets={},
        next_cursor=_encode(request, cursors.EventsCursor(page.next_after) if page.next_after else None),
    )
