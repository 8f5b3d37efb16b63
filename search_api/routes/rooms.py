"""``/rooms``: the archived rooms, and who was in one at a given instant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import AwareDatetime, BaseModel, Field

from archive import queries as archive_queries
from archive.people import names_at
from archive.principals import Principal
from search_api import read_audit
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(prefix="/rooms", tags=["search"], responses=ERROR_RESPONSES)


class RoomView(BaseModel):
    room_id: str
    name: str | None
    kind: str
    description: str | None
    first_seen_at: datetime
    messages: int
    files: int


class Members(BaseModel):
    room_id: str
    at: datetime
    members: list[str]
    names: dict[str, str] = Field(
        default_factory=dict, description="each member's display name at that instant (the newest seen by then)"
    )


@router.get("", response_model=list[RoomView], summary="Archived rooms and conversations")
def list_rooms(services: Services, caller: Annotated[Principal, Depends(allowed("search"))]) -> list[dict[str, Any]]:
    rooms = archive_queries.rooms(services.engine)
    read_audit.record(services.engine, caller, "view_rooms", {"rooms": len(rooms)})
    return rooms


@router.get(
    "/{room_id}/members", response_model=Members, summary="Who was in the room at an instant", responses=NOT_FOUND
)
def members(
    room_id: str,
    services: Services,
    caller: Annotated[Principal, Depends(allowed("search"))],
    at: Annotated[AwareDatetime, Query(description="An instant with a zone, e.g. 2009-03-03T10:30:00Z")],
) -> Members:
    try:
        at.astimezone(UTC)
    except OverflowError:
        raise HTTPException(status_code=422, detail={"message": "at: the instant is out of range"}) from None
    if room_id not in {room["room_id"] for room in archive_queries.rooms(services.engine)}:
        raise HTTPException(status_code=404, detail={"message": f"no archived room {room_id!r}"})
    present = archive_queries.members_at(services.engine, room_id, at)
    read_audit.record(services.engine, caller, "view_members", {"room_id": room_id, "at": at.isoformat()})
    return Members(room_id=room_id, at=at, members=present, names=names_at(services.engine, present, at))
