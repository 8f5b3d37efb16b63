"""``/cases`` (matters, saved searches, notes, legal holds) and ``/retention`` (policies, runs).

Every change is made by :mod:`cases.service` (as the web pages make it), audited with what it
changed before and after. Holds are never deleted, only released (with who, when and why)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response

from archive.principals import Principal
from cases import service
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
from cases.store import CaseStore, RetentionStore
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.refusals import refused

router = APIRouter(tags=["cases"], responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {409: described("The case or hold does not allow the change (why)")}
CHANGES = NOT_FOUND | CONFLICT

Reader = Annotated[Principal, Depends(allowed("cases_read"))]
Writer = Annotated[Principal, Depends(allowed("cases_write"))]
RetentionReader = Annotated[Principal, Depends(allowed("retention_read"))]
RetentionWriter = Annotated[Principal, Depends(allowed("retention_write"))]


# --- cases ---------------------------------------------------------------------------------------


@router.get("/cases", response_model=list[Case], summary="Cases")
def list_cases(services: Services, _caller: Reader, include_closed: bool = True) -> list[Case]:
    return CaseStore(services.engine).cases(include_closed=include_closed)


@router.post("/cases", response_model=Case, status_code=201, summary="Open a case")
def create_case(spec: CaseSpec, services: Services, caller: Writer) -> Case:
    return service.open_case(services.engine, caller, spec)


@router.get("/cases/{case_id}", response_model=Case, responses=NOT_FOUND, summary="One case")
def get_case(case_id: str, services: Services, _caller: Reader) -> Case:
    case = CaseStore(services.engine).get_case(case_id)
    if case is None:
        raise HTTPException(status_code=404, detail={"message": f"no case {case_id!r}"})
    return case


@router.put("/cases/{case_id}", response_model=Case, responses=CHANGES, summary="Change a case")
def update_case(case_id: str, spec: CaseSpec, services: Services, caller: Writer) -> Case:
    with refused:
        return service.change_case(services.engine, caller, case_id, spec)


@router.post("/cases/{case_id}/close", response_model=Case, responses=CHANGES, summary="Close a case")
def close_case(case_id: str, services: Services, caller: Writer) -> Case:
    with refused:
        return service.close_case(services.engine, caller, case_id)


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
    with refused:
        return service.add_search(services.engine, caller, case_id, spec)


@router.delete("/cases/{case_id}/searches/{search_id}", status_code=204, responses=CHANGES, summary="Remove a search")
def remove_search(case_id: str, search_id: str, services: Services, caller: Writer) -> Response:
    with refused:
        service.remove_search(services.engine, caller, case_id, search_id)
    return Response(status_code=204)


@router.get("/cases/{case_id}/notes", response_model=list[Note], responses=NOT_FOUND, summary="Notes")
def list_notes(case_id: str, services: Services, _caller: Reader) -> list[Note]:
    with refused:
        return CaseStore(services.engine).notes(case_id)


@router.post("/cases/{case_id}/notes", response_model=Note, status_code=201, responses=CHANGES, summary="Add a note")
def add_note(case_id: str, spec: NoteSpec, services: Services, caller: Writer) -> Note:
    with refused:
        return service.add_note(services.engine, caller, case_id, spec)


@router.delete("/cases/{case_id}/notes/{note_id}", status_code=204, responses=CHANGES, summary="Remove a note")
def remove_note(case_id: str, note_id: str, services: Services, caller: Writer) -> Response:
    with refused:
        service.remove_note(services.engine, caller, case_id, note_id)
    return Response(status_code=204)


# --- legal holds ---------------------------------------------------------------------------------


@router.get("/cases/{case_id}/holds", response_model=list[Hold], responses=NOT_FOUND, summary="Legal holds")
def list_holds(case_id: str, services: Services, _caller: Reader) -> list[Hold]:
    with refused:
        return CaseStore(services.engine).holds(case_id)


@router.post("/cases/{case_id}/holds", response_model=Hold, status_code=201, responses=CHANGES, summary="Place a hold")
def place_hold(case_id: str, spec: HoldSpec, services: Services, caller: Writer) -> Hold:
    with refused:
        return service.place_hold(services.engine, caller, case_id, spec)


@router.post(
    "/cases/{case_id}/holds/{hold_id}/release", response_model=Hold, responses=CHANGES, summary="Release a hold"
)
def release_hold(case_id: str, hold_id: str, body: HoldRelease, services: Services, caller: Writer) -> Hold:
    with refused:
        return service.release_hold(services.engine, caller, case_id, hold_id, body.reason)


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
    with refused:
        return service.create_policy(services.engine, caller, spec)


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
    with refused:
        return service.change_policy(services.engine, caller, policy_id, spec)


@router.delete("/retention/policies/{policy_id}", status_code=204, responses=NOT_FOUND, summary="Remove a policy")
def delete_policy(policy_id: str, services: Services, caller: RetentionWriter) -> Response:
    with refused:
        service.remove_policy(services.engine, caller, policy_id)
    return Response(status_code=204)


@router.get("/retention/runs", response_model=list[RetentionRun], summary="Retention runs, newest first")
def list_runs(services: Services, _caller: RetentionReader, limit: int = 100) -> list[RetentionRun]:
    return RetentionStore(services.engine).runs(limit=max(1, min(limit, 1000)))
