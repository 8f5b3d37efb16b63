"""A steady publisher for the fault-tolerance suite: ``python -m tests.faults.load``.

Makes post events at a fixed rate, each with a fresh ``event_id``, and publishes them as
persistent messages with publisher confirms (a window of outstanding confirms). It writes the
``event_id`` of every message the broker confirmed to ``--confirmed``, one a line, flushed as
the confirms arrive: that file is the set of events the archive must hold, and it names only
what the broker took responsibility for. A message the broker nacks, or one in flight when the
connection drops, is published again with the same ``event_id`` once a connection is back
(the broker may already hold it; the pipeline absorbs the duplicate).

It is the suite's own client (py-amqp through kombu's channel), not ``ingest.publisher``, so
that what counts as published is decided independently of the code under test.

SIGTERM (or SIGINT): make no more events, keep publishing until every event made is
confirmed, write the figures to ``--stats`` as JSON and exit 0.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
import uuid
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import amqp
from kombu import Connection
from kombu.exceptions import KombuError

from ingest.topology import Topology

WINDOW = 500
"""Messages published and not yet confirmed, at most."""
ROOMS = 7


@dataclass
class LoadStats:
    rate: float
    made: int = 0
    confirmed: int = 0
    confirmed_during_load: int = 0
    """Confirmed by the time SIGTERM ended the load (the rest were confirmed while draining)."""
    sends: int = 0
    """Messages published, resends included."""
    resent: int = 0
    nacked: int = 0
    connections: int = 0
    connection_losses: int = 0
    failed_connects: int = 0
    longest_stall_seconds: float = 0.0
    """Longest time with events waiting and no confirm arriving (a broker outage, mostly)."""
    largest_backlog: int = 0
    """Most events made and not yet confirmed at once."""
    seconds: float = 0.0
    """From the first event made to the last one made (the load's duration)."""
    drain_seconds: float = 0.0
    """From SIGTERM to the last confirm."""


def event_payload(index: int, event_id: str, now: datetime) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": event_id,
        "type": "post",
        "occurred_at": now.isoformat(),
        "room": {"id": f"room:fault-{index % ROOMS}", "name": f"#fault-{index % ROOMS}", "kind": "room"},
        "actor": {"id": f"user:load{index % 13}", "name": f"load{index % 13}"},
        "message": {"id": f"msg:{event_id}", "text": f"steady load message {index} #faults @load{index % 5}"},
    }


class SteadyPublisher:
    def __init__(self, url: str, topology: Topology, rate: float, confirmed: TextIO) -> None:
        self.url = url
        self.topology = topology
        self.stats = LoadStats(rate=rate)
        self._confirmed_out = confirmed
        self._waiting: deque[tuple[str, bytes]] = deque()
        """Made (or to be sent again) and not published on the current channel."""
        self._pending: dict[int, tuple[str, bytes]] = {}
        """Delivery tag -> message, published on the current channel and not yet confirmed."""
        self._next_tag = 1
        self._newly_confirmed: list[str] = []
        self._connection: Any = None
        self._channel: Any = None
        self._stopping = False
        self._stop_asked_at = 0.0

    def stop(self) -> None:
        if not self._stopping:
            self._stopping = True
            self._stop_asked_at = time.monotonic()
            self.stats.confirmed_during_load = self.stats.confirmed

    def run(self) -> LoadStats:
        started = time.monotonic()
        last_progress = started
        reconnect_delay = 0.1
        while not (self._stopping and not self._waiting and not self._pending):
            now = time.monotonic()
            if not self._stopping:
                self._make(int((now - started) * self.stats.rate) - self.stats.made)
                self.stats.seconds = now - started
            unconfirmed = len(self._waiting) + len(self._pending)
            self.stats.largest_backlog = max(self.stats.largest_backlog, unconfirmed)
            if unconfirmed:
                self.stats.longest_stall_seconds = max(self.stats.longest_stall_seconds, now - last_progress)
            else:
                last_progress = now
            if self._channel is None:
                if not self._connect():
                    time.sleep(reconnect_delay)
                    reconnect_delay = min(2.0, reconnect_delay * 2)
                    continue
                reconnect_delay = 0.1
            try:
                while self._waiting and len(self._pending) < WINDOW:
                    self._send(self._waiting.popleft())
                self._connection.drain_events(timeout=0.02)
            except TimeoutError:
                pass
            except (OSError, amqp.exceptions.AMQPError, KombuError):
                self._lose_connection()
            if self._newly_confirmed:
                last_progress = time.monotonic()
                self._record_confirmed()
        self.stats.drain_seconds = time.monotonic() - self._stop_asked_at
        self._close()
        return self.stats

    def _make(self, count: int) -> None:
        now = datetime.now(UTC)
        for _ in range(max(0, count)):
            event_id = str(uuid.uuid4())
            body = json.dumps(event_payload(self.stats.made, event_id, now)).encode()
            self._waiting.append((event_id, body))
            self.stats.made += 1

    def _connect(self) -> bool:
        connection = Connection(self.url, connect_timeout=2)
        try:
            connection.ensure_connection(max_retries=1)
            channel = connection.channel()
            self.topology.declare(channel)  # the queue is bound before anything is published
            channel.confirm_select()
            channel.events["basic_ack"].add(self._on_ack)
            channel.events["basic_nack"].add(self._on_nack)
        except (OSError, amqp.exceptions.AMQPError, KombuError):
            self.stats.failed_connects += 1
            connection.collect()
            return False
        self._connection, self._channel = connection, channel
        self._next_tag = 1
        self.stats.connections += 1
        return True

    def _lose_connection(self) -> None:
        """Everything unconfirmed goes back in line, oldest first, to be sent on a new channel."""
        self.stats.connection_losses += 1
        in_doubt = [self._pending[tag] for tag in sorted(self._pending)]
        self.stats.resent += len(in_doubt)
        self._waiting.extendleft(reversed(in_doubt))
        self._pending.clear()
        self._close()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.collect()
            except (OSError, amqp.exceptions.AMQPError, KombuError):
                pass
        self._connection = self._channel = None

    def _send(self, message: tuple[str, bytes]) -> None:
        event_id, body = message
        # In doubt from before the write: a publish that raises half way (the broker killed) is
        # sent again after the reconnect, never dropped (it was already taken from the queue).
        self._pending[self._next_tag] = message
        self._next_tag += 1
        self.stats.sends += 1
        self._channel.basic_publish(
            amqp.Message(body, content_type="application/json", delivery_mode=2, message_id=event_id),
            exchange=self.topology.exchange,
            routing_key="post",
        )

    def _tags(self, delivery_tag: int, multiple: bool) -> list[int]:
        if multiple:
            return [tag for tag in self._pending if tag <= delivery_tag]
        return [delivery_tag] if delivery_tag in self._pending else []

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        for tag in self._tags(delivery_tag, multiple):
            self._newly_confirmed.append(self._pending.pop(tag)[0])

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for tag in self._tags(delivery_tag, multiple):
            self._waiting.append(self._pending.pop(tag))
            self.stats.nacked += 1
            self.stats.resent += 1

    def _record_confirmed(self) -> None:
        self._confirmed_out.write("".join(f"{event_id}\n" for event_id in self._newly_confirmed))
        self._confirmed_out.flush()
        self.stats.confirmed += len(self._newly_confirmed)
        self._newly_confirmed.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--dead-letter-exchange", required=True)
    parser.add_argument("--dead-letter-queue", required=True)
    parser.add_argument("--rate", type=float, default=200.0, help="Events per second.")
    parser.add_argument("--confirmed", type=Path, required=True, help="Confirmed event ids are appended here.")
    parser.add_argument("--stats", type=Path, required=True, help="Figures as JSON, written on exit.")
    args = parser.parse_args()
    topology = Topology(
        exchange=args.exchange,
        queue=args.queue,
        dead_letter_exchange=args.dead_letter_exchange,
        dead_letter_queue=args.dead_letter_queue,
    )
    with args.confirmed.open("a") as confirmed:
        publisher = SteadyPublisher(args.url, topology, args.rate, confirmed)

        def stop(_signum: int, _frame: FrameType | None) -> None:
            publisher.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        stats = publisher.run()
    args.stats.write_text(json.dumps(asdict(stats), indent=2))


if __name__ == "__main__":
    main()
