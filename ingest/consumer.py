"""``archivist consume``: move events from RabbitMQ into the staging store, in batches.

Commit, then ack. A batch of up to ``batch_size`` messages is validated, its invalid messages
are published (with confirms) to the dead-letter exchange with the reason in a header, its
valid events are inserted into staging in one transaction, and only after that commit is the
whole batch acknowledged with one ``ack(multiple=True)``. Commits run on one writer thread
while the next batch is received, and batches are acknowledged strictly in commit order.

A crash before the commit makes the broker redeliver the batch; a crash between commit and
ack redelivers events the staging table already holds, which ``ON CONFLICT (event_id) DO
NOTHING`` absorbs. Nothing is lost and nothing is staged twice.

Whatever a message holds, it is staged or dead-lettered with a reason, and the consumer
carries on: any exception while validating one message rejects that message only, and an
event whose id is recorded with other content (a conflict, found by the staging commit) is
dead-lettered with that reason before the batch is acked.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from amqp.transport import TCPTransport
from kombu import Connection
from kombu.exceptions import OperationalError as BrokerUnreachable
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from ingest import metrics
from ingest.errors import InvalidEvent
from ingest.events import admit_event_json, printable
from ingest.publisher import OutgoingMessage, Publisher
from ingest.retry import Backoff, retry
from ingest.staging import Conflict, StagedRow, StageOutcome, StagingStore, to_row
from ingest.topology import ERROR_HEADER, REJECTED_AT_HEADER, Topology

log = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)
"""Retried while the batch stays unacked; the COPY runs on psycopg's cursor, whose errors are raw."""
DATA_ERRORS = (DataError, IntegrityError, psycopg.DataError, psycopg.IntegrityError)
"""The database refused some row of a batch: the batch is split until the rows it refuses are
found, and only those are dead-lettered (with the database's message)."""
CONNECT_ERRORS = (BrokerUnreachable, OSError)
"""Besides the transport's recoverable errors: kombu's ``ensure_connection`` re-raises a refused
or failed connect as its own ``OperationalError``, which is not among them."""


@dataclass
class ConsumeStats:
    received: int = 0
    staged: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    """Invalid messages and conflicts, both sent to the dead-letter queue."""
    conflicts: int = 0
    """Events under a recorded id with other content (and rows the database refused)."""
    batches: int = 0
    reconnects: int = 0
    first_message_at: float | None = None
    """Wall-clock time (``time.time()``) the first message arrived, for throughput figures."""


@dataclass(frozen=True)
class ConsumerOptions:
    prefetch: int = 1000
    """Keep it at twice ``batch_size`` or more, so a batch arrives while the last one commits."""
    batch_size: int = 500
    batch_timeout: float = 0.5
    idle_timeout: float | None = None
    """Stop once no message has arrived for this many seconds (``--until-idle``)."""


@dataclass
class _Committing:
    """A batch handed to the writer thread; acked once ``commit`` is done."""

    commit: Future[StageOutcome]
    last_message: Any
    size: int
    valid: list[Any]
    """The messages of the rows handed to the commit, in the same order."""
    rejected: int


MAX_COMMITTING = 2
STOP_CHECK_INTERVAL = 0.25
"""Longest wait on a quiet queue before :meth:`StagingConsumer.stop` and idleness are checked."""
COMMIT_POLL_INTERVAL = 0.005
"""Longest wait on a quiet queue while a commit is pending, so its ack is not held back."""


class MessageReader:
    """Reads AMQP frames off a py-amqp connection until a whole method (a delivery) is dispatched.

    Two costs of the stock path are avoided, both measured here at 50,000 deliveries:

    - kombu's ``drain_events`` enters py-amqp's ``having_timeout`` context manager for every
      frame (a generator and up to three socket calls; a delivery is three frames). Here the
      socket's timeout is set when a wait begins and lowered only as its deadline nears.
    - py-amqp's plain TCP transport receives exactly the bytes it asks for: three ``recv``
      calls per frame, nine per delivery. :class:`_BufferedReads` receives up to 64 KiB at a
      time instead and hands frames out of that buffer (25 us of CPU per delivery -> 16 us).
    """

    def __init__(self, connection: Any) -> None:
        transport = connection.transport
        if isinstance(transport, TCPTransport):
            _BufferedReads(transport)
        self._sock: socket.socket = transport.sock
        self._read_frame: Callable[[], Any] = transport.read_frame
        self._on_frame: Callable[[Any], bool] = connection.on_inbound_frame
        self._timeout = 0.0

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Around a run of reads: the socket goes back to its own timeout (for acks) afterwards."""
        previous = self._sock.gettimeout()
        self._timeout = 0.0
        try:
            yield
        finally:
            if self._sock.fileno() != -1:  # py-amqp closes it when the broker closes the connection
                self._sock.settimeout(previous)

    def read_message(self, until: float) -> bool:
        """Dispatch the next method (delivery callbacks run here); False once ``until`` passes.

        A wait may outlast ``until`` by at most a fifth of the timeout last set on the socket.
        """
        remaining = until - time.monotonic()
        if remaining <= 0:
            return False
        if remaining < self._timeout * 0.8 or not self._timeout:
            self._sock.settimeout(remaining)
            self._timeout = remaining
        try:
            while not self._on_frame(self._read_frame()):
                pass
        except TimeoutError:
            return False
        except ssl.SSLError as error:
            # What py-amqp's having_timeout does for TLS sockets (bpo-10272).
            if "timed out" in str(error) or "did not complete" in str(error):
                return False
            raise
        return True


class _BufferedReads:
    """Replaces a py-amqp ``TCPTransport``'s ``_read`` (read exactly n bytes) with a buffered one.

    Keeps the stock contract: a timeout or error leaves every byte received so far buffered,
    and bytes that ``read_frame`` puts back into ``_read_buffer`` after a timeout (the start
    of a frame it could not finish) are read again first.
    """

    CHUNK = 65536

    def __init__(self, transport: TCPTransport) -> None:
        self._transport = transport
        self._recv: Callable[[int], bytes] = transport.sock.recv
        self._data = bytes(transport._read_buffer)
        self._position = 0
        transport._read_buffer = b""
        transport._read = self.read

    def read(self, n: int, initial: bool = False) -> bytes:
        transport = self._transport
        if transport._read_buffer:
            self._data = transport._read_buffer + self._data[self._position :]
            self._position = 0
            transport._read_buffer = b""
        start = self._position
        end = start + n
        data = self._data
        if end <= len(data):
            self._position = end
            return data[start:end]
        parts = [data[start:]]
        have = len(parts[0])
        try:
            while have < n:
                try:
                    received = self._recv(max(self.CHUNK, n - have))
                except InterruptedError:
                    continue
                if not received:
                    raise OSError("Server unexpectedly closed connection")
                parts.append(received)
                have += len(received)
        finally:
            self._data = b"".join(parts)
            self._position = 0
        self._position = n
        return self._data[:n]


class StagingConsumer:
    """Consumes the events queue into staging until :meth:`stop` is called (or idle)."""

    def __init__(
        self,
        url: str,
        store: StagingStore,
        topology: Topology | None = None,
        options: ConsumerOptions | None = None,
        *,
        ssl: Any = None,
        on_batch: Callable[[ConsumeStats], None] | None = None,
    ) -> None:
        self.url = url
        self.store = store
        self.topology = topology or Topology()
        self.options = options or ConsumerOptions()
        self.ssl = ssl
        self.stats = ConsumeStats()
        self._on_batch = on_batch
        self._batch: list[Any] = []
        self._stopping = False
        self._last_activity = time.monotonic()
        self._dead_letters: Publisher | None = None
        self._committing: deque[_Committing] = deque()
        self._committing_size = 0
        self._batch_started = 0.0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="staging-writer")

    def stop(self) -> None:
        """Ask the loop to finish: the current batch is committed and acked, then it returns."""
        self._stopping = True

    def run(self) -> ConsumeStats:
        """Consume until stopped or idle; reconnects with backoff whenever the broker goes away."""
        self._last_activity = time.monotonic()
        while not self._stopping:
            connection = Connection(self.url, ssl=self.ssl)
            try:
                self._consume_on(connection)
            except connection.recoverable_connection_errors + CONNECT_ERRORS as error:
                self._abandon_unacked()
                self.stats.reconnects += 1
                log.warning("lost the broker (%s); reconnecting", error)
                self._wait_before_reconnect()
            finally:
                connection.release()
        if self._dead_letters is not None:
            self._dead_letters.close()
        self._writer.shutdown(wait=True)
        return self.stats

    def _abandon_unacked(self) -> None:
        """The channel is gone: nothing in hand can be acked, so the broker redelivers it all."""
        self._batch.clear()
        for batch in self._committing:
            # Let running commits finish: their events are staged, and the redelivery is absorbed.
            batch.commit.exception()
        self._committing.clear()
        self._committing_size = 0

    def _wait_before_reconnect(self) -> None:
        for delay in Backoff(initial=0.5, maximum=10.0).delays():
            if self._stopping or self._broker_reachable():
                return
            time.sleep(delay)

    def _broker_reachable(self) -> bool:
        probe = Connection(self.url, ssl=self.ssl, connect_timeout=2)
        try:
            probe.ensure_connection(max_retries=1)
            return True
        except probe.recoverable_connection_errors + CONNECT_ERRORS:
            return False
        finally:
            probe.release()

    def _consume_on(self, connection: Connection) -> None:
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        self.topology.declare(channel)
        channel.basic_qos(prefetch_size=0, prefetch_count=self.options.prefetch, a_global=False)
        # py-amqp's own basic_consume hands over amqp.Message objects directly: kombu's Consumer
        # would wrap each one in a second message object (5 us each, measured), for nothing we use.
        consumer_tag = channel.basic_consume(self.topology.queue, callback=self._batch.append)
        reader = MessageReader(connection.connection)
        log.info("consuming %s (prefetch %d)", self.topology.queue, self.options.prefetch)
        while True:
            now = time.monotonic()
            if self._batch and (self._stopping or self._batch_due(now)):
                self._flush()
            self._settle(wait_for_all=self._stopping)
            if self._stopping or self._idle(now):
                self._stopping = True
                channel.basic_cancel(consumer_tag)
                return
            if self._in_flight() >= self.options.prefetch:
                # The broker sends nothing more before an ack, so waiting on the socket would
                # only add its timeout to the commit: wait for the oldest commit instead, or
                # flush a batch that cannot fill (prefetch below batch_size).
                if self._committing:
                    self._settle(wait_for_oldest=True)
                else:
                    self._flush()
                continue
            self._receive(reader, now)

    def _batch_due(self, now: float) -> bool:
        full = len(self._batch) >= self.options.batch_size
        return full or now - self._batch_started >= self.options.batch_timeout

    def _in_flight(self) -> int:
        """Messages delivered and not yet acked: the prefetch window in use."""
        return len(self._batch) + self._committing_size

    def _receive(self, reader: MessageReader, now: float) -> None:
        """Read messages into the batch until it is full or due, or until the oldest commit is done.

        While a commit is pending the wait is short, so its ack goes out promptly even when the
        queue is quiet; otherwise it is bounded so that :meth:`stop` is noticed.
        """
        batch = self._batch
        limit = self.options.batch_size
        committing = self._committing
        if batch:
            until = self._batch_started + self.options.batch_timeout
        else:
            until = now + min(self.options.batch_timeout, STOP_CHECK_INTERVAL)
        if committing:
            until = min(until, now + COMMIT_POLL_INTERVAL)
        received = False
        with reader.reading():
            while len(batch) < limit and not self._stopping:
                before = len(batch)
                if not reader.read_message(until):
                    break
                if len(batch) > before:
                    received = True
                    if before == 0:
                        self._batch_started = time.monotonic()
                if committing and committing[0].commit.done():
                    break
        if received:
            self._last_activity = time.monotonic()
            if self.stats.first_message_at is None:
                self.stats.first_message_at = time.time()

    def _idle(self, now: float) -> bool:
        timeout = self.options.idle_timeout
        quiet = not self._batch and not self._committing
        return timeout is not None and quiet and now - self._last_activity >= timeout

    def _flush(self) -> None:
        """Validate the batch, dead-letter what is invalid, hand the rest to the writer thread."""
        batch, self._batch[:] = list(self._batch), []
        rows: list[StagedRow] = []
        valid: list[Any] = []
        rejected: list[tuple[Any, str]] = []
        for message in batch:
            try:
                rows.append(to_row(admit_event_json(message.body)))
                valid.append(message)
            except InvalidEvent as error:
                rejected.append((message, error.reason))
            except Exception as error:  # whatever one message does, its neighbours go on
                log.warning("message could not be validated: %r", error)
                rejected.append((message, printable(f"could not be validated: {type(error).__name__}: {error}")))
        if rejected:
            self._dead_letter(rejected)
        commit = self._writer.submit(self._commit, rows)
        self._committing.append(_Committing(commit, batch[-1], len(batch), valid, len(rejected)))
        self._committing_size += len(batch)
        self._settle()

    def _settle(self, *, wait_for_all: bool = False, wait_for_oldest: bool = False) -> None:
        """Ack committed batches, oldest first; block while too many are still committing."""
        while self._committing:
            oldest = self._committing[0]
            must_wait = wait_for_all or wait_for_oldest or len(self._committing) > MAX_COMMITTING
            if not (oldest.commit.done() or must_wait):
                return
            wait_for_oldest = False
            outcome = oldest.commit.result()
            if outcome.conflicts:
                # Before the ack: a crash in between redelivers them, to be found in conflict again.
                self._dead_letter([(oldest.valid[c.position], c.reason) for c in outcome.conflicts])
            oldest.last_message.channel.basic_ack(oldest.last_message.delivery_tag, multiple=True)
            self._committing.popleft()
            self._committing_size -= oldest.size
            dead = oldest.rejected + len(outcome.conflicts)
            self.stats.received += oldest.size
            self.stats.staged += outcome.new
            self.stats.duplicates += outcome.duplicates
            self.stats.dead_lettered += dead
            self.stats.conflicts += len(outcome.conflicts)
            self.stats.batches += 1
            metrics.CONSUMED.inc(oldest.size)
            metrics.STAGED.inc(outcome.new)
            metrics.DUPLICATES.inc(outcome.duplicates)
            metrics.DEAD_LETTERED.inc(dead)
            log.info(
                "staged %d new events (%d duplicates, %d dead-lettered, %d of them conflicts)",
                outcome.new,
                outcome.duplicates,
                dead,
                len(outcome.conflicts),
            )
            if self._on_batch is not None:
                self._on_batch(self.stats)

    def _commit(self, rows: list[StagedRow], offset: int = 0) -> StageOutcome:
        """Insert with retries while the database is down: the batch stays unacked meanwhile.

        Rows the database refuses come back as conflicts (positions from ``offset``) whose
        reason is the database's, found by splitting the batch: their neighbours are staged."""
        try:
            outcome = retry(
                lambda: self.store.stage(rows),
                retry_on=DATABASE_ERRORS,
                backoff=Backoff(initial=0.5, maximum=10.0),
                describe=f"staging {len(rows)} events",
            )
        except DATA_ERRORS as error:
            if len(rows) == 1:
                log.warning("the database refused event %s: %s", rows[0].event_id, error)
                reason = printable(f"the database refused it: {type(error).__name__}: {error}")
                return StageOutcome(0, 0, (Conflict(offset, rows[0].event_id, reason),))
            middle = len(rows) // 2
            first = self._commit(rows[:middle], offset)
            second = self._commit(rows[middle:], offset + middle)
            return StageOutcome(
                first.new + second.new, first.duplicates + second.duplicates, first.conflicts + second.conflicts
            )
        if offset:
            return StageOutcome(
                outcome.new,
                outcome.duplicates,
                tuple(Conflict(c.position + offset, c.event_id, c.reason) for c in outcome.conflicts),
            )
        return outcome

    def _dead_letter(self, rejected: list[tuple[Any, str]]) -> None:
        """Publish rejected messages to the dead-letter exchange with their reasons, confirmed."""
        if self._dead_letters is None:
            self._dead_letters = Publisher(self.url, self.topology, ssl=self.ssl)
        rejected_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        self._dead_letters.publish(
            (
                OutgoingMessage(
                    routing_key=message.delivery_info.get("routing_key") or "unknown",
                    body=message.body,
                    message_id=message.properties.get("message_id"),
                    headers={
                        **(message.properties.get("application_headers") or {}),
                        ERROR_HEADER: printable(reason, 4000),
                        REJECTED_AT_HEADER: rejected_at,
                    },
                )
                for message, reason in rejected
            ),
            exchange=self.topology.dead_letter_exchange,
        )
        log.warning("dead-lettered %d messages; first reason: %s", len(rejected), rejected[0][1])
