"""Near-duplicate groups of a review set (issue 20): compute them, list them, a document's group.

Computing is review work (``review_write``: legal, admin) and audited (``review_near_duplicates``);
reading the groups is ``review_read`` (legal, compliance officer, admin). The computation runs
in the request (synchronously, on the thread pool): 100,000 documents take seconds, not minutes
(docs/near-duplicates.md), and a rerun replaces the set's grouping atomically. Coding a whole
group is the review routes' bulk coding with a selection by ``dup_group``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from archive.principals import Principal
from review import near_duplicates
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)

Reader = Annotated[Principal, Depends(allowed("review_read"))]
Writer = Annotated[Principal, Depends(allowed("review_write"))]


class NearDuplicateRun(BaseModel):
    """How to group: the similarity threshold (estimated Jaccard of character 5-grams)."""

    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(
        default=near_duplicates.DEFAULT_THRESHOLD,
        ge=near_duplicates.MIN_THRESHOLD,
        le=1.0,
        description="documents at least this similar are grouped (default chosen from the measurements)",
    )


class NearDuplicateResult(BaseModel):
    review_set_id: str
    threshold: float
    documents: int
    compared: int = Field(description="documents with enough text to be compared")
    groups: int
    grouped: int
    seconds: float
    computed_at: datetime


class GroupMember(BaseModel):
    doc_key: str
    kind: str
    position: int
    summary: str
    similarity: float = Field(description="estimated similarity to the group's pivot (1.0 for the pivot)")
    pivot: bool


class NearDuplicateGroup(BaseModel):
    group: str = Field(description="the group's name: its pivot's document key (review_documents.dup_group)")
    size: int
    members: list[GroupMember]


class NearDuplicateGroups(BaseModel):
    total_groups: int
    grouped: int
    groups: list[NearDuplicateGroup]


class DocumentGroup(BaseModel):
    doc_key: str
    group: NearDuplicateGroup | None


@contextmanager
def _found() -> Iterator[None]:
    try:
        yield
    except near_duplicates.ReviewSetMissing as missing:
        raise HTTPException(status_code=404, detail={"message": str(missing.args[0])}) from None


def _group(found: near_duplicates.DuplicateGroup) -> NearDuplicateGroup:
    members = [GroupMember(**vars(member)) for member in found.members]
    return NearDuplicateGroup(group=found.group, size=found.size, members=members)


@router.post(
    "/review-sets/{set_id}/near-duplicates",
    response_model=NearDuplicateResult,
    responses=NOT_FOUND,
    summary="Group the set's near-duplicates",
)
def compute(set_id: str, services: Services, caller: Writer, body: NearDuplicateRun | None = None) -> Any:
    threshold = (body or NearDuplicateRun()).threshold
    with _found():
        run = near_duplicates.compute_audited(
            services.engine, caller, set_id, threshold=threshold, files=services.files()
        )
    return vars(run)


@router.get(
    "/review-sets/{set_id}/near-duplicates",
    response_model=NearDuplicateGroups,
    responses=NOT_FOUND,
    summary="The set's near-duplicate groups, largest first",
)
def list_groups(
    set_id: str,
    services: Services,
    _caller: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    members: Annotated[int, Query(ge=1, le=1000, description="members listed per group")] = 100,
) -> NearDuplicateGroups:
    with _found():
        page = near_duplicates.groups(services.engine, set_id, limit=limit, offset=offset, members=members)
    return NearDuplicateGroups(
        total_groups=page.total_groups, grouped=page.grouped, groups=[_group(g) for g in page.groups]
    )


@router.get(
    "/review-sets/{set_id}/near-duplicates/document",
    response_model=DocumentGroup,
    responses=NOT_FOUND,
    summary="A document's near-duplicate group (null when it is in none)",
)
def document_group(
    set_id: str,
    services: Services,
    _caller: Reader,
    doc_key: Annotated[str, Query(min_length=1, max_length=2000)],
    members: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> DocumentGroup:
    with _found():
        found = near_duplicates.group_of(services.engine, set_id, doc_key, members=members)
    return DocumentGroup(doc_key=doc_key, group=_group(found) if found is not None else None)
