"""``/messages/{id}``: a message with every version, its conversation context, its readers and
its thread."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from archive import queries as archive_queries
from archive import threads as archive_threads
from archive.people import names_on_events
from archive.principals import Principal
from ingest.db import read_only
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


class ThreadMessage(BaseModel):
    message_id: str
    parent_id: str | None = Field(description="the message it answers; null: it starts the thread")
    posted_at: datetime | None
    source: str = Field(description="explicit (the platform's reply_to) or model (reconstructed in a flat room)")
    model: str | None = Field(description="the disentangler that made a model link")
    score: float | None
    actor_id: str | None
    actor_name: str | None = Field(default=None, description="the sender's display name on the post (of that moment)")
    text: str | None = Field(description="the current text; null when the message was disposed of")
    deleted: bool
    versions: int


class ThreadView(BaseModel):
    message_id: str
    thread_id: str = Field(description="the thread's first message")
    room_id: str
    messages: list[ThreadMessage] = Field(description="the thread's messages in time order")


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


@router.get("/{message_id}/thread", response_model=ThreadView, summary="The thread it belongs to", responses=NOT_FOUND)
def get_thread(
    message_id: MessageId, services: Services, caller: Annotated[Principal, Depends(allowed("search"))]
) -> dict[str, Any]:
    """The messages of the message's thread (docs/threads.md), with how each was linked. 404 when
    the message is not archived, or has no thread link yet (the ``threads`` adapter is not among
    the configured adapters, or has not reached it: ``archivist threads rebuild`` links every
    archived message)."""
    with read_only(services.engine) as connection:
        messages = archive_threads.thread_messages(connection, message_id)
    if messages is None:
        if archive_queries.message(services.engine, message_id) is None:
            raise _not_found(message_id)
        raise HTTPException(
            status_code=404,
            detail={
                "message": f"message {message_id!r} is not linked into a thread yet: the threads adapter has not "
                "reached it (run archivist threads rebuild)"
            },
        )
    names = names_on_events(services.engine, [m["post_event_id"] for m in messages if m["post_event_id"]])
    read_audit.record(services.engine, caller, "view_thread", {"message_id": message_id})
    own = next(m for m in messages if m["message_id"] == message_id)
    return {
        "message_id": message_id,
        "thread_id": own["thread_id"],
        "room_id": own["room_id"],
        "messages": [m | {"actor_name": names.get(m["post_event_id"] or "")} for m in messages],
    }
