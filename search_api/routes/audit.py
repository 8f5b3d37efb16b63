"""``GET /audit``: the audit log, newest first, with the chain's verification status."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from archive import audit as audit_log
from archive.principals import Principal
from search_api import read_audit as reads
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


class AuditPage(BaseModel):
    entries: list[dict[str, Any]]
    chain_intact: bool
    verified_entries: int
    verified_at: datetime = Field(description="when the chain was last walked (at most 30 s ago)")


@router.get("", response_model=AuditPage, summary="Read the audit log")
def read_audit(
    services: Services,
    caller: Annotated[Principal, Depends(allowed("audit"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="seq to page backwards from")] = None,
) -> AuditPage:
    report, verified_at = services.audit_status.current(services.engine)
    page = AuditPage(
        entries=audit_log.entries(services.engine, limit=limit, before=before),
        chain_intact=report.ok,
        verified_entries=report.checked,
        verified_at=verified_at,
    )
    reads.record(services.engine, caller, "view_audit", {"limit": limit, "before": before})
    return page
