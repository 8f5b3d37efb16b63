"""``/supervision/policies`` and ``/supervision/report``: supervision policies (every change a new
version, audited) and the report of what they found and what the reviewers did.

Roles: reading policies and their versions is ``supervision_read`` (supervisor, compliance
officer, admin); creating and changing them ``supervision_policy`` (compliance officer, admin);
the report ``supervision_report`` (supervisor, compliance officer, auditor, admin: counts and
who did what, never a message's text). A change is ``supervision_policy_create`` or
``supervision_policy_update`` in the audit log, written in the change's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from archive.principals import Principal
from ingest.db import read_only
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from supervision import policy_service
from supervision.backtest import BacktestReport
from supervision.model import Policy, PolicySpec
from supervision.policy_service import MAX_COMMENT, PolicyRefused
from supervision.policy_store import PolicyConflict, PolicyNotFound, get_policy, list_policies, policy_versions
from supervision.report import Report, report_csv, supervision_report

router = APIRouter(prefix="/supervision", tags=["supervision"], responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: described("The name is taken, or the policy changed since expected_version (reload it)")
}

Reader = Annotated[Principal, Depends(allowed("supervision_read"))]
Writer = Annotated[Principal, Depends(allowed("supervision_policy"))]
ReportReader = Annotated[Principal, Depends(allowed("supervision_report"))]

DEFAULT_REPORT_DAYS = 30


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spec: PolicySpec
    comment: str = Field(default="", max_length=MAX_COMMENT, description="Why: kept with the version")


class PolicyUpdate(PolicyCreate):
    expected_version: int = Field(
        ge=1, le=2**31 - 1, description="The version the change starts from; 409 when the policy is at another"
    )


@contextmanager
def answered() -> Iterator[None]:
    """The policy service's refusals as the API's answers."""
    try:
        yield
    except PolicyNotFound as error:
        raise HTTPException(status_code=404, detail={"message": str(error)}) from None
    except PolicyConflict as error:
        raise HTTPException(status_code=409, detail={"message": str(error)}) from None
    except PolicyRefused as error:
        raise HTTPException(status_code=422, detail={"message": error.message}) from None


@router.get("/policies", response_model=list[Policy], summary="Supervision policies at their current versions")
def list_all(services: Services, _caller: Reader) -> list[Policy]:
    with read_only(services.engine) as connection:
        return list_policies(connection)


@router.post(
    "/policies", response_model=Policy, status_code=201, responses=CONFLICT, summary="Create a supervision policy"
)
def create(body: PolicyCreate, services: Services, caller: Writer) -> Policy:
    """Version 1 of a new policy. A lexicon term that does not parse, or whose regular
    expression the safe engine refuses, is a 422 naming the term."""
    with answered():
        return policy_service.create(services.engine, caller, body.spec, body.comment)


@router.get("/policies/{policy_id}", response_model=Policy, responses=NOT_FOUND, summary="One policy")
def one(policy_id: str, services: Services, _caller: Reader) -> Policy:
    with answered(), read_only(services.engine) as connection:
        return get_policy(connection, policy_id)


@router.put(
    "/policies/{policy_id}",
    response_model=Policy,
    responses=NOT_FOUND | CONFLICT,
    summary="Change a policy (a new version; every earlier one is kept)",
)
def change(policy_id: str, body: PolicyUpdate, services: Services, caller: Writer) -> Policy:
    with answered():
        return policy_service.change(services.engine, caller, policy_id, body.spec, body.expected_version, body.comment)


@router.get(
    "/policies/{policy_id}/versions",
    response_model=list[Policy],
    responses=NOT_FOUND,
    summary="Every version of a policy, oldest first, with who saved it, when and why",
)
def versions(policy_id: str, services: Services, _caller: Reader) -> list[Policy]:
    with answered(), read_only(services.engine) as connection:
        return policy_versions(connection, policy_id)


# --- the report ----------------------------------------------------------------------------------


def report_period(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """``[start, end)``: the last 30 days by default; 422 when ``end`` is not after ``start``."""
    until = end or datetime.now(UTC)
    since = start or until - timedelta(days=DEFAULT_REPORT_DAYS)
    if until <= since:
        raise HTTPException(status_code=422, detail={"message": "end must be after start"})
    return since, until


Start = Annotated[AwareDatetime | None, Query(description="Items created at or after (default: end - 30 days)")]
End = Annotated[AwareDatetime | None, Query(description="Items created before (default: now)")]
PolicyFilter = Annotated[str | None, Query(max_length=200, description="One policy's id (default: all)")]


def _report(services: Services, start: datetime | None, end: datetime | None, policy_id: str | None) -> Report:
    since, until = report_period(start, end)
    with answered(), read_only(services.engine) as connection:
        if policy_id:
            get_policy(connection, policy_id)  # an unknown policy is a 404, not an empty report
        return supervision_report(connection, since, until, datetime.now(UTC), policy_id or None)


@router.get("/report", response_model=Report, responses=NOT_FOUND, summary="The supervision report")
def report(
    services: Services, _caller: ReportReader, start: Start = None, end: End = None, policy_id: PolicyFilter = None
) -> Report:
    """Per policy and term over the items created in ``[start, end)``: items, hits,
    dispositions, false-positive rate, open items and those older than the SLA; each
    reviewer's actions; the sampling ledger."""
    return _report(services, start, end, policy_id)


@router.get(
    "/report.csv",
    response_class=Response,
    responses=NOT_FOUND | {200: {"content": {"text/csv": {}}, "description": "Every row of the report"}},
    summary="The supervision report as CSV",
)
def report_as_csv(
    services: Services, _caller: ReportReader, start: Start = None, end: End = None, policy_id: PolicyFilter = None
) -> Response:
    made = _report(services, start, end, policy_id)
    name = f"supervision-report-{made.start:%Y%m%d}-{made.end:%Y%m%d}.csv"
    return Response(
        report_csv(made),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the backtest --------------------------------------------------------------------------------


class BacktestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    spec: PolicySpec = Field(description="The draft policy (not saved)")
    start: AwareDatetime
    end: AwareDatetime = Field(description="Excluded")
    policy_id: str | None = Field(
        default=None,
        max_length=200,
        description="A saved policy's id: the sampling draw is then the one the adapter makes for it",
    )
    samples: int = Field(default=10, ge=0, le=100, description="Sample items returned, with their text")


@router.post(
    "/backtest",
    response_model=BacktestReport,
    responses=NOT_FOUND,
    summary="What a draft policy would have made of a past period (nothing is created)",
)
def run_backtest(body: BacktestRequest, services: Services, caller: Writer) -> BacktestReport:
    """Items per day and per reviewer per day, in scope, matched, drawn (with the sampling
    rate's interval), the top terms and samples. A lexicon that does not compile is a 422 naming
    the term; a period longer than a year is refused. Audited as ``supervision_backtest``."""
    with answered():
        return policy_service.run_backtest(
            services.engine, caller, body.spec, body.start, body.end, policy_id=body.policy_id, samples=body.samples
        )
