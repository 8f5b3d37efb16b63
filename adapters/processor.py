"""``archivist process``: deliver staged events to every adapter, then delete them from staging.

Deliver, then delete. A processor claims a batch of due events in occurrence order (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL while it stamps a lease on them, the write lock on SQLite),
hands the batch to each adapter that has not yet succeeded for those events, and records the
outcome per event and adapter. An event is deleted from staging in the same transaction that
records its last missing success, so a crash at any point leaves it staged with the successes
it already had: the next claim re-delivers only to the adapters still missing, and adapters
absorb a repeat because they are idempotent. Failing events back off exponentially and are
parked (kept, flagged, counted) after ``max_attempts`` attempts it may be at fault for: an
attempt on which every failure said the store was unreachable (``Failure.unreachable``) is
counted apart (``outages``), so an outage is waited out, never parked. The statements on staging (claim,
lease, progress, backoff, deletion) are :mod:`ingest.staging_claims`'s; this module decides
which to run, and when.

One event never holds back its neighbours. An adapter that answers per event (a
:class:`~adapters.base.Failure` for some) fails only those. An adapter that raises has failed
the batch without saying which event made it fail (on PostgreSQL, one text with a NUL makes
the archive's multi-row insert fail as a whole): the processor then writes the batch again in
halves, and the halves of a half that fails, until each failing event has failed alone (a
bisection: about 2·log2(n) more writes per failing event, up to 2n - 1 when every write fails;
nothing more when the first write succeeds, so the usual batch pays nothing). The events of
the halves that succeed are delivered in the same cycle; each event that failed alone is
recorded with its own reason and backs off as any failure does, except that a value the
database refuses (SQLSTATE class 22, data exception, or 54, program limit exceeded; SQLite's
"too big") is parked at once, with that reason: it would fail the same way on every attempt
(``archivist retry-parked`` puts it back once the cause is fixed). A failure that says the
store is unreachable (:class:`~adapters.base.AdapterUnavailable`, an ``OSError``, a lost
database connection) is not halved: no event is to blame, and halving would only multiply the
calls to a store that is down. A Rust panic in an adapter (a ``BaseException``) is a failure
like any other, not the end of the processor.

The archive is halved inside the transaction that records the outcome, each write under a
savepoint of its own: a failed write (which on PostgreSQL aborts everything since the last
savepoint) rolls back alone. Every write reads the chain's head in that transaction and
appends after it, in the batch's occurrence order, so the events that succeed are chained one
after the other with no gap and no fork, as if the failing ones had never been in the batch.

Several processors (``archivist process`` on several hosts or cores, one PostgreSQL) deliver
in parallel; what they still do one at a time, and why:

- claiming: never. ``FOR UPDATE SKIP LOCKED`` skips the rows another processor is claiming,
  and every later statement on staging touches only the claimant's own leased rows;
- the archive chain: one append at a time, because the chain has one head (an advisory lock
  on PostgreSQL, see :func:`archive.record.append_events`; SQLite's write lock). Held from
  the archive's write to the commit, with the adapters that write in the same transaction
  after it (``extract``; ``threads``, which must read the archive as the batches before left
  it, and costs about as much as the archive's write). That transaction holds only database
  work: the adapters outside the staging database (a search engine, worker processes) have
  answered before it begins, and the deliveries of the next batch to them, claimed just
  before it, run while it writes and commits. A processor waiting for a slow search engine
  holds no lock another processor needs, and no transaction holds a staging row while it
  waits for the chain's lock (the claim commits first), so the two cannot deadlock;
- the ``xml`` and ``actiance`` files of one directory: their ledger's lock
  (:mod:`adapters.file_ledger`), off the database transaction;
- the search engines (``opensearch``, ``elasticsearch``): nothing on our side (concurrent
  updates of one message document are retried by the engine, ``retry_on_conflict``). Only the
  Tantivy ``index`` has one writer: processors sharing it take turns on its lock.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
    StatementError,
)

from adapters import metrics
from adapters.base import (
    Adapter,
    AdapterUnavailable,
    BatchFailed,
    DeliveryResult,
    Failure,
    WritesInStagingTransaction,
    WritesStagedPayloads,
)
from ingest.errors import InvalidEvent
from ingest.events import Event, parse_event_json
from ingest.retry import Backoff
from ingest.staging_claims import ClaimedRow, StagingClaims, only_parked_left

log = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)

DATABASE_LOST = (OperationalError, InterfaceError, PendingRollbackError)
"""What :meth:`BatchProcessor.run` waits out with backoff (PendingRollbackError: the connection
was lost inside a batch's transaction, under an adapter that reports its failure as a result)."""


@dataclass(frozen=True)
class ProcessorOptions:
    batch_size: int = 1000
    lease_seconds: float = 300.0
    max_attempts: int = 8
    backoff_initial: float = 1.0
    backoff_maximum: float = 300.0

    def backoff(self, attempts: int) -> timedelta:
        """Delay before attempt ``attempts + 1``: doubling from ``backoff_initial``, capped."""
        return timedelta(seconds=min(self.backoff_maximum, self.backoff_initial * 2 ** max(0, attempts - 1)))


@dataclass
class BatchOutcome:
    claimed: int = 0
    completed: int = 0
    failed: int = 0
    parked: int = 0
    per_adapter_failures: dict[str, int] = field(default_factory=dict)


@dataclass
class ClaimedEvent:
    event_id: str
    attempts: int
    event: Event | None
    """None when the staged payload no longer parses (it is parked with the reason)."""
    delivered: set[str]
    payload: str
    """The staged JSON, for adapters that parse it themselves (:class:`WritesStagedPayloads`)."""
    outages: int = 0
    """Of ``attempts``, those that found a store unreachable (they do not count toward parking)."""


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class BatchProcessor:
    def __init__(
        self,
        engine: Engine,
        adapters: Sequence[Adapter],
        options: ProcessorOptions | None = None,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        names = [a.name for a in adapters]
        if len(set(names)) != len(names):
            raise ValueError(f"each adapter may be configured once, got {names}")
        self.engine = engine
        self.adapters = list(adapters)
        self.options = options or ProcessorOptions()
        self.owner = owner or default_owner()
        self._claims = StagingClaims(self.owner)
        self.clock = clock
        self._stopping = False
        self._next: _Ahead | None = None
        """A batch claimed ahead, just before the transaction that records the previous one,
        parsed on the parsing thread and delivered to the adapters outside the staging
        database while that transaction writes and commits."""
        self._outside = [a for a in self.adapters if not isinstance(a, WritesInStagingTransaction)]
        self._inside = [a for a in self.adapters if isinstance(a, WritesInStagingTransaction)]
        self._pool: ThreadPoolExecutor | None = None
        self._parser: ThreadPoolExecutor | None = None

    def stop(self) -> None:
        self._stopping = True

    def close(self) -> None:
        """Stop the delivery threads (the adapters belong to the caller)."""
        for pool in (self._pool, self._parser):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._parser = None

    def run(self, *, interval: float = 2.0, until_empty: bool = False) -> BatchOutcome:
        """Process batches until stopped; with ``until_empty``, until staging holds only parked
        events (it waits for backoffs and for leases held by a processor that died).

        A lost database (a restart, a failover) does not end the loop: it retries with backoff
        until the database answers again. A batch in hand when the connection went stays
        leased until its lease expires, and is then re-delivered only to the adapters that do
        not have it (what a processor that died leaves behind)."""
        total = BatchOutcome()
        backoff = Backoff(initial=0.5, maximum=10.0)
        delays = backoff.delays()
        try:
            while not self._stopping:
                try:
                    outcome = self.process_batch(claim_next=True)
                    finished = not outcome.claimed and until_empty and only_parked_left(self.engine)
                except DATABASE_LOST as error:
                    delay = next(delays)
                    log.warning("lost the database (%s); retrying in %.1fs", error, delay)
                    self._sleep(delay)
                    continue
                delays = backoff.delays()
                _accumulate(total, outcome)
                if outcome.claimed:
                    continue
                if finished:
                    break
                self._sleep(interval)
        finally:
            self._release_next()
            self.close()
        return total

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))

    def process_batch(self, *, claim_next: bool = False) -> BatchOutcome:
        """Claim one batch, deliver it to every adapter still missing, record the outcome.

        Adapters that write to the staging database itself (the archive) are delivered inside
        the transaction that records the outcome: the archive and staging then change
        together, in one commit. The other adapters (index, files, search engines) are
        delivered each on a thread of its own, and have answered before that transaction
        begins: it never holds the archive chain's lock (or SQLite's write lock) while a
        network round trip or a Tantivy commit is under way.

        With ``claim_next`` (what :meth:`run` does), the next batch is claimed just before the
        transaction that records the outcome (in one of its own, which holds no lock once
        committed) and handed to the adapters outside the staging database at once: their
        waits (a network round trip, a Tantivy commit, an fsync) release the GIL and overlap
        with the archive's write and the commit. A processor that stops with a batch claimed
        ahead gives it back once its deliveries have answered (:meth:`_release_next`); one
        that dies leaves its lease to expire, as it would mid-batch. A batch claimed ahead
        stays claimed when recording the one before fails: :meth:`run` records it next.
        """
        batch_started = time.perf_counter()
        ahead, self._next = self._next, None
        running: list[tuple[Adapter, Future[Delivery]]] | None = None
        if ahead is not None:
            claimed, running = ahead.claimed.result(), ahead.running
        else:
            claimed = self._claim()
        if not claimed:
            wait([future for _adapter, future in running or []])
            return BatchOutcome()
        failures: dict[str, dict[str, Failure]] = {c.event_id: {} for c in claimed}
        successes: dict[str, set[str]] = {c.event_id: set() for c in claimed}
        for item in claimed:
            if item.event is None:
                # It would not parse on the next attempt either: parked at once, with the reason.
                failures[item.event_id]["staging"] = Failure(
                    f"the staged payload is not a valid event: {_parse_problem(item.payload)}", permanent=True
                )
        if running is None:
            running = [(adapter, self._start_delivery(adapter, claimed)) for adapter in self._outside]
        outcome = self._record(claimed, successes, failures, running, claim_next=claim_next)
        metrics.COMPLETED.inc(outcome.completed)
        metrics.PARKED.inc(outcome.parked)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - batch_started)
        log.info(
            "batch of %d: %d completed, %d failed, %d parked",
            outcome.claimed,
            outcome.completed,
            outcome.failed,
            outcome.parked,
        )
        return outcome

    def _start_delivery(self, adapter: Adapter, claimed: Sequence[ClaimedEvent]) -> Future[Delivery]:
        """Deliver to ``adapter`` on a delivery thread; the future holds what it answered."""
        return self._delivery_pool().submit(_timed_delivery, adapter, _pending_for(adapter.name, claimed))

    def _start_delivery_when_parsed(self, adapter: Adapter, parsed: Future[list[ClaimedEvent]]) -> Future[Delivery]:
        """Deliver to ``adapter`` the batch ``parsed`` will hold, once it is parsed."""
        return self._delivery_pool().submit(_delivery_when_parsed, adapter, parsed)

    def _delivery_pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._outside)), thread_name_prefix="deliver")
        return self._pool

    def _deliver_in_transaction(
        self, connection: Connection, adapter: WritesInStagingTransaction, claimed: Sequence[ClaimedEvent]
    ) -> Delivery:
        pending = _pending_for(adapter.name, claimed)
        if not pending:
            return Delivery([], [], 0.0)
        started = time.perf_counter()
        results = _deliver_in(connection, adapter, pending)
        return Delivery(pending, results, time.perf_counter() - started)

    def _claim(self) -> list[ClaimedEvent]:
        """Claim the next batch in a transaction of its own."""
        with self.engine.begin() as connection:
            return _parsed(self._claimed_rows_in(connection))

    def _release_next(self) -> None:
        """Give back a batch claimed ahead and not recorded (the processor is stopping), once
        its deliveries under way have answered."""
        ahead, self._next = self._next, None
        if ahead is None:
            return
        wait([future for _adapter, future in ahead.running or []])
        ids = [c.event_id for c in ahead.claimed.result()]
        if ids:
            with self.engine.begin() as connection:
                self._claims.release(connection, ids)

    def _claim_ahead(self) -> _Ahead:
        """Claim the next batch (a transaction of its own), parse it on the parsing thread and
        deliver it to the adapters outside the staging database on their threads: the
        recording transaction's writes and commit (round trips, an fsync) release the GIL, so
        the parsing and the deliveries overlap them instead of following them. A stopping
        processor delivers nothing ahead (:meth:`_release_next` gives the batch back)."""
        with self.engine.begin() as connection:
            rows = self._claimed_rows_in(connection)
        if self._parser is None:
            self._parser = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse")
        parsed = self._parser.submit(_parsed, rows)
        if self._stopping or not rows:
            return _Ahead(parsed, None)
        return _Ahead(parsed, [(a, self._start_delivery_when_parsed(a, parsed)) for a in self._outside])

    def _claimed_rows_in(self, connection: Connection) -> list[ClaimedRow]:
        """Lease the next batch of due events to us, in ``connection``'s transaction."""
        lease = timedelta(seconds=self.options.lease_seconds)
        return self._claims.claim(connection, now=self.clock(), lease=lease, limit=self.options.batch_size)

    def _record(
        self,
        claimed: Sequence[ClaimedEvent],
        successes: dict[str, set[str]],
        failures: dict[str, dict[str, Failure]],
        running: Sequence[tuple[Adapter, Future[Delivery]]],
        *,
        claim_next: bool = False,
    ) -> BatchOutcome:
        """Once the ``running`` deliveries have answered: (with ``claim_next``) the claim of
        the next batch in a transaction of its own, left in ``self._next`` on its way to the
        adapters outside the staging database; then one transaction: delivery to the adapters
        that write in the staging database (the archive), deletion of completed events,
        progress and backoff for the rest."""
        try:
            # Before the transaction begins: the archive's write takes the chain's lock (the
            # write lock on SQLite) until the commit, and another processor's archive write
            # waits for it. Waiting for a search engine inside would make every processor
            # wait for this one's search engine (turn-taking); outside, the lock is held for
            # database work alone.
            wait([future for _adapter, future in running])
            if claim_next:
                # Committed before the transaction that takes the chain's lock. A claim can
                # leave a row of another processor's batch locked until its transaction ends
                # (PostgreSQL keeps the row lock of a row whose lease it re-checked and found
                # taken, as it does after any SELECT ... FOR UPDATE); inside a transaction
                # that then waited for the chain's lock, the lock's holder deleting its batch
                # waited for that row: a deadlock (seen twice in one bench/process.py run).
                # So no transaction holds a staging row while it waits for the chain's lock.
                self._next = self._claim_ahead()
            with self.engine.begin() as connection:
                for adapter in self._inside:
                    delivery = self._deliver_in_transaction(connection, adapter, claimed)
                    _note(adapter.name, delivery, successes, failures)
                for other, future in running:
                    _note(other.name, future.result(), successes, failures)
                return self._record_in(connection, claimed, successes, failures)
        finally:
            # Even when recording failed: an adapter is never given a batch while it still
            # works on the one before.
            wait([future for _adapter, future in running])

    def _record_in(
        self,
        connection: Connection,
        claimed: Sequence[ClaimedEvent],
        successes: dict[str, set[str]],
        failures: dict[str, dict[str, Failure]],
    ) -> BatchOutcome:
        """Record the outcome of ``claimed`` inside ``connection``'s transaction."""
        required = {a.name for a in self.adapters}
        if all(not failures[c.event_id] and required <= (c.delivered | successes[c.event_id]) for c in claimed):
            return self._record_all_completed(connection, claimed)
        now = self.clock()
        outcome = BatchOutcome(claimed=len(claimed))
        owned = self._still_owned(connection, [c.event_id for c in claimed])
        mine = [c for c in claimed if c.event_id in owned]
        completed = [
            c.event_id for c in mine if not failures[c.event_id] and required <= (c.delivered | successes[c.event_id])
        ]
        unfinished = [c for c in mine if failures[c.event_id]]
        # Successes are recorded only for events that stay staged; completed ones just go.
        progress = [
            {"event_id": c.event_id, "adapter": name, "delivered_at": now}
            for c in unfinished
            for name in successes[c.event_id]
        ]
        if progress:
            self._claims.record_progress(connection, progress)
        for item in unfinished:
            errors = failures[item.event_id]
            for adapter_name in errors:
                outcome.per_adapter_failures[adapter_name] = outcome.per_adapter_failures.get(adapter_name, 0) + 1
            outcome.parked += int(self._back_off(connection, item, errors, now))
        outcome.failed = len(unfinished)
        self._claims.delete_owned(connection, completed)
        outcome.completed = len(completed)
        done = set(completed)
        remaining = [event_id for event_id in owned if event_id not in done]
        if remaining:
            self._claims.release(connection, remaining)
        return outcome

    def _record_all_completed(self, connection: Connection, claimed: Sequence[ClaimedEvent]) -> BatchOutcome:
        """The usual case, every event done: delete those still leased to us, one statement per table."""
        ids = [c.event_id for c in claimed]
        deleted = self._claims.delete_leased(connection, ids, with_progress=any(c.delivered for c in claimed))
        if len(deleted) < len(ids):
            log.warning("lost the lease on %d events (batch took longer than the lease)", len(ids) - len(deleted))
        return BatchOutcome(claimed=len(claimed), completed=len(deleted))

    def _still_owned(self, connection: Connection, claimed: list[str]) -> set[str]:
        """The claimed events whose lease is still ours (row-locked until commit on PostgreSQL)."""
        owned = self._claims.still_owned(connection, claimed)
        if len(owned) < len(claimed):
            log.warning("lost the lease on %d events (batch took longer than the lease)", len(claimed) - len(owned))
        return owned

    def _back_off(self, connection: Connection, item: ClaimedEvent, errors: dict[str, Failure], now: datetime) -> bool:
        attempts = item.attempts + 1
        # An outage is waited out, never parked: parking asks an operator to look at an event,
        # and an unreachable store says nothing about the event (the fault test saw a search node
        # down for two minutes park everything its processor claimed). The delay still grows to
        # backoff_maximum, so a long outage costs one attempt per event that often. Those attempts
        # are counted apart (``outages``): an event gets its max_attempts tries at fault after an
        # outage too, instead of parking on its first ordinary failure.
        at_fault = not all(failure.unreachable for failure in errors.values())
        outages = item.outages + (0 if at_fault else 1)
        tries_at_fault = attempts - outages
        parked = any(f.permanent for f in errors.values()) or (at_fault and tries_at_fault >= self.options.max_attempts)
        reason = "; ".join(f"{name}: {failure.reason}" for name, failure in sorted(errors.items()))
        self._claims.back_off(
            connection,
            item.event_id,
            attempts=attempts,
            outages=outages,
            last_error=reason[:4000],
            next_attempt_at=now + self.options.backoff(attempts),
            parked=parked,
        )
        if parked:
            log.error("parked event %s after %d attempt(s): %s", item.event_id, attempts, reason)
        return parked


def tune_gc_for_batches() -> None:
    """Garbage-collector settings for a process whose work is the batch loop.

    A batch allocates some 15 objects per event (parsed events, rows, documents), almost all
    gone when the batch ends. With the default threshold (700) the collector ran about 40
    times per 1,000 events and promoted batch objects into older generations to walk them
    again: 13 µs per event, measured. Freezing the start-up objects and collecting every
    50,000 allocations brought that to about 1 µs; what a batch leaves behind is still freed.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _deliver(adapter: Adapter, pending: Sequence[ClaimedEvent]) -> list[DeliveryResult]:
    """Call the adapter, halving a batch that raises to find the events that fail."""

    def write(part: Sequence[ClaimedEvent]) -> Sequence[DeliveryResult]:
        if isinstance(adapter, WritesStagedPayloads):
            return adapter.write_payloads([c.payload for c in part])
        return adapter.write([c.event for c in part if c.event is not None])

    return _isolating(adapter.name, write, pending)


_Item = TypeVar("_Item")


def _isolating(
    adapter_name: str, write: Callable[[Sequence[_Item]], Sequence[DeliveryResult]], batch: Sequence[_Item]
) -> list[DeliveryResult]:
    """``write(batch)``'s results; when it raises, the results of writing each half the same
    way (the bisection the module's docstring describes). A batch answered with the wrong
    number of results fails as a whole: the adapter is broken, not an event."""
    try:
        results = list(write(batch))
    except _NOT_OURS:
        raise
    except BaseException as error:  # a Rust panic (pyo3's PanicException) is a BaseException
        failure = failure_of(error)
        if len(batch) == 1 or failure.unreachable:
            log.warning("adapter %s failed a batch of %d: %s", adapter_name, len(batch), failure.reason)
            return [failure] * len(batch)
        log.info("adapter %s failed a batch of %d (%s); writing it in halves", adapter_name, len(batch), error)
        middle = len(batch) // 2
        return _isolating(adapter_name, write, batch[:middle]) + _isolating(adapter_name, write, batch[middle:])
    if len(results) != len(batch):
        return [Failure(f"adapter returned {len(results)} results for {len(batch)} events")] * len(batch)
    return results


_NOT_OURS = (KeyboardInterrupt, SystemExit, GeneratorExit)
"""What a write may raise that is not a failure to write (the process is told to stop)."""

_SQLITE_TOOBIG = 18
QUERY_CANCELED = "57014"
"""PostgreSQL's SQLSTATE for a statement cancelled (``statement_timeout``, a user's cancel)."""


def _not_the_events(error: BaseException) -> bool:
    """Whether ``error`` says the store is unreachable rather than that an event is at fault."""
    if isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) == QUERY_CANCELED:
        return False  # a statement timeout: one huge event can cause it, so halve and park as usual
    if isinstance(error, OperationalError):
        # Also raised for a value the database cannot hold (PostgreSQL's program limits):
        # only an error about no value in particular means the database is out of reach.
        return not _about_a_value(error)
    return isinstance(error, (AdapterUnavailable, OSError, *DATABASE_LOST))


def _about_a_value(error: DBAPIError) -> bool:
    """A database error caused by a value, which fails the same way on every attempt: SQLSTATE
    class 22 (data exception: a NUL in text, a number out of range) and 54 (program limit
    exceeded: an index row too big), SQLite's SQLITE_TOOBIG."""
    if isinstance(error, DataError):
        return True
    sqlstate = getattr(error.orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in ("22", "54")
    return getattr(error.orig, "sqlite_errorcode", None) == _SQLITE_TOOBIG


def failure_of(error: BaseException) -> Failure:
    """The reason an exception gives (a database error's own message, without the statement
    and its parameters, which for a batch insert would run to megabytes)."""
    if isinstance(error, BatchFailed):
        return error.failure
    unreachable = _not_the_events(error)
    if isinstance(error, DBAPIError):
        reason = f"{error.__class__.__name__}: {error.orig}"[:4000]
        return Failure(reason, permanent=_about_a_value(error), unreachable=unreachable)
    cause = error.orig if isinstance(error, StatementError) and error.orig is not None else error
    return Failure(f"{error.__class__.__name__}: {cause}"[:4000], unreachable=unreachable)


@dataclass(frozen=True)
class _Ahead:
    """A batch claimed ahead (parsed on the parsing thread) and its deliveries to the adapters
    outside the staging database, under way (None: not started, the processor was stopping)."""

    claimed: Future[list[ClaimedEvent]]
    running: list[tuple[Adapter, Future[Delivery]]] | None


@dataclass(frozen=True)
class Delivery:
    """What one adapter answered for the claimed events it still missed."""

    pending: Sequence[ClaimedEvent]
    results: Sequence[DeliveryResult]
    seconds: float


def _pending_for(adapter_name: str, claimed: Sequence[ClaimedEvent]) -> list[ClaimedEvent]:
    """The claimed events that parse and that ``adapter_name`` has not had yet."""
    return [c for c in claimed if c.event is not None and adapter_name not in c.delivered]


def _timed_delivery(adapter: Adapter, pending: Sequence[ClaimedEvent]) -> Delivery:
    started = time.perf_counter()
    results = _deliver(adapter, pending) if pending else []
    return Delivery(pending, results, time.perf_counter() - started)


def _delivery_when_parsed(adapter: Adapter, parsed: Future[list[ClaimedEvent]]) -> Delivery:
    return _timed_delivery(adapter, _pending_for(adapter.name, parsed.result()))


def _note(
    adapter_name: str, delivery: Delivery, successes: dict[str, set[str]], failures: dict[str, dict[str, Failure]]
) -> None:
    """Record ``delivery``'s result per event, and count it."""
    if not delivery.pending:
        return
    for item, result in zip(delivery.pending, delivery.results, strict=True):
        if result is None:
            successes[item.event_id].add(adapter_name)
        else:
            failures[item.event_id][adapter_name] = result
    failed = sum(1 for r in delivery.results if r is not None)
    metrics.DELIVERED.labels(adapter_name).inc(len(delivery.results) - failed)
    metrics.DELIVERY_FAILURES.labels(adapter_name).inc(failed)
    log.debug("%s: %d events in %.3fs", adapter_name, len(delivery.pending), delivery.seconds)


def _deliver_in(
    connection: Connection, adapter: WritesInStagingTransaction, pending: Sequence[ClaimedEvent]
) -> Sequence[DeliveryResult]:
    """:func:`_deliver` inside ``connection``'s transaction, each write under a savepoint of its
    own: a write that fails is rolled back alone, and the outcome is still recorded."""

    def write(part: Sequence[ClaimedEvent]) -> Sequence[DeliveryResult]:
        with connection.begin_nested():
            return adapter.write_in(
                connection, [c.event for c in part if c.event is not None], [c.payload for c in part]
            )

    return _isolating(adapter.name, write, pending)


def _parsed(rows: Sequence[ClaimedRow]) -> list[ClaimedEvent]:
    claimed = [ClaimedEvent(r.event_id, r.attempts, _parse(r.payload), r.delivered, r.payload, r.outages) for r in rows]
    # Occurrence order, as staged (``occurred_at`` is the event's own time); a payload that
    # no longer parses is not delivered anywhere, so where it sorts does not matter.
    return sorted(claimed, key=lambda c: (_NEVER if c.event is None else c.event.occurred_at, c.event_id))


def _parse(payload: str) -> Event | None:
    try:
        return parse_event_json(payload)
    except InvalidEvent:
        return None


def _parse_problem(payload: str) -> str:
    """Why ``payload`` does not parse (asked again only for the rare payload that does not)."""
    try:
        parse_event_json(payload)
    except InvalidEvent as error:
        return str(error)[:1000]
    return "it did not parse when claimed"


def _accumulate(total: BatchOutcome, outcome: BatchOutcome) -> None:
    total.claimed += outcome.claimed
    total.completed += outcome.completed
    total.failed += outcome.failed
    total.parked += outcome.parked
    for name, count in outcome.per_adapter_failures.items():
        total.per_adapter_failures[name] = total.per_adapter_failures.get(name, 0) + count
