"""Batches: the next N documents of a set (in the set's order) that no batch holds yet, given
to a reviewer (a principal's name); progress (reviewed of total) per batch and per reviewer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, case, func, insert, select

from review.errors import ReviewConflict
from review.schema import review_batch_documents, review_batches, review_documents
from review.sets import lock_set

MAX_BATCH = 100_000


class BatchSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    reviewer: str = Field(min_length=1, max_length=200, description="the reviewer's name (their token's label)")
    size: int = Field(ge=1, le=MAX_BATCH)
    name: str | None = Field(default=None, max_length=200)


class Batch(BaseModel):
    id: str
    review_set_id: str
    name: str
    reviewer: str
    created_by: str
    created_at: datetime
    documents: int = 0
    reviewed: int = 0


class ReviewerProgress(BaseModel):
    reviewer: str
    documents: int
    reviewed: int


def assign(engine: Engine, set_id: str, spec: BatchSpec, actor: str) -> Batch:
    """A batch of the next ``spec.size`` unassigned documents (fewer when fewer are left;
    ReviewConflict when none is)."""
    with engine.begin() as connection:
        lock_set(connection, set_id)
        assigned = select(review_batch_documents.c.doc_key).where(review_batch_documents.c.review_set_id == set_id)
        rows = connection.execute(
            select(review_documents.c.doc_key, review_documents.c.position)
            .where(review_documents.c.review_set_id == set_id, review_documents.c.doc_key.not_in(assigned))
            .order_by(review_documents.c.position)
            .limit(spec.size)
        ).all()
        if not rows:
            raise ReviewConflict("every document of the set is in a batch already")
        count = connection.execute(
            select(func.count()).select_from(review_batches).where(review_batches.c.review_set_id == set_id)
        ).scalar_one()
        batch = Batch(
            id=str(uuid.uuid4()),
            review_set_id=set_id,
            name=spec.name or f"Batch {count + 1}",
            reviewer=spec.reviewer,
            created_by=actor,
            created_at=datetime.now(UTC),
        )
        connection.execute(insert(review_batches), batch.model_dump(exclude={"documents", "reviewed"}))
        members = [
            {"batch_id": batch.id, "doc_key": key, "review_set_id": set_id, "position": position}
            for key, position in rows
        ]
        for start in range(0, len(members), 5000):
            connection.execute(insert(review_batch_documents), members[start : start + 5000])
    return batch.model_copy(update={"documents": len(rows)})


def batches_of(engine: Engine, set_id: str, reviewer: str | None = None) -> list[Batch]:
    """The set's batches (of one reviewer when given), with their progress, oldest first."""
    counts = (
        select(
            review_batch_documents.c.batch_id,
            func.count().label("documents"),
            func.sum(case((review_documents.c.reviewed_by.is_not(None), 1), else_=0)).label("reviewed"),
        )
        .join(
            review_documents,
            (review_documents.c.review_set_id == review_batch_documents.c.review_set_id)
            & (review_documents.c.doc_key == review_batch_documents.c.doc_key),
        )
        .where(review_batch_documents.c.review_set_id == set_id)
        .group_by(review_batch_documents.c.batch_id)
        .subquery()
    )
    query = (
        select(review_batches, func.coalesce(counts.c.documents, 0), func.coalesce(counts.c.reviewed, 0))
        .outerjoin(counts, counts.c.batch_id == review_batches.c.id)
        .where(review_batches.c.review_set_id == set_id)
        .order_by(review_batches.c.created_at, review_batches.c.id)
    )
    if reviewer is not None:
        query = query.where(review_batches.c.reviewer == reviewer)
    with engine.connect() as connection:
        found = []
        for row in connection.execute(query):
            values = dict(row._mapping)
            found.append(Batch(**{**values, "documents": int(row[-2]), "reviewed": int(row[-1])}))
    return found


def progress_by_reviewer(engine: Engine, set_id: str) -> list[ReviewerProgress]:
    totals: dict[str, ReviewerProgress] = {}
    for batch in batches_of(engine, set_id):
        now = totals.get(batch.reviewer, ReviewerProgress(reviewer=batch.reviewer, documents=0, reviewed=0))
        totals[batch.reviewer] = ReviewerProgress(
            reviewer=batch.reviewer, documents=now.documents + batch.documents, reviewed=now.reviewed + batch.reviewed
        )
    return sorted(totals.values(), key=lambda p: p.reviewer)
