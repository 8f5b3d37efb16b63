"""Where producers put events: straight into staging (embedded) or onto RabbitMQ.

Both sinks validate nothing themselves: producers hand them events already parsed by the
contract, so a file, an IRC log and the HTTP route all go through the same validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ingest.events import Event
from ingest.publisher import Publisher
from ingest.staging import StagingStore, to_row


class EventSink(Protocol):
    def submit(self, events: Sequence[Event]) -> int:
        """Make ``events`` durable; returns how many were accepted. Raises if it could not."""
        ...

    def close(self) -> None: ...


class StagingSink:
    """Embedded mode: insert into staging in one transaction; duplicates are absorbed."""

    def __init__(self, store: StagingStore) -> None:
        self.store = store

    def submit(self, events: Sequence[Event]) -> int:
        self.store.insert([to_row(event) for event in events])
        return len(events)

    def close(self) -> None:
        self.store.engine.dispose()


class BrokerSink:
    """Broker mode: publish with confirms; accepted means the broker confirmed it."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    def submit(self, events: Sequence[Event]) -> int:
        return self.publisher.publish_events(events)

    def close(self) -> None:
        self.publisher.close()
