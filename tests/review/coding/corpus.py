"""A small archive for the review tests: two rooms over two days, messages saying "acme" (more
than a search page of them), an edit, and a shared file whose name says "acme"."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ingest.events import Event
from tests.cases.helpers import event, post

DAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ACME_MESSAGES = 60
UPLOAD_ID = str(uuid.UUID("6d9f3c0e-2b7a-4c1e-9a55-0f3b2c1d4e5f"))


def review_events() -> list[Event]:
    events: list[Event] = []
    for index in range(ACME_MESSAGES):
        room = "room:deals" if index % 2 == 0 else "room:legal"
        day = DAY + timedelta(days=index % 3 == 0, minutes=index)
        who = "user:alice" if index % 3 else "user:bob"
        events.append(post(who, room, day, f"acme offer number {index}", f"msg:acme{index}"))
    for index in range(10):
        events.append(
            post(
                "user:carol", "room:deals", DAY + timedelta(minutes=200 + index), f"lunch {index}", f"msg:lunch{index}"
            )
        )
    events.append(
        event(
            "edit",
            "user:alice",
            "room:deals",
            DAY + timedelta(minutes=300),
            message={"id": "msg:acme2", "text": "acme revised"},
        )
    )
    upload = event(
        "file_upload",
        "user:bob",
        "room:legal",
        DAY + timedelta(minutes=400),
        file={"name": "acme-contract.pdf", "size": 10, "sha256": "b" * 64, "content_type": "application/pdf"},
    )
    events.append(upload.model_copy(update={"event_id": uuid.UUID(UPLOAD_ID)}))
    return sorted(events, key=lambda e: (e.occurred_at, str(e.event_id)))
