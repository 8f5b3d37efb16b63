"""``POST /events``: events from chat servers that cannot speak AMQP, validated like the consumer."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from archive.principals import Principal
from ingest.errors import InvalidEvent
from ingest.events import Event, admit_event_json, printable
from ingest.sink import submit_checked
from ingest.staging import StagingStore
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES

router = APIRouter(prefix="/events", tags=["ingest"], responses=ERROR_RESPONSES)


class EventError(BaseModel):
    index: int
    status: Literal["invalid", "conflict"] = "invalid"
    """``invalid``: not an event of the contract. ``conflict``: its event_id is recorded with
    other content; the first version is kept."""
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
    the response; the others are listed with their position, status and reason, never dropped
    silently. ``accepted`` counts valid events, including any received before with the same
    content (event_id makes them idempotent); an event whose event_id is recorded with other
    content is a ``conflict``, never accepted."""
    valid: list[Event] = []
    positions: list[int] = []
    rejected: list[EventError] = []
    for index, candidate in enumerate(batch):
        try:
            # Each item goes through the consumer's own path (JSON text -> event), so both accept
            # and refuse exactly the same things (lone surrogates, lax JSON coercions, ...).
            valid.append(admit_event_json(json.dumps(candidate)))
            positions.append(index)
        except InvalidEvent as error:
            rejected.append(EventError(index=index, reason=error.reason))
        except Exception as error:  # json.dumps of what the body parser built: still one item only
            reason = printable(f"could not be validated: {type(error).__name__}: {error}")
            rejected.append(EventError(index=index, reason=reason))
    accepted = 0
    if valid:
        # With a broker the consumer has the last word on conflicts; the database is asked first
        # so that the ones it already knows of are answered here.
        submitted = submit_checked(services.sink, valid, recorded=StagingStore(services.engine))
        accepted = submitted.accepted
        rejected.extend(
            EventError(index=positions[c.position], status="conflict", reason=c.reason) for c in submitted.conflicts
        )
        rejected.sort(key=lambda error: error.index)
    return IngestResult(accepted=accepted, rejected=rejected)
