"""``/messages/{id}``: a message with every version, its conversation context and its readers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from archive import queries as archive_queries
from archive.people import names_on_events
from archive.principals import Principal
from search_api import read_audit
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(prefix="/messages", tags=["search"], responses=ERROR_RESPONSES)


class Version(BaseModel):
    kind: str
    text: str
    actor_id: str
    occurred_at: datetime
    event_id: str


class MessageView(BaseModel):
    message_id: str
    room_id: str
    actor_id: str
    posted_at: datetime | None
    text: str | None
    versions: int
    edited_at: datetime | None
    deleted: bool
    deleted_at: datetime | None
    deleted_by: str | None
    history: list[Version]


class ContextLine(BaseModel):
    message_id: str
    actor_id: str
    actor_name: str | None = Field(default=None, description="the sender's display name on the post (of that moment)")
    posted_at: datetime | None
    text: str | None
    deleted: bool
    versions: int
    is_hit: bool


class Reader(BaseModel):
    actor_id: str
    read_at: datetime


def _not_found(message_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail={"message": f"no archived message {message_id!r}"})


def _archivable_id(message_id: str) -> str:
    """The path's message id, or 404: an id with a NUL character names no archived message (no
    event carries one, and PostgreSQL refuses it as a parameter: a 500 before this check)."""
    if "\x00" in message_id:
        raise _not_found(message_id)
    return message_id


MessageId = Annotated[str, Depends(_archivable_id)]


@router.get("/{message_id}", response_model=MessageView, summary="A message with every version", responses=NOT_FOUND)
def get_message(
    message_id: MessageId, services: Services, caller: Annotated[Principal, Depends(allowed("search"))]
) -> dict[str, Any]:
    found = archive_queries.message(services.engine, message_id)
    if found is None:
        raise _not_found(message_id)
    read_audit.record(services.engine, caller, "view_message", {"message_id": message_id})
    return found


@router.get(
    "/{message_id}/context", response_model=list[ContextLine], summary="The conversation around it", responses=NOT_FOUND
)
def get_context(
    message_id: MessageId,
    services: Services,
    caller: Annotated[Principal, Depends(allowed("search"))],
    n: Annotated[int, Query(ge=0, le=200, description="messages before and after")] = 10,
) -> list[dict[str, Any]]:
    lines = archive_queries.context(services.engine, message_id, n)
    if lines is None:
        raise _not_found(message_id)
    names = names_on_events(services.engine, [line["post_event_id"] for line in lines if line["post_event_id"]])
    read_audit.record(services.engine, caller, "view_context", {"message_id": message_id, "n": n})
    return [line | {"actor_name": names.get(line["post_event_id"] or "")} for line in lines]


@router.get("/{message_id}/reads", response_model=list[Reader], summary="Who read it, and when", responses=NOT_FOUND)
def get_reads(
    message_id: MessageId, services: Services, caller: Annotated[Principal, Depends(allowed("search"))]
) -> list[dict[str, Any]]:
    if archive_queries.message(services.engine, message_id) is None:
        raise _not_found(message_id)
    read_audit.record(services.engine, caller, "view_reads", {"message_id": message_id})
    return archive_queries.readers(services.engine, message_id)
