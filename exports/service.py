"""Export jobs as the API and the web pages start and watch them: the order (a query and
formats, for a case or none), its checks, the job, and its audit entries (``export_start`` on
behalf of the caller; ``export_done`` or ``export_failed`` on behalf of the export worker).

A refusal is :class:`NotExportable`, :class:`~cases.store.CaseNotFound` (the order names no
case there is), :class:`ExportNotFound`, :class:`ExportNotReady` or the query's
:class:`~search.query_parser.QuerySyntaxError`; nothing is recorded then. Who may export (the
role) is the caller's to check first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import Engine

from archive import audit
from archive.principals import Principal
from cases.model import Case, Hold
from cases.store import CaseNotFound, CaseStore
from exports.jobs import ExportJobs, JobSpec
from exports.package import ExportResult
from exports.registry import FORMAT_NAMES
from formats.time_zones import DEFAULT_ZONE, time_zone
from search.query_parser import parse_query
from search.service import answered_by_archive, people_in

WORKER = "export-worker"
"""The token id the export worker's audit entries carry."""


class NotExportable(ValueError):
    """The query is valid but names what an export cannot take."""


class ExportNotFound(LookupError):
    """No such export, or its file is no longer on disk."""


class ExportNotReady(ValueError):
    """The export is not done (queued, running or failed)."""


class ExportOrder(BaseModel):
    query: str = Field(min_length=1, max_length=10_000, description="A search query: every hit is exported")
    formats: list[str] = Field(
        min_length=1, max_length=len(FORMAT_NAMES), description=f"Any of {', '.join(FORMAT_NAMES)}"
    )
    case_id: str | None = Field(default=None, max_length=36)
    time_zone: str | None = Field(
        default=None,
        max_length=100,
        description="IANA time zone the export shows times in, cuts conversation-days in and reads the query's "
        "sent: dates in (e.g. America/New_York); default: the case's time zone, else UTC",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            time_zone(name)  # UnknownTimeZone is a ValueError: a 422 naming the closest zones
        return name

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
    events_done: int = Field(
        description="Progress in events, each counted once however many formats it is written in "
        "(the writes so far over every format divided by the number of formats); the export's "
        "event count when it is done"
    )
    events_total: int | None = Field(
        description="The export's events, each counted once: known once the first format has read them all"
    )
    error: str | None
    file_sha256: str | None = Field(description="SHA-256 of the zip (also in the audit log)")
    file_size: int | None
    manifest: dict[str, Any] | None


def start_export(engine: Engine, jobs: ExportJobs, caller: Principal, order: ExportOrder) -> dict[str, Any]:
    """Record the job, audit it, and start it on the worker thread; the queued job row."""
    node = parse_query(order.query)  # a bad query is refused naming the position, before any job
    if answered_by_archive(node):
        raise NotExportable("exports take message queries; type: other than post is not exportable")
    people_in(engine, node)  # a name naming too many people is refused now (422), not by the job later
    case: Case | None = None
    custodians: tuple[str, ...] = ()
    if order.case_id is not None:
        store = CaseStore(engine)
        case = store.get_case(order.case_id)
        if case is None:
            raise CaseNotFound(f"no case {order.case_id!r}: open the case first, or export without one")
        custodians = custodians_of(case, store.holds(case.id))
    spec = JobSpec(
        query=order.query,
        formats=tuple(order.formats),
        requested_by=f"{caller.label} ({caller.token_id})",
        role=caller.role,
        case_id=order.case_id,
        # The case as it is when the export starts: the manifest and the PDF cover say it.
        case_name=case.name if case is not None else None,
        case_number=case.id if case is not None else None,  # cases have no separate matter number
        custodians=custodians,
        # The order's zone, else the case's, else UTC.
        time_zone=order.time_zone or (case.time_zone if case is not None else None) or DEFAULT_ZONE,
    )
    job = jobs.record(spec)
    audit.record(
        engine,
        caller,
        "export_start",
        {
            "export_id": job["id"],
            "query": order.query,
            "formats": order.formats,
            "case_id": order.case_id,
            "time_zone": spec.time_zone,
        },
    )
    jobs.start(job["id"], spec)
    return job


def custodians_of(case: Case, holds: Sequence[Hold]) -> tuple[str, ...]:
    """The custodians of a case: its own, then those its legal holds name (released ones too:
    a custodian stays one of the matter), each once, in that order."""
    found = dict.fromkeys(case.custodians)
    for hold in holds:
        found.update(dict.fromkeys(hold.scope.custodians))
    return tuple(found)


def export_job(jobs: ExportJobs, export_id: str) -> dict[str, Any]:
    """The job row of ``export_id``: its progress, and its file's hash once done."""
    job = jobs.get(export_id)
    if job is None:
        raise ExportNotFound(f"no export {export_id!r}")
    return job


def finished_export(jobs: ExportJobs, export_id: str) -> tuple[dict[str, Any], Path]:
    """The job row of a done export and its zip."""
    job = export_job(jobs, export_id)
    if job["status"] != "done":
        raise ExportNotReady(f"export {export_id} is {job['status']}, not done")
    path = jobs.path_of(export_id)
    if not path.is_file():
        raise ExportNotFound(f"export {export_id}'s file is no longer on disk")
    return job, path


def audit_finished(
    engine: Engine, job: dict[str, Any], result: ExportResult | None, error: BaseException | None
) -> None:
    """Audit the end of ``job``: ``export_done`` with its counts and hash, or ``export_failed``."""
    # The worker finishes the job on behalf of whoever started it, in their role.
    principal = Principal(token_id=WORKER, label=f"export worker for {job['requested_by']}", role=job["role"])
    if result is None:
        audit.record(engine, principal, "export_failed", {"export_id": job["id"], "error": job["error"]})
        return
    audit.record(
        engine,
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
