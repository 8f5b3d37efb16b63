"""Building ``supervision_hit`` events (and the posts they point at) for the detect tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ingest.events import Event, parse_event

WHEN = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def post_event(message_id: str, text: str, *, room: str = "room:desk", actor: str = "user:ann") -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"post:{message_id}")),
            "type": "post",
            "occurred_at": WHEN.isoformat(),
            "room": {"id": room, "name": "#desk", "kind": "room"},
            "actor": {"id": actor, "name": actor.removeprefix("user:")},
            "message": {"id": message_id, "text": text},
        }
    )


def hit_payload(message_id: str, *, reason: str = "lexicon", room: str = "room:desk") -> dict[str, Any]:
    matches = [{"term_id": "guarantee", "field": "text", "start": 3, "end": 12, "matched": "guarantee"}]
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"hit:{message_id}")),
        "type": "supervision_hit",
        "occurred_at": WHEN.replace(minute=1).isoformat(),
        "room": {"id": room, "name": "#desk", "kind": "room"},
        "actor": {"id": "system:supervision", "name": "Supervision"},
        "hit": {
            "item_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"item:{message_id}")),
            "policy_id": "policy-1",
            "policy_version": 3,
            "policy_name": "Promises",
            "evaluated_event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"post:{message_id}")),
            "evaluated_type": "post",
            "evaluated_message": message_id,
            "reason": reason,
            "matches": matches if reason == "lexicon" else [],
        },
    }


def hit_event(message_id: str, *, reason: str = "lexicon", room: str = "room:desk") -> Event:
    return parse_event(hit_payload(message_id, reason=reason, room=room))
