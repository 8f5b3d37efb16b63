"""Escalation notices: the outbox row written in the escalation's own transaction.

The webhook is never called inside a reviewer's request: the escalation and its notice commit
together (so no escalation goes unannounced and no notice announces a rolled-back one), and the
delivery (signed, retried with backoff, each outcome recorded) reads the outbox afterwards.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from supervision.schema import supervision_webhook_deliveries

ESCALATION = "escalation"


def record_escalation(connection: Connection, item_id: str, body: dict[str, Any], now: datetime) -> str:
    """Queue the notice of ``item_id``'s escalation (``body``: what the webhook receives, as
    JSON); returns the delivery's id. Runs in the caller's transaction."""
    delivery_id = str(uuid.uuid4())
    connection.execute(
        insert(supervision_webhook_deliveries).values(
            id=delivery_id,
            item_id=item_id,
            kind=ESCALATION,
            body=json.dumps({"kind": ESCALATION, "delivery_id": delivery_id, **body}, sort_keys=True, default=str),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
            delivered_at=None,
            last_status=None,
            last_error=None,
        )
    )
    return delivery_id
