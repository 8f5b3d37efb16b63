"""``POST /events``: events from chat servers that cannot speak AMQP, validated like the consumer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from ingest.errors import InvalidEvent
from ingest.events import Event, parse_event_json
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES
from search_api.tokens import Principal

router = APIRouter(prefix="/events", tags=["ingest"], responses=ERROR_RESPONSES)


class EventError(BaseModel):
    index: int
    reason: str


class IngestResult(BaseModel):
    accepted: int
    rejected: list[EventError]


@router.post("", response_model=IngestResult, summary="Submit a batch of events")
def submit_events(
    services: Services,
    _caller: Annotated[Principal, Depends(allowed("ingest"))],
    batch: Annotated[
        list[Any], Body(max_length=10_000, description="Events of the contract (a JSON array of event objects)")
    ],
) -> IngestResult:
    """Valid events are made durable (RabbitMQ with confirms, or staging when embedded) before
    the response; invalid ones are listed with their position and reason, never dropped silently.
    ``accepted`` counts valid events, including any received before (event_id makes them idempotent)."""
    valid: list[Event] = []
    rejected: list[EventError] = []
    for index, candidate in enumerate(batch):
        try:
            # Each item goes through the consumer's own path (JSON text -> event), so both accept
            # and refuse exactly the same things (lone surrogates, lax JSON coercions, ...).
            valid.append(parse_event_json(json.dumps(candidate)))
        except InvalidEvent as error:
            rejected.append(EventError(index=index, reason=error.reason))
    accepted = services.sink.submit(valid) if valid else 0
    return IngestResult(accepted=accepted, rejected=rejected)
