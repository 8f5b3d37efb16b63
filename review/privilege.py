"""What review hands a production (its redactions, a review set's documents, what is withheld),
privilege descriptions, and a review set's privilege log.

A production of a case always applies the case's redactions in force (:mod:`review.redactions`).
A production of a review set takes the set's unit and time zone and only its documents (those
carrying every tag of the order's tag filter, when it gives one), numbered as usual; a document
carrying a tag whose ``withhold`` is set is produced as a placeholder and logged. Reads the
review tables directly (the coding logic is :mod:`review.tags` and :mod:`review.coding`'s).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select, update

from archive import audit
from archive.principals import Principal
from cases.store import CaseNotFound
from exports.redaction import LoggedDocument, ProductionReview
from exports.schema import export_jobs
from review.redactions import case_redactions
from review.schema import review_coding_history, review_codings, review_documents, review_sets, review_tags

MAX_DESCRIPTION = 2000


class ReviewSetNotFound(LookupError):
    """No such review set in the case, or no such document in the set."""


class BadProductionOrder(ValueError):
    """A review set's production that cannot be made (an unknown tag, another unit or zone)."""


@dataclass(frozen=True)
class ReviewSet:
    id: str
    case_id: str
    name: str
    unit: str
    time_zone: str


def review_set(engine: Engine, review_set_id: str, case_id: str | None = None) -> ReviewSet:
    if "\x00" in review_set_id:
        raise ReviewSetNotFound(f"no review set {review_set_id!r}")
    with engine.connect() as connection:
        row = connection.execute(select(review_sets).where(review_sets.c.id == review_set_id)).first()
    if row is None or (case_id is not None and row.case_id != case_id):
        where = f" in case {case_id!r}" if case_id is not None else ""
        raise ReviewSetNotFound(f"no review set {review_set_id!r}{where}")
    return ReviewSet(row.id, row.case_id, row.name, row.unit, row.time_zone)


def _tags_by_document(engine: Engine, review_set_id: str) -> dict[str, list[Any]]:
    query = (
        select(review_codings.c.doc_key, review_tags.c.name, review_tags.c.privilege_type, review_tags.c.withhold)
        .join(review_tags, review_tags.c.id == review_codings.c.tag_id)
        .where(review_codings.c.review_set_id == review_set_id)
    )
    found: dict[str, list[Any]] = {}
    with engine.connect() as connection:
        for row in connection.execute(query):
            found.setdefault(row.doc_key, []).append(row)
    return found


def production_review(
    engine: Engine, case_id: str, review_set_id: str | None = None, tags: Sequence[str] = ()
) -> ProductionReview:
    """What a production of ``case_id`` applies; for a review set, its documents (filtered by
    ``tags``: each document must carry every one), what it withholds and logs."""
    redactions = case_redactions(engine, case_id)
    if review_set_id is None:
        if tags:
            raise BadProductionOrder("a tag filter selects documents of a review set: give review_set_id")
        return ProductionReview(redactions=redactions)
    found = review_set(engine, review_set_id, case_id)
    wanted = [tag.strip().lower() for tag in tags if tag.strip()]
    with engine.connect() as connection:
        known = {
            name.lower()
            for name in connection.execute(select(review_tags.c.name).where(review_tags.c.case_id == case_id)).scalars()
        }
        unknown = [tag for tag in wanted if tag not in known]
        if unknown:
            raise BadProductionOrder(
                f"no tag {unknown[0]!r} in case {case_id!r}; its tags are {', '.join(sorted(known)) or 'none'}"
            )
        rows = connection.execute(
            select(review_documents)
            .where(review_documents.c.review_set_id == review_set_id)
            .order_by(review_documents.c.position)
        ).all()
    coded = _tags_by_document(engine, review_set_id)
    documents: dict[str, LoggedDocument] = {}
    set_withheld: dict[str, LoggedDocument] = {}
    hits: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        tagged = coded.get(row.doc_key, [])
        names = {tag.name.lower() for tag in tagged}
        withholding = [tag for tag in tagged if tag.withhold]
        privilege = [tag.privilege_type for tag in tagged if tag.privilege_type]
        logged = LoggedDocument(
            privilege_type="; ".join(dict.fromkeys(privilege)),
            description=row.privilege_description or "",
            withhold=bool(withholding),
        )
        if any(tag not in names for tag in wanted):
            # Not produced, but still withheld should it come along (a kept attachment's parent).
            if logged.withhold:
                set_withheld[row.doc_key] = logged
            continue
        documents[row.doc_key] = logged
        message_ids = row.message_ids if isinstance(row.message_ids, list) else json.loads(row.message_ids)
        first, last = _micros(row.first_at), _micros(row.last_at)
        room = hits.setdefault(row.room_id, [])
        for message_id in message_ids:
            room.append((str(message_id), first))
        if message_ids:
            room.append((str(message_ids[0]), last))
    return ProductionReview(
        redactions=redactions,
        unit=found.unit,
        time_zone=found.time_zone,
        review_set_id=found.id,
        review_set_name=found.name,
        tag_filter=tuple(wanted),
        documents=documents,
        set_withheld=set_withheld,
        message_hits={room: tuple(pairs) for room, pairs in hits.items()},
    )


def _micros(moment: datetime) -> int:
    utc = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    delta = utc - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def set_privilege_description(
    engine: Engine, caller: Principal, review_set_id: str, doc_key: str, description: str | None
) -> str | None:
    """Change a document's privilege description (the privilege log's), recorded in the
    document's history (before and after) and audited."""
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise BadProductionOrder(f"a privilege description has at most {MAX_DESCRIPTION} characters")
    if "\x00" in doc_key + review_set_id:
        raise ReviewSetNotFound(f"no document {doc_key!r} in review set {review_set_id!r}")
    actor = f"{caller.label} ({caller.token_id})"
    now = datetime.now(UTC)
    action = str(uuid.uuid4())
    table = review_documents.c
    with engine.begin() as connection:
        before = connection.execute(
            select(table.privilege_description).where(table.review_set_id == review_set_id, table.doc_key == doc_key)
        ).first()
        if before is None:
            raise ReviewSetNotFound(f"no document {doc_key!r} in review set {review_set_id!r}")
        connection.execute(
            update(review_documents)
            .where(table.review_set_id == review_set_id, table.doc_key == doc_key)
            .values(privilege_description=description)
        )
        connection.execute(
            insert(review_coding_history),
            {
                "review_set_id": review_set_id,
                "doc_key": doc_key,
                "action_id": action,
                "before": {"privilege_description": before.privilege_description},
                "after": {"privilege_description": description},
                "actor": actor,
                "at": now,
            },
        )
    audit.record(
        engine,
        caller,
        "privilege_description",
        {
            "review_set_id": review_set_id,
            "doc_key": doc_key,
            "action_id": action,
            "before": before.privilege_description,
            "after": description,
        },
    )
    return description


def latest_production_log(engine: Engine, review_set_id: str) -> tuple[str, list[dict[str, Any]]] | None:
    """The privilege log of the review set's latest finished production (its export id and
    rows, from the production's manifest), or None when it has none."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(export_jobs.c.id, export_jobs.c.manifest)
            .where(export_jobs.c.status == "done", export_jobs.c.manifest.contains(review_set_id))
            .order_by(export_jobs.c.finished_at.desc())
        ).all()
    for row in rows:
        manifest = json.loads(row.manifest)
        review = manifest.get("review") or {}
        if review.get("review_set_id") == review_set_id:
            return row.id, list(review.get("privilege_log") or [])
    return None


def draft_log(engine: Engine, case_id: str, review_set_id: str) -> list[dict[str, Any]]:
    """The log of a review set not produced yet: its withheld and redacted documents, without
    control numbers (a production numbers them)."""
    review = production_review(engine, case_id, review_set_id)
    redacted_messages = {message for message, _version in review.redactions.messages}
    redacted_files = set(review.redactions.files)
    with engine.connect() as connection:
        rows = connection.execute(
            select(review_documents)
            .where(review_documents.c.review_set_id == review_set_id)
            .order_by(review_documents.c.position)
        ).all()
    entries: list[dict[str, Any]] = []
    for row in rows:
        logged = review.documents.get(row.doc_key)
        message_ids = row.message_ids if isinstance(row.message_ids, list) else json.loads(row.message_ids)
        file_id = row.doc_key.removeprefix("attachment:") if row.doc_key.startswith("attachment:") else None
        redacted = bool(redacted_messages.intersection(map(str, message_ids))) or file_id in redacted_files
        if logged is None or not (logged.withhold or redacted):
            continue
        senders = row.senders if isinstance(row.senders, list) else json.loads(row.senders)
        entries.append(
            {
                "control_number": "",
                "date": row.first_at.isoformat(),
                "author": "; ".join(map(str, senders)),
                "recipients": "",
                "privilege_type": logged.privilege_type,
                "description": logged.description,
                "treatment": "Withheld" if logged.withhold else "Redacted",
                "redactions": "",
                "document_key": row.doc_key,
            }
        )
    return entries


__all__ = ["BadProductionOrder", "CaseNotFound", "ReviewSetNotFound", "production_review"]
