"""``/supervision/policies``: the supervision policies, their editor (every field of a policy,
the version history with who, when and why) and ``/supervision/report``: per policy and term,
hits, dispositions, the false-positive rate and the items older than the SLA.

Saving runs the service functions of ``POST``/``PUT /api/v1/supervision/policies`` so a change
from the page is checked, stored as a new version and audited exactly as over the API; an edit
of a policy changed since the editor was opened is refused (409) with the typed form kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive.principals import list_tokens
from ingest.db import read_only
from search_api.deps import PERMISSIONS
from search_api.web.auth import posted
from search_api.web.core import WebUser, gate, render, services
from search_api.web.policy_forms import FormProblems, parse_moment
from search_api.web.supervision_policy_forms import LEXICON_FORMAT, PolicyForm, unfaithful_terms
from supervision import policy_service
from supervision.backtest import BacktestReport
from supervision.examples import example_policies
from supervision.model import DIRECTIONS, DISPOSITIONS, Policy, TermMatch
from supervision.policy_service import PolicyRefused, spec_changes
from supervision.policy_store import PolicyConflict, PolicyNotFound, get_policy, list_policies, policy_versions
from supervision.report import Report, report_csv, supervision_report

router = APIRouter()
REPORT_DAYS = 30


def _render(
    request: Request, user: WebUser, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    shared = {
        "may_write": user.may("supervision_policy"),
        "directions": DIRECTIONS,
        "lexicon_format": LEXICON_FORMAT,
        "problems": {},
    }
    return render(request, template, {**shared, **context}, user=user, status_code=status_code)


def _missing(request: Request, user: WebUser, policy_id: str) -> Response:
    message = f"There is no supervision policy {policy_id!r}."
    return render(request, "error.html", {"title": "Not found", "message": message}, user=user, status_code=404)


# --- the list --------------------------------------------------------------------------------------


def _all(request: Request) -> list[Policy]:
    with read_only(services(request).engine) as connection:
        return list_policies(connection)


@router.get("/supervision/policies", include_in_schema=False)
async def policies_page(request: Request) -> Response:
    user = await gate(request, "supervision_read")
    if not isinstance(user, WebUser):
        return user
    found = await run_in_threadpool(_all, request)
    return _render(request, user, "supervision_policies.html", {"title": "Supervision policies", "policies": found})


# --- the editor ------------------------------------------------------------------------------------


def _history(request: Request, policy_id: str) -> list[Policy]:
    with read_only(services(request).engine) as connection:
        return policy_versions(connection, policy_id)


def unknown_reviewers(engine: Engine, form: PolicyForm) -> dict[str, list[str]]:
    """Per reviewers field, the labels no active token of a reviewing role has (a warning: the
    token may be issued later)."""
    reviewing = PERMISSIONS["supervision_review"]
    known = {token.label for token in list_tokens(engine) if token.revoked_at is None and token.role in reviewing}
    found: dict[str, list[str]] = {}
    for key, text in (("reviewers", form.reviewers), ("escalation_reviewers", form.escalation_reviewers)):
        missing = [
            label for label in dict.fromkeys(line.strip() for line in text.splitlines()) if label and label not in known
        ]
        if missing:
            found[key] = missing
    return found


def _changed_fields(history: list[Policy]) -> dict[int, list[str]]:
    """Per version, the fields that changed from the one before (the first: none listed)."""
    return {later.version: sorted(spec_changes(earlier.spec, later.spec)) for earlier, later in pairwise(history)}


async def _editor(
    request: Request,
    user: WebUser,
    policy_id: str | None,
    form: PolicyForm | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
    *,
    example: str | None = None,
    backtest: tuple[BacktestReport, list[list[tuple[str, str | None]]]] | None = None,
) -> Response:
    context: dict[str, Any] = {
        "problems": problems or {},
        "saved": request.query_params.get("saved"),
        "backtest": backtest[0] if backtest else None,
        "samples": backtest[1] if backtest else [],
    }
    if policy_id is None:
        context |= {"examples": {topic: spec.name for topic, spec in example_policies().items()}, "example": example}
        shown_form = form or PolicyForm()
        context |= {
            "title": "New supervision policy",
            "policy": None,
            "history": [],
            "form": shown_form,
            "unknown_reviewers": await run_in_threadpool(unknown_reviewers, services(request).engine, shown_form),
        }
        return _render(request, user, "supervision_policy.html", context, status_code)
    try:
        history = await run_in_threadpool(_history, request, policy_id)
    except PolicyNotFound:
        return _missing(request, user, policy_id)
    current = history[-1]
    shown = current
    asked = request.query_params.get("version", "")
    if form is None and asked.isdigit():
        shown = next((policy for policy in history if policy.version == int(asked)), current)
    shown_form = form or PolicyForm.of_spec(shown.spec, current.version)
    context |= {
        "title": f"Supervision policy: {current.spec.name}",
        "policy": current,
        "shown": shown,
        "history": list(reversed(history)),
        "changed": _changed_fields(history),
        "form": shown_form,
        "unfaithful": unfaithful_terms(shown.spec.lexicon),
        "unknown_reviewers": await run_in_threadpool(unknown_reviewers, services(request).engine, shown_form),
    }
    return _render(request, user, "supervision_policy.html", context, status_code)


@router.get("/supervision/policies/new", include_in_schema=False)
async def new_policy_page(request: Request) -> Response:
    user = await gate(request, "supervision_policy")
    if not isinstance(user, WebUser):
        return user
    topic = request.query_params.get("example")
    if topic is None:
        return await _editor(request, user, None)
    example = example_policies().get(topic)
    if example is None:
        message = f"There is no example lexicon {topic!r}: the examples are {', '.join(example_policies())}."
        return render(request, "error.html", {"title": "Not found", "message": message}, user=user, status_code=404)
    return await _editor(request, user, None, PolicyForm.of_spec(example), example=topic)


@router.get("/supervision/policies/{policy_id}", include_in_schema=False)
async def policy_page(request: Request, policy_id: str) -> Response:
    user = await gate(request, "supervision_read")
    if not isinstance(user, WebUser):
        return user
    return await _editor(request, user, policy_id)


def _refusal(error: Exception) -> tuple[int, dict[str, str]]:
    if isinstance(error, PolicyRefused):
        return 422, {error.field or "": error.message}
    if isinstance(error, PolicyConflict):
        key = "name" if "named" in str(error) else ""
        if key == "":
            return 409, {"": f"{error} Your changes are below and were not saved."}
        return 409, {key: str(error)}
    return 404, {"": str(error)}


@router.post("/supervision/policies/new", include_in_schema=False)
async def create_policy(request: Request) -> Response:
    found = await posted(request, "supervision_policy")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = PolicyForm.of_fields(fields)
    try:
        spec = form.spec()
        made = await run_in_threadpool(
            policy_service.create, services(request).engine, user.principal, spec, form.comment
        )
    except FormProblems as error:
        return await _editor(request, user, None, form, error.problems, 422)
    except (PolicyRefused, PolicyConflict) as error:
        status, problems = _refusal(error)
        return await _editor(request, user, None, form, problems, status)
    return RedirectResponse(f"/supervision/policies/{made.id}?saved={made.version}", status_code=303)


@router.post("/supervision/policies/{policy_id}", include_in_schema=False)
async def save_policy(request: Request, policy_id: str) -> Response:
    found = await posted(request, "supervision_policy")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = PolicyForm.of_fields(fields)
    if form.version is None:
        return await _editor(request, user, policy_id, form, {"": "The form lost its version: reopen the policy."}, 422)
    try:
        spec = form.spec()
        saved = await run_in_threadpool(
            policy_service.change,
            services(request).engine,
            user.principal,
            policy_id,
            spec,
            form.version,
            form.comment,
        )
    except FormProblems as error:
        return await _editor(request, user, policy_id, form, error.problems, 422)
    except PolicyNotFound:
        return _missing(request, user, policy_id)
    except (PolicyRefused, PolicyConflict) as error:
        status, problems = _refusal(error)
        return await _editor(request, user, policy_id, form, problems, status)
    return RedirectResponse(f"/supervision/policies/{policy_id}?saved={saved.version}", status_code=303)


# --- the backtest ----------------------------------------------------------------------------------


def highlighted(text: str, matches: list[TermMatch]) -> list[tuple[str, str | None]]:
    """``text`` cut at the matches in it: (piece, term id or None), for the page to mark."""
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for match in sorted((m for m in matches if m.field == "text"), key=lambda m: (m.start, m.end)):
        if match.start < at or match.end > len(text):
            continue  # overlapping or beyond the text: the first match wins
        pieces += [(text[at : match.start], None), (text[match.start : match.end], match.term_id)]
        at = match.end
    pieces.append((text[at:], None))
    return [piece for piece in pieces if piece[0]]


async def _backtest(request: Request, policy_id: str | None) -> Response:
    found = await posted(request, "supervision_policy")
    if isinstance(found, Response):
        return found
    user, fields = found
    form = PolicyForm.of_fields(fields)
    try:
        spec = form.spec()
        start, end = form.backtest_period()
        report = await run_in_threadpool(
            partial(policy_service.run_backtest, policy_id=policy_id, samples=10),
            services(request).engine,
            user.principal,
            spec,
            start,
            end,
        )
    except FormProblems as error:
        return await _editor(request, user, policy_id, form, error.problems, 422)
    except PolicyNotFound:
        return _missing(request, user, policy_id or "")
    except PolicyRefused as error:
        status, problems = _refusal(error)
        return await _editor(request, user, policy_id, form, problems, status)
    samples = [highlighted(sample.text, sample.matches) for sample in report.samples]
    return await _editor(request, user, policy_id, form, backtest=(report, samples))


@router.post("/supervision/policies/new/backtest", include_in_schema=False)
async def backtest_draft(request: Request) -> Response:
    return await _backtest(request, None)


@router.post("/supervision/policies/{policy_id}/backtest", include_in_schema=False)
async def backtest_policy(request: Request, policy_id: str) -> Response:
    return await _backtest(request, policy_id)


# --- the report ------------------------------------------------------------------------------------


def _day(text: str) -> datetime:
    return parse_moment(text).astimezone(UTC)


def _report(request: Request, start: datetime, end: datetime, policy_id: str | None) -> tuple[Report, list[Policy]]:
    with read_only(services(request).engine) as connection:
        known = list_policies(connection)
        if policy_id is not None:
            get_policy(connection, policy_id)
        return supervision_report(connection, start, end, datetime.now(UTC), policy_id), known


def _period(request: Request) -> tuple[datetime, datetime, str | None, dict[str, str]]:
    """The report's filters: ``start`` and ``end`` as days (``end`` included) or times, UTC;
    the last 30 days by default; and the policy."""
    asked = request.query_params
    problems: dict[str, str] = {}
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end, start = today + timedelta(days=1), today + timedelta(days=1 - REPORT_DAYS)
    for key, label in (("start", "From"), ("end", "Until")):
        if asked.get(key):
            try:
                value = _day(asked[key])
            except ValueError:
                problems[key] = f"“{label}” is not a date: write it as YYYY-MM-DD."
                continue
            if key == "start":
                start = value
            else:
                end = value + timedelta(days=1) if len(asked[key].strip()) == 10 else value
    if not problems and end <= start:
        problems["end"] = "“Until” must not be before “From”."
    return start, end, asked.get("policy") or None, problems


@router.get("/supervision/report", include_in_schema=False)
async def report_page(request: Request) -> Response:
    user = await gate(request, "supervision_report")
    if not isinstance(user, WebUser):
        return user
    start, end, policy_id, problems = _period(request)
    context: dict[str, Any] = {
        "title": "Supervision report",
        "start": start,
        "end": end,
        "start_value": request.query_params.get("start") or start.strftime("%Y-%m-%d"),
        "end_value": request.query_params.get("end") or (end - timedelta(days=1)).strftime("%Y-%m-%d"),
        "policy_id": policy_id,
        "dispositions": DISPOSITIONS,
        "report": None,
        "known": [],
        "problems": problems,
    }
    if problems:
        return render(request, "supervision_report.html", context, user=user, status_code=422)
    try:
        report, known = await run_in_threadpool(_report, request, start, end, policy_id)
    except PolicyNotFound:
        return _missing(request, user, policy_id or "")
    csv_query = urlencode({"start": context["start_value"], "end": context["end_value"], "policy": policy_id or ""})
    context |= {"report": report, "known": known, "csv_query": csv_query}
    return render(request, "supervision_report.html", context, user=user)


@router.get("/supervision/report.csv", include_in_schema=False)
async def report_download(request: Request) -> Response:
    user = await gate(request, "supervision_report")
    if not isinstance(user, WebUser):
        return user
    start, end, policy_id, problems = _period(request)
    if problems:
        message = " ".join(problems.values())
        return render(
            request, "error.html", {"title": "Cannot show that", "message": message}, user=user, status_code=422
        )
    try:
        report, _known = await run_in_threadpool(_report, request, start, end, policy_id)
    except PolicyNotFound:
        return _missing(request, user, policy_id or "")
    name = f"supervision-report-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return Response(
        report_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
