"""``/cases/{case_id}/redact``: redact a message (or an upload's extracted text) of a case.

The page shows every version of the message's text (the post is version 1) with the case's
redactions marked; selecting text in a version fills in the span (``/static/web/redaction.js``:
offsets in code points, as the API takes them), or the offsets are typed; a reason is chosen
from the vocabulary or written. Existing spans are listed and can be removed (kept, with who and
when). Changes run :mod:`review.redactions` as the API does (audited ``redaction_add`` and
``redaction_remove``); showing the texts is audited ``redaction_texts_read``. Legal's and admin's
(the ``redact`` permission)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cases.store import CaseNotFound, CaseStore
from exports.redaction import REASON_CODES, BadRedaction, Span, merge_spans, text_sha256
from review.redactions import (
    Redaction,
    RedactionConflict,
    RedactionCreate,
    RedactionNotFound,
    TextVersion,
    add_redaction,
    file_text,
    list_redactions,
    message_versions,
    remove_redaction,
)
from search_api import read_audit
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()
PERMISSION = "redact"


def _shown(piece: str) -> Markup:
    """``piece`` as HTML whose parsed text is ``piece`` itself, so the page's offsets are the archive's.

    The HTML parser turns CR LF and lone CRs into LF and drops U+0000 in text: CRs go out as
    ``&#13;`` (parsed back to CR) and NULs as ``&#0;`` (parsed to U+FFFD, still one character).
    The newline the parser drops right after ``<pre>`` is in the template."""
    return escape(piece).replace("\r", Markup("&#13;")).replace("\x00", Markup("&#0;"))


def _segments(text: str, spans: list[Redaction]) -> list[tuple[Markup, str | None]]:
    """The text cut into plain pieces and redacted ones (with their reasons), for marking."""
    pieces: list[tuple[str, str | None]] = []
    at = 0
    for span in merge_spans(Span(s.start, s.end, s.reason) for s in spans if s.end <= len(text)):
        pieces.append((text[at : span.start], None))
        pieces.append((text[span.start : span.end], span.reason))
        at = span.end
    pieces.append((text[at:], None))
    return [(_shown(piece), reason) for piece, reason in pieces if piece]


def _page_data(request: Request, case_id: str, message_id: str, file_event_id: str) -> dict[str, Any]:
    engine = services(request).engine
    case = CaseStore(engine).get_case(case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    versions: list[TextVersion] = []
    if message_id:
        versions = message_versions(engine, message_id)
    elif file_event_id:
        text = file_text(engine, services(request).file_store, file_event_id)
        versions = [
            TextVersion(
                version=1, kind="file_text", text=text, text_sha256=text_sha256(text), actor_id="",
                occurred_at=case.created_at, event_id=file_event_id,
            )
        ]  # fmt: skip
    # One text's redactions, or (no text chosen yet) every redaction of the case.
    found = list_redactions(engine, case_id, message_id=message_id or None, file_event_id=file_event_id or None)
    shown = [
        {
            "version": v,
            "segments": _segments(v.text, [r for r in found if (r.version or 1) == v.version]),
        }
        for v in versions
    ]
    return {"case": case, "versions": shown, "redactions": found}


def _render(
    request: Request,
    user: WebUser,
    case_id: str,
    message_id: str,
    file_event_id: str,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    data = _page_data(request, case_id, message_id, file_event_id)
    if data["versions"]:
        read_audit.record(
            services(request).engine,
            user.principal,
            "redaction_texts_read",
            {"case_id": case_id, "message_id": message_id or None, "file_event_id": file_event_id or None},
        )
    context = {
        "title": f"Redact — {data['case'].name}",
        "message_id": message_id,
        "file_event_id": file_event_id,
        "reasons": REASON_CODES,
        "error": error,
        "form": form or {},
        "done": request.query_params.get("done", ""),
        **data,
    }
    return render(request, "redaction.html", context, user=user, status_code=status_code)


def _refused(request: Request, user: WebUser, error: Exception) -> Response:
    status = 404 if isinstance(error, CaseNotFound | RedactionNotFound) else 409
    title = "Not found" if status == 404 else "Not changed"
    return render(request, "error.html", {"title": title, "message": str(error)}, user=user, status_code=status)


@router.get("/cases/{case_id}/redact", include_in_schema=False)
async def redaction_page(request: Request, case_id: str, message_id: str = "", file_event_id: str = "") -> Response:
    user = await gate(request, PERMISSION)
    if not isinstance(user, WebUser):
        return user
    try:
        return await run_in_threadpool(_render, request, user, case_id, message_id.strip(), file_event_id.strip())
    except (CaseNotFound, RedactionNotFound) as error:
        return _refused(request, user, error)


def _back(case_id: str, message_id: str, file_event_id: str, done: str) -> RedirectResponse:
    query = {"message_id": message_id} if message_id else {"file_event_id": file_event_id}
    return RedirectResponse(f"/cases/{case_id}/redact?{urlencode({**query, 'done': done})}", status_code=303)


def _problem(error: ValidationError) -> str:
    return "; ".join(str(problem["msg"]).removeprefix("Value error, ") for problem in error.errors(include_url=False))


@router.post("/cases/{case_id}/redact", include_in_schema=False)
async def redact(request: Request, case_id: str) -> Response:
    answer = await posted(request, PERMISSION)
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    form = {name: first(fields, name) for name in ("message_id", "file_event_id", "version", "start", "end")}
    form["reason"] = first(fields, "other_reason") or first(fields, "reason")
    message_id, file_event_id = form["message_id"], form["file_event_id"]
    try:
        spec = RedactionCreate(
            target="message" if message_id else "file",
            message_id=message_id or None,
            version=int(form["version"] or 1) if message_id else None,
            file_event_id=file_event_id or None,
            start=int(form["start"]) if form["start"].lstrip("-").isdigit() else -1,
            end=int(form["end"]) if form["end"].lstrip("-").isdigit() else -1,
            reason=form["reason"],
        )
    except (ValidationError, ValueError) as error:
        why = _problem(error) if isinstance(error, ValidationError) else str(error)
        return await run_in_threadpool(
            _render, request, user, case_id, message_id, file_event_id, error=why, form=form, status_code=422
        )
    engine, store = services(request).engine, services(request).file_store
    try:
        await run_in_threadpool(add_redaction, engine, store, user.principal, case_id, spec)
    except BadRedaction as error:
        return await run_in_threadpool(
            _render, request, user, case_id, message_id, file_event_id, error=str(error), form=form, status_code=422
        )
    except (CaseNotFound, RedactionNotFound) as error:
        return _refused(request, user, error)
    return _back(case_id, message_id, file_event_id, "added")


@router.post("/cases/{case_id}/redact/{redaction_id}/remove", include_in_schema=False)
async def unredact(request: Request, case_id: str, redaction_id: str) -> Response:
    answer = await posted(request, PERMISSION)
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    engine = services(request).engine
    try:
        removed = await run_in_threadpool(remove_redaction, engine, user.principal, case_id, redaction_id)
    except (CaseNotFound, RedactionNotFound, RedactionConflict) as error:
        return _refused(request, user, error)
    del fields
    return _back(case_id, removed.message_id or "", removed.file_event_id or "", "removed")
