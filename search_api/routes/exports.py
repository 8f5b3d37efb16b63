"""``/exports``: export jobs (every hit of a query, in review formats, as one sealed zip).

An export with a ``case_id`` is a production of the case (``POST /exports`` starts it):
numbered on from the case's earlier productions, recorded in its production log
(``GET /cases/{id}/productions``). ``POST /search/export`` starts the export of a search's whole
hit set, the search given exactly as ``POST /search`` takes it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse

from archive.principals import Principal
from cases.productions import Production, ProductionLog
from exports import service
from exports.service import ExportJob, ExportOrder
from search_api import export_jobs
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.export_jobs import Jobs, SearchExport
from search_api.refusals import refused

router = APIRouter(prefix="/exports", tags=["exports"], responses=ERROR_RESPONSES)
productions = APIRouter(tags=["exports"], responses=ERROR_RESPONSES)
Exporter = Annotated[Principal, Depends(allowed("export"))]
STARTS = NOT_FOUND | {
    409: described("A production of the case is running, or bates_start names numbers the case has produced")
}


@router.post("", response_model=ExportJob, status_code=202, responses=STARTS, summary="Start an export")
def start_export(order: ExportOrder, services: Services, jobs: Jobs, caller: Exporter) -> dict[str, Any]:
    """Every hit of the query (its posts, edits, deletion and reads, and the joins, leaves,
    files and disclaimers of the same room-days), in each format, in one zip with a manifest
    and a chain-of-custody record. Runs in the background: poll ``GET /exports/{id}``."""
    with refused:
        return service.start_export(services.engine, jobs, caller, order)


@router.get("", response_model=list[ExportJob], summary="Recent exports")
def list_exports(jobs: Jobs, _caller: Exporter) -> list[dict[str, Any]]:
    return jobs.list()


@router.get("/{export_id}", response_model=ExportJob, responses=NOT_FOUND, summary="An export's progress")
def get_export(export_id: str, jobs: Jobs, _caller: Exporter) -> dict[str, Any]:
    with refused:
        return service.export_job(jobs, export_id)


@router.get(
    "/{export_id}/download",
    response_class=FileResponse,
    responses=NOT_FOUND | {200: {"content": {"application/zip": {}}, "description": "The export zip"}},
    summary="Download a finished export",
)
def download_export(export_id: str, services: Services, jobs: Jobs, caller: Exporter) -> FileResponse:
    with refused:
        return export_jobs.download(services, jobs, caller, export_id)


@productions.post(
    "/search/export", response_model=ExportJob, status_code=202, responses=STARTS, summary="Export a search's hits"
)
def export_search(order: SearchExport, services: Services, jobs: Jobs, caller: Exporter) -> dict[str, Any]:
    """Every hit of the search (not one page: its sort, size, cursor and facets do not matter),
    with its time zone's days for ``sent:`` dates, exported as ``POST /exports`` does; with a
    ``case_id``, a production of the case."""
    with refused:
        return service.start_export(services.engine, jobs, caller, order.order(), source="search")


@productions.get(
    "/cases/{case_id}/productions",
    response_model=list[Production],
    responses=NOT_FOUND,
    summary="A case's production log",
)
def case_productions(case_id: str, services: Services, _caller: Exporter) -> list[Production]:
    """Every production of the case, oldest first: its control-number range (none when it
    failed: its numbers were given back), documents, recipients, the SHA-256 of its zip and of
    its manifest, who started it and when."""
    with refused:
        return ProductionLog(services.engine).productions(case_id)
