"""Redactions of a case and its privilege log (issue 20).

``/cases/{case_id}/redactions``: list, add (a span of a message version's text or of an
upload's extracted text, with a reason) and remove (kept, with who and when) the case's
redactions; ``/cases/{case_id}/redaction-texts``: the texts a span can be drawn on (a message's
versions, an upload's extracted text; the read is audited). ``/review-sets/{id}/...``: a
document's privilege description and the set's privilege log (CSV or PDF). Every route is
legal's (and admin's): the ``redact`` permission. Every change is audited
(:mod:`review.redactions`, :mod:`review.privilege`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from archive.principals import Principal
from cases.store import CaseNotFound, CaseStore
from exports.privilege_log import LogRow, log_csv, log_pdf
from exports.redaction import REASON_CODES, BadRedaction, text_sha256
from review import privilege
from review.privilege import BadProductionOrder, ReviewSetNotFound
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
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)
Redactor = Annotated[Principal, Depends(allowed("redact"))]
CONFLICT: dict[int | str, dict[str, Any]] = {409: described("The redaction was removed already, or the case is closed")}


@contextmanager
def _answered() -> Iterator[None]:
    """Review's refusals as the API's errors: 404 (no such case, text, set), 409, 422."""
    try:
        yield
    except (CaseNotFound, RedactionNotFound, ReviewSetNotFound) as missing:
        raise HTTPException(status_code=404, detail={"message": str(missing)}) from None
    except RedactionConflict as conflict:
        raise HTTPException(status_code=409, detail={"message": str(conflict)}) from None
    except (BadRedaction, BadProductionOrder) as bad:
        raise HTTPException(status_code=422, detail={"message": str(bad)}) from None


class Reasons(BaseModel):
    codes: list[str] = Field(description="The fixed vocabulary; free text of up to 64 characters is allowed too")


class RedactionTexts(BaseModel):
    """The texts a redaction of this message or upload can be drawn on."""

    message_id: str | None
    file_event_id: str | None
    versions: list[TextVersion] = Field(description="A message's versions (1: the post), or the upload's one text")
    redactions: list[Redaction] = Field(description="The case's redactions in force on these texts")


class PrivilegeDescription(BaseModel):
    doc_key: str = Field(min_length=1, max_length=600, description="The document's key (message:, conversation:...)")
    description: str | None = Field(default=None, max_length=privilege.MAX_DESCRIPTION)


@router.get("/redaction-reasons", response_model=Reasons, summary="The redaction reason codes")
def reasons(_caller: Redactor) -> Reasons:
    return Reasons(codes=list(REASON_CODES))


@router.get(
    "/cases/{case_id}/redactions",
    response_model=list[Redaction],
    responses=NOT_FOUND,
    summary="A case's redactions",
)
def case_redactions(
    case_id: str,
    services: Services,
    _caller: Redactor,
    message_id: Annotated[str | None, Query(max_length=256)] = None,
    file_event_id: Annotated[str | None, Query(max_length=36)] = None,
    include_removed: bool = False,
) -> list[Redaction]:
    """The case's redactions (of one message or upload when named), oldest first; removed ones
    too with ``include_removed``."""
    with _answered():
        return list_redactions(
            services.engine,
            case_id,
            message_id=message_id,
            file_event_id=file_event_id,
            include_removed=include_removed,
        )


@router.post(
    "/cases/{case_id}/redactions",
    response_model=Redaction,
    status_code=201,
    responses=NOT_FOUND,
    summary="Redact a span",
)
def redact(case_id: str, spec: RedactionCreate, services: Services, caller: Redactor) -> Redaction:
    """A span of a message version's text or of an upload's extracted text (checked against the
    text, whose SHA-256 is recorded); every production of the case replaces it by
    ``[REDACTED: <reason>]``. Audited (``redaction_add``)."""
    with _answered():
        return add_redaction(services.engine, services.file_store, caller, case_id, spec)


@router.delete(
    "/cases/{case_id}/redactions/{redaction_id}",
    response_model=Redaction,
    responses=NOT_FOUND | CONFLICT,
    summary="Remove a redaction",
)
def unredact(case_id: str, redaction_id: str, services: Services, caller: Redactor) -> Redaction:
    """The redaction is kept, marked removed (who, when); productions no longer apply it.
    Audited (``redaction_remove``)."""
    with _answered():
        return remove_redaction(services.engine, caller, case_id, redaction_id)


@router.get(
    "/cases/{case_id}/redaction-texts",
    response_model=RedactionTexts,
    responses=NOT_FOUND,
    summary="The texts a redaction can be drawn on",
)
def redaction_texts(
    case_id: str,
    services: Services,
    caller: Redactor,
    message_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    file_event_id: Annotated[str | None, Query(min_length=1, max_length=36)] = None,
) -> RedactionTexts:
    """A message's versions (or an upload's extracted text) with their SHA-256, and the case's
    redactions on them. Give exactly one of ``message_id`` and ``file_event_id``."""
    if (message_id is None) == (file_event_id is None):
        raise HTTPException(status_code=422, detail={"message": "give exactly one of message_id and file_event_id"})
    with _answered():
        texts = _texts(services, case_id, message_id, file_event_id)
    read_audit.record(
        services.engine,
        caller,
        "redaction_texts_read",
        {"case_id": case_id, "message_id": message_id, "file_event_id": file_event_id, "texts": len(texts.versions)},
    )
    return texts


def _texts(services: Any, case_id: str, message_id: str | None, file_event_id: str | None) -> RedactionTexts:
    engine = services.engine
    if CaseStore(engine).get_case(case_id) is None:
        raise CaseNotFound(f"no case {case_id!r}")
    if message_id is not None:
        versions = message_versions(engine, message_id)
    else:
        assert file_event_id is not None
        text = file_text(engine, services.file_store, file_event_id)
        versions = [
            TextVersion(
                version=1,
                kind="file_text",
                text=text,
                text_sha256=text_sha256(text),
                actor_id="",
                occurred_at=datetime.min,
                event_id=file_event_id,
            )
        ]
    found = list_redactions(engine, case_id, message_id=message_id, file_event_id=file_event_id)
    return RedactionTexts(message_id=message_id, file_event_id=file_event_id, versions=versions, redactions=found)


@router.put(
    "/review-sets/{review_set_id}/privilege-description",
    response_model=PrivilegeDescription,
    responses=NOT_FOUND,
    summary="A document's privilege description",
)
def describe(
    review_set_id: str, body: PrivilegeDescription, services: Services, caller: Redactor
) -> PrivilegeDescription:
    """What the privilege log says of the document (null clears it); recorded in the document's
    history and audited (``privilege_description``)."""
    with _answered():
        privilege.review_set(services.engine, review_set_id)
        privilege.set_privilege_description(services.engine, caller, review_set_id, body.doc_key, body.description)
    return body


def _log_rows(services: Any, review_set_id: str) -> tuple[str, list[LogRow]]:
    found = privilege.review_set(services.engine, review_set_id)
    produced = privilege.latest_production_log(services.engine, review_set_id)
    entries = produced[1] if produced is not None else privilege.draft_log(services.engine, found.case_id, found.id)
    title = (
        f"Privilege log — review set {found.name} — production {produced[0]}"
        if produced is not None
        else f"Privilege log — review set {found.name} — draft (not produced yet: no control numbers)"
    )
    rows = [
        LogRow(
            control=str(entry.get("control_number") or ""),
            date=datetime.fromisoformat(str(entry["date"])),
            author=str(entry.get("author") or ""),
            recipients=str(entry.get("recipients") or ""),
            privilege_type=str(entry.get("privilege_type") or ""),
            description=str(entry.get("description") or ""),
            treatment=str(entry.get("treatment") or ""),
            redactions=int(entry.get("redactions") or 0),
            key=str(entry.get("document_key") or ""),
        )
        for entry in entries
    ]
    return title, rows


@router.get(
    "/review-sets/{review_set_id}/privilege-log.csv",
    response_class=Response,
    responses=NOT_FOUND | {200: {"content": {"text/csv": {}}, "description": "The privilege log"}},
    summary="A review set's privilege log (CSV)",
)
def privilege_log_csv(review_set_id: str, services: Services, caller: Redactor) -> Response:
    """The log of the set's latest production (control numbers and all), else a draft of its
    withheld and redacted documents without control numbers. The download is audited."""
    with _answered():
        _title, rows = _log_rows(services, review_set_id)
    read_audit.record(
        services.engine, caller, "privilege_log_download", {"review_set_id": review_set_id, "rows": len(rows)}
    )
    return Response(
        log_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="privilege_log-{review_set_id}.csv"'},
    )


@router.get(
    "/review-sets/{review_set_id}/privilege-log.pdf",
    response_class=Response,
    responses=NOT_FOUND | {200: {"content": {"application/pdf": {}}, "description": "The privilege log"}},
    summary="A review set's privilege log (PDF)",
)
def privilege_log_pdf(review_set_id: str, services: Services, caller: Redactor) -> Response:
    with _answered():
        title, rows = _log_rows(services, review_set_id)
    read_audit.record(
        services.engine, caller, "privilege_log_download", {"review_set_id": review_set_id, "rows": len(rows)}
    )
    return Response(
        log_pdf(rows, title),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="privilege_log-{review_set_id}.pdf"'},
    )
