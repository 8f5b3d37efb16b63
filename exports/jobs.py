"""Export jobs: recorded in ``export_jobs``, run in the background, watched through the API.

A job runs on a worker thread of the API process; its progress (in events, each counted once
however many formats it is written in: see :data:`exports.package.Progress`) is committed
every thousand writes so ``GET /exports/{id}`` can show it. A job that was queued or
running when its process stopped is marked failed when the next process starts (the zip is
written under a temporary name, so nothing half-written is ever offered for download): only
those whose process is gone (each row records its process, ``owner``: see
:func:`cases.productions.owner_gone`), so a server starting leaves ``archivist export`` alone.

A job that is a production of a case (:attr:`JobSpec.production`) ends in the case's production
log (:mod:`cases.productions`): done, the range its formats numbered (``manifest.json``'s
``production``) and its hashes are recorded in the transaction that marks the job done; failed
(or interrupted), its reserved numbers are released in the one that marks it failed.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from archive.file_store import FileStore
from cases.productions import complete, owner_gone, process_owner, release, release_running
from exports.documents import DocumentUnit, Numbering
from exports.package import ExportRequest, ExportResult, build_export
from exports.redaction import ProductionReview
from exports.schema import export_jobs
from formats.time_zones import DEFAULT_ZONE
from search.backends import SearchBackend
from search.memberships import Memberships

log = logging.getLogger(__name__)

Finished = Callable[[dict[str, Any], ExportResult | None, BaseException | None], None]
"""Told when a job ends (the API audits it): the job row, the result or the error."""

ReviewLoader = Callable[[str, str | None, tuple[str, ...]], ProductionReview]
"""What review hands a production of a case (``review.privilege.production_review``, which the
composition root hands in: exports sit below review): called with the case id, the review set id
(None: a production of a query) and the tag filter; raises to refuse the order."""


@dataclass(frozen=True)
class JobSpec:
    query: str
    formats: tuple[str, ...]
    requested_by: str
    role: str
    case_id: str | None = None
    case_name: str | None = None
    case_number: str | None = None
    custodians: tuple[str, ...] = ()
    time_zone: str = DEFAULT_ZONE
    unit: DocumentUnit = "conversation"
    numbering: Numbering | None = None
    """The production's control numbers (reserved in the case's log); None: the export id's."""
    recipients: tuple[str, ...] = ()
    production: bool = False
    """The job is a production of ``case_id`` whose numbers the production log reserved under
    the job's id: its end is recorded there."""
    review: ProductionReview | None = None
    """The case's redactions, and a review set's documents and withholding (read when the order
    was started)."""


class ExportJobs:
    def __init__(
        self,
        engine: Engine,
        exports_dir: Path,
        backend: Callable[[], SearchBackend],
        *,
        memberships: Memberships | None = None,
        on_finished: Finished = lambda _job, _result, _error: None,
        workers: int = 1,
        file_store: FileStore | None = None,
        sweep: bool = True,
        review: ReviewLoader | None = None,
    ) -> None:
        """``sweep``: mark the jobs left queued or running failed (and release their productions'
        numbers): what the API process does when it starts; the command line, which runs one
        export beside a server that may be running others, does not."""
        self.engine = engine
        self.exports_dir = exports_dir
        self.backend = backend
        self.memberships = memberships
        self.on_finished = on_finished
        self.file_store = file_store
        """Where exports read natives and extracted texts from (None: they carry none)."""
        self.review = review
        """Reads what a production of a case applies (redactions, a review set): the API and the
        command line hand it in; None: productions apply none (and review sets cannot be produced)."""
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="export")
        if sweep:
            self._interrupted()

    def submit(self, spec: JobSpec) -> dict[str, Any]:
        """Record the job and start it on the worker thread; the queued job row."""
        job = self.record(spec)
        self.start(job["id"], spec)
        return job

    def start(self, job_id: str, spec: JobSpec) -> None:
        """Run a recorded job on the worker thread."""
        self._pool.submit(self._run, job_id, spec)

    def run_now(self, spec: JobSpec) -> dict[str, Any]:
        """Run a job on the calling thread (the CLI, the bench); the finished job row."""
        job = self.record(spec)
        return self.run_recorded(job["id"], spec)

    def run_recorded(self, job_id: str, spec: JobSpec) -> dict[str, Any]:
        """Run a recorded job on the calling thread; the finished job row."""
        self._run(job_id, spec)
        finished = self.get(job_id)
        assert finished is not None
        return finished

    def record(self, spec: JobSpec, *, job_id: str | None = None) -> dict[str, Any]:
        """Record a queued job (``job_id``: the id its production's numbers were reserved under)."""
        job_id = job_id or str(uuid.uuid4())
        with self.engine.begin() as connection:
            connection.execute(
                insert(export_jobs),
                {
                    "id": job_id,
                    "case_id": spec.case_id,
                    "format": ",".join(spec.formats),
                    "query": spec.query,
                    "requested_by": spec.requested_by,
                    "role": spec.role,
                    "status": "queued",
                    "events_done": 0,
                    "created_at": datetime.now(UTC),
                    "owner": process_owner(),
                },
            )
        found = self.get(job_id)
        assert found is not None
        return found

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(export_jobs).where(export_jobs.c.id == job_id)).first()
        return _as_dict(row._mapping) if row is not None else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(export_jobs).order_by(export_jobs.c.created_at.desc()).limit(limit))
            return [_as_dict(r._mapping) for r in rows]

    def path_of(self, job_id: str) -> Path:
        return self.exports_dir / f"{job_id}.zip"

    def abandon(self, job_id: str, error: str) -> None:
        """A job that will not run (it could not be recorded or audited): marked failed if it
        was recorded, and its production's reserved numbers given back."""
        with self.engine.begin() as connection:
            connection.execute(
                update(export_jobs)
                .where(export_jobs.c.id == job_id)
                .values(status="failed", finished_at=datetime.now(UTC), error=error)
            )
            release(connection, job_id, error)

    def shutdown(self, wait: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _run(self, job_id: str, spec: JobSpec) -> None:
        self._set(job_id, status="running", started_at=datetime.now(UTC))
        request = ExportRequest(
            export_id=job_id,
            query=spec.query,
            formats=spec.formats,
            requested_by=spec.requested_by,
            role=spec.role,
            case_id=spec.case_id,
            case_name=spec.case_name,
            case_number=spec.case_number,
            custodians=spec.custodians,
            time_zone=spec.time_zone,
            unit=spec.unit,
            numbering=spec.numbering,
            recipients=spec.recipients,
            review=spec.review,
        )
        result: ExportResult | None = None
        error: BaseException | None = None
        try:
            result = build_export(
                self.engine,
                self.backend(),
                request,
                self.path_of(job_id),
                memberships=self.memberships,
                progress=lambda done, total: self._set(job_id, events_done=done, events_total=total),
                file_store=self.file_store,
            )
        except BaseException as failure:  # reported on the job; the API never sees a traceback
            # BaseException too: an export run on the spot (``archivist export --case``) stopped
            # by Ctrl-C (KeyboardInterrupt) or SystemExit still fails its job and gives its
            # production's numbers back, then the interruption goes on (re-raised below).
            error = failure
            log.exception("export %s failed", job_id)
        else:
            try:
                self._done(job_id, spec, result)
            except Exception as failure:  # the production could not be recorded: not delivered
                error, result = failure, None
                log.exception("export %s: its production could not be recorded", job_id)
                self.path_of(job_id).unlink(missing_ok=True)
        if error is not None:
            message = f"{error.__class__.__name__}: {error or 'interrupted'}"[:2000]
            with self.engine.begin() as connection:
                connection.execute(
                    update(export_jobs)
                    .where(export_jobs.c.id == job_id)
                    .values(status="failed", finished_at=datetime.now(UTC), error=message)
                )
                if spec.production:
                    release(connection, job_id, message)
        job = self.get(job_id)
        if job is not None:
            try:
                self.on_finished(job, result, error)
            except Exception:
                log.exception("export %s: the finish hook failed", job_id)
        if error is not None and not isinstance(error, Exception):
            raise error

    def _done(self, job_id: str, spec: JobSpec, result: ExportResult) -> None:
        """Mark the job done and, for a production, record the range it numbered and its hashes
        in the case's log, in one transaction: a done job is always a recorded production."""
        events = result.manifest["counts"]["events"]  # each event once, however many formats
        with self.engine.begin() as connection:
            connection.execute(
                update(export_jobs)
                .where(export_jobs.c.id == job_id)
                .values(
                    status="done",
                    finished_at=datetime.now(UTC),
                    events_done=events,
                    events_total=events,
                    file_path=str(result.path),
                    file_sha256=result.sha256,
                    file_size=result.size,
                    manifest=json.dumps(result.manifest, ensure_ascii=False),
                )
            )
            if spec.production:
                numbered = result.manifest["production"]
                complete(
                    connection,
                    job_id,
                    first_number=numbered["first_number"],
                    last_number=numbered["last_number"],
                    documents=numbered["documents"],
                    zip_sha256=result.sha256,
                    manifest_sha256=result.manifest_sha256,
                )

    def _set(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(update(export_jobs).where(export_jobs.c.id == job_id).values(**values))

    def _interrupted(self) -> None:
        with self.engine.begin() as connection:
            interrupted = "interrupted: the server stopped before the export finished; start it again"
            # Only the jobs whose process is gone: not the command line's running beside us.
            unfinished = connection.execute(
                select(export_jobs.c.id, export_jobs.c.owner).where(export_jobs.c.status.in_(["queued", "running"]))
            ).all()
            gone = [row.id for row in unfinished if owner_gone(row.owner)]
            connection.execute(
                update(export_jobs)
                .where(export_jobs.c.id.in_(gone))
                .values(
                    status="failed",
                    finished_at=datetime.now(UTC),
                    error=interrupted,
                )
            )
            # Their productions delivered nothing: their numbers are free again.
            release_running(connection, live=(), error=interrupted)


def _as_dict(row: Any) -> dict[str, Any]:
    job = dict(row)
    job["manifest"] = json.loads(job["manifest"]) if job.get("manifest") else None
    job["formats"] = job["format"].split(",")
    return job
