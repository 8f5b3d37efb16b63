"""``POST /search``: the e-discovery query language over the embedded index, audited."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from archive import audit
from archive.principals import Principal, authenticate
from search.archive_search import EventsAfter, needs_archive, search_archive
from search.highlight import highlight_html
from search.memberships import intervals_of
from search.query_ast import Node, UnsupportedQuery
from search.query_parser import MAX_QUERY_LENGTH, QuerySyntaxError, parse_query
from search.tantivy_backend import After
from search.tantivy_schema import from_micros
from search_api import cursors
from search_api.deps import PERMISSIONS, AppServices, Services, allowed, services_of
from search_api.errors import ERROR_RESPONSES


class _AuditedSearchRoute(APIRoute):
    """Audits a search whose body FastAPI refuses before the route runs (``size: 0``, a query
    that is not a string, JSON that does not parse), when the caller may search: the token is
    checked here because a body that does not parse is refused before any dependency runs."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def audited(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as error:
                body = await request.body()
                await run_in_threadpool(_audit_invalid, request, body, error)
                raise

        return audited


def _audit_invalid(request: Request, body: bytes, error: RequestValidationError) -> None:
    services = services_of(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    caller = authenticate(services.engine, token.strip()) if scheme.lower() == "bearer" else None
    if caller is None or caller.role not in PERMISSIONS["search"]:
        return  # refused as unauthenticated or forbidden, not a search
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        parsed = None
    query = parsed.get("query") if isinstance(parsed, dict) else None
    problems = "; ".join(
        f"{'.'.join(str(p) for p in problem['loc'] if p != 'body') or 'body'}: {problem['msg']}"
        for problem in error.errors()
    )
    _record_failure(services, caller, "search_refused", query if isinstance(query, str) else None, 422, problems, {})


router = APIRouter(prefix="/search", tags=["search"], responses=ERROR_RESPONSES, route_class=_AuditedSearchRoute)
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
    """The audit entry of a search that was not answered: who, what query, which status and why."""
    _record_failure(
        services, caller, action, request.query, status, reason, {"sort": request.sort, "page_after": request.cursor}
    )


def _record_failure(
    services: AppServices,
    caller: Principal,
    action: str,
    query: str | None,
    status: int,
    reason: object,
    extra: dict[str, object],
) -> None:
    """A query too long to search is recorded up to the limit, with its length."""
    details: dict[str, object] = {
        "query": None if query is None else query[:MAX_QUERY_LENGTH],
        **extra,
        "status": status,
        "reason": reason if isinstance(reason, dict) else str(reason)[:_MAX_REASON],
    }
    if query is not None and len(query) > MAX_QUERY_LENGTH:
        details["query_length"] = len(query)
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
        memberships=lambda actor: intervals_of(services.engine, actor),
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
