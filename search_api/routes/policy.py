"""``/policy``: ethical walls, disclaimers, the real-time check for chat servers, what-if."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from archive import audit
from archive import queries as archive_queries
from archive.principals import Principal
from ingest.events import Event
from policies import service
from policies.disclaimers import validate_templates
from policies.model import CheckRequest, Decision, DisclaimerRule, DisclaimerSpec, Wall, WallSpec
from policies.simulate import SimulationRequest, SimulationResult, simulate
from policies.store import PolicyConflict, PolicyNotFound
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.policy_services import Policies, record_change

router = APIRouter(prefix="/policy", tags=["policies"], responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: described("The change conflicts with the rules as they stand (the message says how)")
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: described("The decision could not be recorded; the chat server should refuse the action")
}

Reader = Annotated[Principal, Depends(allowed("policy_read"))]
Version = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Writer = Annotated[Principal, Depends(allowed("policy_write"))]


def _conflict(error: PolicyConflict) -> HTTPException:
    return HTTPException(status_code=409, detail={"message": str(error)})


def _not_found(kind: str, item_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail={"message": f"no {kind} {item_id!r}"})


# --- walls ---------------------------------------------------------------------------------------------


@router.get("/walls", response_model=list[Wall], summary="Ethical walls")
def list_walls(policies: Policies, _caller: Reader) -> list[Wall]:
    return policies.store.walls()


@router.post("/walls", response_model=Wall, status_code=201, responses=CONFLICT, summary="Create a wall")
def create_wall(spec: WallSpec, services: Services, policies: Policies, caller: Writer) -> Wall:
    try:
        wall = policies.store.create_wall(spec)
    except PolicyConflict as error:
        raise _conflict(error) from None
    record_change(services, policies, caller, "wall_create", None, wall)
    return wall


@router.get("/walls/{wall_id}", response_model=Wall, responses=NOT_FOUND, summary="One wall")
def get_wall(wall_id: str, policies: Policies, _caller: Reader) -> Wall:
    wall = policies.store.get_wall(wall_id)
    if wall is None:
        raise _not_found("wall", wall_id)
    return wall


@router.put("/walls/{wall_id}", response_model=Wall, responses=NOT_FOUND | CONFLICT, summary="Change a wall")
def update_wall(wall_id: str, spec: WallSpec, services: Services, policies: Policies, caller: Writer) -> Wall:
    try:
        before, after = policies.store.update_wall(wall_id, spec)
    except PolicyNotFound:
        raise _not_found("wall", wall_id) from None
    except PolicyConflict as error:
        raise _conflict(error) from None
    record_change(services, policies, caller, "wall_update", before, after)
    return after


@router.delete("/walls/{wall_id}", status_code=204, responses=NOT_FOUND, summary="Remove a wall")
def delete_wall(wall_id: str, services: Services, policies: Policies, caller: Writer) -> Response:
    before = policies.store.delete_wall(wall_id)
    if before is None:
        raise _not_found("wall", wall_id)
    record_change(services, policies, caller, "wall_delete", before, None)
    return Response(status_code=204)


# --- disclaimers ---------------------------------------------------------------------------------------


def _valid_templates(spec: DisclaimerSpec) -> None:
    problems = validate_templates(spec)
    if problems:
        raise HTTPException(status_code=422, detail={"message": "disclaimer text: " + "; ".join(problems)})


@router.get("/disclaimers", response_model=list[DisclaimerRule], summary="Disclaimer rules")
def list_disclaimers(policies: Policies, _caller: Reader) -> list[DisclaimerRule]:
    return policies.store.disclaimers()


@router.post(
    "/disclaimers",
    response_model=DisclaimerRule,
    status_code=201,
    responses=CONFLICT,
    summary="Create a disclaimer rule",
)
def create_disclaimer(spec: DisclaimerSpec, services: Services, policies: Policies, caller: Writer) -> DisclaimerRule:
    _valid_templates(spec)
    try:
        rule = policies.store.create_disclaimer(spec)
    except PolicyConflict as error:
        raise _conflict(error) from None
    record_change(services, policies, caller, "disclaimer_create", None, rule)
    return rule


@router.get("/disclaimers/{rule_id}", response_model=DisclaimerRule, responses=NOT_FOUND, summary="One disclaimer rule")
def get_disclaimer(rule_id: str, policies: Policies, _caller: Reader) -> DisclaimerRule:
    rule = policies.store.get_disclaimer(rule_id)
    if rule is None:
        raise _not_found("disclaimer rule", rule_id)
    return rule


@router.get(
    "/disclaimers/{rule_id}/versions/{version}",
    response_model=DisclaimerRule,
    responses=NOT_FOUND,
    summary="A disclaimer rule as it was at one version (what the archive's disclaimer events name)",
)
def get_disclaimer_version(rule_id: str, version: Version, policies: Policies, _caller: Reader) -> DisclaimerRule:
    rule = policies.store.disclaimer_version(rule_id, version)
    if rule is None:
        raise _not_found("disclaimer version", f"{rule_id} v{version}")
    return rule


@router.put(
    "/disclaimers/{rule_id}",
    response_model=DisclaimerRule,
    responses=NOT_FOUND | CONFLICT,
    summary="Change a disclaimer rule (a new version; earlier ones are kept)",
)
def update_disclaimer(
    rule_id: str, spec: DisclaimerSpec, services: Services, policies: Policies, caller: Writer
) -> DisclaimerRule:
    _valid_templates(spec)
    try:
        before, after = policies.store.update_disclaimer(rule_id, spec)
    except PolicyNotFound:
        raise _not_found("disclaimer rule", rule_id) from None
    except PolicyConflict as error:
        raise _conflict(error) from None
    record_change(services, policies, caller, "disclaimer_update", before, after)
    return after


@router.delete("/disclaimers/{rule_id}", status_code=204, responses=NOT_FOUND, summary="Remove a disclaimer rule")
def delete_disclaimer(rule_id: str, services: Services, policies: Policies, caller: Writer) -> Response:
    before = policies.store.delete_disclaimer(rule_id)
    if before is None:
        raise _not_found("disclaimer rule", rule_id)
    record_change(services, policies, caller, "disclaimer_delete", before, None)
    return Response(status_code=204)


# --- the check and the what-if -----------------------------------------------------------------------


class CheckResponse(BaseModel):
    decision: Decision
    at: datetime
    room_members: list[str]
    """The room's people the check was made against (sent, or from the archive)."""
    recorded_event_ids: list[str]
    """The policy_decision and disclaimer events written for this check."""


@router.post(
    "/check",
    response_model=CheckResponse,
    responses=UNAVAILABLE,
    summary="May this happen? (for chat servers, in real time)",
)
async def check(
    request: CheckRequest,
    services: Services,
    policies: Policies,
    caller: Annotated[Principal, Depends(allowed("policy_check"))],
) -> CheckResponse:
    """Allow or deny, the walls that matched, and the disclaimers to show. A decision that
    matched a wall and every disclaimer are recorded as events before the answer; if they
    cannot be recorded the answer is 503 and the chat server should refuse the action."""
    # On the event loop: the decision is pure and quick; what waits on I/O (a stale snapshot,
    # room members from the archive, the audit entry) goes to a thread, and the grouped record
    # write is awaited without holding one.
    snapshot = policies.snapshots.fresh()
    if snapshot is None:
        snapshot = await run_in_threadpool(policies.snapshots.current)
    at = request.at or datetime.now(UTC)
    members: tuple[str, ...] = ()
    if request.room is not None:
        members = request.room.members or ()
        if request.room.members is None:  # not sent: who the archive says is in the room now
            members = tuple(await run_in_threadpool(archive_queries.members_at, services.engine, request.room.id, at))
    outcome = service.prepare(snapshot, request, members, at)
    if outcome.recorded:
        try:
            await asyncio.wrap_future(policies.records.enqueue(outcome.recorded))
        except Exception as error:  # the sink failed: broker or staging unreachable
            raise HTTPException(
                status_code=503,
                detail={"message": f"the decision could not be recorded ({error.__class__.__name__})"},
            ) from None
    if outcome.decision.mode in ("block", "alert"):
        entry = audit.new_entry(caller, "policy_check", _check_details(request, outcome.decision, outcome.recorded))
        # Concurrent checks' entries share one commit; the answer waits until this one is durable.
        await asyncio.wrap_future(policies.audits.enqueue([entry]))
    return CheckResponse(
        decision=outcome.decision,
        at=outcome.at,
        room_members=list(outcome.room_members),
        recorded_event_ids=[str(e.event_id) for e in outcome.recorded],
    )


def _check_details(request: CheckRequest, decision: Decision, recorded: tuple[Event, ...]) -> dict[str, Any]:
    return {
        "request": request.model_dump(mode="json", exclude_none=True),
        "outcome": decision.outcome,
        "mode": decision.mode,
        "walls": [match.wall_id for match in decision.walls],
        "events": [str(e.event_id) for e in recorded],
    }


@router.post("/simulate", response_model=SimulationResult, summary="What-if: a proposed wall over the archive")
def what_if(body: SimulationRequest, services: Services, policies: Policies, caller: Writer) -> SimulationResult:
    directory, _walls, _disclaimers, _revision = policies.store.snapshot_inputs()
    result = simulate(services.engine, directory, body)
    audit.record(
        services.engine,
        caller,
        "policy_simulate",
        {
            "wall": body.wall.model_dump(mode="json"),
            "since": result.since.isoformat(),
            "until": result.until.isoformat(),
            "rooms": len(result.rooms),
            "posts_replayed": result.posts_replayed,
            "joins_replayed": result.joins_replayed,
        },
    )
    return result
