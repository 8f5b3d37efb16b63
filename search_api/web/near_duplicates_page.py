"""``/cases/{case_id}/review/{set_id}/near-duplicates``: a review set's near-duplicate groups,
largest first, each member linked to the review screen (``/review/{set_id}/doc?key=...``),
and (for ``review_write``) the form that computes them again at a chosen threshold
(:func:`review.near_duplicates.compute_audited`, the API's own, stored and audited as over the
API). Reading needs ``review_read``."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from review import near_duplicates
from search_api.web.auth import first, posted
from search_api.web.case_view import problem_page
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()
PER_PAGE = 25
MEMBERS = 50


def review_href(set_id: str, doc_key: str) -> str:
    """The review screen at one document of the set (the review pages' ``/review/{set_id}/doc``)."""
    return f"/review/{quote(set_id, safe='')}/doc?{urlencode({'key': doc_key})}"


def _page_number(request: Request) -> int:
    asked = request.query_params.get("page", "1")
    return max(1, int(asked)) if asked.isdigit() else 1


def _number(text: str) -> str:
    """``text`` when it is a number (the threshold of the run just made), else ''."""
    try:
        float(text)
    except ValueError:
        return ""
    return text


def _belongs(request: Request, case_id: str, set_id: str) -> bool:
    try:
        return near_duplicates.review_set_case(services(request).engine, set_id) == case_id
    except near_duplicates.ReviewSetMissing:
        return False


async def _show(
    request: Request, user: WebUser, case_id: str, set_id: str, problem: str | None = None, threshold: str = ""
) -> Response:
    if not await run_in_threadpool(_belongs, request, case_id, set_id):
        return problem_page(request, user, "No such review set", f"Case {case_id} has no review set {set_id}.", 404)
    number = _page_number(request)
    found = await run_in_threadpool(
        near_duplicates.groups,
        services(request).engine,
        set_id,
        limit=PER_PAGE,
        offset=(number - 1) * PER_PAGE,
        members=MEMBERS,
    )
    shown = threshold or _number(request.query_params.get("threshold", ""))
    context = {
        "title": "Near-duplicates",
        "case_id": case_id,
        "set_id": set_id,
        "page": found,
        "number": number,
        "pages": max(1, -(-found.total_groups // PER_PAGE)),
        "href": lambda key: review_href(set_id, key),
        "may_compute": user.may("review_write"),
        "threshold": shown or str(near_duplicates.DEFAULT_THRESHOLD),
        "minimum": near_duplicates.MIN_THRESHOLD,
        "problem": problem,
        "computed": request.query_params.get("computed"),
    }
    return render(request, "near_duplicates.html", context, user=user, status_code=200 if problem is None else 422)


@router.get("/cases/{case_id}/review/{set_id}/near-duplicates", include_in_schema=False)
async def near_duplicates_page(request: Request, case_id: str, set_id: str) -> Response:
    user = await gate(request, "review_read")
    if not isinstance(user, WebUser):
        return user
    return await _show(request, user, case_id, set_id)


@router.post("/cases/{case_id}/review/{set_id}/near-duplicates", include_in_schema=False)
async def compute(request: Request, case_id: str, set_id: str) -> Response:
    found = await posted(request, "review_write")
    if isinstance(found, Response):
        return found
    user, fields = found
    if not await run_in_threadpool(_belongs, request, case_id, set_id):
        return problem_page(request, user, "No such review set", f"Case {case_id} has no review set {set_id}.", 404)
    typed = first(fields, "threshold")
    try:
        threshold = near_duplicates.check_threshold(float(typed))
    except (ValueError, near_duplicates.DuplicatesRefused):
        message = f"the similarity threshold must be a number between {near_duplicates.MIN_THRESHOLD} and 1.0"
        return await _show(request, user, case_id, set_id, message, typed)
    app = services(request)
    run = await run_in_threadpool(
        near_duplicates.compute_audited, app.engine, user.principal, set_id, threshold=threshold, files=app.files()
    )
    target = f"/cases/{quote(case_id, safe='')}/review/{quote(set_id, safe='')}/near-duplicates"
    return RedirectResponse(f"{target}?computed={run.groups}&threshold={threshold}", status_code=303)
