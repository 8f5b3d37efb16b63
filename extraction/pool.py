"""Extraction in worker processes, each file under a wall-clock and a memory limit.

Hostile files must never stop the caller, so every file is read in a worker process started
with ``spawn`` (nothing of the caller's state, threads or locks is inherited). The worker sets
``RLIMIT_AS`` to ``limits.memory_bytes`` on itself before it reads anything (tesseract, which
it starts, inherits it), so an allocation beyond it fails with ``MemoryError`` and the worker
answers ``failed``; a worker that dies instead (a crash in a C library, a signal) is replaced
and its file is ``failed`` with how it died. A worker that has not answered after
``limits.seconds`` is killed with its process group (the tesseract it started dies with it) and
replaced; its file is ``failed`` with the time limit as reason. :meth:`ExtractionPool.extract`
is safe to call from several threads at once: each call holds one worker, and at most
``workers`` run at a time.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import queue
import resource
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType

from extraction.extract import extract_file, warm_up
from extraction.result import Extraction, ExtractionLimits, FailureCause

log = logging.getLogger(__name__)

ExtractFunction = Callable[..., Extraction]
"""``extract_file``'s signature: ``(path, *, name, content_type, limits) -> Extraction``."""

STARTUP_SECONDS = 120.0
"""How long a new worker may take to import its libraries and say it is ready."""
POOL_EXTRACTOR = "extraction.pool"


def _worker_main(connection: Connection, limits: ExtractionLimits, extract: ExtractFunction, scratch: str) -> None:
    """A worker's loop: one request in, one answer out, until it is told to stop (None).

    Temporary files go to ``scratch``, which the pool removes with the worker: a worker killed
    in the middle of OCR leaves nothing behind.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    os.setpgid(0, 0)  # a group of its own: killing it kills the tesseract it may be running
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    warm_up()
    connection.send("ready")
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, name, content_type = request
        try:
            result = extract(Path(path), name=name, content_type=content_type, limits=limits)
        except MemoryError:
            result = _failed(f"out of memory (limit {limits.memory_bytes:,} bytes)")
        except BaseException as exc:  # the extract function's own bug: the answer says which
            result = _failed(f"extraction raised {type(exc).__name__}: {exc}"[:500])
        try:
            try:
                connection.send((result, _peak_rss_bytes()))
            except MemoryError:  # pickling a text near max_text_chars
                connection.send((_failed(f"out of memory (limit {limits.memory_bytes:,} bytes)"), _peak_rss_bytes()))
        except (OSError, ValueError):
            return  # the pool is gone (closed, or its process died): nobody waits for the answer


def _peak_rss_bytes() -> int:
    """This worker's peak resident set, or that of its largest child (tesseract) if larger.

    The worker's own is ``VmHWM``: ``ru_maxrss`` would start from what the process that spawned
    it held (Linux keeps it across fork and exec). A child's ``ru_maxrss`` starts from the
    worker's own peak at the fork, which this counts anyway.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    try:
        with open("/proc/self/status", encoding="utf-8", errors="replace") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return max(int(line.split()[1]) * 1024, children)
    except OSError:
        pass
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, children)


def _failed(reason: str, cause: FailureCause = "file") -> Extraction:
    return Extraction(
        state="failed",
        text="",
        extractor=POOL_EXTRACTOR,
        extractor_version=_archivist_version(),
        reason=reason,
        cause=cause,
    )


@functools.cache
def _archivist_version() -> str:
    try:
        return metadata.version("archivist")
    except metadata.PackageNotFoundError:
        return "unknown"


def _how_it_ended(code: int | None) -> str:
    if code is None or code >= 0:
        return f"exit code {code}"
    try:
        return f"killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"killed by signal {-code}"


class WorkerLost(Exception):
    """The worker died or was killed: it cannot answer and must be replaced."""


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    connection: Connection
    scratch: str
    """The worker's temporary directory (pytesseract's images): removed with the worker."""
    peak_rss_bytes: int = 0

    def stop(self, *, kill: bool) -> None:
        if not kill:
            try:
                self.connection.send(None)
            except (OSError, ValueError):
                kill = True
            else:
                self.process.join(5)
        if kill and self.process.pid is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass  # the group is gone already
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.connection.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


class ExtractionPool:
    """``workers`` processes extracting text under ``limits``; see the module's docstring."""

    def __init__(self, workers: int, limits: ExtractionLimits, *, extract: ExtractFunction = extract_file) -> None:
        """``extract`` is the function a worker runs per file (picklable: a module-level function)."""
        if workers < 1:
            raise ValueError("an extraction pool needs at least one worker")
        self.limits = limits
        self._extract = extract
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._all: set[_Worker] = set()
        self._closed = False
        self.peak_rss_bytes = 0
        """The largest peak resident set any worker (or the tesseract it ran) reported so far."""
        self.replaced = 0
        """Workers killed (time limit) or lost (died) and replaced."""

    def __enter__(self) -> ExtractionPool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _start_worker(self) -> _Worker:
        ours, theirs = self._context.Pipe(duplex=True)
        scratch = tempfile.mkdtemp(prefix="archivist-extract-")
        process = self._context.Process(
            target=_worker_main,
            args=(theirs, self.limits, self._extract, scratch),
            name="archivist-extract",
            daemon=True,
        )
        try:
            process.start()
        except OSError as exc:  # no process could be made (out of pids, of memory)
            ours.close()
            theirs.close()
            shutil.rmtree(scratch, ignore_errors=True)
            raise WorkerLost(f"an extraction worker did not start: {exc}") from exc
        theirs.close()
        worker = _Worker(process, ours, scratch)
        try:
            if not ours.poll(STARTUP_SECONDS) or ours.recv() != "ready":
                raise WorkerLost("the worker did not start")
        except (EOFError, OSError, WorkerLost) as exc:
            worker.stop(kill=True)
            raise WorkerLost(f"an extraction worker did not start: {exc}") from exc
        with self._lock:
            self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        with self._lock:
            self._all.discard(worker)
            self.replaced += 1

    def extract(self, path: Path, *, name: str, content_type: str) -> Extraction:
        """The text of the file at ``path``: never raises for the file, never waits past the limit."""
        if self._closed:
            raise RuntimeError("the extraction pool is closed")
        with self._slots:
            try:
                worker = self._idle_worker() or self._start_worker()
            except WorkerLost as exc:
                return _failed(str(exc), "infrastructure")
            return self._run(worker, path, name, content_type)

    def _idle_worker(self) -> _Worker | None:
        """A waiting worker that is still alive (one killed while idle is replaced, not blamed)."""
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return None
            if worker.process.is_alive():
                return worker
            log.warning(
                "extraction worker %s died while idle (%s)", worker.process.pid, _how_it_ended(worker.process.exitcode)
            )
            self._discard(worker)

    def _run(self, worker: _Worker, path: Path, name: str, content_type: str) -> Extraction:
        seconds = self.limits.seconds
        try:
            worker.connection.send((str(path), name, content_type))
            if not worker.connection.poll(seconds):
                log.warning(
                    "extraction of %s passed its %s s limit: worker %s killed", name, seconds, worker.process.pid
                )
                self._discard(worker)
                return _failed(f"time limit: no answer within {seconds:g} s (the worker was killed)", "worker")
            result, peak = worker.connection.recv()
        except (EOFError, OSError, ValueError):
            worker.process.join(5)
            code = worker.process.exitcode
            self._discard(worker)
            how = _how_it_ended(code)
            log.warning("extraction worker died on %s (%s)", name, how)
            return _failed(f"the extraction worker died ({how}; out of memory or a crash in a library)", "worker")
        worker.peak_rss_bytes = max(worker.peak_rss_bytes, peak)
        self.peak_rss_bytes = max(self.peak_rss_bytes, peak)
        if self._closed:
            worker.stop(kill=False)
        else:
            self._idle.put(worker)
        assert isinstance(result, Extraction)
        return result

    def close(self) -> None:
        """Stops every worker (idle ones at once; busy ones are killed)."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop(kill=False)
