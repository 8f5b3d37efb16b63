"""The review screen (``/review/{set}/doc?key=...``): one document in context (its messages
and files, times in the set's zone, and the conversation around it from the conversation view),
the coding panel (each tag group's tags: radios for a single-choice group, checkboxes for a
multi-choice one; a note; reviewed), previous and next within the set, the batch or the filter
it was opened from, and keyboard shortcuts for every coding action (``static/review.js``:
each tag's key, ``r`` reviewed, ``n``/``p`` next/previous, ``?`` help; never while typing).

Saving the panel is one coding action (:func:`review.coding.code`): the document's coding
becomes what the panel shows, audited with before and after; with "apply to the
near-duplicate group" ticked, the members of the saved document's group get what the panel
changed on it (not its whole state) in the same action (:func:`group_change`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from archive import queries as archive_queries
from archive.schema import archive_events, archive_messages
from formats.time_zones import time_zone
from review import coding, queries, tags
from review.errors import ReviewConflict, ReviewNotFound
from review.sets import ReviewSet, get_set
from search_api.deps import AppServices
from search_api.web import conversation_page
from search_api.web.auth import first, posted
from search_api.web.core import WebUser, gate, render, services
from search_api.web.review_pages import FILTER_FIELDS, REFUSED, document_filter, filter_values, keys_of, problem

router = APIRouter()
MAX_SHOWN = 500
AROUND = 3


def screen_link(set_id: str, key: str, values: dict[str, str]) -> str:
    return f"/review/{set_id}/doc?" + urlencode({"key": key, **values})


def _contents(app: AppServices, document: queries.ReviewDocument) -> list[dict[str, Any]]:
    """The document's messages and files, in time order."""
    message_ids = [i for i in document.message_ids if not i.startswith("file:")][:MAX_SHOWN]
    file_ids = [i.removeprefix("file:") for i in document.message_ids if i.startswith("file:")][:MAX_SHOWN]
    items: list[dict[str, Any]] = []
    with app.engine.connect() as connection:
        if message_ids:
            for row in connection.execute(
                select(archive_messages).where(archive_messages.c.message_id.in_(message_ids))
            ):
                items.append({"kind": "message", "at": row.posted_at or row.edited_at, "row": row._mapping})
        if file_ids:
            for event_id, at, payload in connection.execute(
                select(archive_events.c.event_id, archive_events.c.occurred_at, archive_events.c.payload).where(
                    archive_events.c.event_id.in_(file_ids)
                )
            ):
                data = json.loads(payload)
                items.append(
                    {
                        "kind": "file",
                        "at": at,
                        "event_id": event_id,
                        "file": data.get("file", {}),
                        "actor": data.get("actor", {}),
                    }
                )
    changed = archive_queries.changes(app.engine, message_ids)
    for item in items:
        if item["kind"] == "message":
            item["changes"] = changed.get(item["row"]["message_id"])
    items.sort(key=lambda item: (item["at"] is None, item["at"]))
    return items


def _path(tag_set: tags.TagSet, group: tags.TagGroup) -> str:
    """A group's name under its parents' (``Issues > Pricing``): the hierarchy."""
    by_id = {g.id: g for g in tag_set.groups}
    names = [group.name]
    seen = {group.id}
    parent = by_id.get(group.parent_id or "")
    while parent is not None and parent.id not in seen:
        names.append(parent.name)
        seen.add(parent.id)
        parent = by_id.get(parent.parent_id or "")
    return " › ".join(reversed(names))


def _view(app: AppServices, user: WebUser, set_id: str, key: str, values: dict[str, str]) -> dict[str, Any]:
    review_set: ReviewSet = get_set(app.engine, set_id)
    found = queries.documents_of(app.engine, set_id, [key])
    if not found:
        raise ReviewNotFound(f"The review set holds no document {key!r}.")
    document = found[0]
    keys = keys_of(app, review_set, document_filter(values))
    previous, following = queries.neighbours(keys, key)
    with app.engine.connect() as connection:
        state = coding.codings(connection, set_id, [key])[key]
    tag_set = tags.tag_set(app.engine, review_set.case_id)
    zone = time_zone(review_set.time_zone)
    duplicates: list[queries.ReviewDocument] = []
    if document.dup_group is not None:
        members = queries.selected_keys(
            app.engine, app.search_backend(), review_set, queries.DocumentFilter(dup_group=document.dup_group)
        )
        duplicates = queries.documents_of(app.engine, set_id, [k for k in members if k != key])
    contents = _contents(app, document)
    first_message = next((item["row"]["message_id"] for item in contents if item["kind"] == "message"), None)
    around = (
        conversation_page.gather(app.engine, user.principal, first_message, AROUND, zone) if first_message else None
    )
    position = keys.index(key) + 1 if key in keys else None
    return {
        "title": f"Review: {document.key}",
        "set": review_set,
        "document": document,
        "coding": state,
        "notes": coding.notes_of(app.engine, set_id, key),
        "groups": [
            {"group": group, "path": _path(tag_set, group), "tags": [t for t in tag_set.tags if t.group_id == group.id]}
            for group in tag_set.groups
        ],
        "shortcuts": [t for t in tag_set.tags if t.shortcut],
        "contents": contents,
        "around": around,
        "duplicates": duplicates,
        "previous_link": screen_link(set_id, previous, values) if previous else None,
        "next_link": screen_link(set_id, following, values) if following else None,
        "position": position,
        "total": len(keys),
        "filter": values,
        "zone": zone,
        "may_write": user.may("review_write"),
    }


@router.get("/review/{set_id}/doc", include_in_schema=False)
async def review_screen(request: Request, set_id: str, key: str = "") -> Response:
    user = await gate(request, "review_read")
    if not isinstance(user, WebUser):
        return user
    values = filter_values(request.query_params)
    try:
        view = await run_in_threadpool(_view, services(request), user, set_id, key, values)
    except REFUSED as error:
        return problem(request, user, error)
    return render(request, "review_document.html", view, user=user)


def panel_change(tag_set: tags.TagSet, fields: dict[str, list[str]]) -> coding.CodingChange:
    """The change that makes a document's coding what the submitted panel shows."""
    choice = {group.id: group.choice for group in tag_set.groups}
    ticked = set(fields.get("tag", []))
    add: list[str] = []
    remove: list[str] = []
    for tag in tag_set.tags:
        if choice[tag.group_id] == "single":
            chosen = first(fields, f"group-{tag.group_id}")
            (add if chosen == tag.name else remove).append(tag.name)
        else:
            (add if tag.name in ticked else remove).append(tag.name)
    return coding.CodingChange(
        add=add, remove=remove, note=first(fields, "note") or None, reviewed=first(fields, "done") == "yes"
    )


def group_change(
    app: AppServices, review_set: ReviewSet, key: str, named_group: str, change: coding.CodingChange
) -> tuple[list[str], coding.CodingChange, dict[str, Any]]:
    """The documents and the change of "apply to the near-duplicate group": the saved document's
    own group (never another one a form names), and only what the panel changes on the saved
    document (tags it adds or removes, reviewed if it changes that, the note), so the members keep
    their other tags and other reviewers' marks. ReviewConflict: the page named a group the
    document is no longer in (the groups were computed again since): reload and save again."""
    found = queries.documents_of(app.engine, review_set.id, [key])
    if not found:
        raise ReviewNotFound(f"The review set holds no document {key!r}.")
    group = found[0].dup_group
    if group is None or (named_group and named_group != group):
        now = f"it is now in group {group}" if group else "it is now in no group"
        raise ReviewConflict(
            f"The near-duplicate groups changed since this page was opened ({now}): "
            "nothing was saved; open the document again and save."
        )
    members = queries.selected_keys(
        app.engine, app.search_backend(), review_set, queries.DocumentFilter(dup_group=group)
    )
    with app.engine.connect() as connection:
        before = coding.codings(connection, review_set.id, [key])[key]
    had = set(before["tags"])
    only = coding.CodingChange(
        add=[name for name in change.add if name not in had],
        remove=[name for name in change.remove if name in had],
        note=change.note,
        reviewed=change.reviewed if change.reviewed != before["reviewed"] else None,
    )
    if not (only.add or only.remove or only.note or only.reviewed is not None):
        # Nothing changes on the saved document, so nothing to apply to its group.
        return [key], change, {"keys": 1, "from": "review screen"}
    keys = [key, *(k for k in members if k != key)]
    return keys, only, {"keys": len(keys), "dup_group": group, "from": "review screen"}


def next_key(before: list[str], after: list[str], key: str) -> str | None:
    """Where "save and next" goes: the first document after ``key`` in the filter as it was
    before the save (``before``) that the filter still holds (``after``); the save may have taken
    ``key`` and its group out of it. A document opened from outside the filter: its next in
    ``after``."""
    if key not in before:
        return queries.neighbours(after, key)[1]
    still = set(after)
    return next((candidate for candidate in before[before.index(key) + 1 :] if candidate in still), None)


@router.post("/review/{set_id}/doc", include_in_schema=False)
async def save_coding(request: Request, set_id: str) -> Response:
    answer = await posted(request, "review_write")
    if isinstance(answer, Response):
        return answer
    user, fields = answer
    app = services(request)
    key = first(fields, "key")
    values = {name: first(fields, name) for name in FILTER_FIELDS if first(fields, name)}

    def save() -> str | None:
        review_set = get_set(app.engine, set_id)
        tag_set = tags.tag_set(app.engine, review_set.case_id)
        # Keep only the tags the panel may change: the names of the set's case.
        change = panel_change(tag_set, fields)
        keys = [key]
        how: dict[str, Any] = {"keys": 1, "from": "review screen"}
        if first(fields, "duplicates") == "yes":
            keys, change, how = group_change(app, review_set, key, first(fields, "group"), change)
        moving_on = first(fields, "then") == "next"
        # The filter as it was: the save may take the document (or its group) out of it (reviewed=no).
        listed = keys_of(app, review_set, document_filter(values)) if moving_on else []
        coding.code(app.engine, user.principal, review_set, keys, change, how)
        if not moving_on:
            return key
        return next_key(listed, keys_of(app, review_set, document_filter(values)), key) or key

    try:
        target = await run_in_threadpool(save)
    except REFUSED as error:
        return problem(request, user, error)
    return RedirectResponse(screen_link(set_id, target or key, values), status_code=303)
