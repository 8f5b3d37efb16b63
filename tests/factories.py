"""Small builders of valid events for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.events import Event, parse_event

BASE_TIME = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
_NAMESPACE = uuid.UUID("8d2f1c3e-5b7a-4e0f-9c61-2a4b6d8e0f13")


def post_payload(index: int, *, run: str = "t", text: str | None = None) -> dict[str, Any]:
    """A valid post as a JSON-ready dict; the same (run, index) always gives the same event_id."""
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{run}:{index}")),
        "type": "post",
        "occurred_at": (BASE_TIME + timedelta(milliseconds=index)).isoformat(),
        "room": {"id": "room:ubuntu", "name": "#ubuntu", "kind": "room"},
        "actor": {"id": f"user:u{index % 17}", "name": f"u{index % 17}"},
        "message": {"id": f"msg:{run}:{index}", "text": text or f"message number {index} #test @u{index % 5}"},
    }


def post(index: int, *, run: str = "t", text: str | None = None) -> Event:
    return parse_event(post_payload(index, run=run, text=text))


def posts(count: int, *, run: str = "t") -> list[Event]:
    return [post(i, run=run) for i in range(count)]
