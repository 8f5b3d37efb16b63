"""An adapter run in a worker process of its own.

The index and XML adapters spend most of a batch in Python (parsing payloads, building
documents and XML: about 35 µs an event, measured), and in the processor's process that work
competes for one GIL with the archive's. In a worker process it runs on another core: the
processor sends the staged JSON payloads as they are (the worker parses them itself, so no
parsed event is pickled), and the delivery thread that waits for the answer holds no GIL.

The worker is started with ``spawn`` (a forked copy of a process with threads and open
database connections is not safe), builds the adapter with the factory its entry point names,
and ignores SIGINT: Ctrl-C reaches the whole process group, and the processor decides when
the worker stops (it finishes its batch, then closes its adapters, which ends the worker).
SIGTERM still ends it (systemd units use ``KillMode=mixed`` so only the processor gets it
first). A worker that dies (killed, out of memory) fails the
batch it held with the reason, and the next batch starts a new one: the processor retries the
failed events with backoff, as for any adapter failure. A processor that dies closes the
worker's pipe, and the worker exits.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pkgutil
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from adapters.base import (
    Adapter,
    AdapterContext,
    AdapterFactory,
    AdapterUnavailable,
    BatchFailed,
    DeliveryResult,
    Failure,
)
from adapters.processor import failure_of, tune_gc_for_batches
from archive.file_store import FileStore
from ingest.db import create_db_engine
from ingest.events import Event, event_to_json, parse_event_json

log = logging.getLogger(__name__)

STOP_SECONDS = 30.0
"""How long :meth:`AdapterProcess.close` waits for the worker to close its adapter."""


class WorkerStartFailed(AdapterUnavailable):
    """The worker could not build its adapter (the message says why): no event is to blame."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs to build its adapter: everything in :class:`AdapterContext` but the
    engine, which cannot cross a process boundary (the worker makes its own from the URL)."""

    adapter_name: str
    factory: str
    """Where the adapter's factory is, as ``module:attribute`` (its entry point's value)."""
    database_url: str
    database_connect_args: Mapping[str, str]
    data_dir: Path
    elasticsearch_url: str | None
    opensearch_url: str | None
    options: Mapping[str, str]
    configure_logging: Callable[[], object] | None
    file_store: FileStore | None = None
    """The store of natives and extracted texts (stores are picklable)."""

    @classmethod
    def of(cls, adapter_name: str, factory: str, context: AdapterContext) -> WorkerSpec:
        return cls(
            adapter_name=adapter_name,
            factory=factory,
            database_url=context.engine.url.render_as_string(hide_password=False),
            database_connect_args=dict(context.database_connect_args),
            data_dir=context.data_dir,
            elasticsearch_url=context.elasticsearch_url,
            opensearch_url=context.opensearch_url,
            options=dict(context.options),
            configure_logging=context.configure_worker_logging,
            file_store=context.file_store,
        )


class AdapterProcess:
    """The adapter ``spec`` names, in a worker process; the processor hands it staged payloads
    (:meth:`write_payloads`), anything else may hand it parsed events (:meth:`write`)."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.name = spec.adapter_name
        self.spec = spec
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._start()

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        return self.write_payloads([event_to_json(event) for event in batch])

    def write_payloads(self, payloads: Sequence[str]) -> Sequence[DeliveryResult]:
        """Deliver ``payloads`` (staged event JSON) through the worker; one result per payload.

        An adapter that raises in the worker makes this raise :class:`BatchFailed` with the
        reason the processor would have recorded in process (and the processor halves the
        batch to find the failing events, as in process); a worker that dies makes this raise
        too (an event may have killed it: the halves go to a new worker)."""
        if not payloads:
            return []
        process, connection = self._running()
        try:
            connection.send(("write", list(payloads)))
        except (BrokenPipeError, ConnectionResetError, EOFError) as error:
            self._forget()
            raise RuntimeError(f"{self.name} worker process is gone: {error}") from error
        answer = self._answer(process, connection)
        if answer[0] == "raised":
            raise BatchFailed(Failure(answer[1], permanent=answer[2], unreachable=answer[3]))
        return [
            None if reason is None else Failure(reason, permanent, unreachable)
            for reason, permanent, unreachable in answer[1]
        ]

    def close(self) -> None:
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if process is None or connection is None:
            return
        try:
            connection.send(("close",))
            if connection.poll(STOP_SECONDS):
                connection.recv()
        except (BrokenPipeError, ConnectionResetError, EOFError, OSError):
            pass
        process.join(STOP_SECONDS)
        if process.is_alive():
            log.warning("%s worker process did not stop within %.0fs; terminating it", self.name, STOP_SECONDS)
            process.terminate()
            process.join(STOP_SECONDS)
        connection.close()

    def _running(self) -> tuple[BaseProcess, Connection]:
        """The worker, started anew when there is none (first batch, or the last one died)."""
        if self._process is None or self._connection is None or not self._process.is_alive():
            return self._start()
        return self._process, self._connection

    def _start(self) -> tuple[BaseProcess, Connection]:
        self._forget()
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe(duplex=True)
        process = context.Process(
            target=serve_adapter, args=(theirs, self.spec), name=f"archivist-{self.name}", daemon=True
        )
        process.start()
        theirs.close()
        self._process, self._connection = process, ours
        answer = self._answer(process, ours)
        if answer[0] != "ready":
            self._forget()
            raise WorkerStartFailed(f"{self.name} adapter could not start in its worker process: {answer[1]}")
        return process, ours

    def _answer(self, process: BaseProcess, connection: Connection) -> tuple[Any, ...]:
        """The worker's next message; raises when it died first."""
        ready = wait([connection, process.sentinel])
        if connection in ready:
            try:
                answer: tuple[Any, ...] = connection.recv()
                return answer
            except (EOFError, ConnectionResetError):
                pass
        process.join(1.0)
        code = process.exitcode
        self._forget()
        raise RuntimeError(f"{self.name} worker process exited (code {code}) before answering")

    def _forget(self) -> None:
        """Drop a worker that died or failed to start (a new one is started on the next batch)."""
        process, connection = self._process, self._connection
        self._process = self._connection = None
        if connection is not None:
            connection.close()
        if process is not None and process.is_alive():
            process.terminate()
            process.join(STOP_SECONDS)


def serve_adapter(connection: Connection, spec: WorkerSpec) -> None:
    """The worker's main loop: build the adapter, then answer ``write`` until ``close`` or until
    the processor's end of the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if spec.configure_logging is not None:
        spec.configure_logging()
    try:
        factory: AdapterFactory = pkgutil.resolve_name(spec.factory)
        context = AdapterContext(
            engine=create_db_engine(spec.database_url, spec.database_connect_args),
            data_dir=spec.data_dir,
            elasticsearch_url=spec.elasticsearch_url,
            opensearch_url=spec.opensearch_url,
            options=spec.options,
            database_connect_args=spec.database_connect_args,
            file_store=spec.file_store,
        )
        adapter = factory(context)
    except Exception as error:
        connection.send(("failed", f"{error.__class__.__name__}: {error}"))
        return
    tune_gc_for_batches()
    connection.send(("ready",))
    try:
        _answer_writes(connection, adapter)
    finally:
        adapter.close()
    with contextlib.suppress(OSError):
        connection.send(("closed",))


def _answer_writes(connection: Connection, adapter: Adapter) -> None:
    while True:
        try:
            message = connection.recv()
        except (EOFError, ConnectionResetError):
            return  # the processor is gone
        if message[0] == "close":
            return
        payloads = message[1]
        try:
            results = adapter.write([parse_event_json(p) for p in payloads])
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # a Rust panic (pyo3's PanicException) is a BaseException
            failure = failure_of(error)
            connection.send(("raised", failure.reason, failure.permanent, failure.unreachable))
            continue
        answers = [(None, False, False) if r is None else (r.reason, r.permanent, r.unreachable) for r in results]
        connection.send(("results", answers))
