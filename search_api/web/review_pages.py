"""The review pages: a case's review sets (``/cases/{id}/review``), one set
(``/review/{id}``: its documents, filters, bulk coding, documents added from a search, batches
and progress) and the review screen (``/review/{id}/doc``, :mod:`search_api.web.review_screen`).

Every change runs through :mod:`review` as the API's does, audited the same way; reading needs
``review_read``, changing ``review_write`` (the API's roles)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from archive import audit
from cases.store import CaseStore
from exports.documents import DOCUMENT_UNITS
from formats.time_zones import time_zone
from review import adding, batches, coding, queries, tags
from review.errors import ReviewConflict, ReviewNotFound
from review.sets import ReviewSet, ReviewSetSpec, create_set, get_set, sets_of
from search.query_ast import UnsupportedQuery
from search.query_parser import QuerySyntaxError, parse_query
from search.service import TooCommonName, memberships_in
from search_api.deps import AppServices
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()
PAGE = 100
FILTER_FIELDS = ("q", "reviewed", "batch", "reviewer")
REFUSED = (
    ReviewNotFound,
    ReviewConflict,
    UnsupportedQuery,
    QuerySyntaxError,
    TooCommonName,
    ValidationError,
    ValueError,
)


def problem(request: Request, user: WebUser, error: Exception) -> Response:
    """A refusal as a page: 404 for what is not there, 409 for a clash, 422 for bad input."""
    status = 404 if isinstance(error, ReviewNotFound) else 409 if isinstance(error, ReviewConflict) else 422
    message = getattr(error, "message", None) or str(error)
    if isinstance(error, ValidationError):
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
    title = {404: "Not found", 409: "Not done", 422: "Not done"}[status]
    return render(request, "error.html", {"title": title, "message": message}, user=user, status_code=status)


def document_filter(values: dict[str, str]) -> queries.DocumentFilter:
    """The filter a page's ``q``, ``reviewed`` (yes/no), ``batch`` and ``reviewer`` name."""
    reviewed = {"yes": True, "no": False}.get(values.get("reviewed", ""))
    return queries.DocumentFilter(
        query=values.get("q") or None,
        reviewed=reviewed,
        batch_id=values.get("batch") or None,
        reviewer=values.get("reviewer") or None,
    )


def filter_values(source: Any) -> dict[str, str]:
    return {name: str(source.get(name, "")).strip() for name in FILTER_FIELDS if str(source.get(name, "")).strip()}


def filter_query(values: dict[str, str]) -> str:
    return urlencode(values)


def keys_of(app: AppServices, review_set: ReviewSet, wanted: queries.DocumentFilter) -> list[str]:
    return queries.selected_keys(app.engine, app.search_backend(), review_set, wanted, memberships_in(app.engine))


# --- a case's review sets ------------------------------------------------------------------------


@router.get("/cases/{case_id}/review", include_in_schema=False)
async def case_sets(request: Request, case_id: str) -> Response:
    user = await gate(request, "review_read")
    if not isinstance(user, WebUser):
        return user
    app = services(request)
    case = await run_in_threadpool(CaseStore(app.engine).get_case, case_id)
    if case is None:
        return problem(request, user, ReviewNotFound(f"No case {case_id!r}."))
    found = await run_in_threadpool(sets_of, app.engine, case_id)
    context = {
        "title": f"Review sets: {case.name}",
        "case": case,
        "sets": found,
        "units": DOCUMENT_UNITS,
        "may_write": user.may("review_write"),
    }
    return render(request, "review_sets.html", context, user=user)


@router.post("/cases/{case_id}/review", include_in_schema=False)
async def new_set(request: Request, case_id: str) -> Response:
    answer = await posted(request, "review_write")
    if isinstance(answer, Response):
        return answer
    user, fields = answer

    def make() -> ReviewSet:
        spec = ReviewSetSpec(
            name=first(fields, "name"), unit=first(fields, "unit") or "message", time_zone=first(fields, "zone") or None
        )
        made = create_set(services(request).engine, case_id, spec, coding.who(user.principal))
        tags.ensure_defaults(services(request).engine, case_id)
        audit.record(
            services(request).engine, user.principal, "review_set_create", {"after": made.model_dump(mode="json")}
        )
        return made

    try:
        made = await run_in_threadpool(make)
    except REFUSED as error:
        return problem(request, user, error)
    return RedirectResponse(f"/review/{made.id}", status_code=303)


# --- one set -------------------------------------------------------------------------------------


def _set_view(app: AppServices, user: WebUser, set_id: str, values: dict[str, str], offset: int) -> dict[str, Any]:
    review_set = get_set(app.engine, set_id)
    case = CaseStore(app.engine).get_case(review_set.case_id)
    keys = keys_of(app, review_set, document_filter(values))
    shown = queries.documents_of(app.engine, set_id, keys[offset : offset + PAGE])
    tag_set = tags.tag_set(app.engine, review_set.case_id)
    return {
        "title": f"Review set: {review_set.name}",
        "set": review_set,
        "case": case,
        "documents": shown,
        "total": len(keys),
        "offset": offset,
        "page": PAGE,
        "first_key": keys[0] if keys else None,
        "filter": values,
        "filter_query": filter_query(values),
        "tag_set": tag_set,
        "batches": batches.batches_of(app.engine, set_id),
        "reviewers": batches.progress_by_reviewer(app.engine, set_id),
        "me": coding.who(user.principal),
        "doc_link": lambda key: f"/review/{set_id}/doc?" + urlencode({"key": key, **values}),
        "page_link": lambda start: f"/review/{set_id}?" + urlencode({"offset": start, **values}),
        "may_write": user.may("review_write"),
    }


@router.get("/review/{set_id}", include_in_schema=False)
async def set_page(request: Request, set_id: str, offset: int = 0) -> Response:
    user = await gate(request, "review_read")
    if not isinstance(user, WebUser):
        return user
    values = filter_values(request.query_params)
    try:
        view = await run_in_threadpool(_set_view, services(request), user, set_id, values, max(0, offset))
    except REFUSED as error:
        return problem(request, user, error)

    return render(request, "review_set.html", {**view, "zone": time_zone(view["set"].time_zone)}, user=user)


@router.post("/review/{set_id}/add", include_in_schema=False)
async def add_search(request: Request, set_id: str) -> Response:
    answer = await posted(request, "review_write")
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    query = first(fields, "query")
    app = services(request)

    def add() -> adding.Added:
        node = parse_query(query)
        added = adding.add_from_search(
            app.engine,
            app.search_backend(),
            set_id,
            node,
            query,
            coding.who(user.principal),
            memberships_in(app.engine),
        )
        audit.record(
            app.engine,
            user.principal,
            "review_documents_add",
            {"review_set_id": set_id, "how": "search", "query": query, "added": added.added, "already": added.already},
        )
        return added

    try:
        await run_in_threadpool(add)
    except REFUSED as error:
        return problem(request, user, error)
    return RedirectResponse(f"/review/{set_id}", status_code=303)


@router.post("/review/{set_id}/code", include_in_schema=False)
async def bulk_code(request: Request, set_id: str) -> Response:
    """The bulk coding form: the ticked documents, or every document the filter keeps."""
    answer = await posted(request, "review_write")
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    app = services(request)
    values = {name: first(fields, name) for name in FILTER_FIELDS if first(fields, name)}
    reviewed = {"yes": True, "no": False}.get(first(fields, "mark"))

    def code() -> coding.Coded:
        review_set = get_set(app.engine, set_id)
        change = coding.CodingChange(
            add=[first(fields, "add")] if first(fields, "add") else [],
            remove=[first(fields, "remove")] if first(fields, "remove") else [],
            note=first(fields, "note") or None,
            reviewed=reviewed,
        )
        if first(fields, "scope") == "all":
            wanted = document_filter(values)
            keys, how = keys_of(app, review_set, wanted), wanted.describe()
        else:
            keys = [key for key in fields.get("key", []) if key]
            if not keys:
                raise ReviewConflict("tick the documents to code, or choose every document the filter keeps")
            how = {"keys": len(keys)}
        return coding.code(app.engine, user.principal, review_set, keys, change, how)

    try:
        await run_in_threadpool(code)
    except REFUSED as error:
        return problem(request, user, error)
    suffix = f"?{filter_query(values)}" if values else ""
    return RedirectResponse(f"/review/{set_id}{suffix}", status_code=303)


@router.post("/review/{set_id}/batches", include_in_schema=False)
async def assign_batch(request: Request, set_id: str) -> Response:
    answer = await posted(request, "review_write")
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    app = services(request)

    def assign() -> batches.Batch:
        get_set(app.engine, set_id)
        size = first(fields, "size")
        spec = batches.BatchSpec(reviewer=first(fields, "reviewer"), size=int(size) if size.isdigit() else 0)
        batch = batches.assign(app.engine, set_id, spec, coding.who(user.principal))
        audit.record(
            app.engine,
            user.principal,
            "review_batch_assign",
            {"review_set_id": set_id, "after": batch.model_dump(mode="json")},
        )
        return batch

    try:
        await run_in_threadpool(assign)
    except REFUSED as error:
        return problem(request, user, error)
    return RedirectResponse(f"/review/{set_id}#batches", status_code=303)
