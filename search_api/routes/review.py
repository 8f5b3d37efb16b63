"""Review sets, tags and coding, notes, history, batches (issue 20).

Roles: reading a review (``review_read``: sets, documents, coding, history, batches, the tag
set) is legal's, a compliance officer's and an admin's; changing one (``review_write``: sets,
documents added, tags, coding, batches) is legal's and an admin's. Every change is audited:
``review_set_create``, ``review_documents_add``, ``review_tag_*``, ``review_batch_assign``, and
one ``review_code`` per coding action (its documents' before and after are in
``GET /review-sets/{id}/history``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from archive import audit
from archive.principals import Principal
from cases.store import CaseStore
from review import adding, coding, queries, tags
from review import batches as review_batches
from review.sets import ReviewSet, ReviewSetSpec, create_set, get_set, sets_of
from search.query_ast import UnsupportedQuery
from search.query_parser import parse_query
from search.service import TooCommonName, memberships_in
from search_api.deps import AppServices, Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.refusals import refused

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)
CONFLICT: dict[int | str, dict[str, Any]] = {409: described("The review state does not allow the change (why)")}
CHANGES = NOT_FOUND | CONFLICT

Reader = Annotated[Principal, Depends(allowed("review_read"))]
Writer = Annotated[Principal, Depends(allowed("review_write"))]


@contextmanager
def answered() -> Iterator[None]:
    """Refusals as the API's answers: a query the backends cannot answer is a 422."""
    with refused:
        try:
            yield
        except (UnsupportedQuery, TooCommonName) as error:
            raise HTTPException(status_code=422, detail={"message": str(error)}) from None


def _audit(caller: Principal, services: AppServices, action: str, details: dict[str, Any]) -> None:
    audit.record(services.engine, caller, action, details)


def _case_set(services: AppServices, set_id: str) -> ReviewSet:
    return get_set(services.engine, set_id)


# --- sets ----------------------------------------------------------------------------------------


@router.get("/cases/{case_id}/review-sets", response_model=list[ReviewSet], summary="A case's review sets")
def list_sets(case_id: str, services: Services, _caller: Reader) -> list[ReviewSet]:
    return sets_of(services.engine, case_id)


@router.post(
    "/cases/{case_id}/review-sets", response_model=ReviewSet, status_code=201, responses=CHANGES, summary="New set"
)
def new_set(case_id: str, spec: ReviewSetSpec, services: Services, caller: Writer) -> ReviewSet:
    with answered():
        made = create_set(services.engine, case_id, spec, coding.who(caller))
        tags.ensure_defaults(services.engine, case_id)
    _audit(caller, services, "review_set_create", {"after": made.model_dump(mode="json")})
    return made


@router.get("/review-sets/{set_id}", response_model=ReviewSet, responses=NOT_FOUND, summary="One review set")
def one_set(set_id: str, services: Services, _caller: Reader) -> ReviewSet:
    with answered():
        return _case_set(services, set_id)


# --- adding documents ----------------------------------------------------------------------------


class Added(BaseModel):
    added: int = Field(description="documents new in the set")
    already: int = Field(description="documents the set held already (left as they were)")


class FromSearch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(min_length=1, max_length=4000)


class FromSlice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    room_id: str = Field(min_length=1, max_length=500)
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> FromSlice:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ByHand(BaseModel):
    model_config = ConfigDict(extra="forbid")
    names: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        min_length=1, max_length=adding.MAX_BY_HAND, description="message ids or document keys"
    )


def _added(caller: Principal, services: AppServices, set_id: str, how: dict[str, Any], result: adding.Added) -> Added:
    _audit(
        caller,
        services,
        "review_documents_add",
        {"review_set_id": set_id, **how, "added": result.added, "already": result.already},
    )
    return Added(added=result.added, already=result.already)


def _from_search(services: AppServices, caller: Principal, set_id: str, body: FromSearch) -> Added:
    with answered():
        node = parse_query(body.query)
        result = adding.add_from_search(
            services.engine,
            services.search_backend(),
            set_id,
            node,
            body.query,
            coding.who(caller),
            memberships_in(services.engine),
        )
    return _added(caller, services, set_id, {"how": "search", "query": body.query}, result)


@router.post("/review-sets/{set_id}/documents/search", response_model=Added, responses=CHANGES, summary="Add a search")
async def add_search(set_id: str, body: FromSearch, services: Services, caller: Writer) -> Added:
    """Every hit of the query in the case's scope (the whole hit set), as documents."""
    return await run_in_threadpool(_from_search, services, caller, set_id, body)


@router.post("/review-sets/{set_id}/documents/slice", response_model=Added, responses=CHANGES, summary="Add a slice")
def add_slice(set_id: str, body: FromSlice, services: Services, caller: Writer) -> Added:
    with answered():
        result = adding.add_slice(services.engine, set_id, body.room_id, body.start, body.end, coding.who(caller))
    how = {"how": "slice", "room_id": body.room_id, "start": body.start.isoformat(), "end": body.end.isoformat()}
    return _added(caller, services, set_id, how, result)


@router.post("/review-sets/{set_id}/documents/hand", response_model=Added, responses=CHANGES, summary="Add by hand")
def add_hand(set_id: str, body: ByHand, services: Services, caller: Writer) -> Added:
    with answered():
        result = adding.add_by_hand(services.engine, set_id, body.names, coding.who(caller))
    return _added(caller, services, set_id, {"how": "hand", "names": body.names[:100]}, result)


# --- documents -----------------------------------------------------------------------------------


class DocumentList(BaseModel):
    total: int
    documents: list[queries.ReviewDocument]


class DocumentView(BaseModel):
    document: queries.ReviewDocument
    coding: dict[str, Any]
    notes: list[dict[str, Any]]
    previous: str | None
    next: str | None
    duplicates: list[queries.ReviewDocument] = Field(description="the other members of its near-duplicate group")


def _filter(
    query: str | None, reviewed: bool | None, batch_id: str | None, reviewer: str | None, dup_group: str | None
) -> queries.DocumentFilter:
    return queries.DocumentFilter(
        query=query, reviewed=reviewed, batch_id=batch_id, reviewer=reviewer, dup_group=dup_group
    )


def selected(services: AppServices, review_set: ReviewSet, wanted: queries.DocumentFilter) -> list[str]:
    return queries.selected_keys(
        services.engine, services.search_backend(), review_set, wanted, memberships_in(services.engine)
    )


Text = Annotated[str | None, Query(max_length=4000)]
Name = Annotated[str | None, Query(max_length=200)]
Key = Annotated[str | None, Query(max_length=1000)]


@router.get("/review-sets/{set_id}/documents", response_model=DocumentList, responses=NOT_FOUND, summary="Documents")
def list_documents(
    set_id: str,
    services: Services,
    _caller: Reader,
    query: Text = None,
    reviewed: bool | None = None,
    batch_id: Name = None,
    reviewer: Name = None,
    dup_group: Key = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentList:
    """The set's documents in its order, filtered (``query`` may use ``tag:<name>``)."""
    with answered():
        review_set = _case_set(services, set_id)
        keys = selected(services, review_set, _filter(query, reviewed, batch_id, reviewer, dup_group))
        return DocumentList(
            total=len(keys), documents=queries.documents_of(services.engine, set_id, keys[offset : offset + limit])
        )


def document_view(
    services: AppServices, review_set: ReviewSet, key: str, wanted: queries.DocumentFilter
) -> DocumentView:
    found = queries.documents_of(services.engine, review_set.id, [key])
    if not found:
        raise HTTPException(status_code=404, detail={"message": f"the review set holds no document {key!r}"})
    document = found[0]
    keys = selected(services, review_set, wanted)
    previous, following = queries.neighbours(keys, key)
    with services.engine.connect() as connection:
        state = coding.codings(connection, review_set.id, [key])[key]
    duplicates: list[queries.ReviewDocument] = []
    if document.dup_group is not None:
        members = queries.selected_keys(
            services.engine, services.search_backend(), review_set, queries.DocumentFilter(dup_group=document.dup_group)
        )
        duplicates = queries.documents_of(services.engine, review_set.id, [k for k in members if k != key])
    return DocumentView(
        document=document,
        coding=state,
        notes=coding.notes_of(services.engine, review_set.id, key),
        previous=previous,
        next=following,
        duplicates=duplicates,
    )


@router.get("/review-sets/{set_id}/document", response_model=DocumentView, responses=NOT_FOUND, summary="One document")
def one_document(
    set_id: str,
    key: Annotated[str, Query(min_length=1, max_length=1000)],
    services: Services,
    _caller: Reader,
    query: Text = None,
    reviewed: bool | None = None,
    batch_id: Name = None,
    reviewer: Name = None,
    dup_group: Key = None,
) -> DocumentView:
    """A document, its coding and notes, and its previous and next within the same filter."""
    with answered():
        review_set = _case_set(services, set_id)
        return document_view(services, review_set, key, _filter(query, reviewed, batch_id, reviewer, dup_group))


# --- coding --------------------------------------------------------------------------------------


class Selection(BaseModel):
    """Which documents: ``keys``, or every document a filter keeps (a query within the set,
    ``tag:`` filters included, a near-duplicate group, a batch ...)."""

    model_config = ConfigDict(extra="forbid")
    keys: list[Annotated[str, Field(min_length=1, max_length=1000)]] | None = Field(default=None, max_length=200_000)
    filter: queries.DocumentFilter | None = None

    @model_validator(mode="after")
    def _one(self) -> Selection:
        if (self.keys is None) == (self.filter is None):
            raise ValueError("give keys or a filter (one of them)")
        return self


class CodingRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    selection: Selection
    change: coding.CodingChange


class CodingAnswer(BaseModel):
    action_id: str
    selected: int
    changed: int


def _code(services: AppServices, caller: Principal, set_id: str, body: CodingRequest) -> CodingAnswer:
    with answered():
        review_set = _case_set(services, set_id)
        if body.selection.keys is not None:
            keys, how = body.selection.keys, {"keys": len(body.selection.keys)}
        else:
            assert body.selection.filter is not None
            keys, how = selected(services, review_set, body.selection.filter), body.selection.filter.describe()
        done = coding.code(services.engine, caller, review_set, keys, body.change, how)
    return CodingAnswer(action_id=done.action_id, selected=done.selected, changed=done.changed)


@router.post("/review-sets/{set_id}/coding", response_model=CodingAnswer, responses=CHANGES, summary="Code documents")
async def code_documents(set_id: str, body: CodingRequest, services: Services, caller: Writer) -> CodingAnswer:
    """Tag, untag, note or mark reviewed one document or a selection: one action, one audit entry."""
    return await run_in_threadpool(_code, services, caller, set_id, body)


class HistoryEntry(BaseModel):
    seq: int
    doc_key: str
    action_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    actor: str
    at: datetime


@router.get(
    "/review-sets/{set_id}/history", response_model=list[HistoryEntry], responses=NOT_FOUND, summary="Coding history"
)
def history(
    set_id: str,
    services: Services,
    _caller: Reader,
    doc_key: Annotated[str | None, Query(max_length=1000)] = None,
    action_id: Name = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[HistoryEntry]:
    """Each coding change, newest first: the document's coding before and after, who, when."""
    with answered():
        _case_set(services, set_id)
        rows = coding.history_of(services.engine, set_id, doc_key, action_id, limit)
    return [HistoryEntry(**row) for row in rows]


# --- tags ----------------------------------------------------------------------------------------


def _known_case(services: AppServices, case_id: str) -> None:

    if CaseStore(services.engine).get_case(case_id) is None:
        raise HTTPException(status_code=404, detail={"message": f"no case {case_id!r}"})


@router.get("/cases/{case_id}/tags", response_model=tags.TagSet, responses=NOT_FOUND, summary="The case's tag set")
def tag_set(case_id: str, services: Services, _caller: Reader) -> tags.TagSet:
    _known_case(services, case_id)
    return tags.tag_set(services.engine, case_id)


def _tag_change(
    caller: Principal, services: AppServices, action: str, before: BaseModel | None, after: BaseModel | None
) -> None:
    _audit(
        caller,
        services,
        action,
        {
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json") if after else None,
        },
    )


@router.post(
    "/cases/{case_id}/tag-groups", response_model=tags.TagGroup, status_code=201, responses=CHANGES, summary="New group"
)
def new_group(case_id: str, spec: tags.TagGroupSpec, services: Services, caller: Writer) -> tags.TagGroup:
    _known_case(services, case_id)
    with answered():
        group = tags.create_group(services.engine, case_id, spec)
    _tag_change(caller, services, "review_tag_group_create", None, group)
    return group


@router.put("/cases/{case_id}/tag-groups/{group_id}", response_model=tags.TagGroup, responses=CHANGES, summary="Change")
def change_group(
    case_id: str, group_id: str, spec: tags.TagGroupSpec, services: Services, caller: Writer
) -> tags.TagGroup:
    with answered():
        before, after = tags.change_group(services.engine, case_id, group_id, spec)
    _tag_change(caller, services, "review_tag_group_update", before, after)
    return after


@router.delete("/cases/{case_id}/tag-groups/{group_id}", status_code=204, responses=CHANGES, summary="Remove a group")
def remove_group(case_id: str, group_id: str, services: Services, caller: Writer) -> Response:
    with answered():
        before = tags.remove_group(services.engine, case_id, group_id)
    _tag_change(caller, services, "review_tag_group_delete", before, None)
    return Response(status_code=204)


@router.post("/cases/{case_id}/tags", response_model=tags.Tag, status_code=201, responses=CHANGES, summary="New tag")
def new_tag(case_id: str, spec: tags.TagSpec, services: Services, caller: Writer) -> tags.Tag:
    _known_case(services, case_id)
    with answered():
        tag = tags.create_tag(services.engine, case_id, spec)
    _tag_change(caller, services, "review_tag_create", None, tag)
    return tag


@router.put("/cases/{case_id}/tags/{tag_id}", response_model=tags.Tag, responses=CHANGES, summary="Change a tag")
def change_tag(case_id: str, tag_id: str, spec: tags.TagSpec, services: Services, caller: Writer) -> tags.Tag:
    with answered():
        before, after = tags.change_tag(services.engine, case_id, tag_id, spec)
    _tag_change(caller, services, "review_tag_update", before, after)
    return after


@router.delete("/cases/{case_id}/tags/{tag_id}", status_code=204, responses=CHANGES, summary="Remove a tag")
def remove_tag(case_id: str, tag_id: str, services: Services, caller: Writer) -> Response:
    with answered():
        before = tags.remove_tag(services.engine, case_id, tag_id)
    _tag_change(caller, services, "review_tag_delete", before, None)
    return Response(status_code=204)


# --- batches -------------------------------------------------------------------------------------


class Progress(BaseModel):
    batches: list[review_batches.Batch]
    reviewers: list[review_batches.ReviewerProgress]


@router.post(
    "/review-sets/{set_id}/batches",
    response_model=review_batches.Batch,
    status_code=201,
    responses=CHANGES,
    summary="Assign",
)
def assign_batch(
    set_id: str, spec: review_batches.BatchSpec, services: Services, caller: Writer
) -> review_batches.Batch:
    """The next ``size`` documents no batch holds, in the set's order, to ``reviewer``."""
    with answered():
        _case_set(services, set_id)
        batch = review_batches.assign(services.engine, set_id, spec, coding.who(caller))
    _audit(caller, services, "review_batch_assign", {"review_set_id": set_id, "after": batch.model_dump(mode="json")})
    return batch


@router.get("/review-sets/{set_id}/batches", response_model=Progress, responses=NOT_FOUND, summary="Batches, progress")
def list_batches(set_id: str, services: Services, caller: Reader, mine: bool = False) -> Progress:
    """Every batch with its progress (``mine``: the caller's own), and progress per reviewer."""
    with answered():
        _case_set(services, set_id)
        reviewer = coding.who(caller) if mine else None
        return Progress(
            batches=review_batches.batches_of(services.engine, set_id, reviewer),
            reviewers=review_batches.progress_by_reviewer(services.engine, set_id),
        )
