"""``/audit``: the audit log, newest first, and whether its hash chain verifies (auditors)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from archive import audit as audit_log
from archive.principals import Principal
from search_api import read_audit
from search_api.deps import AppServices
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()
PAGE_SIZE = 50


def read(services: AppServices, caller: Principal, before: int | None) -> dict[str, Any]:
    """One page of entries and the chain's status, recorded as the API's ``view_audit`` is."""
    report, verified_at = services.audit_status.current(services.engine)
    entries = audit_log.entries(services.engine, limit=PAGE_SIZE, before=before)
    read_audit.record(services.engine, caller, "view_audit", {"limit": PAGE_SIZE, "before": before})
    for entry in entries:
        entry["details_text"] = json.dumps(entry.get("details", {}), ensure_ascii=False, sort_keys=True, default=str)
    oldest = min((entry["seq"] for entry in entries if "seq" in entry), default=None)
    return {
        "entries": entries,
        "chain_intact": report.ok,
        "verified_entries": report.checked,
        "verified_at": verified_at,
        "older": f"/audit?before={oldest}" if oldest is not None and oldest > 1 and len(entries) == PAGE_SIZE else None,
    }


@router.get("/audit", include_in_schema=False)
async def audit_page(request: Request, before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None) -> Response:
    user = await gate(request, "audit")
    if not isinstance(user, WebUser):
        return user
    view = await run_in_threadpool(read, services(request), user.principal, before)
    return render(request, "audit.html", {"title": "Audit log", "before": before, **view}, user=user)
