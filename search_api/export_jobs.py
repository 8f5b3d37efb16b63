"""The export job runner of one API process, made on first use, an export's download as the
API and the web pages answer it (audited ``export_download``), and the export of a search as
the search route takes it."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import Engine

from archive.principals import Principal
from cases.store import CaseNotFound
from exports.documents import DocumentUnit
from exports.jobs import ExportJobs, ReviewLoader
from exports.redaction import ProductionReview
from exports.service import ExportOrder, audit_finished, finished_export
from review.privilege import BadProductionOrder, ReviewSetNotFound, production_review
from search.service import memberships_in
from search_api import read_audit
from search_api.deps import AppServices, services_of
from search_api.refusals import Refused
from search_api.search_services import SearchRequest

_creating = threading.Lock()


def review_loader(engine: Engine) -> ReviewLoader:
    """What a production of a case applies (:func:`review.privilege.production_review`), its
    refusals as the API's (404: no such review set in the case; 422: an unknown tag)."""

    def load(case_id: str, review_set_id: str | None, tags: tuple[str, ...]) -> ProductionReview:
        try:
            return production_review(engine, case_id, review_set_id, tags)
        except (ReviewSetNotFound, CaseNotFound) as missing:
            raise Refused(404, str(missing)) from None
        except BadProductionOrder as bad:
            raise Refused(422, str(bad)) from None

    return load


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
                    memberships=memberships_in(engine),
                    on_finished=lambda job, result, error: audit_finished(engine, job, result, error),
                    file_store=services.file_store,
                    review=review_loader(engine),
                )
                state.export_jobs = found
    return found


def _jobs(request: Request) -> ExportJobs:
    return jobs_of(request, services_of(request))


Jobs = Annotated[ExportJobs, Depends(_jobs)]


def download(services: AppServices, jobs: ExportJobs, caller: Principal, export_id: str) -> FileResponse:
    """A done export's zip, its download audited with the zip's hash."""
    job, path = finished_export(jobs, export_id)
    read_audit.record(
        services.engine, caller, "export_download", {"export_id": export_id, "sha256": job["file_sha256"]}
    )
    return FileResponse(path, media_type="application/zip", filename=f"archivist-export-{export_id}.zip")


class SearchExport(BaseModel):
    """A search's whole hit set to export: the search as ``POST /search`` takes it, and the
    export's formats and, for a production of a case, its numbering and recipients (as
    ``POST /exports`` takes them)."""

    search: SearchRequest = Field(
        description="The search (query and time_zone: its sent: days and the export's zone; without a "
        "time_zone the case's zone; sort, size, cursor and facets do not matter, every hit is exported)"
    )
    formats: list[str] = Field(min_length=1, max_length=20)
    case_id: str | None = Field(default=None, max_length=36)
    unit: DocumentUnit = "conversation"
    bates_prefix: str | None = Field(default=None, max_length=20)
    bates_start: int | None = None
    recipients: list[str] = Field(default_factory=list, max_length=50)
    review_set_id: str | None = Field(default=None, max_length=36)
    tags: list[str] = Field(default_factory=list, max_length=20)

    def order(self) -> ExportOrder:
        """The export order (checked as ``POST /exports`` checks it: a ValidationError is a 422).
        The search's ``time_zone`` only when the caller gave one: SearchRequest defaults it to
        UTC, and a production of a case without a zone asked for is in the case's zone."""
        chosen = self.search.time_zone if "time_zone" in self.search.model_fields_set else None
        return ExportOrder(query=self.search.query, time_zone=chosen, **self.model_dump(exclude={"search"}))
