"""The extraction worker: the text of each uploaded file, off the processor's batch cycle.

The ``extract`` adapter (:mod:`adapters.extraction_adapter`) leaves one job per upload in
``archive_extraction_jobs``; this loop does the work, at its own pace, with its own progress
per upload, so a slow OCR never delays archiving:

1. ``waiting`` jobs whose bytes have arrived since become ``queued``; with a ``fetch``
   callable, a waiting upload that names a url is fetched (at most once per
   ``fetch_retry_seconds``).
2. ``queued`` jobs, and ``running`` ones whose lease expired (their worker died), are claimed
   under a lease, the attempt counted (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write
   lock), up to ``workers`` at a time, each on a thread of its own.
3. The bytes go to the extractor (the :class:`~extraction.pool.ExtractionPool`'s ``extract``,
   which runs them in worker processes under time and memory limits): the store's file in
   place when it has one (:meth:`FsFileStore.local_path`), else a temporary copy.
4. The text is stored in the file store (UTF-8, content-addressed; none when it is empty), and
   in ONE transaction the ``file_text`` event is staged (its id derived from the upload's,
   :func:`ingest.events.file_text_event_id`) and the job marked ``done``. The processor then
   archives the event like any other; a crash before that commit leaves the job leased, and
   it is extracted again once the lease expires, staging the same event id.

A job whose extraction raised, hung past ``call_seconds`` or whose worker died is tried again;
after ``max_attempts`` it is finished with a ``failed`` text and the reason: the queue never
sticks, and nothing a file does stops the loop.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePath
from typing import Protocol

from sqlalchemy import Engine

from archive.attachments import (
    ExtractionJob,
    WaitingUpload,
    claim_extraction_jobs,
    extraction_pending,
    finish_extraction_job,
    note_fetch_tried,
    queue_arrived,
    record_native,
    release_extraction_job,
    waiting_with_url,
)
from archive.file_store import FileStore
from archive.record import payloads_of
from extraction.result import Extraction
from ingest.db import read_only
from ingest.errors import InvalidEvent
from ingest.events import (
    SCHEMA_VERSION,
    ExtractedText,
    FileTextEvent,
    FileUploadEvent,
    file_text_event_id,
    parse_event_json,
)
from ingest.staging import StagingStore, to_row

log = logging.getLogger(__name__)


class Extractor(Protocol):
    """:meth:`extraction.pool.ExtractionPool.extract`'s signature."""

    def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction: ...


Fetch = Callable[[WaitingUpload], bool]
"""Fetches an upload's bytes from its url into the file store and records them
(:func:`archive.attachments.record_native`); True when it did."""


@dataclass(frozen=True)
class WorkerOptions:
    workers: int = 2
    """Files extracted at once (the extraction pool's worker processes)."""
    lease_seconds: float = 300.0
    """How long a claimed job stays reserved; a worker that dies leaves it to expire."""
    call_seconds: float = 240.0
    """An extractor call that has not answered by then is abandoned (the pool's own time
    limit comes first): the attempt counts as failed."""
    max_attempts: int = 3
    interval: float = 2.0
    """Seconds between polls when there is nothing to do."""
    fetch_retry_seconds: float = 300.0


@dataclass
class WorkerOutcome:
    done: int = 0
    """Jobs finished with a ``file_text`` event staged (``failed`` texts included)."""
    retried: int = 0
    """Attempts that raised or hung, their job put back in the queue."""


@dataclass(frozen=True)
class _Settled:
    """What became of one claimed job."""

    done: bool


REASON_CHARS = 2000
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,16}")


class ExtractionWorker:
    def __init__(
        self,
        engine: Engine,
        store: FileStore,
        extractor: Extractor,
        options: WorkerOptions | None = None,
        *,
        fetch: Fetch | None = None,
        owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.store = store
        self.extractor = extractor
        self.options = options or WorkerOptions()
        self.fetch = fetch
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock
        self._staging = StagingStore(engine)
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()

    def run(self, *, until_empty: bool = False) -> WorkerOutcome:
        """Extract until stopped; with ``until_empty``, until no job whose bytes are stored is
        left (waiting ones are left waiting). A database that cannot be reached, a store that
        fails, an extractor that raises or hangs: logged, retried, never the end of the loop."""
        outcome = WorkerOutcome()
        in_flight: dict[Future[_Settled], tuple[ExtractionJob, str, float]] = {}
        next_prepare = 0.0
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_prepare:
                    self.prepare()
                    next_prepare = time.monotonic() + self.options.interval
                free = self.options.workers - len(in_flight)
                if free > 0:
                    token = f"{self.owner}:{uuid.uuid4().hex[:12]}"
                    for job in self._claim(token, free):
                        deadline = time.monotonic() + self.options.call_seconds
                        in_flight[self._start(job, token)] = (job, token, deadline)
                if not in_flight:
                    if until_empty and self._nothing_left():
                        break
                    self._stopping.wait(self.options.interval)
                    continue
                nearest = min(deadline for _, _, deadline in in_flight.values())
                timeout = max(0.0, min(self.options.interval, nearest - time.monotonic()))
                finished, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
                for future in finished:
                    in_flight.pop(future)
                    settled = future.result()
                    outcome.done += int(settled.done)
                    outcome.retried += int(not settled.done)
                for future, (job, token, deadline) in list(in_flight.items()):
                    if time.monotonic() >= deadline:
                        in_flight.pop(future)
                        reason = f"the extractor did not answer within {self.options.call_seconds:g} s"
                        log.warning("extraction of %s (%s): %s; abandoned", job.name, job.file_event_id, reason)
                        settled = self._attempt_failed(job, token, reason)
                        outcome.done += int(settled.done)
                        outcome.retried += int(not settled.done)
            except Exception as error:  # a lost database, a store that fails: wait, go on
                log.warning("extraction worker: %s: %s; retrying", error.__class__.__name__, error)
                self._stopping.wait(self.options.interval)
        for job, token, _ in in_flight.values():
            self._give_back(job, token)  # now, rather than when the lease runs out
        return outcome

    def prepare(self) -> int:
        """Fetch what can be fetched, then queue the waiting jobs whose bytes arrived."""
        if self.fetch is not None:
            self._fetch_waiting(self.fetch)
        with self.engine.begin() as connection:
            return queue_arrived(connection, self.clock())

    def _fetch_waiting(self, fetch: Fetch) -> None:
        now = self.clock()
        with self.engine.begin() as connection:
            uploads = waiting_with_url(
                connection,
                not_tried_since=now - timedelta(seconds=self.options.fetch_retry_seconds),
                limit=self.options.workers * 4,
            )
            for upload in uploads:
                note_fetch_tried(connection, upload.file_event_id, now)
        for upload in uploads:
            if self._stopping.is_set():
                return
            try:
                if fetch(upload):
                    log.info("fetched %s (%s) from its url", upload.name, upload.file_event_id)
            except Exception as error:
                log.warning("fetching %s (%s) failed: %s", upload.name, upload.file_event_id, error)

    def _claim(self, token: str, limit: int) -> list[ExtractionJob]:
        now = self.clock()
        with self.engine.begin() as connection:
            return claim_extraction_jobs(
                connection,
                owner=token,
                now=now,
                lease_until=now + timedelta(seconds=self.options.lease_seconds),
                limit=limit,
            )

    def _nothing_left(self) -> bool:
        with self.engine.connect() as connection:
            return extraction_pending(connection) == 0

    def _start(self, job: ExtractionJob, token: str) -> Future[_Settled]:
        future: Future[_Settled] = Future()

        def work() -> None:
            try:
                future.set_result(self._work(job, token))
            except BaseException as error:  # a Rust panic too: never the end of the loop
                future.set_result(self._attempt_failed(job, token, f"{error.__class__.__name__}: {error}"))

        # A thread of its own (daemon), not a pool's: one that hangs is abandoned without
        # taking a slot from the next file.
        threading.Thread(target=work, name=f"extract-{job.file_event_id[:8]}", daemon=True).start()
        return future

    def _work(self, job: ExtractionJob, token: str) -> _Settled:
        if job.attempts > self.options.max_attempts:
            # Claimed again after its worker died or hung on every attempt: give up on it.
            reason = f"extraction did not finish in {self.options.max_attempts} attempts (the worker died or hung)"
            return self._finish(job, token, _failed_extraction(reason))
        with self._bytes_of(job) as path:
            extraction = self.extractor(path, name=job.name, content_type=job.content_type)
        if self._stopping.is_set():
            # Stopped meanwhile: the pool may have killed the worker under this file (its
            # answer then says so), which says nothing about the file. Another run does it.
            self._give_back(job, token)
            return _Settled(done=False)
        return self._finish(job, token, extraction)

    def _give_back(self, job: ExtractionJob, token: str) -> None:
        """Return a job this worker will not finish to the queue, its attempt uncounted."""
        try:
            with self.engine.begin() as connection:
                release_extraction_job(
                    connection, job.file_event_id, owner=token, now=self.clock(), count_attempt=False
                )
        except Exception as error:  # its lease runs out instead
            log.warning("could not give back the extraction of %s: %s", job.file_event_id, error)

    @contextmanager
    def _bytes_of(self, job: ExtractionJob) -> Iterator[Path]:
        local_path = getattr(self.store, "local_path", None)
        if callable(local_path):
            path = local_path(job.sha256)
            assert isinstance(path, Path)
            yield path
            return
        directory = Path(tempfile.mkdtemp(prefix="archivist-extract-"))
        try:
            # Named by the upload's extension alone (it helps find the type): never by a name
            # that could be a path, too long, or "..".
            suffix = PurePath(job.name.replace("\\", "/")).suffix
            path = directory / f"file{suffix if _SUFFIX.fullmatch(suffix) else ''}"
            with self.store.open(job.sha256) as source, path.open("wb") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
            yield path
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _attempt_failed(self, job: ExtractionJob, token: str, reason: str) -> _Settled:
        """An attempt that raised or hung: tried again, or finished ``failed`` after the last."""
        try:
            if job.attempts >= self.options.max_attempts:
                log.error("extracting %s failed %d times: %s", job.file_event_id, job.attempts, reason)
                return self._finish(job, token, _failed_extraction(f"{reason} (after {job.attempts} attempts)"))
            log.warning("extracting %s failed (attempt %d): %s", job.file_event_id, job.attempts, reason)
            with self.engine.begin() as connection:
                release_extraction_job(connection, job.file_event_id, owner=token, now=self.clock())
        except Exception as error:  # the lease expires and the job is claimed again
            log.warning("could not record the failed extraction of %s: %s", job.file_event_id, error)
        return _Settled(done=False)

    def _finish(self, job: ExtractionJob, token: str, extraction: Extraction) -> _Settled:
        """Store the text, then stage the ``file_text`` event and mark the job done together."""
        with read_only(self.engine) as connection:
            upload = _upload_event(payloads_of(connection, [job.file_event_id]).get(job.file_event_id))
        text = extraction.text.encode("utf-8", errors="replace")
        # No text kept for an upload disposed of meanwhile: nothing would refer to it.
        stored = self.store.put([text]) if text and upload is not None else None
        with self.engine.begin() as connection:
            now = self.clock()
            if not finish_extraction_job(connection, job.file_event_id, owner=token, now=now):
                log.warning("lost the lease on %s before its text was recorded; its new owner records it", job.name)
                return _Settled(done=False)
            if upload is None:
                log.warning("upload %s is no longer in the archive (disposed): no text recorded", job.file_event_id)
                return _Settled(done=True)
            if stored is not None:
                record_native(connection, stored.sha256, stored.size, "extract")
            event = _file_text_event(upload, job, extraction, stored.sha256 if stored else None, now)
            outcome = self._staging.stage_in(connection, [to_row(event)])
            if outcome.conflicts:
                log.info("the text of %s was recorded already; the first one is kept", job.file_event_id)
        log.info("extracted %s (%s): %s", job.name, job.file_event_id, event.extracted.state)
        return _Settled(done=True)


def _upload_event(payload: str | None) -> FileUploadEvent | None:
    if payload is None:
        return None
    try:
        event = parse_event_json(payload)
    except InvalidEvent:  # a tombstone: the upload was disposed of
        return None
    return event if isinstance(event, FileUploadEvent) else None


def _failed_extraction(reason: str) -> Extraction:
    return Extraction(state="failed", text="", extractor="archivist", extractor_version="1", reason=reason)


def _clean(text: str) -> str:
    """``text`` as an event may carry it: no NUL, no lone surrogate (refused by the archive)."""
    return text.replace("\x00", "\ufffd").encode("utf-8", errors="replace").decode("utf-8")


def _file_text_event(
    upload: FileUploadEvent, job: ExtractionJob, extraction: Extraction, text_sha256: str | None, now: datetime
) -> FileTextEvent:
    state = extraction.state
    if state == "extracted" and text_sha256 is None:
        state = "empty"
    reason = _clean(extraction.reason)[:REASON_CHARS] if extraction.reason else None
    return FileTextEvent(
        schema_version=SCHEMA_VERSION,
        type="file_text",
        event_id=file_text_event_id(upload.event_id),
        occurred_at=now,
        room=upload.room,
        actor=upload.actor,
        extracted=ExtractedText(
            file_event_id=upload.event_id,
            sha256=job.sha256,
            state=state,
            reason=reason,
            extractor=_clean(extraction.extractor)[:200] or "unknown",
            extractor_version=_clean(extraction.extractor_version)[:200] or "unknown",
            text_sha256=text_sha256,
            text_chars=len(extraction.text) if text_sha256 else 0,
            truncated=extraction.truncated,
        ),
    )
