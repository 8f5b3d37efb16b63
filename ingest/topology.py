"""The RabbitMQ topology of the event contract: exchange, queue, dead-letter exchange and queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Connection, Exchange, Queue

ERROR_HEADER = "x-archivist-error"
"""Header carrying the reason a message was dead-lettered."""
REJECTED_AT_HEADER = "x-archivist-rejected-at"


@dataclass(frozen=True)
class Topology:
    exchange: str = "archivist.events"
    queue: str = "archivist.events"
    dead_letter_exchange: str = "archivist.dead"
    dead_letter_queue: str = "archivist.dead"
    queue_type: str = "classic"

    def events_exchange(self) -> Exchange:
        return Exchange(self.exchange, type="topic", durable=True)

    def dead_exchange(self) -> Exchange:
        return Exchange(self.dead_letter_exchange, type="topic", durable=True)

    def events_queue(self) -> Queue:
        arguments: dict[str, Any] = {"x-dead-letter-exchange": self.dead_letter_exchange}
        if self.queue_type == "quorum":
            arguments["x-queue-type"] = "quorum"
        return Queue(self.queue, self.events_exchange(), routing_key="#", durable=True, queue_arguments=arguments)

    def dead_queue(self) -> Queue:
        arguments: dict[str, Any] = {"x-queue-type": "quorum"} if self.queue_type == "quorum" else {}
        return Queue(
            self.dead_letter_queue,
            self.dead_exchange(),
            routing_key="#",
            durable=True,
            queue_arguments=arguments or None,
        )

    def declare(self, channel: Any) -> None:
        """Declare everything (idempotent): exchanges, both queues and their bindings."""
        for entity in (self.events_exchange(), self.dead_exchange(), self.events_queue(), self.dead_queue()):
            entity.bind(channel).declare()


def queue_depth(channel: Any, queue: str) -> int:
    """Messages ready in ``queue`` (passive declare: fails if the queue does not exist)."""
    _name, message_count, _consumers = channel.queue_declare(queue=queue, passive=True)
    return int(message_count)


def broker_depths(url: str, topology: Topology, *, ssl: Any = None) -> tuple[int, int]:
    """Messages waiting in the events queue and in the dead-letter queue (0 if not declared yet)."""
    with Connection(url, ssl=ssl, connect_timeout=5) as connection:
        connection.ensure_connection(max_retries=2)
        depths = []
        for name in (topology.queue, topology.dead_letter_queue):
            channel = connection.channel()
            try:
                depths.append(queue_depth(channel, name))
            except connection.channel_errors:
                depths.append(0)  # a passive declare of a missing queue closes the channel
        return depths[0], depths[1]
