"""Coding documents of a review set: tags (a single-choice group keeps one: choosing a tag
replaces the group's other), a note, the reviewed mark; one document or a selection of many.

Every coding **action** (a click on the review screen, a bulk coding of 100,000 documents) has
an id; each document it changes gets a row of ``review_coding_history`` with its coding before
and after (``{"tags": [names], "note": latest note, "reviewed": bool}``), who and when, and the
action gets ONE audit entry (``review_code``: who, the set, the change, how many documents were
selected and changed, the action id). A document the action leaves as it was gets no history row.

The work is set-based: the set's codings are read in one query, the new state is worked out in
memory and written with ``executemany`` in batches (deletes, inserts, updates, history), in one
transaction; the audit entry is committed after it (the audit log is its own chain)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Column, Connection, Engine, MetaData, Table, Text, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.types import NullType

from archive import audit
from archive.principals import Principal
from ingest.db import UtcDateTime
from review.errors import ReviewConflict, ReviewNotFound
from review.schema import review_coding_history, review_codings, review_documents, review_notes, review_tags
from review.sets import ReviewSet, lock_set
from review.tags import Tag, tag_set

BATCH = 5000


def who(caller: Principal) -> str:
    """How a caller is named in review rows (``reviewed_by``, ``coded_by``, history's actor)."""
    return caller.label


class CodingChange(BaseModel):
    """What to do to each selected document; tags by name (any case)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    add: list[str] = Field(default_factory=list, max_length=100)
    remove: list[str] = Field(default_factory=list, max_length=100)
    note: str | None = Field(default=None, max_length=20_000, description="a note added to each document")
    reviewed: bool | None = Field(default=None, description="mark reviewed (true) or not reviewed (false)")


@dataclass(frozen=True)
class Coded:
    action_id: str
    selected: int
    changed: int


Coding = dict[str, Any]


def _tags_named(tags: Sequence[Tag], names: Sequence[str]) -> list[Tag]:
    by_name = {tag.name.lower(): tag for tag in tags}
    found = []
    for name in names:
        tag = by_name.get(name.lower())
        if tag is None:
            raise ReviewNotFound(f"no tag {name!r} in this case; the tags are {', '.join(sorted(by_name))}")
        found.append(tag)
    return found


def codings(connection: Connection, set_id: str, keys: Sequence[str] | None = None) -> dict[str, Coding]:
    """The coding of the set's documents (of ``keys`` only when given), by key."""
    documents = select(review_documents.c.doc_key, review_documents.c.reviewed_by).where(
        review_documents.c.review_set_id == set_id
    )
    tagged = (
        select(review_codings.c.doc_key, review_tags.c.name)
        .join(review_tags, review_tags.c.id == review_codings.c.tag_id)
        .where(review_codings.c.review_set_id == set_id)
    )
    notes = (
        select(review_notes.c.doc_key, review_notes.c.text)
        .where(review_notes.c.review_set_id == set_id)
        .order_by(review_notes.c.created_at, review_notes.c.id)
    )
    if keys is not None and len(keys) <= 500:  # a few: by key; many: the whole set, filtered here
        documents = documents.where(review_documents.c.doc_key.in_(keys))
        tagged = tagged.where(review_codings.c.doc_key.in_(keys))
        notes = notes.where(review_notes.c.doc_key.in_(keys))
    wanted = None if keys is None else set(keys)
    found: dict[str, Coding] = {}
    for key, reviewed_by in connection.execute(documents):
        if wanted is None or key in wanted:
            found[key] = {"tags": [], "note": None, "reviewed": reviewed_by is not None}
    for key, name in connection.execute(tagged):
        if key in found:
            found[key]["tags"].append(name)
    for key, text in connection.execute(notes):
        if key in found:
            found[key]["note"] = text
    for coding in found.values():
        coding["tags"].sort()
    return found


def _check_still_there(connection: Connection, adding: Sequence[Tag]) -> None:
    """Refuse (409) a tag read before the transaction and removed since. Its row is then held
    (PostgreSQL ``FOR SHARE``) until the coding commits, so :func:`review.tags.remove_tag`
    waits and then sees the new codings."""
    wanted = sorted({tag.id for tag in adding})
    if not wanted:
        return
    there = set(
        connection.execute(
            select(review_tags.c.id).where(review_tags.c.id.in_(wanted)).with_for_update(read=True)
        ).scalars()
    )
    gone = [tag.name for tag in adding if tag.id not in there]
    if gone:
        raise ReviewConflict(f"tag {gone[0]!r} was removed meanwhile: reload the tags and try again")


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


def code(
    engine: Engine,
    caller: Principal,
    review_set: ReviewSet,
    keys: Sequence[str],
    change: CodingChange,
    selection: dict[str, Any],
) -> Coded:
    """Apply ``change`` to the documents ``keys`` of the set (see the module doc);
    ``selection`` says how they were chosen, for the audit entry. ReviewNotFound: a key the set
    does not hold, a tag the case does not have; ReviewConflict: two tags of one single-choice
    group, or a tag both added and removed."""
    if not (change.add or change.remove or change.note or change.reviewed is not None):
        raise ReviewConflict("the change does nothing: add or remove a tag, add a note or set reviewed")
    tagging = tag_set(engine, review_set.case_id)
    choice = {group.id: group.choice for group in tagging.groups}
    adding = _tags_named(tagging.tags, change.add)
    removing = _tags_named(tagging.tags, change.remove)
    if {t.id for t in adding} & {t.id for t in removing}:
        raise ReviewConflict("a tag cannot be both added and removed")
    single_groups: dict[str, Tag] = {}
    for tag in adding:
        if choice[tag.group_id] == "single":
            if tag.group_id in single_groups and single_groups[tag.group_id].id != tag.id:
                raise ReviewConflict(
                    f"{single_groups[tag.group_id].name!r} and {tag.name!r} are of one single-choice group: choose one"
                )
            single_groups[tag.group_id] = tag
    # Choosing a tag of a single-choice group drops the group's other tags.
    dropped = [t for t in tagging.tags if t.group_id in single_groups and t.id != single_groups[t.group_id].id]
    names_to_remove = {t.name for t in removing} | {t.name for t in dropped}
    names_to_add = {t.name for t in adding}
    by_name = {t.name: t for t in tagging.tags}
    action_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    actor = who(caller)
    unique_keys = list(dict.fromkeys(keys))
    with engine.begin() as connection:
        lock_set(connection, review_set.id)
        _check_still_there(connection, adding)
        before = codings(connection, review_set.id, unique_keys)
        missing = [key for key in unique_keys if key not in before]
        if missing:
            raise ReviewNotFound(f"the review set holds no document {missing[0]!r}")
        removals: list[dict[str, Any]] = []
        additions: list[dict[str, Any]] = []
        marks: list[dict[str, Any]] = []
        notes: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for key in unique_keys:
            old = before[key]
            tags = set(old["tags"])
            for name in sorted(tags & names_to_remove):
                removals.append({"k": key, "t": by_name[name].id})
            for name in sorted(names_to_add - tags):
                additions.append(
                    {
                        "review_set_id": review_set.id,
                        "doc_key": key,
                        "tag_id": by_name[name].id,
                        "coded_by": actor,
                        "coded_at": now,
                    }
                )
            new = {
                "tags": sorted((tags - names_to_remove) | names_to_add),
                "note": change.note if change.note else old["note"],
                "reviewed": old["reviewed"] if change.reviewed is None else change.reviewed,
            }
            if change.reviewed is not None and change.reviewed != old["reviewed"]:
                marks.append(
                    {"k": key, "by": actor if change.reviewed else None, "at": now if change.reviewed else None}
                )
            if change.note:
                notes.append(
                    {
                        "id": str(uuid.uuid4()),
                        "review_set_id": review_set.id,
                        "doc_key": key,
                        "text": change.note,
                        "author": actor,
                        "created_at": now,
                    }
                )
            if new != old or change.note:
                history.append(
                    {
                        "review_set_id": review_set.id,
                        "doc_key": key,
                        "action_id": action_id,
                        "before": old,
                        "after": new,
                        "actor": actor,
                        "at": now,
                    }
                )
        try:
            _write(connection, review_set.id, removals, additions, marks, notes, history)
        except IntegrityError as error:  # a tag removed after the check: the lock should prevent it
            raise ReviewConflict("a tag of the change was removed meanwhile: reload the tags, try again") from error
    audit.record(
        engine,
        caller,
        "review_code",
        {
            "review_set_id": review_set.id,
            "case_id": review_set.case_id,
            "action_id": action_id,
            "selection": selection,
            "change": change.model_dump(mode="json"),
            "selected": len(unique_keys),
            "changed": len(history),
            "documents": [row["doc_key"] for row in history[:20]],
        },
    )
    return Coded(action_id, len(unique_keys), len(history))


_SELECTED = Table("review_selected_keys", MetaData(), Column("doc_key", Text, primary_key=True), prefixes=["TEMPORARY"])
"""The keys of a large removal or mark, in a temporary table of the transaction: ``IN (5,000
literals)`` costs PostgreSQL a scan of the list per row (a 100,000-document swap took a minute)."""
_FEW = 500


def _keys_condition(connection: Connection, column: Any, keys: list[str]) -> Any:
    """``column IN (...)`` for a few keys, else ``IN (SELECT ...)`` of the temporary table
    (filled anew; dropped by :func:`_write` at the end)."""
    if len(keys) <= _FEW:
        return column.in_(keys)
    _SELECTED.create(connection, checkfirst=True)
    connection.execute(delete(_SELECTED))
    for chunk in range(0, len(keys), BATCH):
        connection.execute(insert(_SELECTED), [{"doc_key": key} for key in keys[chunk : chunk + BATCH]])
    return column.in_(select(_SELECTED.c.doc_key))


def _write(
    connection: Connection,
    set_id: str,
    removals: list[dict[str, Any]],
    additions: list[dict[str, Any]],
    marks: list[dict[str, Any]],
    notes: list[dict[str, Any]],
    history: list[dict[str, Any]],
) -> None:
    """Set-based: a removed tag's codings go in one ``DELETE``, the reviewed marks (one value
    per action) in one ``UPDATE``, each naming its documents by a short ``IN`` list or the
    temporary table of keys; codings, notes and history in ``executemany`` inserts of up to
    :data:`BATCH` rows."""
    by_tag: dict[str, list[str]] = {}
    for row in removals:
        by_tag.setdefault(row["t"], []).append(row["k"])
    try:
        for tag_id, keys in by_tag.items():
            connection.execute(
                delete(review_codings).where(
                    review_codings.c.review_set_id == set_id,
                    review_codings.c.tag_id == tag_id,
                    _keys_condition(connection, review_codings.c.doc_key, keys),
                )
            )
        if marks:
            documents = review_documents.c
            marked = _keys_condition(connection, documents.doc_key, [row["k"] for row in marks])
            connection.execute(
                update(review_documents)
                .where(documents.review_set_id == set_id, marked)
                .values(reviewed_by=marks[0]["by"], reviewed_at=marks[0]["at"])
            )
    finally:
        _SELECTED.drop(connection, checkfirst=True)
    for table, rows in ((review_codings, additions), (review_notes, notes), (review_coding_history, history)):
        prepared = _Prepared(connection.dialect, table)
        for chunk in _chunks(rows):
            connection.execute(insert(prepared.table), [prepared.row(row) for row in chunk])


class _Prepared:
    """Rows of ``table`` with their JSON and time values made ready once per distinct value, not
    once per row: a bulk action's rows share their time and mostly their before and after, and
    SQLAlchemy's per-row processing of those columns was half the cost of coding 100,000
    documents. The rows go to a copy of the table whose JSON and time columns are untyped."""

    _tables: ClassVar[dict[str, Table]] = {}

    def __init__(self, dialect: Any, table: Table) -> None:
        self.times = {c.name for c in table.columns if isinstance(c.type, UtcDateTime)}
        self.documents = {c.name for c in table.columns if isinstance(c.type, JSON)}
        self.time_bind = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
        self.json_bind = JSON().dialect_impl(dialect).bind_processor(dialect)
        self.done: dict[tuple[str, object], object] = {}
        untyped = self._tables.get(f"{dialect.name}:{table.name}")
        if untyped is None:
            prepared = self.times | self.documents
            columns = [
                Column(c.name, NullType() if c.name in prepared else c.type, primary_key=c.primary_key)
                for c in table.columns
                if c.autoincrement is not True
            ]
            untyped = self._tables[f"{dialect.name}:{table.name}"] = Table(table.name, MetaData(), *columns)
        self.table = untyped

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        ready = dict(row)
        for name in self.times:
            if name in ready and ready[name] is not None:
                ready[name] = self._once("t", ready[name], self.time_bind)
        for name in self.documents:
            if name in ready:
                ready[name] = self._once("j", ready[name], self.json_bind)
        return ready

    def _once(self, kind: str, value: Any, bind: Any) -> object:
        key = (kind, repr(value)) if kind == "j" else (kind, value)
        found = self.done.get(key)
        if found is None:
            found = self.done[key] = bind(value) if bind is not None else value
        return found


def history_of(
    engine: Engine, set_id: str, doc_key: str | None = None, action_id: str | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """The set's coding history, newest first (of one document, or of one action)."""
    query = select(review_coding_history).where(review_coding_history.c.review_set_id == set_id)
    if doc_key is not None:
        query = query.where(review_coding_history.c.doc_key == doc_key)
    if action_id is not None:
        query = query.where(review_coding_history.c.action_id == action_id)
    query = query.order_by(review_coding_history.c.seq.desc()).limit(limit)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def notes_of(engine: Engine, set_id: str, doc_key: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(review_notes)
            .where(review_notes.c.review_set_id == set_id, review_notes.c.doc_key == doc_key)
            .order_by(review_notes.c.created_at, review_notes.c.id)
        )
        return [dict(row._mapping) for row in rows]
