"""The policy store and the live rule snapshot of one API process, made on first use, and what
the ``/policy`` routes and the policies pages do with them: every change to walls and
disclaimer rules (stored, audited with before and after, seen by the live snapshot), the
real-time check and the what-if. What the rules refuse is :class:`~search_api.refusals.Refused`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import Engine

from archive import audit
from archive import queries as archive_queries
from archive.principals import Principal
from ingest.events import Event
from ingest.group_commit import GroupCommit
from ingest.sink import EventSink
from policies import service
from policies.disclaimers import validate_templates
from policies.model import CheckRequest, Decision, DisclaimerRule, DisclaimerSpec, Wall, WallSpec
from policies.service import GroupCommitSink, SnapshotHolder
from policies.simulate import SimulationRequest, SimulationResult, simulate
from policies.store import PolicyConflict, PolicyNotFound, PolicyStore
from search_api.deps import AppServices, Services
from search_api.refusals import Refused

_creating = threading.Lock()


@dataclass(frozen=True)
class PolicyServices:
    store: PolicyStore
    snapshots: SnapshotHolder
    records: GroupCommitSink
    """Where checks record their decisions and disclaimers (the app's sink, commits grouped)."""
    audits: GroupCommit[audit.AuditEntry]
    """Where checks append their audit entries (commits grouped, like the records)."""


def policy_services_of(request: Request, engine: Engine, sink: EventSink) -> PolicyServices:
    """One per application: every request of the process shares the snapshot."""
    state = request.app.state
    found: PolicyServices | None = getattr(state, "policy_services", None)
    if found is None:
        with _creating:
            found = getattr(state, "policy_services", None)
            if found is None:
                store = PolicyStore(engine)
                found = PolicyServices(
                    store,
                    SnapshotHolder(store),
                    GroupCommitSink(sink),
                    GroupCommit(partial(audit.record_entries, engine), name="policy-audit"),
                )
                state.policy_services = found
    return found


def _policies(request: Request, services: Services) -> PolicyServices:
    return policy_services_of(request, services.engine, services.sink)


Policies = Annotated[PolicyServices, Depends(_policies)]


def record_change(
    services: AppServices,
    policies: PolicyServices,
    caller: Principal,
    action: str,
    before: BaseModel | None,
    after: BaseModel | None,
) -> None:
    """Every change to the rules is audited with them before and after, and the next check
    in this process sees it (other processes within the snapshot's ``max_age``)."""
    audit.record(
        services.engine,
        caller,
        action,
        {
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json") if after else None,
        },
    )
    policies.snapshots.refresh()


def conflict(error: PolicyConflict) -> Refused:
    return Refused(409, str(error))


def not_found(kind: str, item_id: str) -> Refused:
    return Refused(404, f"no {kind} {item_id!r}")


# --- walls ---------------------------------------------------------------------------------------------


def create_wall(services: AppServices, policies: PolicyServices, caller: Principal, spec: WallSpec) -> Wall:
    try:
        wall = policies.store.create_wall(spec)
    except PolicyConflict as error:
        raise conflict(error) from None
    record_change(services, policies, caller, "wall_create", None, wall)
    return wall


def update_wall(
    services: AppServices, policies: PolicyServices, caller: Principal, wall_id: str, spec: WallSpec
) -> Wall:
    try:
        before, after = policies.store.update_wall(wall_id, spec)
    except PolicyNotFound:
        raise not_found("wall", wall_id) from None
    except PolicyConflict as error:
        raise conflict(error) from None
    record_change(services, policies, caller, "wall_update", before, after)
    return after


def delete_wall(services: AppServices, policies: PolicyServices, caller: Principal, wall_id: str) -> None:
    before = policies.store.delete_wall(wall_id)
    if before is None:
        raise not_found("wall", wall_id)
    record_change(services, policies, caller, "wall_delete", before, None)


# --- disclaimers ---------------------------------------------------------------------------------------


def _valid_templates(spec: DisclaimerSpec) -> None:
    problems = validate_templates(spec)
    if problems:
        raise Refused(422, "disclaimer text: " + "; ".join(problems))


def create_disclaimer(
    services: AppServices, policies: PolicyServices, caller: Principal, spec: DisclaimerSpec
) -> DisclaimerRule:
    _valid_templates(spec)
    try:
        rule = policies.store.create_disclaimer(spec)
    except PolicyConflict as error:
        raise conflict(error) from None
    record_change(services, policies, caller, "disclaimer_create", None, rule)
    return rule


def update_disclaimer(
    services: AppServices, policies: PolicyServices, caller: Principal, rule_id: str, spec: DisclaimerSpec
) -> DisclaimerRule:
    """A new version of the rule; earlier ones are kept."""
    _valid_templates(spec)
    try:
        before, after = policies.store.update_disclaimer(rule_id, spec)
    except PolicyNotFound:
        raise not_found("disclaimer rule", rule_id) from None
    except PolicyConflict as error:
        raise conflict(error) from None
    record_change(services, policies, caller, "disclaimer_update", before, after)
    return after


def delete_disclaimer(services: AppServices, policies: PolicyServices, caller: Principal, rule_id: str) -> None:
    before = policies.store.delete_disclaimer(rule_id)
    if before is None:
        raise not_found("disclaimer rule", rule_id)
    record_change(services, policies, caller, "disclaimer_delete", before, None)


# --- the check and the what-if -----------------------------------------------------------------------


class CheckResponse(BaseModel):
    decision: Decision
    at: datetime
    room_members: list[str]
    """The room's people the check was made against (sent, or from the archive)."""
    recorded_event_ids: list[str]
    """The policy_decision and disclaimer events written for this check."""


async def check(
    services: AppServices, policies: PolicyServices, caller: Principal, request: CheckRequest
) -> CheckResponse:
    """Allow or deny, the walls that matched, and the disclaimers to show. A decision that
    matched a wall and every disclaimer are recorded as events before the answer; if they
    cannot be recorded the check is refused (503) and the chat server should refuse the action."""
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
            raise Refused(503, f"the decision could not be recorded ({error.__class__.__name__})") from None
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


def what_if(
    services: AppServices, policies: PolicyServices, caller: Principal, body: SimulationRequest
) -> SimulationResult:
    """A proposed wall replayed over the archive, audited ``policy_simulate``."""
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
