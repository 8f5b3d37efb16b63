"""``/exports``: export jobs (every hit of a query, in review formats, as one sealed zip)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, field_validator

from archive import audit
from archive.principals import Principal
from cases.store import CaseStore
from exports.jobs import ExportJobs, JobSpec
from exports.package import ExportResult
from exports.registry import FORMAT_NAMES
from search.memberships import intervals_of
from search.query_parser import parse_query
from search.service import NotExportable, exportable
from search_api import read_audit
from search_api.deps import AppServices, Services, allowed, services_of
from search_api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(prefix="/exports", tags=["exports"], responses=ERROR_RESPONSES)
Exporter = Annotated[Principal, Depends(allowed("export"))]
_creating = threading.Lock()
_WORKER = "export-worker"


class ExportOrder(BaseModel):
    query: str = Field(min_length=1, max_length=10_000, description="A search query: every hit is exported")
    formats: list[str] = Field(
        min_length=1, max_length=len(FORMAT_NAMES), description=f"Any of {', '.join(FORMAT_NAMES)}"
    )
    case_id: str | None = Field(default=None, max_length=36)

    @field_validator("formats")
    @classmethod
    def _known(cls, formats: list[str]) -> list[str]:
        unknown = [name for name in formats if name not in FORMAT_NAMES]
        if unknown:
            raise ValueError(f"unknown format {unknown[0]!r}; formats are {', '.join(FORMAT_NAMES)}")
        return list(dict.fromkeys(formats))


class ExportJob(BaseModel):
    id: str
    status: str = Field(description="queued, running, done or failed")
    formats: list[str]
    query: str
    case_id: str | None
    requested_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    events_done: int = Field(description="Events written so far, over every format")
    events_total: int | None = Field(description="Known when the export is done")
    error: str | None
    file_sha256: str | None = Field(description="SHA-256 of the zip (also in the audit log)")
    file_size: int | None
    manifest: dict[str, Any] | None


def jobs_of(request: Request, services: AppServices) -> ExportJobs:
    """One job runner per application (its worker thread, its interrupted-job sweep)."""
    state = request.app.state
    found: ExportJobs | None = getattr(state, "export_jobs", None)
    if found is None:
        with _creating:
            found = getattr(state, "export_jobs", None)
            if found is None:
                engine = services.engine
                found = ExportJobs(
                    engine,
                    services.index_dir.parent / "exports",
                    services.search_backend,
                    memberships=lambda actor: intervals_of(engine, actor),
                    on_finished=lambda job, result, error: _audit_finished(services, job, result, error),
                )
                state.export_jobs = found
    return found


def _jobs(request: Request) -> ExportJobs:
    return jobs_of(request, services_of(request))


Jobs = Annotated[ExportJobs, Depends(_jobs)]


def _audit_finished(
    services: AppServices, job: dict[str, Any], result: ExportResult | None, error: BaseException | None
) -> None:
    # The worker finishes the job on behalf of whoever started it, in their role.
    principal = Principal(token_id=_WORKER, label=f"export worker for {job['requested_by']}", role=job["role"])
    if result is None:
        audit.record(services.engine, principal, "export_failed", {"export_id": job["id"], "error": job["error"]})
        return
    audit.record(
        services.engine,
        principal,
        "export_done",
        {
            "export_id": job["id"],
            "query": job["query"],
            "formats": job["formats"],
            "counts": result.manifest["counts"],
            "sha256": result.sha256,
            "size": result.size,
        },
    )


@router.post("", response_model=ExportJob, status_code=202, summary="Start an export")
def start_export(order: ExportOrder, services: Services, jobs: Jobs, caller: Exporter) -> dict[str, Any]:
    """Every hit of the query (its posts, edits, deletion and reads, and the joins, leaves,
    files and disclaimers of the same room-days), in each format, in one zip with a manifest
    and a chain-of-custody record. Runs in the background: poll ``GET /exports/{id}``."""
    try:
        exportable(parse_query(order.query))  # a bad query is a 422 naming the position, before any job
    except NotExportable as error:
        raise HTTPException(status_code=422, detail={"message": str(error)}) from error
    if order.case_id is not None and CaseStore(services.engine).get_case(order.case_id) is None:
        raise HTTPException(
            status_code=404,
            detail={"message": f"no case {order.case_id!r}: open the case first, or export without one"},
        )
    spec = JobSpec(
        query=order.query,
        formats=tuple(order.formats),
        requested_by=f"{caller.label} ({caller.token_id})",
        role=caller.role,
        case_id=order.case_id,
    )
    job = jobs.record(spec)
    audit.record(
        services.engine,
        caller,
        "export_start",
        {"export_id": job["id"], "query": order.query, "formats": order.formats, "case_id": order.case_id},
    )
    jobs.start(job["id"], spec)
    return job


@router.get("", response_model=list[ExportJob], summary="Recent exports")
def list_exports(jobs: Jobs, _caller: Exporter) -> list[dict[str, Any]]:
    return jobs.list()


@router.get("/{export_id}", response_model=ExportJob, responses=NOT_FOUND, summary="An export's progress")
def get_export(export_id: str, jobs: Jobs, _caller: Exporter) -> dict[str, Any]:
    job = jobs.get(export_id)
    if job is None:
        raise HTTPException(status_code=404, detail={"message": f"no export {export_id!r}"})
    return job


@router.get(
    "/{export_id}/download",
    response_class=FileResponse,
    responses=NOT_FOUND | {200: {"content": {"application/zip": {}}, "description": "The export zip"}},
    summary="Download a finished export",
)
def download_export(export_id: str, services: Services, jobs: Jobs, caller: Exporter) -> FileResponse:
    job = jobs.get(export_id)
    if job is None:
        raise HTTPException(status_code=404, detail={"message": f"no export {export_id!r}"})
    if job["status"] != "done":
        raise HTTPException(status_code=409, detail={"message": f"export {export_id} is {job['status']}, not done"})
    path = jobs.path_of(export_id)
    if not path.is_file():
        raise HTTPException(status_code=404, detail={"message": f"export {export_id}'s file is no longer on disk"})
    read_audit.record(
        services.engine, caller, "export_download", {"export_id": export_id, "sha256": job["file_sha256"]}
    )
    return FileResponse(path, media_type="application/zip", filename=f"archivist-export-{export_id}.zip")
