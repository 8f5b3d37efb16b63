"""Events at fixed ages, and the principal retention runs as, for the case and retention tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from archive.principals import Principal
from ingest.events import Event, PostEvent, parse_event

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPERATOR = Principal("cli", "test operator", "admin")


def at(days_ago: float, minutes: int = 0) -> datetime:
    return NOW - timedelta(days=days_ago) + timedelta(minutes=minutes)


def event(kind: str, actor: str, room: str, when: datetime, **extra: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": when.isoformat(),
            "room": {"id": room, "name": f"#{room.removeprefix('room:')}", "kind": "room"},
            "actor": {"id": actor, "name": actor.removeprefix("user:").title()},
            **extra,
        }
    )


def post(actor: str, room: str, when: datetime, text: str, message_id: str | None = None) -> PostEvent:
    posted = event("post", actor, room, when, message={"id": message_id or f"msg:{uuid.uuid4().hex[:8]}", "text": text})
    assert isinstance(posted, PostEvent)
    return posted
