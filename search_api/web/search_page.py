"""``/search``: the query box, filters that write into the query, hits, facets and paging.

Each search runs through the API's own search (:func:`search_api.search_services.audited_search`),
so it is parsed, executed and audited exactly as the API does it."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from formats.time_zones import local_date
from search.query_ast import UnsupportedQuery
from search.query_parser import QuerySyntaxError
from search_api import read_audit
from search_api.search_services import HitAttachment, SearchHit, SearchRequest, audited_search
from search_api.web import timeline
from search_api.web.core import WebUser, gate, render, safe_highlight, services, viewer_zone

router = APIRouter()
PAGE_SIZE = 20
MAX_BACK = 30
"""Cursors of earlier pages carried in the links (past that, 'Previous' returns to page one)."""
FACET_FILTERS = {"room": "in", "sender": "from", "day": "sent"}


def quoted(value: str) -> str:
    """A filter value as the query language takes it: bare when it can be, else in quotes."""
    value = value.replace('"', "").strip()
    bare = value and all(ch.isalnum() or ch in ":._@#-+" for ch in value) and not value.endswith("*")
    return value if bare else f'"{value}"'


def compose(q: str, room: str, person: str, since: str, until: str) -> str:
    """The query with the filter fields written into it."""
    parts = [q.strip()]
    if room.strip():
        parts.append(f"in:{quoted(room)}")
    if person.strip():
        parts.append(f"from:{quoted(person)}")
    if since.strip():
        parts.append(f"sent>={since.strip()}")
    if until.strip():
        parts.append(f"sent<={until.strip()}")
    return " ".join(part for part in parts if part)


def _link(q: str, sort: str, cursor: str | None = None, back: list[str] | None = None) -> str:
    params: list[tuple[str, str]] = [("q", q), ("sort", sort)]
    if cursor:
        params.append(("cursor", cursor))
    params += [("back", item) for item in back or []]
    return "/search?" + urlencode(params)


@router.get("/search", include_in_schema=False)
async def search_page(
    request: Request,
    q: str = "",
    sort: Literal["time", "relevance"] = "time",
    cursor: str | None = None,
    back: Annotated[list[str] | None, Query()] = None,
    room: str = "",
    person: str = "",
    since: str = "",
    until: str = "",
) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    if room or person or since or until:
        return RedirectResponse(_link(compose(q, room, person, since, until), sort), status_code=303)
    context: dict[str, Any] = {"title": "Search", "q": q, "sort": sort, "results": None, "problem": None}
    if q.strip():
        status = await _run(request, user, q, sort, cursor, back or [], context)
        return render(request, "search.html", context, user=user, status_code=status)
    return render(request, "search.html", context, user=user)


async def _run(
    request: Request, user: WebUser, q: str, sort: str, cursor: str | None, back: list[str], context: dict[str, Any]
) -> int:
    """Search and fill ``context``; the status to answer with (422 for a refused query)."""
    try:
        # The reader's zone (checked by the gate): sent: dates and the day facet are its days.
        zone = viewer_zone(request).key
        asked = SearchRequest(query=q, sort=sort, size=PAGE_SIZE, cursor=cursor or None, facets=True, time_zone=zone)
    except ValidationError as error:
        problems = (f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        context["problem"] = {"message": "; ".join(problems)}
        return 422
    try:
        results = await run_in_threadpool(audited_search, asked, services(request), user.principal)
    except (QuerySyntaxError, UnsupportedQuery, HTTPException) as error:
        read_audit.audited()  # the search audited the refused search
        return _refused(error, context)
    read_audit.audited()  # and the search it answered

    back = back[-MAX_BACK:]
    first = len(back) * PAGE_SIZE + 1 if cursor else 1
    context["results"] = {
        "total": results.total,
        "first": first,
        "last": first + len(results.hits) - 1,
        "hits": [_item(hit, viewer_zone(request)) for hit in results.hits],
        "people": results.people,
        "time_zone": results.time_zone,
        "facets": [
            {
                "name": name,
                "values": [
                    {"value": value, "count": count, "href": _link(f"{q} {FACET_FILTERS[name]}:{quoted(value)}", sort)}
                    for value, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
                ],
            }
            for name, counts in results.facets.items()
            if name in FACET_FILTERS and counts
        ],
        "next": _link(q, sort, results.next_cursor, [*back, cursor or ""]) if results.next_cursor else None,
        "previous": _link(q, sort, back[-1] or None, back[:-1]) if cursor else None,
        "other_sort": _link(q, "relevance" if sort == "time" else "time"),
    }
    return 200


def attachment_state(file: HitAttachment) -> str:
    """How far the file's text got, as the index knows it."""
    if file.extraction == "pending":
        return "text pending"
    if file.extraction == "extracted":
        cut = ", truncated" if file.truncated else ""
        return f"text extracted ({file.extractor} {file.extractor_version}{cut})"
    return f"no text: {file.reason or file.extraction}"


def _item(hit: SearchHit, zone: ZoneInfo) -> dict[str, Any]:
    """A hit as the page lists it; a file hit with its attachment, excerpt and time line link."""
    item: dict[str, Any] = {"hit": hit, "highlight": safe_highlight(hit.highlight)}
    file = hit.attachment
    if file is not None:
        day = local_date(hit.occurred_at, zone).isoformat()
        item["file"] = {
            "name": file.name,
            "link": file.link,
            "size": file.size,
            "type": file.file_type or file.content_type,
            "sha256": file.sha256,
            "state": attachment_state(file),
            "excerpt": safe_highlight(file.excerpt) if file.excerpt else None,
            "timeline": timeline.link({"room": hit.room, "day": day, "hit": hit.event_id}) + f"#event-{hit.event_id}",
        }
    return item


def _refused(error: QuerySyntaxError | UnsupportedQuery | HTTPException, context: dict[str, Any]) -> int:
    """Fill ``context`` with why the search refused the query; the status to answer."""
    if isinstance(error, QuerySyntaxError):
        context["problem"] = {"message": error.message, "position": error.position}
        return 422
    if isinstance(error, UnsupportedQuery):
        context["problem"] = {"message": str(error)}
        return 422
    detail = error.detail
    context["problem"] = {"message": detail.get("message") if isinstance(detail, dict) else str(detail)}
    return error.status_code
