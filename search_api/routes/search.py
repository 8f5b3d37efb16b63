"""``POST /search``: the e-discovery query language over the embedded index, audited."""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from archive.principals import Principal, authenticate
from search_api.deps import PERMISSIONS, Services, allowed, services_of
from search_api.errors import ERROR_RESPONSES
from search_api.search_services import SearchRequest, SearchResults, audited_search, record_failure


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
    record_failure(services, caller, "search_refused", query if isinstance(query, str) else None, 422, problems, {})


router = APIRouter(prefix="/search", tags=["search"], responses=ERROR_RESPONSES, route_class=_AuditedSearchRoute)


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
    return await run_in_threadpool(audited_search, request, services, caller)
