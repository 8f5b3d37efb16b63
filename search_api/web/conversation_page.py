"""``/conversation``: the room's messages around a hit, with joins, leaves, files and
disclaimers inline, who was in the room then, and who read the message."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from adapters.archive_schema import archive_events
from search_api import archive_queries, audit
from search_api.tokens import Principal
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()
INLINE_TYPES = ("join", "leave", "file_upload", "file_download", "disclaimer", "room_update")
MAX_INLINE = 500


def describe(event_type: str, payload: dict[str, Any]) -> str:
    """One line for a non-message event, as the conversation shows it."""
    who = payload.get("actor", {}).get("name") or payload.get("actor", {}).get("id", "someone")
    match event_type:
        case "join":
            return f"{who} joined"
        case "leave":
            return f"{who} left"
        case "file_upload" | "file_download":
            info = payload.get("file", {})
            verb = "shared" if event_type == "file_upload" else "downloaded"
            return f"{who} {verb} the file {info.get('name', '?')} ({info.get('size', '?')} bytes)"
        case "disclaimer":
            shown = payload.get("disclaimer", {})
            rule = f"{shown.get('rule_id', '?')} v{shown.get('version', '?')}"
            return f"disclaimer {rule} shown to {who}: {shown.get('text', '')}"
        case _:
            update = payload.get("room_update", {})
            return f"{who} updated the room: " + ", ".join(f"{k} = {v}" for k, v in update.items() if v)


def inline_events(engine: Engine, room_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Joins, leaves, files, disclaimers and room updates in ``room_id`` from ``start`` to ``end``."""
    columns = archive_events.c
    with engine.connect() as connection:
        rows = connection.execute(
            select(columns.event_type, columns.occurred_at, columns.actor_id, columns.payload)
            .where(
                columns.room_id == room_id,
                columns.event_type.in_(INLINE_TYPES),
                columns.occurred_at >= start,
                columns.occurred_at <= end,
            )
            .order_by(columns.occurred_at, columns.seq)
            .limit(MAX_INLINE)
        ).all()
    return [
        {
            "kind": "file" if row.event_type.startswith("file") else "membership",
            "at": row.occurred_at,
            "text": describe(row.event_type, json.loads(row.payload)),
        }
        for row in rows
    ]


def gather(engine: Engine, caller: Principal, message_id: str, around: int) -> dict[str, Any] | None:
    """Everything the page shows, audited like the API's context and reads views."""
    found = archive_queries.message(engine, message_id)
    lines = archive_queries.context(engine, message_id, around)
    if found is None or lines is None:
        return None
    room, at = found["room_id"], found["posted_at"]
    times = [line["posted_at"] for line in lines if line["posted_at"] is not None]
    timeline: list[dict[str, Any]] = [
        {"kind": "hit" if line["is_hit"] else "message", "at": line["posted_at"], "line": line} for line in lines
    ]
    timeline += inline_events(engine, room, min(times), max(times))
    timeline.sort(key=lambda item: (item["at"], item["kind"] not in ("membership", "file")))
    audit.record(engine, caller, "view_context", {"message_id": message_id, "n": around})
    audit.record(engine, caller, "view_reads", {"message_id": message_id})
    return {
        "message": found,
        "timeline": timeline,
        "members": archive_queries.members_at(engine, room, at),
        "readers": archive_queries.readers(engine, message_id),
        "day": at.strftime("%Y-%m-%d"),
    }


@router.get("/conversation", include_in_schema=False)
async def conversation_page(
    request: Request,
    message: str,
    n: Annotated[int, Query(ge=0, le=200)] = 10,
) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    view = await run_in_threadpool(gather, services(request).engine, user.principal, message, n)
    if view is None:
        return render(
            request,
            "error.html",
            {"title": "Not found", "message": f"No archived message {message!r}."},
            user=user,
            status_code=404,
        )
    return render(request, "conversation.html", {"title": "Conversation", "n": n, **view}, user=user)
