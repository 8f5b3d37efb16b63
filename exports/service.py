"""Export jobs as the API and the web pages start and watch them: the order (a query and
formats, for a case or none), its checks, the job, and its audit entries (``export_start`` on
behalf of the caller; ``export_done`` or ``export_failed`` on behalf of the export worker).

An export of a case is a **production** of it: it takes control numbers from the case's
production log (:mod:`cases.productions`), which reserves them when the export starts and
records the range its formats used when it ends (``export_done`` names that range); an export
without a case keeps the export id's numbers (:func:`exports.documents.default_numbering`). The
prefix is the order's ``bates_prefix``, else the one the case's latest production used, else
one made of the case id (its first 8 letters and digits, upper-cased, then ``-``: the same rule
as an export id's, unique per case).

A refusal is :class:`NotExportable`, :class:`~cases.store.CaseNotFound` (the order names no
case there is), :class:`~cases.productions.ProductionRunning` (a production of the case is
running), :class:`~cases.productions.NumbersUsed` (``bates_start`` names numbers the case has
produced), :class:`ExportNotFound`, :class:`ExportNotReady` or the query's
:class:`~search.query_parser.QuerySyntaxError`; nothing is recorded then. Who may export (the
role) is the caller's to check first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator
from sqlalchemy import Engine

from archive import audit
from archive.principals import Principal
from cases.model import Case, Hold
from cases.productions import ProductionLog
from cases.store import CaseNotFound, CaseStore
from exports.documents import MAX_NUMBER, DocumentUnit, Numbering, default_numbering
from exports.jobs import ExportJobs, JobSpec
from exports.package import ExportResult
from exports.redaction import ProductionReview
from exports.registry import FORMAT_NAMES
from formats.time_zones import DEFAULT_ZONE, time_zone
from search.query_ast import TAG_OUTSIDE_REVIEW, uses_tags
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


Recipient = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ExportOrder(BaseModel):
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=10_000,
        description="A search query: every hit is exported (not given for a review set's production)",
    )
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

    unit: DocumentUnit = Field(
        default="conversation",
        description="What one document is: conversation (a room on one day of the export's time zone) or "
        "message (a message with its edits, reads and context) or thread (the messages of one thread, each with "
        "its edits, reads and context: docs/threads.md); attachments are family members either way",
    )
    bates_prefix: str | None = Field(
        default=None,
        max_length=20,
        description="A production of a case: the control (Bates) numbers' prefix, e.g. ACME- (default: the "
        "prefix of the case's latest production, else one made of the case id)",
    )
    bates_start: int | None = Field(
        default=None,
        ge=1,
        le=MAX_NUMBER,
        description="A production of a case: its first control number (default: the case's next free number "
        "for the prefix; a number the case has produced already is refused)",
    )
    recipients: list[Recipient] = Field(
        default_factory=list, max_length=50, description="Whom the production is for (the production log keeps it)"
    )
    review_set_id: str | None = Field(
        default=None,
        max_length=36,
        description="A production of a review set of the case: its documents (not the query's hits), in its unit "
        "and time zone; documents coded with a withhold tag are produced as placeholders and logged",
    )
    tags: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=20,
        description="A review set's production: only its documents carrying every one of these tags (names, as "
        "tag: searches them)",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            time_zone(name)  # UnknownTimeZone is a ValueError: a 422 naming the closest zones
        return name

    @field_validator("bates_prefix")
    @classmethod
    def _usable_prefix(cls, prefix: str | None) -> str | None:
        if prefix is not None:
            Numbering(prefix)  # BadNumbering is a ValueError: a 422 saying what a prefix may hold
        return prefix

    @model_validator(mode="after")
    def _a_query_or_a_review_set(self) -> Self:
        if self.query is None and self.review_set_id is None:
            raise ValueError("query: give a search query (every hit is exported), or a review_set_id to produce")
        if self.query is not None and self.review_set_id is not None:
            raise ValueError("a review set's production takes the set's documents: give no query with review_set_id")
        return self

    @model_validator(mode="after")
    def _review_sets_need_a_case(self) -> Self:
        if self.case_id is None and self.review_set_id is not None:
            raise ValueError("review_set_id names a review set of a case: give case_id")
        if self.review_set_id is None and self.tags:
            raise ValueError("tags filter the documents of a review set: give review_set_id")
        return self

    @model_validator(mode="after")
    def _numbers_need_a_case(self) -> Self:
        if self.case_id is None and (self.bates_prefix is not None or self.bates_start is not None):
            raise ValueError(
                "bates_prefix and bates_start number a production of a case: give case_id (an export without a "
                "case is numbered from its export id)"
            )
        return self

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


def start_export(
    engine: Engine,
    jobs: ExportJobs,
    caller: Principal,
    order: ExportOrder,
    *,
    source: str = "order",
    wait: bool = False,
) -> dict[str, Any]:
    """Record the job (for a case: reserve its numbers in the case's production log), audit it,
    and start it on the worker thread; the queued job row (``wait``: run it on the calling
    thread, the command line's way, and return the finished row). ``source``: where the order
    came from (``search``: a search's whole hit set), as the audit entry says."""
    if order.review_set_id is None:
        node = parse_query(order.query or "")  # a bad query is refused naming the position, before any job
        if answered_by_archive(node):
            raise NotExportable("exports take message queries; type: other than post is not exportable")
        if uses_tags(node):  # refused now, not queued for the job to fail with numbers reserved
            raise NotExportable(
                f"{TAG_OUTSIDE_REVIEW}; to produce coded documents, order a review set's production with its tags"
            )
        people_in(engine, node)  # a name naming too many people is refused now (422), not by the job later
    case: Case | None = None
    custodians: tuple[str, ...] = ()
    if order.case_id is not None:
        store = CaseStore(engine)
        case = store.get_case(order.case_id)
        if case is None:
            raise CaseNotFound(f"no case {order.case_id!r}: open the case first, or export without one")
        custodians = custodians_of(case, store.holds(case.id))
    review: ProductionReview | None = None
    unit = order.unit
    if case is not None and jobs.review is not None:
        # Read now (the redactions as they are when the production is ordered); it refuses a
        # review set or tag that is not the case's.
        review = jobs.review(case.id, order.review_set_id, tuple(order.tags))
    elif order.review_set_id is not None:
        raise NotExportable("this server cannot produce review sets (no review is wired into its export jobs)")
    if review is not None and review.review_set_id is not None:
        if "unit" in order.model_fields_set and order.unit != review.unit:
            raise NotExportable(
                f"review set {review.review_set_id} holds {review.unit} documents: its production is in that unit, "
                f"not {order.unit}"
            )
        unit = review.unit or unit  # type: ignore[assignment]
    # What the job, the production log and the manifest say was produced.
    query = order.query or f"review set {order.review_set_id}" + "".join(f" tag:{tag}" for tag in order.tags)
    export_id = str(uuid.uuid4())
    requested_by = f"{caller.label} ({caller.token_id})"
    # The review set's zone, else the order's, else the case's, else UTC.
    set_zone = review.time_zone if review is not None and review.review_set_id is not None else None
    if set_zone is not None and order.time_zone is not None and order.time_zone != set_zone:
        raise NotExportable(
            f"review set {order.review_set_id} is in {set_zone}: its production is in that zone, not {order.time_zone}"
        )
    zone = set_zone or order.time_zone or (case.time_zone if case is not None else None) or DEFAULT_ZONE
    numbering: Numbering | None = None
    if case is not None:
        log = ProductionLog(engine)
        prefix = order.bates_prefix or log.last_prefix(case.id) or default_numbering(case.id).prefix
        reserved = log.reserve(
            export_id=export_id,
            case_id=case.id,
            prefix=prefix,
            start=order.bates_start,
            unit=unit,
            time_zone=zone,
            recipients=order.recipients,
            query=query,
            formats=order.formats,
            requested_by=requested_by,
        )
        numbering = Numbering(reserved.prefix, reserved.start_number, reserved.width)
    spec = JobSpec(
        query=query,
        formats=tuple(order.formats),
        requested_by=requested_by,
        role=caller.role,
        case_id=order.case_id,
        # The case as it is when the export starts: the manifest and the PDF cover say it.
        case_name=case.name if case is not None else None,
        case_number=case.id if case is not None else None,  # cases have no separate matter number
        custodians=custodians,
        time_zone=zone,
        unit=unit,
        numbering=numbering,
        recipients=tuple(order.recipients),
        production=numbering is not None,
        review=review,
    )
    try:
        job = jobs.record(spec, job_id=export_id)
        details: dict[str, Any] = {
            "export_id": job["id"],
            "query": query,
            "formats": order.formats,
            "case_id": order.case_id,
            "time_zone": spec.time_zone,
            "unit": unit,
            "source": source,
        }
        if review is not None:
            details["review"] = {
                "review_set_id": review.review_set_id,
                "tags": list(review.tag_filter),
                "redactions": review.redactions.count,
                "withheld": len(review.withheld),
            }
        if numbering is not None:
            details["production"] = {
                "prefix": numbering.prefix,
                "reserved_from": numbering.control(numbering.start),
                "recipients": order.recipients,
            }
        audit.record(engine, caller, "export_start", details)
    except BaseException as failure:
        # Not recorded or not audited: it will not run, and its numbers are free again.
        jobs.abandon(export_id, f"the export could not be started: {failure.__class__.__name__}")
        raise
    if wait:
        return jobs.run_recorded(job["id"], spec)
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
    production = ProductionLog(engine).get(job["id"]) if job.get("case_id") else None
    if result is None or job["status"] != "done":
        failed: dict[str, Any] = {"export_id": job["id"], "error": job["error"]}
        if production is not None:
            failed["production"] = {
                "case_id": production.case_id,
                "released_from": production.control(production.start_number),
                "why": "a failed production delivered no numbers: the next one of the case starts here",
            }
        audit.record(engine, principal, "export_failed", failed)
        return
    done: dict[str, Any] = {
        "export_id": job["id"],
        "query": job["query"],
        "formats": job["formats"],
        "counts": result.manifest["counts"],
        "sha256": result.sha256,
        "size": result.size,
    }
    if production is not None:
        done["production"] = {
            "case_id": production.case_id,
            "unit": production.unit,
            "documents": production.documents,
            "first_control": production.first_control,
            "last_control": production.last_control,
            "recipients": list(production.recipients),
            "manifest_sha256": production.manifest_sha256,
        }
    audit.record(engine, principal, "export_done", done)
