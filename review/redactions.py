"""Redactions of a case: spans of archived texts that its productions replace by a marker.

A redaction is a span of one version of a message's text (the post is version 1, each edit the
next, in the archive's order: time, then event id) or of an upload's extracted text, with a
reason (:data:`exports.redaction.REASON_CODES`, or free text: :func:`exports.redaction.check_reason`).
Offsets are Python ``str`` indices (code points), the end exclusive; spans of one text may
overlap (a production merges them). Adding one checks that the text exists and the offsets lie
within it, and records the text's SHA-256, so that a span is never applied to another text.
A redaction is never deleted: removing it records who and when, and productions then leave it
out. Every addition and removal is an audit entry (``redaction_add``, ``redaction_remove``),
naming the span and reason but never the redacted text. The archive is never altered: it is
read here, and the productions apply the spans (:mod:`exports.redaction`).
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field, model_validator
from sqlalchemy import Connection, Engine, insert, select, update

from archive import audit
from archive.attachments import texts_for
from archive.file_store import FileMissing, FileStore, FileStoreError
from archive.principals import Principal
from archive.queries import message as archived_message
from cases.schema import cases
from cases.store import CaseNotFound, CaseStore
from exports.redaction import (
    REASON_CODES,
    BadRedaction,
    MessageVersions,
    Redactions,
    Span,
    check_reason,
    text_sha256,
)
from review.schema import review_redactions

Target = Literal["message", "file"]


class RedactionNotFound(LookupError):
    """No such redaction in the case, or no such text to redact."""


class RedactionConflict(ValueError):
    """The redaction was removed already, or its case is closed (a closed case cannot change)."""


class RedactionCreate(BaseModel):
    """A span to redact: of a message's version (``message_id``, ``version``) or of an upload's
    extracted text (``file_event_id``)."""

    target: Target = Field(description="message: a version of a message's text; file: an upload's extracted text")
    message_id: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    version: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="The message's version: 1 is the post, 2 its first edit, ..."
    )
    file_event_id: Annotated[str, Field(min_length=1, max_length=36)] | None = Field(
        default=None, description="The file_upload event whose extracted text is redacted"
    )
    start: int = Field(ge=0, le=10**9, description="First character (Python str index, code points)")
    end: int = Field(ge=1, le=10**9, description="One past the last character")
    reason: str = Field(
        min_length=1, max_length=64, description=f"One of {', '.join(REASON_CODES)}, or free text (64 characters)"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be greater than start ({self.start})")
        if self.target == "message":
            if self.message_id is None or self.version is None or self.file_event_id is not None:
                raise ValueError("a message redaction names message_id and version, and no file_event_id")
        elif self.file_event_id is None or self.message_id is not None or self.version is not None:
            raise ValueError("a file redaction names file_event_id, and no message_id or version")
        try:
            check_reason(self.reason)
        except BadRedaction as bad:
            raise ValueError(str(bad)) from None
        return self


class Redaction(BaseModel):
    id: str
    case_id: str
    target: Target
    message_id: str | None
    version: int | None
    file_event_id: str | None
    start: int
    end: int
    text_sha256: str
    reason: str
    created_by: str
    created_at: datetime
    removed_by: str | None
    removed_at: datetime | None


class TextVersion(BaseModel):
    """One text a redaction can be drawn on, as the redaction page shows it."""

    version: int
    kind: str
    text: str
    text_sha256: str
    actor_id: str
    occurred_at: datetime
    event_id: str


def message_versions(engine: Engine, message_id: str) -> list[TextVersion]:
    """The message's texts in version order (post, then each edit), or RedactionNotFound."""
    found = archived_message(engine, message_id) if "\x00" not in message_id else None
    if found is None:
        raise RedactionNotFound(f"no message {message_id!r} in the archive")
    history = sorted(
        (v for v in found["history"] if v["kind"] in ("post", "edit")),
        key=lambda v: (v["occurred_at"], str(v["event_id"])),
    )
    versions = MessageVersions()  # the productions' numbering
    return [
        TextVersion(
            version=versions.next(message_id),
            kind=v["kind"],
            text=v["text"],
            text_sha256=text_sha256(v["text"]),
            actor_id=v["actor_id"],
            occurred_at=v["occurred_at"],
            event_id=str(v["event_id"]),
        )
        for v in history
    ]


def file_text(engine: Engine, store: FileStore | None, file_event_id: str) -> str:
    """An upload's extracted text, read from the file store and checked against its sealed hash."""
    if "\x00" in file_event_id:  # no id holds a NUL (PostgreSQL cannot even compare one)
        raise RedactionNotFound(f"upload {file_event_id!r} has no extracted text to redact")
    with engine.connect() as connection:
        found = texts_for(connection, [file_event_id]).get(file_event_id)
    if found is None or found.text_sha256 is None:
        raise RedactionNotFound(f"upload {file_event_id!r} has no extracted text to redact")
    if store is None:
        raise RedactionNotFound("this server has no file store: extracted texts cannot be read")
    try:
        with store.open(found.text_sha256) as source:
            data = source.read()
    except (FileMissing, FileStoreError, OSError):
        raise RedactionNotFound(
            f"the extracted text of upload {file_event_id!r} is missing from the file store"
        ) from None
    if hashlib.sha256(data).hexdigest() != found.text_sha256:
        raise RedactionNotFound(f"the stored text of upload {file_event_id!r} is not the one sealed")
    return data.decode("utf-8", "surrogatepass")


def _text_of(engine: Engine, store: FileStore | None, spec: RedactionCreate) -> str:
    if spec.target == "message":
        assert spec.message_id is not None
        assert spec.version is not None
        versions = message_versions(engine, spec.message_id)
        if spec.version > len(versions):
            raise RedactionNotFound(
                f"message {spec.message_id!r} has {len(versions)} version(s) (1 is the post), not {spec.version}"
            )
        return versions[spec.version - 1].text
    assert spec.file_event_id is not None
    return file_text(engine, store, spec.file_event_id)


def _case(engine: Engine, case_id: str) -> None:
    if CaseStore(engine).get_case(case_id) is None:
        raise CaseNotFound(f"no case {case_id!r}")


def _refuse_closed(connection: Connection, case_id: str) -> None:
    """RedactionConflict when the case is closed (``cases.store``'s rule: a closed case cannot
    change). The case's row is locked until the change commits, so a close waits for it."""
    closed_at = connection.execute(
        select(cases.c.closed_at).where(cases.c.id == case_id).with_for_update()
    ).scalar_one_or_none()
    if closed_at is not None:
        raise RedactionConflict(f"case {case_id} was closed at {closed_at}; its redactions cannot change")


def add_redaction(
    engine: Engine, store: FileStore | None, caller: Principal, case_id: str, spec: RedactionCreate
) -> Redaction:
    """Record the span (checked against its text) and audit it; the redaction. A closed case's
    redactions cannot change (RedactionConflict)."""
    _case(engine, case_id)
    text = _text_of(engine, store, spec)
    if spec.end > len(text):
        raise BadRedaction(f"the span {spec.start}..{spec.end} ends past the text, which has {len(text)} characters")
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "case_id": case_id,
        "target": spec.target,
        "message_id": spec.message_id,
        "version": spec.version,
        "file_event_id": spec.file_event_id,
        "start": spec.start,
        "end": spec.end,
        "text_sha256": text_sha256(text),
        "reason": spec.reason,
        "created_by": f"{caller.label} ({caller.token_id})",
        "created_at": datetime.now(UTC),
        "removed_by": None,
        "removed_at": None,
    }
    with engine.begin() as connection:
        _refuse_closed(connection, case_id)
        connection.execute(insert(review_redactions), row)
    audit.record(engine, caller, "redaction_add", _audited(row))
    return Redaction(**row)


def remove_redaction(engine: Engine, caller: Principal, case_id: str, redaction_id: str) -> Redaction:
    """Mark the redaction removed (kept, with who and when) and audit it; not in a closed case."""
    found = get_redaction(engine, case_id, redaction_id)
    if found.removed_at is not None:
        raise RedactionConflict(f"redaction {redaction_id} was removed already, by {found.removed_by}")
    by, at = f"{caller.label} ({caller.token_id})", datetime.now(UTC)
    with engine.begin() as connection:
        _refuse_closed(connection, case_id)
        connection.execute(
            update(review_redactions)
            .where(review_redactions.c.id == redaction_id, review_redactions.c.removed_at.is_(None))
            .values(removed_by=by, removed_at=at)
        )
    removed = found.model_copy(update={"removed_by": by, "removed_at": at})
    audit.record(engine, caller, "redaction_remove", _audited(removed.model_dump()))
    return removed


def _audited(row: dict[str, Any]) -> dict[str, Any]:
    """What the audit entry says: the span and its reason, never the text."""
    keys = (
        "id",
        "case_id",
        "target",
        "message_id",
        "version",
        "file_event_id",
        "start",
        "end",
        "text_sha256",
        "reason",
    )
    return {key: row[key] for key in keys}


def get_redaction(engine: Engine, case_id: str, redaction_id: str) -> Redaction:
    if "\x00" in redaction_id + case_id:
        raise RedactionNotFound(f"no redaction {redaction_id!r} in case {case_id!r}")
    with engine.connect() as connection:
        row = connection.execute(
            select(review_redactions).where(
                review_redactions.c.id == redaction_id, review_redactions.c.case_id == case_id
            )
        ).first()
    if row is None:
        raise RedactionNotFound(f"no redaction {redaction_id!r} in case {case_id!r}")
    return Redaction(**row._mapping)


def list_redactions(
    engine: Engine,
    case_id: str,
    *,
    message_id: str | None = None,
    file_event_id: str | None = None,
    include_removed: bool = False,
) -> list[Redaction]:
    """The case's redactions (of one message or upload when named), oldest first."""
    _case(engine, case_id)
    if "\x00" in (message_id or "") + (file_event_id or ""):
        return []  # no id holds a NUL
    table = review_redactions.c
    query = select(review_redactions).where(table.case_id == case_id)
    if message_id is not None:
        query = query.where(table.message_id == message_id)
    if file_event_id is not None:
        query = query.where(table.file_event_id == file_event_id)
    if not include_removed:
        query = query.where(table.removed_at.is_(None))
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(table.created_at, table.id)).all()
    return [Redaction(**row._mapping) for row in rows]


def case_redactions(engine: Engine, case_id: str) -> Redactions:
    """The case's redactions in force, as a production applies them."""
    messages: dict[tuple[str, int], list[Span]] = {}
    files: dict[str, list[Span]] = {}
    for found in list_redactions(engine, case_id):
        span = Span(found.start, found.end, found.reason, found.text_sha256)
        if found.target == "message" and found.message_id is not None and found.version is not None:
            messages.setdefault((found.message_id, found.version), []).append(span)
        elif found.file_event_id is not None:
            files.setdefault(found.file_event_id, []).append(span)
    return Redactions(
        messages={key: tuple(spans) for key, spans in messages.items()},
        files={key: tuple(spans) for key, spans in files.items()},
    )
