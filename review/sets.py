"""Review sets: a case's named set of documents in one document unit and time zone.

A set's unit is one of :data:`exports.documents.DOCUMENT_UNITS` (what productions are cut in,
so that a production of the set in the same unit and zone names the same documents by the same
key); its zone is the one the set's days are cut in and its pages show times in (default: the
case's zone, else UTC)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, Engine, Subquery, func, insert, select

from cases.schema import cases
from cases.store import CaseStore
from exports.documents import DOCUMENT_UNITS
from formats.time_zones import DEFAULT_ZONE, time_zone
from review.errors import ReviewConflict, ReviewNotFound
from review.schema import review_documents, review_sets


class ReviewSetSpec(BaseModel):
    """A new review set."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=500)
    unit: str = Field(default="message", description="the document unit: " + ", ".join(DOCUMENT_UNITS))
    time_zone: str | None = Field(default=None, max_length=100, description="IANA zone; default: the case's, else UTC")

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        if unit not in DOCUMENT_UNITS:
            raise ValueError(f"unit must be one of {', '.join(DOCUMENT_UNITS)}, not {unit!r}")
        return unit

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            time_zone(name)  # an unknown zone is a ValueError naming the closest ones
        return name


class ReviewSet(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    case_id: str
    name: str
    unit: str
    time_zone: str
    created_by: str
    created_at: datetime
    documents: int = 0


def create_set(engine: Engine, case_id: str, spec: ReviewSetSpec, actor: str) -> ReviewSet:
    """Store a new, empty set in ``case_id`` (ReviewNotFound: no such case)."""
    case = CaseStore(engine).get_case(case_id)
    if case is None:
        raise ReviewNotFound(f"no case {case_id!r}")
    row = {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "name": spec.name,
        "unit": spec.unit,
        "time_zone": spec.time_zone or case.time_zone or DEFAULT_ZONE,
        "created_by": actor,
        "created_at": datetime.now(UTC),
    }
    with engine.begin() as connection:
        open_case(connection, case_id)
        connection.execute(insert(review_sets), row)
    return ReviewSet(**row)


def open_case(connection: Connection, case_id: str) -> None:
    """Refuse (ReviewConflict, 409) a change to the review of a closed case: a closed case cannot
    change (``cases.store``'s rule), nor its review sets, documents, coding and batches. The
    case's row is held (PostgreSQL ``FOR SHARE``) until the transaction ends, so closing the
    case waits for a change under way. ReviewNotFound: no such case."""
    row = connection.execute(select(cases.c.closed_at).where(cases.c.id == case_id).with_for_update(read=True)).first()
    if row is None:
        raise ReviewNotFound(f"no case {case_id!r}")
    if row.closed_at is not None:
        raise ReviewConflict(f"case {case_id} was closed at {row.closed_at}; its review cannot change")


def _counted() -> Subquery:
    return (
        select(review_documents.c.review_set_id, func.count().label("documents"))
        .group_by(review_documents.c.review_set_id)
        .subquery()
    )


def sets_of(engine: Engine, case_id: str) -> list[ReviewSet]:
    """The case's sets, oldest first, with their document counts."""
    counts = _counted()
    query = (
        select(review_sets, func.coalesce(counts.c.documents, 0).label("documents"))
        .outerjoin(counts, counts.c.review_set_id == review_sets.c.id)
        .where(review_sets.c.case_id == case_id)
        .order_by(review_sets.c.created_at, review_sets.c.id)
    )
    with engine.connect() as connection:
        return [ReviewSet(**row._mapping) for row in connection.execute(query)]


def get_set(engine: Engine, set_id: str) -> ReviewSet:
    """One set (ReviewNotFound when there is none)."""
    with engine.connect() as connection:
        row = connection.execute(select(review_sets).where(review_sets.c.id == set_id)).first()
        if row is None:
            raise ReviewNotFound(f"no review set {set_id!r}")
        count = connection.execute(
            select(func.count()).select_from(review_documents).where(review_documents.c.review_set_id == set_id)
        ).scalar_one()
    return ReviewSet(**row._mapping, documents=count)


def lock_set(connection: Connection, set_id: str) -> None:
    """Hold the set's row until the transaction ends (PostgreSQL ``FOR UPDATE``; a SQLite write
    transaction is alone already): additions, codings and batches of one set run one at a time,
    so two of them never insert the same document, coding or batch member twice. A set of a
    closed case is refused (:func:`open_case`)."""
    case_id = connection.execute(
        select(review_sets.c.case_id).where(review_sets.c.id == set_id).with_for_update()
    ).scalar()
    if case_id is not None:
        open_case(connection, case_id)
