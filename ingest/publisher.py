"""Publishing events to RabbitMQ with publisher confirms, many in flight at once.

kombu's ``confirm_publish`` waits for each confirm in turn (about 1,200 messages/s here); this
publisher keeps a window of outstanding confirms on a py-amqp channel instead (about 7,000/s),
and only returns once the broker has confirmed every message it was given. A message the
broker nacks, or one in flight when the connection drops, is published again: the event's
``event_id`` makes the duplicate harmless downstream.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from amqp import Message
from kombu import Connection
from kombu.exceptions import OperationalError as BrokerUnreachable

from ingest.errors import Recoverable
from ingest.events import Event, event_to_json
from ingest.retry import Backoff, retry
from ingest.topology import Topology

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutgoingMessage:
    routing_key: str
    body: bytes
    message_id: str | None = None
    headers: dict[str, Any] | None = None


def event_message(event: Event) -> OutgoingMessage:
    return OutgoingMessage(event.type, event_to_json(event).encode(), str(event.event_id))


@dataclass
class _ConfirmWindow:
    """Delivery tags awaiting the broker's ack, and the messages it refused."""

    pending: dict[int, OutgoingMessage] = field(default_factory=dict)
    refused: list[OutgoingMessage] = field(default_factory=list)
    next_tag: int = 1

    def on_ack(self, delivery_tag: int, multiple: bool) -> None:
        for tag in self._tags(delivery_tag, multiple):
            del self.pending[tag]

    def on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for tag in self._tags(delivery_tag, multiple):
            self.refused.append(self.pending.pop(tag))

    def _tags(self, delivery_tag: int, multiple: bool) -> list[int]:
        if multiple:
            return [tag for tag in self.pending if tag <= delivery_tag]
        return [delivery_tag] if delivery_tag in self.pending else []


class Publisher:
    """Publishes to the events exchange; use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        url: str,
        topology: Topology | None = None,
        *,
        window: int = 1000,
        confirm_timeout: float = 30.0,
        connect_deadline: float | None = 60.0,
        ssl: Any = None,
    ) -> None:
        self.url = url
        self.topology = topology or Topology()
        self.window = window
        self.confirm_timeout = confirm_timeout
        self.connect_deadline = connect_deadline
        self._connection = Connection(url, ssl=ssl)
        self._channel: Any = None
        self._confirms = _ConfirmWindow()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._connection.release()
        self._channel = None

    def publish_events(self, events: Iterable[Event]) -> int:
        """Publish ``events`` and wait until the broker has confirmed all of them."""
        return self.publish(event_message(e) for e in events)

    def publish(self, messages: Iterable[OutgoingMessage], exchange: str | None = None) -> int:
        """Publish ``messages`` to ``exchange`` (the events exchange by default); returns once all
        are confirmed. Connection failures reconnect with backoff and publish again whatever was
        not yet confirmed, so every message is confirmed at least once when this returns."""
        target = self.topology.exchange if exchange is None else exchange
        count = 0
        for chunk in _chunks(messages, self.window):
            self._publish_confirmed(chunk, target)
            count += len(chunk)
        return count

    def _publish_confirmed(self, chunk: list[OutgoingMessage], exchange: str) -> None:
        to_send = chunk
        while to_send:
            sent = 0
            try:
                self._ensure_channel()
                for message in to_send:
                    self._send(message, exchange)
                    sent += 1
                self._wait_for_confirms()
                to_send, self._confirms.refused = self._confirms.refused, []
                if to_send:
                    log.warning("broker refused %d messages; publishing them again", len(to_send))
            except self._connection.recoverable_connection_errors + (socket.timeout, Recoverable) as error:
                log.warning("publishing interrupted (%s); reconnecting", error)
                in_doubt = list(self._confirms.pending.values()) + self._confirms.refused
                to_send = in_doubt + to_send[sent:]
                self._reset()

    def _send(self, message: OutgoingMessage, exchange: str) -> None:
        self._channel.basic_publish(
            Message(
                message.body,
                content_type="application/json",
                delivery_mode=2,
                message_id=message.message_id,
                application_headers=message.headers,
            ),
            exchange=exchange,
            routing_key=message.routing_key,
        )
        self._confirms.pending[self._confirms.next_tag] = message
        self._confirms.next_tag += 1

    def _wait_for_confirms(self) -> None:
        while self._confirms.pending:
            try:
                self._connection.drain_events(timeout=self.confirm_timeout)
            except TimeoutError:
                raise Recoverable(
                    f"no confirm from the broker within {self.confirm_timeout}s for "
                    f"{len(self._confirms.pending)} messages"
                ) from None

    def _ensure_channel(self) -> None:
        if self._channel is not None:
            return

        confirms = _ConfirmWindow()

        def connect() -> Any:
            self._connection.ensure_connection(max_retries=1)
            channel = self._connection.channel()
            self.topology.declare(channel)
            channel.confirm_select()
            channel.events["basic_ack"].add(confirms.on_ack)
            channel.events["basic_nack"].add(confirms.on_nack)
            return channel

        self._channel = retry(
            connect,
            # kombu reports a refused connection as its own OperationalError (BrokerUnreachable):
            # without it here, one refused attempt ended the publisher during a broker restart.
            retry_on=self._connection.recoverable_connection_errors + (BrokerUnreachable, OSError),
            deadline=self.connect_deadline,
            backoff=Backoff(initial=0.2, maximum=5.0),
            describe=f"connecting to {self._connection.as_uri()}",
        )
        self._confirms = confirms

    def _reset(self) -> None:
        try:
            self._connection.collect()
        finally:
            self._channel = None
            self._connection = self._connection.clone()


def _chunks(messages: Iterable[OutgoingMessage], size: int) -> Iterator[list[OutgoingMessage]]:
    chunk: list[OutgoingMessage] = []
    for message in messages:
        chunk.append(message)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
