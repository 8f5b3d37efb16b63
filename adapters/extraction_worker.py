"""The extraction worker: the text of each uploaded file, off the processor's batch cycle.

The ``extract`` adapter (:mod:`adapters.extraction_adapter`) leaves one job per upload in
``archive_extraction_jobs``; this loop does the work, at its own pace, with its own progress
per upload, so a slow OCR never delays archiving:

1. ``waiting`` jobs whose bytes have arrived since become ``queued``; with a ``fetch``
   callable, a waiting upload that names a url is fetched (at most once per
   ``fetch_retry_seconds``), on a thread of its own (at most ``fetches`` at once): a slow
   server never holds up extraction.
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

A job whose extraction raised, hung past ``call_seconds`` or whose worker died is tried again
(put off: ``backoff_initial`` seconds, doubling up to ``backoff_maximum``); after
``max_attempts`` it is finished with a ``failed`` text and the reason: the queue never sticks,
and nothing a file does stops the loop. A pool answer that its worker was killed at the time
limit or died (``Extraction.cause == "worker"``: the file, or the machine's load) is tried at
least twice. A failure that says nothing about the file (the store cannot be read or written,
the database fails, the pool could not start a worker) uses up no attempt: the job is put off
the same way and tried again, however long the outage lasts, so an outage never records a
``failed`` text (which would be final: the first text of an upload is kept).
"""

from __future__ import annotations

import hashlib
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
from dataclasses import dataclass, replace
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
    receiving_native,
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
    fetches: int = 4
    """Url fetches at once, each on a thread of its own, off the extraction loop."""
    backoff_initial: float = 1.0
    """How long a job whose attempt failed, or that an outage stopped, is put off (doubling)."""
    backoff_maximum: float = 300.0


@dataclass
class WorkerOutcome:
    done: int = 0
    """Jobs finished with a ``file_text`` event staged (``failed`` texts included)."""
    retried: int = 0
    """Attempts that raised or hung, their job put back in the queue."""
    put_off: int = 0
    """Jobs put off, their attempt uncounted, because the store, the database or the extraction
    pool failed (``until_empty`` leaves them for a later run)."""


@dataclass(frozen=True)
class _Settled:
    """What became of one claimed job."""

    done: bool
    put_off: bool = False


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
        self._run_marker = f"{self.owner}:put-off"
        """Who put jobs off during this run (in their ``lease_owner``): ``until_empty`` does not
        wait out an outage it ran into."""
        self._fetch_lock = threading.Lock()
        self._fetching: set[str] = set()

    def stop(self) -> None:
        self._stopping.set()

    def run(self, *, until_empty: bool = False) -> WorkerOutcome:
        """Extract until stopped; with ``until_empty``, until no job whose bytes are stored is
        left (waiting ones are left waiting). A database that cannot be reached, a store that
        fails, an extractor that raises or hangs: logged, retried, never the end of the loop.
        With ``until_empty``, jobs this run put off after an outage are left for a later run."""
        self._run_marker = f"{self.owner}:put-off:{uuid.uuid4().hex[:12]}"
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
                    outcome.retried += int(not settled.done and not settled.put_off)
                    outcome.put_off += int(settled.put_off)
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
        """Start fetching waiting uploads, each on a thread of its own (daemon: one that hangs
        is left behind, not waited for), at most ``fetches`` at once."""
        with self._fetch_lock:
            busy = set(self._fetching)
        free = self.options.fetches - len(busy)
        if free <= 0 or self._stopping.is_set():
            return
        now = self.clock()
        with self.engine.begin() as connection:
            found = waiting_with_url(
                connection,
                not_tried_since=now - timedelta(seconds=self.options.fetch_retry_seconds),
                limit=free + len(busy),
            )
            uploads = [upload for upload in found if upload.file_event_id not in busy][:free]
            for upload in uploads:
                note_fetch_tried(connection, upload.file_event_id, now)
        for upload in uploads:
            with self._fetch_lock:
                self._fetching.add(upload.file_event_id)
            name = f"fetch-{upload.file_event_id[:8]}"
            threading.Thread(target=self._fetch_one, args=(fetch, upload), name=name, daemon=True).start()

    def _fetch_one(self, fetch: Fetch, upload: WaitingUpload) -> None:
        try:
            if fetch(upload):
                log.info("fetched %s (%s) from its url", upload.name, upload.file_event_id)
                with self.engine.begin() as connection:  # queued now, before the fetch counts as over
                    queue_arrived(connection, self.clock())
        except Exception as error:
            log.warning("fetching %s (%s) failed: %s", upload.name, upload.file_event_id, error)
        finally:
            with self._fetch_lock:
                self._fetching.discard(upload.file_event_id)

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
        """No job to wait for (but those this run put off after an outage) and no fetch running
        (its bytes may queue a job)."""
        with self._fetch_lock:
            if self._fetching:
                return False
        with self.engine.connect() as connection:
            return extraction_pending(connection, not_put_off_by=self._run_marker) == 0

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

    @property
    def _worker_attempts(self) -> int:
        """Attempts before a worker killed at the time limit, or dead, is final: at least two
        (the machine's load, not the file, may have caused it)."""
        return max(2, self.options.max_attempts)

    def _work(self, job: ExtractionJob, token: str) -> _Settled:
        if job.attempts > self._worker_attempts:
            # Claimed again after its worker died or hung on every attempt: give up on it.
            reason = f"extraction did not finish in {self._worker_attempts} attempts (the worker died or hung)"
            return self._record(job, token, _failed_extraction(reason))
        try:
            with self._bytes_of(job) as path:
                try:
                    extraction = self.extractor(path, name=job.name, content_type=job.content_type)
                except Exception as error:  # the extractor's own: counted against the file
                    return self._attempt_failed(job, token, f"{error.__class__.__name__}: {error}")
        except Exception as error:  # the store could not give the bytes: not the file's doing
            return self._put_off(job, token, f"reading its bytes: {error.__class__.__name__}: {error}")
        if self._stopping.is_set():
            # Stopped meanwhile: the pool may have killed the worker under this file (its
            # answer then says so), which says nothing about the file. Another run does it.
            self._give_back(job, token)
            return _Settled(done=False)
        if extraction.state == "failed" and extraction.cause == "infrastructure":
            return self._put_off(job, token, extraction.reason or "the extraction pool failed")
        if extraction.state == "failed" and extraction.cause == "worker":
            reason = extraction.reason or "the extraction worker failed"
            if job.attempts < self._worker_attempts:
                return self._retry(job, token, reason)
            if job.attempts > 1:
                extraction = replace(extraction, reason=f"{reason} (after {job.attempts} attempts)")
        return self._record(job, token, extraction)

    def _delay(self, job: ExtractionJob) -> timedelta:
        """``backoff_initial``, then twice as long as the job was last put off, at most
        ``backoff_maximum``."""
        seconds = max(self.options.backoff_initial, 2 * job.put_off_seconds)
        return timedelta(seconds=min(self.options.backoff_maximum, seconds))

    def _retry(self, job: ExtractionJob, token: str, reason: str) -> _Settled:
        """Back in the queue after a failed attempt (counted), put off."""
        log.warning("extracting %s failed (attempt %d): %s", job.file_event_id, job.attempts, reason)
        try:
            with self.engine.begin() as connection:
                now = self.clock()
                release_extraction_job(
                    connection, job.file_event_id, owner=token, now=now, not_before=now + self._delay(job)
                )
        except Exception as error:  # the lease expires and the job is claimed again
            log.warning("could not record the failed extraction of %s: %s", job.file_event_id, error)
        return _Settled(done=False)

    def _put_off(self, job: ExtractionJob, token: str, reason: str) -> _Settled:
        """Back in the queue, the attempt uncounted, put off: the store, the database or the
        extraction pool failed, which says nothing about the file."""
        delay = self._delay(job)
        log.warning("extraction of %s put off for %g s: %s", job.file_event_id, delay.total_seconds(), reason)
        try:
            with self.engine.begin() as connection:
                now = self.clock()
                release_extraction_job(
                    connection,
                    job.file_event_id,
                    owner=token,
                    now=now,
                    count_attempt=False,
                    not_before=now + delay,
                    put_off_by=self._run_marker,
                )
        except Exception as error:  # its lease expires instead
            log.warning("could not put off the extraction of %s: %s", job.file_event_id, error)
        return _Settled(done=False, put_off=True)

    def _record(self, job: ExtractionJob, token: str, extraction: Extraction) -> _Settled:
        """:meth:`_finish`; a store or database that fails meanwhile puts the job off."""
        try:
            return self._finish(job, token, extraction)
        except Exception as error:
            return self._put_off(job, token, f"recording its text: {error.__class__.__name__}: {error}")

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
        """An attempt that raised or hung: tried again (put off), or finished ``failed`` after the last."""
        if job.attempts >= self.options.max_attempts:
            log.error("extracting %s failed %d times: %s", job.file_event_id, job.attempts, reason)
            return self._record(job, token, _failed_extraction(f"{reason} (after {job.attempts} attempts)"))
        return self._retry(job, token, reason)

    def _finish(self, job: ExtractionJob, token: str, extraction: Extraction) -> _Settled:
        """Store the text, then stage the ``file_text`` event and mark the job done together."""
        with read_only(self.engine) as connection:
            upload = _upload_event(payloads_of(connection, [job.file_event_id]).get(job.file_event_id))
        text = extraction.text.encode("utf-8", errors="replace")
        # No text kept for an upload disposed of meanwhile: nothing would refer to it.
        stored = None
        if text and upload is not None:
            with self.engine.begin() as connection:  # calls off a deletion of the same bytes (retention)
                receiving_native(connection, hashlib.sha256(text).hexdigest())
            stored = self.store.put([text])
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
