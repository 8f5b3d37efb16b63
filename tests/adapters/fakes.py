"""Adapters that fail on purpose, for processor tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from adapters.base import DeliveryResult, Failure
from ingest.events import Event


class RecordingAdapter:
    """Succeeds, remembering every batch; optionally fails some events or whole calls."""

    def __init__(
        self,
        name: str = "recording",
        *,
        fail_event: Callable[[Event], str | None] = lambda _e: None,
        fail_calls: int = 0,
    ) -> None:
        self.name = name
        self.batches: list[list[str]] = []
        self.events: list[Event] = []
        self.fail_event = fail_event
        self.fail_calls = fail_calls
        self.calls = 0

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        self.calls += 1
        if self.calls <= self.fail_calls:
            raise ConnectionError(f"{self.name} is down (call {self.calls})")
        self.batches.append([str(e.event_id) for e in batch])
        self.events.extend(batch)
        results: list[DeliveryResult] = []
        for event in batch:
            reason = self.fail_event(event)
            results.append(None if reason is None else Failure(reason))
        return results

    def close(self) -> None:
        pass

    @property
    def delivered(self) -> list[str]:
        return [event_id for batch in self.batches for event_id in batch]
