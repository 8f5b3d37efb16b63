"""``/search``: the query box, filters that write into the query, hits, facets and paging (20,
50, 100 or 500 hits a page, kept across pages), and "Produce these results": the whole hit set
of the search (not the page) exported into a case, as ``POST /api/v1/search/export`` does.

Each search runs through the API's own search (:func:`search_api.search_services.audited_search`),
so it is parsed, executed and audited exactly as the API does it; a production runs through
:func:`exports.service.start_export`, checked and audited as over the API."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cases.store import CaseStore
from exports import service as export_service
from exports.registry import FORMAT_NAMES
from formats.time_zones import local_date
from search.query_ast import UnsupportedQuery
from search.query_parser import QuerySyntaxError
from search_api import export_jobs, read_audit
from search_api.search_services import HitAttachment, SearchHit, SearchRequest, audited_search
from search_api.web import timeline
from search_api.web.auth import first, posted
from search_api.web.case_forms import REFUSALS, Problem, problem_of
from search_api.web.core import WebUser, gate, render, safe_highlight, services, viewer_zone
from search_api.web.forms import recipient_list

router = APIRouter()
PAGE_SIZE = 20
PAGE_SIZES = (20, 50, 100, 500)
"""The page sizes a reader may choose (``size``)."""
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


def _link(q: str, sort: str, cursor: str | None = None, back: list[str] | None = None, size: int = PAGE_SIZE) -> str:
    params: list[tuple[str, str]] = [("q", q), ("sort", sort)]
    if size != PAGE_SIZE:
        params.append(("size", str(size)))
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
    size: str = "",
) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    context: dict[str, Any] = {"title": "Search", "q": q, "sort": sort, "results": None, "problem": None}
    page_size = _page_size(size)
    if page_size is None:
        context.update(size=PAGE_SIZE, problem={"message": f"The page size must be 20, 50, 100 or 500, not {size!r}."})
        return await _page(request, user, context, 422)
    context["size"] = page_size
    if room or person or since or until:
        return RedirectResponse(_link(compose(q, room, person, since, until), sort, size=page_size), status_code=303)
    status = 200
    if q.strip():
        status = await _run(request, user, q, sort, cursor, back or [], context)
    return await _page(request, user, context, status)


def _page_size(size: str) -> int | None:
    """The page size asked for (20 when none), or None when it is not one of :data:`PAGE_SIZES`."""
    if not size:
        return PAGE_SIZE
    # Compared as text: never int() of what the reader sent (5,000 digits is a ValueError).
    return next((choice for choice in PAGE_SIZES if size == str(choice)), None)


async def _page(request: Request, user: WebUser, context: dict[str, Any], status: int) -> Response:
    """The search page; with the production form's cases when the reader may export."""
    context.setdefault("size", PAGE_SIZE)
    context["page_sizes"] = PAGE_SIZES
    context["may_export"] = user.may("export")
    if context["may_export"] and context.get("results"):
        found = await run_in_threadpool(CaseStore(services(request).engine).cases, include_closed=False)
        context["cases"] = found
        context["formats"] = FORMAT_NAMES
        context.setdefault("produce", {})
    return render(request, "search.html", context, user=user, status_code=status)


@router.post("/search/produce", include_in_schema=False)
async def produce(request: Request) -> Response:
    """Export the whole hit set of the search (the query in the reader's zone) into a case."""
    found = await posted(request, "export")
    if isinstance(found, Response):
        return found
    user, fields = found
    form: dict[str, Any] = {
        "q": first(fields, "q"),
        "sort": first(fields, "sort") or "time",
        "time_zone": first(fields, "time_zone"),
        "case_id": first(fields, "case_id"),
        "unit": first(fields, "unit") or "conversation",
        "formats": fields.get("formats", []),
        "recipients": first(fields, "recipients"),
        "bates_prefix": first(fields, "bates_prefix").strip(),
        "bates_start": first(fields, "bates_start").strip(),
    }
    app = services(request)
    try:
        if not form["case_id"]:
            raise export_service.NotExportable("choose the case the results are produced into")
        order = export_service.ExportOrder.model_validate(
            {
                "query": form["q"],
                "time_zone": form["time_zone"] or viewer_zone(request).key,
                "case_id": form["case_id"],
                "unit": form["unit"],
                "formats": form["formats"],
                "recipients": recipient_list(form["recipients"]),
                "bates_prefix": form["bates_prefix"] or None,
                "bates_start": form["bates_start"] or None,
            }
        )
        jobs = export_jobs.jobs_of(request, app)
        await run_in_threadpool(export_service.start_export, app.engine, jobs, user.principal, order, source="search")
    except REFUSALS as error:
        problem, status_code = problem_of(error)
        return await _refused_production(request, user, form, problem, status_code)
    return RedirectResponse(f"/cases/{form['case_id']}#productions", status_code=303)


async def _refused_production(
    request: Request, user: WebUser, form: dict[str, Any], problem: Problem, status_code: int
) -> Response:
    """The search again, with why the production was refused next to its form and what was typed."""
    sort = form["sort"] if form["sort"] in ("time", "relevance") else "time"
    context: dict[str, Any] = {"title": "Search", "q": form["q"], "sort": sort, "results": None, "problem": None}
    context.update(size=PAGE_SIZE, produce=form, produce_problem=problem)
    if form["q"].strip():
        await _run(request, user, form["q"], sort, None, [], context)
    return await _page(request, user, context, status_code)


async def _run(
    request: Request, user: WebUser, q: str, sort: str, cursor: str | None, back: list[str], context: dict[str, Any]
) -> int:
    """Search and fill ``context``; the status to answer with (422 for a refused query)."""
    size: int = context.get("size", PAGE_SIZE)
    try:
        # The reader's zone (checked by the gate): sent: dates and the day facet are its days.
        zone = viewer_zone(request).key
        asked = SearchRequest(query=q, sort=sort, size=size, cursor=cursor or None, facets=True, time_zone=zone)
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
    shown_from = len(back) * size + 1 if cursor else 1
    context["results"] = {
        "total": results.total,
        "first": shown_from,
        "last": shown_from + len(results.hits) - 1,
        "hits": [_item(hit, viewer_zone(request)) for hit in results.hits],
        "people": results.people,
        "time_zone": results.time_zone,
        "facets": [
            {
                "name": name,
                "values": [
                    {
                        "value": value,
                        "count": count,
                        "href": _link(f"{q} {FACET_FILTERS[name]}:{quoted(value)}", sort, size=size),
                    }
                    for value, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
                ],
            }
            for name, counts in results.facets.items()
            if name in FACET_FILTERS and counts
        ],
        "next": _link(q, sort, results.next_cursor, [*back, cursor or ""], size) if results.next_cursor else None,
        "previous": _link(q, sort, back[-1] or None, back[:-1], size) if cursor else None,
        "other_sort": _link(q, "relevance" if sort == "time" else "time", size=size),
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
