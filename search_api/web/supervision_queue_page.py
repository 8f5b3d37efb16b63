"""The reviewer's pages of supervision: the queue (``/supervision``) and one item
(``/supervision/items/{id}``).

The queue: views mine, unassigned, escalated, all open, overdue and closed (optionally of one
policy), oldest first, 50 a page by cursor, each row with its SLA age and "overdue" marked;
tick rows and "Close as false positive" closes them in one bulk action (every item its own
history row and audit entry). The item: its policy (name, version), state, reviewer and SLA
age, the text the policy evaluated with the matched spans in ``<mark>`` (an attachment's text
for an attachment's match), the conversation around the message (as the conversation page
gathers it, audited the same way), its history, and the actions: start, each disposition,
escalate, reopen and assign, every one a plain button (no script needed) with a key
(``static/supervision_queue.js``: s start, n no issue, f false positive, b breach, r reported,
e escalate, j/k next and previous item of the view, c the comment box, ? help). Escalating and
a breach need a comment: without one the page says so next to the comment box (the script
says it before sending).

Reading needs ``supervision_read`` (the item's history ``supervision_report``), changing
``supervision_review``, as the API; every change goes through :mod:`supervision.queue`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from formats.time_zones import UnknownTimeZone
from search_api import read_audit
from search_api.deps import AppServices
from search_api.web import conversation_page
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, render, services, viewer_zone
from supervision import queue
from supervision.item_text import evaluated_text
from supervision.model import COMMENT_REQUIRED, DISPOSITIONS
from supervision.policy_store import list_policies

router = APIRouter()
PAGE = 50
AROUND = 5

VIEWS: dict[str, str] = {
    "mine": "Mine",
    "unassigned": "Unassigned",
    "escalated": "Escalated",
    "open": "All open",
    "overdue": "Overdue",
    "closed": "Closed",
}
DISPOSITION_LABELS = {
    "no_issue": "No issue",
    "false_positive": "False positive",
    "breach": "Breach",
    "reported": "Reported",
}
STATE_LABELS = {"pending": "Pending", "in_review": "In review", "escalated": "Escalated", "closed": "Closed"}
KEYS = {"start": "s", "no_issue": "n", "false_positive": "f", "breach": "b", "reported": "r", "escalate": "e"}
"""The key of each action (the page shows them; ``static/supervision_queue.js`` presses them)."""
REFUSED = (queue.ItemNotFound, queue.ItemConflict, queue.ItemInvalid)


@dataclass(frozen=True)
class Shown:
    """Which queue a page shows: a view (an unknown one: all open), and optionally one policy
    and one reviewer ("mine" is the user's own queue, "unassigned" nobody's: no reviewer
    then). Links and forms carry it, so j/k and "save and next" stay in it."""

    view: str = "open"
    policy_id: str = ""
    reviewer: str = ""

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Shown:
        """From a page's query or a form's fields (each value a string or a list of them)."""

        def value(name: str, longest: int) -> str:
            found = values.get(name) or ""
            return str(found[0] if isinstance(found, list) and found else found or "").strip()[:longest]

        view = value("view", 20)
        return cls(view if view in VIEWS else "open", value("policy", 36), value("reviewer", 200))

    def query(self, **more: str) -> str:
        chosen = {"view": self.view, "policy": self.policy_id, "reviewer": self.reviewer, **more}
        return urlencode({name: value for name, value in chosen.items() if value})

    def filter(self, user: WebUser) -> queue.QueueFilter:
        wanted: dict[str, Any] = {"states": queue.OPEN_STATES, "policy_id": self.policy_id or None}
        if self.view == "mine":
            wanted["assignee"] = user.principal.label
        elif self.view == "unassigned":
            wanted["unassigned"] = True
        elif self.reviewer:
            wanted["assignee"] = self.reviewer
        if self.view == "escalated":
            wanted["states"] = ("escalated",)
        elif self.view == "overdue":
            wanted["overdue"] = True
        elif self.view == "closed":
            wanted["states"] = ("closed",)
        return queue.QueueFilter(**wanted)

    def queue_link(self, **more: str) -> str:
        return f"/supervision?{self.query(**more)}"

    def item_link(self, item_id: str) -> str:
        return f"/supervision/items/{item_id}?{self.query()}"


def age(hours: float) -> str:
    """An SLA age as a person reads it: ``45 min``, ``5 h``, ``3 d 4 h``."""
    if hours < 1:
        return f"{int(hours * 60)} min"
    if hours < 48:
        return f"{int(hours)} h"
    days, rest = divmod(int(hours), 24)
    return f"{days} d {rest} h" if rest else f"{days} d"


def _queue_view(app: AppServices, user: WebUser, shown: Shown, cursor: str | None) -> dict[str, Any]:
    page = queue.queue(app.engine, shown.filter(user), limit=PAGE, cursor=cursor)
    with app.engine.connect() as connection:
        policies = [(policy.id, policy.spec.name) for policy in list_policies(connection)]
    return {
        "title": "Supervision review queue",
        "rows": page.items,
        "counts": page.counts,
        "open_total": sum(page.counts.values()),
        "shown": shown,
        "views": VIEWS,
        "policies": policies,
        "next_link": shown.queue_link(cursor=page.next_cursor) if page.next_cursor else None,
        "first_link": shown.queue_link() if cursor else None,
        "view_link": lambda name: replace(shown, view=name).queue_link(),
        "age": age,
        "states": STATE_LABELS,
        "dispositions": DISPOSITION_LABELS,
        "may_review": user.may("supervision_review"),
        "max_bulk": queue.MAX_BULK,
    }


@router.get("/supervision", include_in_schema=False)
async def queue_page(request: Request) -> Response:
    user = await gate(request, "supervision_read")
    if not isinstance(user, WebUser):
        return user
    shown = Shown.of(request.query_params)
    cursor = (request.query_params.get("cursor") or "").strip()[:1000] or None
    try:
        context = await run_in_threadpool(_queue_view, services(request), user, shown, cursor)
    except REFUSED as error:
        return problem(request, user, error)
    return render(request, "supervision_queue.html", context, user=user)


def problem(request: Request, user: WebUser, error: Exception) -> Response:
    """A refusal as a page: 404 for an item not there, 409 for a state that does not allow it,
    422 for bad input."""
    status = 404 if isinstance(error, queue.ItemNotFound) else 409 if isinstance(error, queue.ItemConflict) else 422
    title = {404: "Not found", 409: "Not done", 422: "Not done"}[status]
    context = {"title": title, "message": str(error)}
    return render(request, "error.html", context, user=user, status_code=status)


@router.post("/supervision/bulk-close", include_in_schema=False)
async def bulk_close(request: Request) -> Response:
    answer = await posted(request, "supervision_review")
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    shown = Shown.of(fields)
    ids = [value.strip() for value in fields.get("id", []) if value.strip()]
    if not ids:
        return problem(request, user, queue.ItemInvalid("Tick at least one item to close as a false positive."))
    app = services(request)
    try:
        await run_in_threadpool(
            queue.bulk_close_false_positives, app.engine, user.principal, ids, first(fields, "comment") or None
        )
    except REFUSED as error:
        return problem(request, user, error)
    return RedirectResponse(shown.queue_link(), status_code=303)


def reader_zone(request: Request) -> ZoneInfo | None:
    """The reader's zone (for the time line's day); ``None`` (the default) for an unknown one."""
    try:
        return viewer_zone(request)
    except UnknownTimeZone:
        return None


def _item_view(
    app: AppServices, user: WebUser, item_id: str, shown: Shown, zone: ZoneInfo | None = None
) -> dict[str, Any]:
    found = queue.get_item(app.engine, item_id)
    item = found.item
    text = evaluated_text(app.engine, app.files(), found.event_id, item.message_id, found.matches)
    previous, following = queue.neighbours(app.engine, item_id, shown.filter(user))
    around = conversation_page.gather(app.engine, user.principal, item.message_id, AROUND, zone)
    history = queue.history(app.engine, item_id) if user.may("supervision_report") else None
    read_audit.record(
        app.engine, user.principal, "supervision_item_view", {"item_id": item_id, "message_id": item.message_id}
    )
    return {
        "title": f"Review item: {item.policy_name}",
        "item": item,
        "found": found,
        "text": text,
        "around": around,
        "history": history,
        "shown": shown,
        "view_label": VIEWS[shown.view],
        "queue_link": shown.queue_link(),
        "previous_link": shown.item_link(previous) if previous else None,
        "next_link": shown.item_link(following) if following else None,
        "age": age,
        "states": STATE_LABELS,
        "dispositions": DISPOSITION_LABELS,
        "disposition_order": DISPOSITIONS,
        "keys": KEYS,
        "needs_comment": COMMENT_REQUIRED,
        "may_review": user.may("supervision_review"),
        "may_search": user.may("search"),  # the time line is a search page
        "max_comment": queue.MAX_COMMENT,
        "comment": "",
        "error": None,
        "assignee_value": item.assignee or "",
    }


@router.get("/supervision/items/{item_id}", include_in_schema=False)
async def item_page(request: Request, item_id: str) -> Response:
    user = await gate(request, "supervision_read")
    if not isinstance(user, WebUser):
        return user
    shown = Shown.of(request.query_params)
    try:
        context = await run_in_threadpool(_item_view, services(request), user, item_id, shown, reader_zone(request))
    except REFUSED as error:
        return problem(request, user, error)
    return render(request, "supervision_item.html", context, user=user)


def said(error: Exception) -> str:
    """A refusal as the item page says it (a missing comment: what to do)."""
    message = str(error)
    if message.startswith("comment: required to "):
        return f"Write a comment: one is required to {message.removeprefix('comment: required to ')}."
    return message


def _act(app: AppServices, user: WebUser, item_id: str, action: str, fields: dict[str, list[str]]) -> None:
    """Do ``action``: ``start``, ``escalate``, ``reopen``, ``assign`` or ``close:<disposition>``."""
    comment = first(fields, "comment") or None
    principal = user.principal
    if action == "start":
        queue.start(app.engine, principal, item_id)
    elif action == "escalate":
        queue.escalate(app.engine, principal, item_id, comment, public_base_url=app.public_base_url)
    elif action == "reopen":
        queue.reopen(app.engine, principal, item_id, comment)
    elif action == "assign":
        queue.assign(app.engine, principal, item_id, first(fields, "assignee") or None, comment)
    elif action.startswith("close:"):
        queue.close(app.engine, principal, item_id, action.removeprefix("close:"), comment)
    else:
        raise queue.ItemInvalid(f"unknown action {action[:50]!r}")


@router.post("/supervision/items/{item_id}", include_in_schema=False)
async def item_action(request: Request, item_id: str) -> Response:
    answer = await posted(request, "supervision_review")
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    app = services(request)
    shown = Shown.of(fields)
    action = first(fields, "do")

    def act() -> str | None:
        # Where a disposition leads: the next item of the view as it was before the change.
        following = queue.neighbours(app.engine, item_id, shown.filter(user))[1]
        _act(app, user, item_id, action, fields)
        return following if action.startswith("close:") else None

    try:
        following = await run_in_threadpool(act)
    except queue.ItemNotFound as error:
        return problem(request, user, error)
    except (queue.ItemConflict, queue.ItemInvalid) as error:
        status = 409 if isinstance(error, queue.ItemConflict) else 422
        context = await run_in_threadpool(_item_view, app, user, item_id, shown, reader_zone(request))
        context |= {"error": said(error), "comment": first(fields, "comment")[: queue.MAX_COMMENT]}
        if action == "assign":
            context["assignee_value"] = first(fields, "assignee")[:200]
        return render(request, "supervision_item.html", context, user=user, status_code=status)
    return RedirectResponse(shown.item_link(following or item_id), status_code=303)
