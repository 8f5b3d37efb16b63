"""``/policy``: ethical walls, disclaimers, the real-time check for chat servers, what-if.

The work is in :mod:`search_api.policy_services` (the policies pages call it too); a handler
takes the request apart and answers a refusal with its status."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi import Path as PathParam

from archive.principals import Principal
from policies.model import CheckRequest, DisclaimerRule, DisclaimerSpec, Wall, WallSpec
from policies.simulate import SimulationRequest, SimulationResult
from search_api import policy_services
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.policy_services import CheckResponse, Policies
from search_api.refusals import refusal_error, refused

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


# --- walls ---------------------------------------------------------------------------------------------


@router.get("/walls", response_model=list[Wall], summary="Ethical walls")
def list_walls(policies: Policies, _caller: Reader) -> list[Wall]:
    return policies.store.walls()


@router.post("/walls", response_model=Wall, status_code=201, responses=CONFLICT, summary="Create a wall")
def create_wall(spec: WallSpec, services: Services, policies: Policies, caller: Writer) -> Wall:
    with refused:
        return policy_services.create_wall(services, policies, caller, spec)


@router.get("/walls/{wall_id}", response_model=Wall, responses=NOT_FOUND, summary="One wall")
def get_wall(wall_id: str, policies: Policies, _caller: Reader) -> Wall:
    wall = policies.store.get_wall(wall_id)
    if wall is None:
        raise refusal_error(policy_services.not_found("wall", wall_id))
    return wall


@router.put("/walls/{wall_id}", response_model=Wall, responses=NOT_FOUND | CONFLICT, summary="Change a wall")
def update_wall(wall_id: str, spec: WallSpec, services: Services, policies: Policies, caller: Writer) -> Wall:
    with refused:
        return policy_services.update_wall(services, policies, caller, wall_id, spec)


@router.delete("/walls/{wall_id}", status_code=204, responses=NOT_FOUND, summary="Remove a wall")
def delete_wall(wall_id: str, services: Services, policies: Policies, caller: Writer) -> Response:
    with refused:
        policy_services.delete_wall(services, policies, caller, wall_id)
    return Response(status_code=204)


# --- disclaimers ---------------------------------------------------------------------------------------


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
    with refused:
        return policy_services.create_disclaimer(services, policies, caller, spec)


@router.get("/disclaimers/{rule_id}", response_model=DisclaimerRule, responses=NOT_FOUND, summary="One disclaimer rule")
def get_disclaimer(rule_id: str, policies: Policies, _caller: Reader) -> DisclaimerRule:
    rule = policies.store.get_disclaimer(rule_id)
    if rule is None:
        raise refusal_error(policy_services.not_found("disclaimer rule", rule_id))
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
        raise refusal_error(policy_services.not_found("disclaimer version", f"{rule_id} v{version}"))
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
    with refused:
        return policy_services.update_disclaimer(services, policies, caller, rule_id, spec)


@router.delete("/disclaimers/{rule_id}", status_code=204, responses=NOT_FOUND, summary="Remove a disclaimer rule")
def delete_disclaimer(rule_id: str, services: Services, policies: Policies, caller: Writer) -> Response:
    with refused:
        policy_services.delete_disclaimer(services, policies, caller, rule_id)
    return Response(status_code=204)


# --- the check and the what-if -----------------------------------------------------------------------


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
    with refused:
        return await policy_services.check(services, policies, caller, request)


@router.post("/simulate", response_model=SimulationResult, summary="What-if: a proposed wall over the archive")
def what_if(body: SimulationRequest, services: Services, policies: Policies, caller: Writer) -> SimulationResult:
    return policy_services.what_if(services, policies, caller, body)
