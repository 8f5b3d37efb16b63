"""Supervision review items (issue 22): the queue, one item with its text and conversation,
its history, and every reviewer's action.

Roles: reading the queue and the items with their messages needs ``supervision_read``; every
change (start, assign, escalate, close, bulk close, reopen) ``supervision_review``; an item's
history (the evidence of review, no message text) ``supervision_report``. Every change is a
history row and an audit entry (``supervision_item_<action>``, with before and after); opening
an item is audited (``supervision_item_view``, and ``view_context`` for the conversation it
returns) as reading a message is, and so is reading a
history (``supervision_item_history``). A state that does not allow the change is a 409, a
comment missing (escalation, breach, reopening) or too long a 422."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from archive import queries as archive_queries
from archive.principals import Principal
from search_api import read_audit
from search_api.deps import AppServices, Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.refusals import refused
from supervision import queue
from supervision.item_text import evaluated_text
from supervision.model import Disposition, ItemReason, ItemState

router = APIRouter(prefix="/supervision/items", tags=["supervision"], responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {409: described("The item's state does not allow the change (why)")}
CHANGES = NOT_FOUND | CONFLICT

Reader = Annotated[Principal, Depends(allowed("supervision_read"))]
Reviewer = Annotated[Principal, Depends(allowed("supervision_review"))]
Reporter = Annotated[Principal, Depends(allowed("supervision_report"))]
Comment = Annotated[str | None, Field(default=None, max_length=queue.MAX_COMMENT)]


def assignee_filter(caller: Principal, assignee: str | None) -> dict[str, Any]:
    """``mine`` (the caller's label), ``unassigned``, or a reviewer's label."""
    if assignee == "mine":
        return {"assignee": caller.label}
    if assignee == "unassigned":
        return {"unassigned": True}
    return {"assignee": assignee} if assignee else {}


@router.get("", response_model=queue.QueuePage, summary="The review queue")
def list_items(
    services: Services,
    caller: Reader,
    state: Annotated[list[ItemState] | None, Query(description="states wanted (none: every state)")] = None,
    assignee: Annotated[
        str | None, Query(max_length=200, description="a reviewer's label, `mine` or `unassigned`")
    ] = None,
    policy_id: Annotated[str | None, Query(max_length=36)] = None,
    reason: ItemReason | None = None,
    overdue: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=queue.MAX_PAGE)] = queue.DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=1000)] = None,
) -> queue.QueuePage:
    """Items oldest first, ``limit`` a page; ``next_cursor`` continues. Each with its SLA age
    (hours) and whether it is overdue; ``counts``: items per state of the whole queue."""
    wanted = queue.QueueFilter(
        states=tuple(dict.fromkeys(state or ())),
        policy_id=policy_id,
        reason=reason,
        overdue=overdue,
        **assignee_filter(caller, assignee),
    )
    with refused:
        return queue.queue(services.engine, wanted, limit=limit, cursor=cursor)


class TextPiece(BaseModel):
    text: str
    terms: list[str] = Field(description="term ids matching this piece; empty for plain text")


class EvaluatedTextOut(BaseModel):
    field: Literal["text", "attachment"]
    text: str | None
    pieces: list[TextPiece]
    name: str | None = Field(description="the attachment's file name")
    file_event_id: str | None
    problem: str | None = Field(description="why the text is not shown")


class ItemDetail(BaseModel):
    item: queue.QueueRow
    event_id: str
    hit_event_id: str
    matches: list[dict[str, Any]]
    escalation_reviewers: list[str]
    evaluated: EvaluatedTextOut
    context: list[dict[str, Any]] = Field(description="the conversation around the message (empty: none archived)")


def detail(services: AppServices, item_id: str, around: int) -> ItemDetail:
    view = queue.get_item(services.engine, item_id)
    found = evaluated_text(services.engine, services.files(), view.event_id, view.item.message_id, view.matches)
    lines = archive_queries.context(services.engine, view.item.message_id, around) or []
    return ItemDetail(
        **view.model_dump(),
        evaluated=EvaluatedTextOut(
            field=found.field,
            text=found.text,
            pieces=[TextPiece(text=piece.text, terms=list(piece.terms)) for piece in found.pieces],
            name=found.name,
            file_event_id=found.file_event_id,
            problem=found.problem,
        ),
        context=lines,
    )


@router.get("/{item_id}", response_model=ItemDetail, responses=NOT_FOUND, summary="One item, its text in context")
def get_item(
    item_id: str,
    services: Services,
    caller: Reader,
    n: Annotated[int, Query(ge=0, le=50, description="messages before and after")] = 5,
) -> ItemDetail:
    """The item, its policy (name, version), matches, the evaluated text cut at the matches, and
    the conversation around its message; audited (``supervision_item_view``, and ``view_context``
    for the conversation)."""
    with refused:
        found = detail(services, item_id, n)
    if found.context:  # the conversation around it was read, as GET /messages/{id}/context records
        read_audit.record(services.engine, caller, "view_context", {"message_id": found.item.message_id, "n": n})
    read_audit.record(
        services.engine,
        caller,
        "supervision_item_view",
        {"item_id": item_id, "message_id": found.item.message_id, "n": n},
    )
    return found


@router.get(
    "/{item_id}/history", response_model=list[queue.ItemAction], responses=NOT_FOUND, summary="An item's history"
)
def item_history(item_id: str, services: Services, caller: Reporter) -> list[queue.ItemAction]:
    """Every change of the item, oldest first: who (and their role), when, the action, before
    and after (state, disposition, assignee), the comment."""
    with refused:
        found = queue.history(services.engine, item_id)
    read_audit.record(services.engine, caller, "supervision_item_history", {"item_id": item_id})
    return found


class ChangeOut(BaseModel):
    item_id: str
    action: str
    seq: int = Field(description="the history row of the change")
    before: dict[str, Any]
    after: dict[str, Any]
    comment: str | None


def _out(change: queue.Change) -> ChangeOut:
    return ChangeOut(
        item_id=change.item_id,
        action=change.action,
        seq=change.seq,
        before=change.before,
        after=change.after,
        comment=change.comment,
    )


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignBody(_Body):
    assignee: str | None = Field(max_length=200, description="a reviewer's label; null: nobody")
    comment: Comment = None


class CommentBody(_Body):
    comment: Comment = None


class CloseBody(_Body):
    disposition: Disposition
    comment: Comment = Field(default=None, description="required for a breach")


class BulkCloseBody(_Body):
    ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(
        min_length=1, max_length=queue.MAX_BULK, description="open items, closed as false positives"
    )
    comment: Comment = None


class BulkClosed(BaseModel):
    closed: int
    changes: list[ChangeOut]


@router.post("/bulk-close", response_model=BulkClosed, responses=CHANGES, summary="Close items as false positives")
def bulk_close(body: BulkCloseBody, services: Services, caller: Reviewer) -> BulkClosed:
    """All or none: every item named must be open. Each gets its own history row and audit entry."""
    with refused:
        changes = queue.bulk_close_false_positives(services.engine, caller, body.ids, body.comment)
    return BulkClosed(closed=len(changes), changes=[_out(change) for change in changes])


@router.post("/{item_id}/start", response_model=ChangeOut, responses=CHANGES, summary="Start reviewing")
def start(item_id: str, services: Services, caller: Reviewer) -> ChangeOut:
    """Pending to in review; the caller is its reviewer when it has none."""
    with refused:
        return _out(queue.start(services.engine, caller, item_id))


@router.post("/{item_id}/assign", response_model=ChangeOut, responses=CHANGES, summary="Assign or reassign")
def assign(item_id: str, body: AssignBody, services: Services, caller: Reviewer) -> ChangeOut:
    with refused:
        return _out(queue.assign(services.engine, caller, item_id, body.assignee, body.comment))


@router.post("/{item_id}/escalate", response_model=ChangeOut, responses=CHANGES, summary="Escalate (comment required)")
def escalate(item_id: str, body: CommentBody, services: Services, caller: Reviewer) -> ChangeOut:
    """To the policy's escalation reviewers, with a webhook notice."""
    with refused:
        return _out(
            queue.escalate(services.engine, caller, item_id, body.comment, public_base_url=services.public_base_url)
        )


@router.post("/{item_id}/close", response_model=ChangeOut, responses=CHANGES, summary="Close with a disposition")
def close(item_id: str, body: CloseBody, services: Services, caller: Reviewer) -> ChangeOut:
    with refused:
        return _out(queue.close(services.engine, caller, item_id, body.disposition, body.comment))


@router.post("/{item_id}/reopen", response_model=ChangeOut, responses=CHANGES, summary="Reopen (comment required)")
def reopen(item_id: str, body: CommentBody, services: Services, caller: Reviewer) -> ChangeOut:
    with refused:
        return _out(queue.reopen(services.engine, caller, item_id, body.comment))
