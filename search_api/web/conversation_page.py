"""``/conversation``: the room's messages around a hit, with joins, leaves, files (each linked
to its download and with the state of its text) and disclaimers inline, every version of
edited messages and deletions marked, who was in the
room then, and who read the message; each message's thread shown by a colour and an indent (a
switch turns them off; ``static/threads.js``, docs/threads.md). ``/conversation/thread``: the
whole thread of a message. ``/timeline``: everything that happened in a room in time order (its
parameters, pages and descriptions are in :mod:`search_api.web.timeline`)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive import people
from archive import queries as archive_queries
from archive import threads as archive_threads
from archive import timeline as archive_timeline
from archive.principals import Principal
from formats.time_zones import local_date
from ingest.db import read_only
from search_api import read_audit
from search_api.web import timeline
from search_api.web.core import WebUser, gate, render, services, viewer_zone
from search_api.web.file_states import with_file_states

router = APIRouter()
INLINE_TYPES = ("join", "leave", "file_upload", "file_download", "disclaimer", "room_update")
MAX_INLINE = 500
THREAD_COLOURS = 8
"""Thread colours the stylesheet has (``thread-c0`` .. ``thread-c7``), given in order of first
appearance on the page; a colour comes back after eight threads, the indent and the thread's
name tell them apart."""
MAX_DEPTH = 4
"""The deepest indent (a reply to a reply to ...: deeper replies stay at this one)."""


def thread_marks(engine: Engine, message_ids: list[str]) -> dict[str, dict[str, Any]]:
    """How the page shows each message's thread: its id, parent, link source, colour and indent
    (a reply whose parent is on the page one step deeper than the parent, one not on it at 1)."""
    with read_only(engine) as connection:
        links = archive_threads.links_of(connection, message_ids)
    colours: dict[str, int] = {}
    marks: dict[str, dict[str, Any]] = {}
    for message_id in message_ids:
        link = links.get(message_id)
        if link is None:
            continue
        colour = colours.setdefault(link.thread_id, len(colours) % THREAD_COLOURS)
        parent = marks.get(link.parent_id) if link.parent_id is not None else None
        depth = 0 if link.parent_id is None else min(parent["depth"] + 1 if parent else 1, MAX_DEPTH)
        marks[message_id] = {
            "thread_id": link.thread_id,
            "parent_id": link.parent_id,
            "source": link.source,
            "colour": colour,
            "depth": depth,
        }
    return marks


def inline_item(event_type: str, at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    """A non-message event as the conversation lists it; files and disclaimers keep their facts."""
    kind = {"file_upload": "file", "file_download": "file", "disclaimer": "disclaimer"}.get(event_type, "membership")
    item: dict[str, Any] = {
        "kind": kind,
        "type": event_type,
        "at": at,
        "who": timeline.who(payload),
        "text": timeline.describe(event_type, payload),
        "sent_offset": payload.get("occurred_offset"),
        "event_id": payload.get("event_id"),
    }
    if kind == "file":
        item["file"] = payload.get("file", {})
    elif kind == "disclaimer":
        item["disclaimer"] = payload.get("disclaimer", {})
    return item


def inline_events(engine: Engine, room_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Joins, leaves, files, disclaimers and room updates in ``room_id`` from ``start`` to ``end``."""
    rows = archive_timeline.events_until(engine, room_id, start, end, INLINE_TYPES, MAX_INLINE)
    items = [inline_item(row.event_type, row.occurred_at, json.loads(row.payload)) for row in rows]
    return with_file_states(engine, items)


def hit_event_id(found: dict[str, Any]) -> str | None:
    """The archived event that brought the message in: its post, else its first version."""
    if found.get("post_event_id"):
        return str(found["post_event_id"])
    history: list[dict[str, Any]] = found.get("history", [])
    return str(history[0]["event_id"]) if history else None


def timeline_link(found: dict[str, Any], zone: ZoneInfo | None = None) -> str:
    """The time line of the message's room on its day (in ``zone``), opened at the message."""
    event_id = hit_event_id(found)
    posted: datetime = found["posted_at"]
    day = posted.date() if zone is None else local_date(posted, zone)
    query: dict[str, str] = {"room": found["room_id"], "day": day.isoformat()}
    if event_id is None:
        return timeline.link(query)
    return timeline.link(query | {"hit": event_id}) + f"#event-{event_id}"


def labelled(engine: Engine, actor_ids: list[str], at: datetime) -> list[str]:
    """People as the page shows them: their name at ``at`` and their id."""
    names = people.names_at(engine, actor_ids, at)
    return [people.label(names.get(actor_id), actor_id) for actor_id in actor_ids]


def gather(
    engine: Engine, caller: Principal, message_id: str, around: int, zone: ZoneInfo | None = None
) -> dict[str, Any] | None:
    """Everything the page shows, audited like the API's context and reads views (``zone``: the
    reader's, for the time line's day)."""
    found = archive_queries.message(engine, message_id)
    lines = archive_queries.context(engine, message_id, around)
    if found is None or lines is None:
        return None
    room, at = found["room_id"], found["posted_at"]
    times = [line["posted_at"] for line in lines if line["posted_at"] is not None]
    changed = archive_queries.changes(engine, [line["message_id"] for line in lines])
    offsets = archive_queries.sent_offsets(engine, [message_id, *(line["message_id"] for line in lines)])
    items: list[dict[str, Any]] = [
        {
            "kind": "hit" if line["is_hit"] else "message",
            "at": line["posted_at"],
            "line": line,
            "changes": changed.get(line["message_id"]),
            "sent_offset": offsets.get(line["message_id"]),
        }
        for line in lines
    ]
    names = people.names_on_events(engine, [line["post_event_id"] for line in lines if line["post_event_id"]])
    threads = thread_marks(engine, [line["message_id"] for line in lines])
    for item in items:
        item["thread"] = threads.get(item["line"]["message_id"])
    for line in lines:
        line["actor_label"] = people.label(names.get(line["post_event_id"] or ""), line["actor_id"])
        if line["is_hit"]:
            found["actor_label"] = line["actor_label"]
    inline = inline_events(engine, room, min(times), max(times))
    items += inline
    items.sort(key=lambda item: (item["at"], item["kind"] in ("message", "hit")))
    readers = archive_queries.readers(engine, message_id)
    read_audit.record(engine, caller, "view_context", {"message_id": message_id, "n": around})
    read_audit.record(engine, caller, "view_reads", {"message_id": message_id})
    return {
        "message": found,
        "sent_offset": offsets.get(message_id),
        "timeline": items,
        "files": [item for item in inline if item["kind"] == "file"],
        "disclaimers": [item for item in inline if item["kind"] == "disclaimer"],
        "members": labelled(engine, archive_queries.members_at(engine, room, at), at),
        "readers": [
            reader | {"label": label}
            for reader, label in zip(readers, labelled(engine, [r["actor_id"] for r in readers], at), strict=True)
        ],
        # Its day in the reader's zone: the search link reads sent: in the same zone.
        "day": (at.date() if zone is None else local_date(at, zone)).isoformat(),
        "timeline_link": timeline_link(found, zone),
        "threaded": bool(threads),
    }


def gather_thread(engine: Engine, caller: Principal, message_id: str) -> dict[str, Any] | None:
    """The whole thread of ``message_id`` for its page (audited like the API's thread view);
    None when the message is not archived; ``messages`` is None when it has no link yet."""
    found = archive_queries.message(engine, message_id)
    if found is None:
        return None
    with read_only(engine) as connection:
        messages = archive_threads.thread_messages(connection, message_id)
    read_audit.record(engine, caller, "view_thread", {"message_id": message_id})
    if messages is None:
        return {"message": found, "messages": None, "thread_id": None}
    names = people.names_on_events(engine, [m["post_event_id"] for m in messages if m["post_event_id"]])
    marks = thread_marks(engine, [m["message_id"] for m in messages])
    for m in messages:
        m["actor_label"] = people.label(names.get(m["post_event_id"] or ""), m["actor_id"] or "?")
        m["depth"] = marks[m["message_id"]]["depth"]
    own = next(m for m in messages if m["message_id"] == message_id)
    return {"message": found, "messages": messages, "thread_id": own["thread_id"]}


@router.get("/conversation", include_in_schema=False)
async def conversation_page(
    request: Request,
    message: str,
    n: Annotated[int, Query(ge=0, le=200)] = 10,
) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    zone = viewer_zone(request)  # checked by the gate
    view = await run_in_threadpool(gather, services(request).engine, user.principal, message, n, zone)
    if view is None:
        return render(
            request,
            "error.html",
            {"title": "Not found", "message": f"No archived message {message!r}."},
            user=user,
            status_code=404,
        )
    return render(request, "conversation.html", {"title": "Conversation", "n": n, **view}, user=user)


@router.get("/conversation/thread", include_in_schema=False)
async def thread_page(request: Request, message: str) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    view = (
        None
        if "\x00" in message
        else await run_in_threadpool(gather_thread, services(request).engine, user.principal, message)
    )
    if view is None:
        return render(
            request,
            "error.html",
            {"title": "Not found", "message": f"No archived message {message!r}."},
            user=user,
            status_code=404,
        )
    return render(request, "thread.html", {"title": "Thread", **view}, user=user)


@router.get("/timeline", include_in_schema=False)
async def timeline_page(
    request: Request,
    room: str | None = None,
    day: str | None = None,
    since: Annotated[str | None, Query(alias="from")] = None,
    until: str | None = None,
    page: str | None = None,
    hit: str | None = None,
    reads: str | None = None,
) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    asked = timeline.Asked(room, day, since, until, page, hit, reads not in (None, "", "0"))
    zone = viewer_zone(request)  # checked by the gate
    try:
        view = await run_in_threadpool(timeline.gather, services(request).engine, user.principal, asked, zone)
    except timeline.BadTimeline as problem:
        title = "Unknown room" if problem.status == 400 else "Cannot show that time line"
        context = {"title": title, "message": problem.message}
        return render(request, "error.html", context, user=user, status_code=problem.status)
    return render(request, "timeline.html", {"title": "Time line", **view}, user=user)
