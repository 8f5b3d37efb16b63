"""Where producers put events: straight into staging (embedded) or onto RabbitMQ.

Both sinks validate nothing themselves: producers hand them events already parsed by the
contract, so a file, an IRC log and the HTTP route all go through the same validation.

An event under a recorded event_id with other content is a conflict, never accepted:
:func:`submit_checked` reports each one. Embedded, staging finds them in the transaction that
stages the rest. With a broker, the consumer finds them (and dead-letters them with the
reason); a producer that can read the database (the API server) also checks before publishing,
so that it can answer with the conflicts it already knows of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ingest.events import Event
from ingest.publisher import Publisher
from ingest.staging import Conflict, StagingStore, to_row


class EventSink(Protocol):
    def submit(self, events: Sequence[Event]) -> int:
        """Make ``events`` durable; returns how many were accepted. Raises if it could not."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Submitted:
    accepted: int
    """New events and copies of recorded ones (idempotent duplicates)."""
    conflicts: tuple[Conflict, ...]
    """Positions are indexes into the events submitted."""


class StagingSink:
    """Embedded mode: insert into staging in one transaction; duplicates are absorbed."""

    def __init__(self, store: StagingStore) -> None:
        self.store = store

    def submit(self, events: Sequence[Event]) -> int:
        return self.submit_checked(events).accepted

    def submit_checked(self, events: Sequence[Event]) -> Submitted:
        outcome = self.store.stage([to_row(event) for event in events])
        return Submitted(len(events) - len(outcome.conflicts), outcome.conflicts)

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


def submit_checked(sink: EventSink, events: Sequence[Event], *, recorded: StagingStore | None = None) -> Submitted:
    """Submit ``events``, reporting conflicts instead of counting them as accepted.

    Staging checks as it stages. Any other sink publishes what ``recorded`` (the database, when
    the caller can read it) does not already know to conflict; the consumer checks the rest.
    """
    if isinstance(sink, StagingSink):
        return sink.submit_checked(events)
    conflicts = recorded.check([to_row(event) for event in events]) if recorded is not None else ()
    refused = {conflict.position for conflict in conflicts}
    rest = [event for position, event in enumerate(events) if position not in refused]
    return Submitted(sink.submit(rest) if rest else 0, conflicts)
