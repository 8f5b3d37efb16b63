"""``/cases`` (matters, saved searches, notes, legal holds) and ``/retention`` (policies, runs).

Every change is audited with what it changed before and after. Holds are never deleted, only
released (with who, when and why)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel

from archive import audit
from archive.principals import Principal
from cases.model import (
    Case,
    CaseSpec,
    Hold,
    HoldRelease,
    HoldSpec,
    Note,
    NoteSpec,
    RetentionPolicy,
    RetentionPolicySpec,
    RetentionRun,
    SavedSearch,
    SavedSearchSpec,
)
from cases.scopes import unknown_scope
from cases.store import CaseConflict, CaseNotFound, CaseStore, RetentionStore
from search.query_parser import QuerySyntaxError, parse_query
from search_api.deps import AppServices, Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described

router = APIRouter(tags=["cases"], responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {409: described("The case or hold does not allow the change (why)")}
CHANGES = NOT_FOUND | CONFLICT

Reader = Annotated[Principal, Depends(allowed("cases_read"))]
Writer = Annotated[Principal, Depends(allowed("cases_write"))]
RetentionReader = Annotated[Principal, Depends(allowed("retention_read"))]
RetentionWriter = Annotated[Principal, Depends(allowed("retention_write"))]


def _who(caller: Principal) -> str:
    return f"{caller.label} ({caller.token_id})"


def _audit(
    services: AppServices, caller: Principal, action: str, before: BaseModel | None, after: BaseModel | None
) -> None:
    audit.record(
        services.engine,
        caller,
        action,
        {
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json") if after else None,
        },
    )


def _known_scope(services: AppServices, spec: RetentionPolicySpec) -> None:
    problem = unknown_scope(services.engine, spec)
    if problem is not None:
        raise HTTPException(status_code=409, detail={"message": problem})


def _valid_query(query: str) -> None:
    try:
        parse_query(query)
    except QuerySyntaxError as error:
        raise HTTPException(
            status_code=422, detail={"message": error.message, "position": error.position, "query": error.query}
        ) from None


class _Refusals:
    """CaseNotFound -> 404, CaseConflict -> 409, in the API's error shape."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if isinstance(error, CaseNotFound):
            raise HTTPException(status_code=404, detail={"message": str(error.args[0])}) from None
        if isinstance(error, CaseConflict):
            raise HTTPException(status_code=409, detail={"message": str(error)}) from None


refused = _Refusals()


# --- cases ---------------------------------------------------------------------------------------


@router.get("/cases", response_model=list[Case], summary="Cases")
def list_cases(services: Services, _caller: Reader, include_closed: bool = True) -> list[Case]:
    return CaseStore(services.engine).cases(include_closed=include_closed)


@router.post("/cases", response_model=Case, status_code=201, summary="Open a case")
def create_case(spec: CaseSpec, services: Services, caller: Writer) -> Case:
    case = CaseStore(services.engine).create_case(spec, _who(caller))
    _audit(services, caller, "case_create", None, case)
    return case


@router.get("/cases/{case_id}", response_model=Case, responses=NOT_FOUND, summary="One case")
def get_case(case_id: str, services: Services, _caller: Reader) -> Case:
    case = CaseStore(services.engine).get_case(case_id)
    if case is None:
        raise HTTPException(status_code=404, detail={"message": f"no case {case_id!r}"})
    return case


@router.put("/cases/{case_id}", response_model=Case, responses=CHANGES, summary="Change a case")
def update_case(case_id: str, spec: CaseSpec, services: Services, caller: Writer) -> Case:
    with refused:
        before, after = CaseStore(services.engine).update_case(case_id, spec)
    _audit(services, caller, "case_update", before, after)
    return after


@router.post("/cases/{case_id}/close", response_model=Case, responses=CHANGES, summary="Close a case")
def close_case(case_id: str, services: Services, caller: Writer) -> Case:
    with refused:
        before, after = CaseStore(services.engine).close_case(case_id)
    _audit(services, caller, "case_close", before, after)
    return after


# --- saved searches and notes --------------------------------------------------------------------


@router.get(
    "/cases/{case_id}/searches", response_model=list[SavedSearch], responses=NOT_FOUND, summary="Saved searches"
)
def list_searches(case_id: str, services: Services, _caller: Reader) -> list[SavedSearch]:
    with refused:
        return CaseStore(services.engine).searches(case_id)


@router.post(
    "/cases/{case_id}/searches", response_model=SavedSearch, status_code=201, responses=CHANGES, summary="Save a search"
)
def add_search(case_id: str, spec: SavedSearchSpec, services: Services, caller: Writer) -> SavedSearch:
    _valid_query(spec.query)
    with refused:
        saved = CaseStore(services.engine).add_search(case_id, spec, _who(caller))
    _audit(services, caller, "case_search_add", None, saved)
    return saved


@router.delete("/cases/{case_id}/searches/{search_id}", status_code=204, responses=CHANGES, summary="Remove a search")
def remove_search(case_id: str, search_id: str, services: Services, caller: Writer) -> Response:
    with refused:
        before = CaseStore(services.engine).remove_search(case_id, search_id)
    _audit(services, caller, "case_search_remove", before, None)
    return Response(status_code=204)


@router.get("/cases/{case_id}/notes", response_model=list[Note], responses=NOT_FOUND, summary="Notes")
def list_notes(case_id: str, services: Services, _caller: Reader) -> list[Note]:
    with refused:
        return CaseStore(services.engine).notes(case_id)


@router.post("/cases/{case_id}/notes", response_model=Note, status_code=201, responses=CHANGES, summary="Add a note")
def add_note(case_id: str, spec: NoteSpec, services: Services, caller: Writer) -> Note:
    with refused:
        note = CaseStore(services.engine).add_note(case_id, spec, _who(caller))
    _audit(services, caller, "case_note_add", None, note)
    return note


@router.delete("/cases/{case_id}/notes/{note_id}", status_code=204, responses=CHANGES, summary="Remove a note")
def remove_note(case_id: str, note_id: str, services: Services, caller: Writer) -> Response:
    with refused:
        before = CaseStore(services.engine).remove_note(case_id, note_id)
    _audit(services, caller, "case_note_remove", before, None)
    return Response(status_code=204)


# --- legal holds ---------------------------------------------------------------------------------


@router.get("/cases/{case_id}/holds", response_model=list[Hold], responses=NOT_FOUND, summary="Legal holds")
def list_holds(case_id: str, services: Services, _caller: Reader) -> list[Hold]:
    with refused:
        return CaseStore(services.engine).holds(case_id)


@router.post("/cases/{case_id}/holds", response_model=Hold, status_code=201, responses=CHANGES, summary="Place a hold")
def place_hold(case_id: str, spec: HoldSpec, services: Services, caller: Writer) -> Hold:
    if spec.scope is not None and spec.scope.query is not None:
        _valid_query(spec.scope.query)
    with refused:
        hold = CaseStore(services.engine).place_hold(case_id, spec, _who(caller))
    _audit(services, caller, "hold_place", None, hold)
    return hold


@router.post(
    "/cases/{case_id}/holds/{hold_id}/release", response_model=Hold, responses=CHANGES, summary="Release a hold"
)
def release_hold(case_id: str, hold_id: str, body: HoldRelease, services: Services, caller: Writer) -> Hold:
    with refused:
        before, after = CaseStore(services.engine).release_hold(case_id, hold_id, body.reason, _who(caller))
    _audit(services, caller, "hold_release", before, after)
    return after


# --- retention -----------------------------------------------------------------------------------


@router.get("/retention/policies", response_model=list[RetentionPolicy], summary="Retention policies")
def list_policies(services: Services, _caller: RetentionReader) -> list[RetentionPolicy]:
    return RetentionStore(services.engine).policies()


@router.post(
    "/retention/policies",
    response_model=RetentionPolicy,
    status_code=201,
    responses=CONFLICT,
    summary="Create a retention policy",
)
def create_policy(spec: RetentionPolicySpec, services: Services, caller: RetentionWriter) -> RetentionPolicy:
    _known_scope(services, spec)
    with refused:
        policy = RetentionStore(services.engine).create_policy(spec, _who(caller))
    _audit(services, caller, "retention_policy_create", None, policy)
    return policy


@router.get(
    "/retention/policies/{policy_id}", response_model=RetentionPolicy, responses=NOT_FOUND, summary="One policy"
)
def get_policy(policy_id: str, services: Services, _caller: RetentionReader) -> RetentionPolicy:
    policy = RetentionStore(services.engine).get_policy(policy_id)
    if policy is None:
        raise HTTPException(status_code=404, detail={"message": f"no retention policy {policy_id!r}"})
    return policy


@router.put(
    "/retention/policies/{policy_id}", response_model=RetentionPolicy, responses=CHANGES, summary="Change a policy"
)
def update_policy(
    policy_id: str, spec: RetentionPolicySpec, services: Services, caller: RetentionWriter
) -> RetentionPolicy:
    _known_scope(services, spec)
    with refused:
        before, after = RetentionStore(services.engine).update_policy(policy_id, spec, _who(caller))
    _audit(services, caller, "retention_policy_update", before, after)
    return after


@router.delete("/retention/policies/{policy_id}", status_code=204, responses=NOT_FOUND, summary="Remove a policy")
def delete_policy(policy_id: str, services: Services, caller: RetentionWriter) -> Response:
    with refused:
        before = RetentionStore(services.engine).delete_policy(policy_id)
    _audit(services, caller, "retention_policy_delete", before, None)
    return Response(status_code=204)


@router.get("/retention/runs", response_model=list[RetentionRun], summary="Retention runs, newest first")
def list_runs(services: Services, _caller: RetentionReader, limit: int = 100) -> list[RetentionRun]:
    return RetentionStore(services.engine).runs(limit=max(1, min(limit, 1000)))
