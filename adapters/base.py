"""The adapter interface: where the batch processor delivers staged events.

An adapter receives a whole batch, in occurrence order, and returns one result per event:
``None`` when the event is durably written, or a :class:`Failure` saying why not (the events it
knows failed; all of them when its store is unavailable). Raising an exception says "this batch
failed and I cannot tell which event made it fail": the processor then writes the batch again
in halves to find the failing events (:mod:`adapters.processor`), so the others are delivered
in the same cycle. Raise :class:`AdapterUnavailable` (or an :class:`OSError`) instead when the
store cannot be reached: no event is to blame, and the batch fails as a whole, without halving.
Adapters must be idempotent: the processor re-delivers events after a crash or a partial
failure, and writing an event twice must leave one copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from sqlalchemy import Connection, Engine

from archive.file_store import FileStore
from ingest.events import Event


@dataclass(frozen=True)
class Failure:
    """Why an adapter could not write one event (recorded on the staged row)."""

    reason: str
    permanent: bool = False
    """The event itself cannot be written, whenever it is tried (a value the store refuses):
    it is parked at once with the reason instead of retried ``max_attempts`` times."""
    unreachable: bool = False
    """The store could not be reached (no event is at fault): the event backs off as any
    failure does but is never parked for it, however long the outage lasts."""


class AdapterUnavailable(RuntimeError):
    """The adapter's store cannot be reached: the whole batch fails, whatever its events."""


class BatchFailed(RuntimeError):
    """A batch failed as a whole, with ``failure`` as the reason (an adapter in a worker
    process that raised: :mod:`adapters.worker_process`); the processor halves it as it does
    for any exception."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


DeliveryResult = Failure | None


@dataclass(frozen=True)
class AdapterContext:
    """What an adapter factory may use to build its adapter."""

    engine: Engine
    """The archive database (the same database as staging)."""
    data_dir: Path
    elasticsearch_url: str | None = None
    opensearch_url: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    database_connect_args: Mapping[str, str] = field(default_factory=dict)
    """How ``engine`` connects (PostgreSQL's TLS parameters), for a worker process that makes its own."""
    file_store: FileStore | None = None
    """Where natives and extracted texts are kept (:mod:`archive.file_store`); None: no attachments."""
    configure_worker_logging: Callable[[], object] | None = None
    """Sets up a worker process's logging as the parent's is set up (picklable: a module-level
    function or a ``functools.partial`` of one). The composition root hands it in, so the
    adapters know nothing of the command line's log options; None leaves Python's defaults."""


@runtime_checkable
class Adapter(Protocol):
    name: str

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        """Write ``batch``; return exactly one result per event, in the same order."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class WritesInStagingTransaction(Protocol):
    """Adapters whose store is the staging database itself (the archive).

    The processor calls :meth:`write_in` inside the transaction that records the batch in
    staging (under a savepoint, so a failed write rolls back alone): the archive and staging
    change together, and a batch costs one commit (one fsync) instead of two. Raising fails
    the whole batch with that reason, as :meth:`Adapter.write` does.
    """

    name: str

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        """``payloads``: each event's JSON as staged (:func:`ingest.events.event_to_json` of it),
        so that an adapter storing it need not serialise the event again."""
        ...


@runtime_checkable
class WritesStagedPayloads(Protocol):
    """Adapters that take the staged JSON payloads rather than parsed events (an adapter in a
    worker process, :mod:`adapters.worker_process`, parses them there, off the processor's GIL)."""

    name: str

    def write_payloads(self, payloads: Sequence[str]) -> Sequence[DeliveryResult]: ...


class DeletionFailed(RuntimeError):
    """An adapter could not confirm that every event it was asked to dispose of is gone from
    its store (refused, partly done, or unanswered): the caller must not record them as
    disposed (retention rolls the chunk back and the next run asks again)."""


@runtime_checkable
class SupportsDelete(Protocol):
    """Adapters that can dispose of events (retention): Elasticsearch, the archive.

    :meth:`delete` returns only once every event is gone from the store (an event it never
    held counts as gone), and raises (:class:`DeletionFailed`, or any exception) otherwise.
    It must be idempotent: a deletion that failed half way is asked for again, whole."""

    def delete(self, event_ids: Sequence[str]) -> None: ...


@runtime_checkable
class DeletesInTransaction(Protocol):
    """Deleting adapters whose store is the archive's database itself (supervision): retention
    calls :meth:`delete_in` in its chunk's transaction instead of :meth:`SupportsDelete.delete`,
    so the deletion commits with the disposal (on SQLite a second connection would wait for the
    write lock the chunk holds)."""

    def delete_in(self, connection: Connection, event_ids: Sequence[str]) -> None: ...


class AdapterFactory(Protocol):
    def __call__(self, context: AdapterContext) -> Adapter: ...


def all_succeeded(batch: Sequence[Event]) -> list[DeliveryResult]:
    return [None] * len(batch)
