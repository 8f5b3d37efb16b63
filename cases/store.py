"""The case store: matters with saved searches and notes, legal holds, retention policies and
the record of retention runs.

A hold is never deleted: releasing it records who released it, when and why, and it stops
protecting anything from then on. A case with an active hold cannot be closed.

Every change is recorded in the case ledger (``cases.ledger``) in the same transaction: a
change made any other way is tamper, and ``verify`` and retention say so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cases.ledger import record_change
from cases.model import (
    Case,
    CaseSpec,
    Hold,
    HoldScope,
    HoldSpec,
    Note,
    NoteSpec,
    RetentionPolicy,
    RetentionPolicySpec,
    RetentionRun,
    SavedSearch,
    SavedSearchSpec,
)
from cases.schema import case_notes, case_searches, cases, legal_holds, retention_policies, retention_runs


class CaseNotFound(LookupError):
    """No such case, saved search, note, hold or retention policy."""


class CaseConflict(ValueError):
    """A change the state does not allow (a closed case, a released hold, a duplicate policy);
    nothing was changed."""


def _now() -> datetime:
    return datetime.now(UTC)


def _new_id() -> str:
    return str(uuid.uuid4())


class CaseStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- cases ----------------------------------------------------------------------------------

    def create_case(self, spec: CaseSpec, by: str) -> Case:
        case = Case(**spec.model_dump(), id=_new_id(), created_by=by, created_at=_now())
        with self.engine.begin() as connection:
            connection.execute(insert(cases).values(_case_row(case)))
            record_change(connection, cases, {"id": case.id})
        return case

    def get_case(self, case_id: str) -> Case | None:
        if "\x00" in case_id:  # no case id holds a NUL (PostgreSQL cannot even compare one)
            return None
        with self.engine.connect() as connection:
            return _load_case(connection, case_id)

    def cases(self, *, include_closed: bool = True) -> list[Case]:
        query = select(cases).order_by(cases.c.created_at, cases.c.id)
        if not include_closed:
            query = query.where(cases.c.closed_at.is_(None))
        with self.engine.connect() as connection:
            return [_case(row) for row in connection.execute(query)]

    def update_case(self, case_id: str, spec: CaseSpec) -> tuple[Case, Case]:
        """Replace what the case says (name, description, custodians, rooms, dates); returns
        (before, after). Holds already placed keep the scope they were placed with."""
        with self.engine.begin() as connection:
            before = _open_case(connection, case_id)
            after = before.model_copy(update=spec.model_dump())
            connection.execute(update(cases).where(cases.c.id == case_id).values(_case_row(after)))
            record_change(connection, cases, {"id": case_id})
        return before, after

    def close_case(self, case_id: str) -> tuple[Case, Case]:
        with self.engine.begin() as connection:
            before = _open_case(connection, case_id)
            active = [hold for hold in _load_holds(connection, case_id) if hold.active]
            if active:
                raise CaseConflict(
                    f"case {case_id} has {len(active)} active legal holds; release them before closing it"
                )
            after = before.model_copy(update={"closed_at": _now()})
            connection.execute(update(cases).where(cases.c.id == case_id).values(closed_at=after.closed_at))
            record_change(connection, cases, {"id": case_id})
        return before, after

    # --- saved searches and notes ----------------------------------------------------------------

    def add_search(self, case_id: str, spec: SavedSearchSpec, by: str) -> SavedSearch:
        found = SavedSearch(**spec.model_dump(), id=_new_id(), case_id=case_id, created_by=by, created_at=_now())
        with self.engine.begin() as connection:
            _open_case(connection, case_id)
            connection.execute(insert(case_searches).values(found.model_dump()))
            record_change(connection, case_searches, {"case_id": case_id, "id": found.id})
        return found

    def searches(self, case_id: str) -> list[SavedSearch]:
        with self.engine.connect() as connection:
            _existing_case(connection, case_id)
            rows = connection.execute(
                select(case_searches).where(case_searches.c.case_id == case_id).order_by(case_searches.c.created_at)
            )
            return [SavedSearch.model_validate(dict(row._mapping)) for row in rows]

    def remove_search(self, case_id: str, search_id: str) -> SavedSearch:
        with self.engine.begin() as connection:
            _open_case(connection, case_id)
            where = (case_searches.c.case_id == case_id, case_searches.c.id == search_id)
            row = connection.execute(select(case_searches).where(*where)).first()
            if row is None:
                raise CaseNotFound(f"case {case_id} has no saved search {search_id!r}")
            connection.execute(delete(case_searches).where(*where))
            record_change(connection, case_searches, {"case_id": case_id, "id": search_id})
        return SavedSearch.model_validate(dict(row._mapping))

    def add_note(self, case_id: str, spec: NoteSpec, by: str) -> Note:
        note = Note(**spec.model_dump(), id=_new_id(), case_id=case_id, author=by, created_at=_now())
        with self.engine.begin() as connection:
            _open_case(connection, case_id)
            connection.execute(insert(case_notes).values(note.model_dump()))
            record_change(connection, case_notes, {"case_id": case_id, "id": note.id})
        return note

    def notes(self, case_id: str) -> list[Note]:
        with self.engine.connect() as connection:
            _existing_case(connection, case_id)
            rows = connection.execute(
                select(case_notes).where(case_notes.c.case_id == case_id).order_by(case_notes.c.created_at)
            )
            return [Note.model_validate(dict(row._mapping)) for row in rows]

    def remove_note(self, case_id: str, note_id: str) -> Note:
        with self.engine.begin() as connection:
            _open_case(connection, case_id)
            where = (case_notes.c.case_id == case_id, case_notes.c.id == note_id)
            row = connection.execute(select(case_notes).where(*where)).first()
            if row is None:
                raise CaseNotFound(f"case {case_id} has no note {note_id!r}")
            connection.execute(delete(case_notes).where(*where))
            record_change(connection, case_notes, {"case_id": case_id, "id": note_id})
        return Note.model_validate(dict(row._mapping))

    # --- legal holds ------------------------------------------------------------------------------

    def place_hold(self, case_id: str, spec: HoldSpec, by: str) -> Hold:
        """Place a hold on an open case; without a scope it covers the case's custodians, rooms
        and dates (a case naming none of them holds everything: the safe reading)."""
        with self.engine.begin() as connection:
            case = _open_case(connection, case_id)
            scope = spec.scope or HoldScope(
                custodians=case.custodians, rooms=case.rooms, date_from=case.date_from, date_to=case.date_to
            )
            hold = Hold(id=_new_id(), case_id=case_id, scope=scope, reason=spec.reason, placed_by=by, placed_at=_now())
            connection.execute(insert(legal_holds).values(_hold_row(hold)))
            record_change(connection, legal_holds, {"id": hold.id})
        return hold

    def release_hold(self, case_id: str, hold_id: str, reason: str, by: str) -> tuple[Hold, Hold]:
        with self.engine.begin() as connection:
            _existing_case(connection, case_id)
            row = connection.execute(
                select(legal_holds).where(legal_holds.c.case_id == case_id, legal_holds.c.id == hold_id)
            ).first()
            if row is None:
                raise CaseNotFound(f"case {case_id} has no hold {hold_id!r}")
            before = _hold(row)
            if not before.active:
                raise CaseConflict(f"hold {hold_id} was released already, at {before.released_at}")
            after = before.model_copy(update={"released_by": by, "released_at": _now(), "release_reason": reason})
            connection.execute(
                update(legal_holds)
                .where(legal_holds.c.id == hold_id, legal_holds.c.released_at.is_(None))
                .values(released_by=by, released_at=after.released_at, release_reason=reason)
            )
            record_change(connection, legal_holds, {"id": hold_id})
        return before, after

    def holds(self, case_id: str) -> list[Hold]:
        with self.engine.connect() as connection:
            _existing_case(connection, case_id)
            return _load_holds(connection, case_id)

    def active_holds(self) -> list[Hold]:
        """Every hold not released, of every case (what retention must respect)."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(legal_holds).where(legal_holds.c.released_at.is_(None)).order_by(legal_holds.c.placed_at)
            )
            return [_hold(row) for row in rows]


class RetentionStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def policies(self) -> list[RetentionPolicy]:
        query = select(retention_policies).order_by(retention_policies.c.scope_kind, retention_policies.c.scope_id)
        with self.engine.connect() as connection:
            return [_policy(row) for row in connection.execute(query)]

    def get_policy(self, policy_id: str) -> RetentionPolicy | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(retention_policies).where(retention_policies.c.id == policy_id)).first()
        return None if row is None else _policy(row)

    def create_policy(self, spec: RetentionPolicySpec, by: str) -> RetentionPolicy:
        now = _now()
        policy = RetentionPolicy(
            **spec.model_dump(), id=_new_id(), created_by=by, created_at=now, updated_by=by, updated_at=now
        )
        try:
            with self.engine.begin() as connection:
                connection.execute(insert(retention_policies).values(_policy_row(policy)))
                record_change(connection, retention_policies, {"id": policy.id})
        except IntegrityError:
            raise CaseConflict(f"a retention policy for {spec.label} exists already; change that one") from None
        return policy

    def update_policy(
        self, policy_id: str, spec: RetentionPolicySpec, by: str
    ) -> tuple[RetentionPolicy, RetentionPolicy]:
        try:
            with self.engine.begin() as connection:
                row = connection.execute(select(retention_policies).where(retention_policies.c.id == policy_id)).first()
                if row is None:
                    raise CaseNotFound(f"no retention policy {policy_id!r}")
                before = _policy(row)
                after = before.model_copy(update={**spec.model_dump(), "updated_by": by, "updated_at": _now()})
                connection.execute(
                    update(retention_policies).where(retention_policies.c.id == policy_id).values(_policy_row(after))
                )
                record_change(connection, retention_policies, {"id": policy_id})
        except IntegrityError:
            raise CaseConflict(f"a retention policy for {spec.label} exists already; change that one") from None
        return before, after

    def delete_policy(self, policy_id: str) -> RetentionPolicy:
        with self.engine.begin() as connection:
            row = connection.execute(select(retention_policies).where(retention_policies.c.id == policy_id)).first()
            if row is None:
                raise CaseNotFound(f"no retention policy {policy_id!r}")
            connection.execute(delete(retention_policies).where(retention_policies.c.id == policy_id))
            record_change(connection, retention_policies, {"id": policy_id})
        return _policy(row)

    def set_policy(self, spec: RetentionPolicySpec, by: str) -> tuple[RetentionPolicy | None, RetentionPolicy]:
        """Create the policy of ``spec``'s scope or change the one there is; (before, after)."""
        existing = [p for p in self.policies() if p.label == spec.label]
        if existing:
            return self.update_policy(existing[0].id, spec, by)
        return None, self.create_policy(spec, by)

    # --- runs -------------------------------------------------------------------------------------

    def runs(self, limit: int = 100) -> list[RetentionRun]:
        query = select(retention_runs).order_by(retention_runs.c.started_at.desc()).limit(limit)
        with self.engine.connect() as connection:
            return [RetentionRun.model_validate(dict(row._mapping)) for row in connection.execute(query)]

    def start_run(self, run: RetentionRun) -> None:
        with self.engine.begin() as connection:
            connection.execute(insert(retention_runs).values(run.model_dump()))
            record_change(connection, retention_runs, {"id": run.id})

    def note_files_pending(self, connection: Connection, run_id: str, sha256s: Iterable[str]) -> None:
        """In the caller's (disposal) transaction: the bytes this run is to delete from the file
        store once it commits, kept in the run's counts so a run killed before deleting them
        leaves them to the next (:meth:`files_pending`)."""
        row = connection.execute(select(retention_runs.c.counts).where(retention_runs.c.id == run_id)).first()
        if row is None:
            return
        counts = dict(row.counts or {})
        counts["files_pending"] = sorted(set(counts.get("files_pending", [])) | set(sha256s))
        connection.execute(update(retention_runs).where(retention_runs.c.id == run_id).values(counts=counts))
        record_change(connection, retention_runs, {"id": run_id})

    def files_pending(self) -> set[str]:
        """Bytes earlier runs disposed of the last reference to and did not delete from the file
        store (it failed, or the run stopped first): each run retries them."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(retention_runs.c.counts).where(retention_runs.c.dry_run.is_(False)))
            return {sha256 for (counts,) in rows for sha256 in (counts or {}).get("files_pending", [])}

    def finish_run(self, run_id: str, counts: dict[str, Any], error: str | None = None) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(retention_runs)
                .where(retention_runs.c.id == run_id)
                .values(finished_at=_now(), counts=counts, error=error)
            )
            record_change(connection, retention_runs, {"id": run_id})


# --- rows ----------------------------------------------------------------------------------------


def _case(row: Any) -> Case:
    values = dict(row._mapping)
    values["custodians"] = tuple(values["custodians"])
    values["rooms"] = tuple(values["rooms"])
    return Case.model_validate(values)


def _case_row(case: Case) -> dict[str, Any]:
    row = case.model_dump()
    row["custodians"] = list(case.custodians)
    row["rooms"] = list(case.rooms)
    return row


def _load_case(connection: Connection, case_id: str) -> Case | None:
    row = connection.execute(select(cases).where(cases.c.id == case_id)).first()
    return None if row is None else _case(row)


def _existing_case(connection: Connection, case_id: str) -> Case:
    case = _load_case(connection, case_id)
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def _open_case(connection: Connection, case_id: str) -> Case:
    case = _existing_case(connection, case_id)
    if case.closed_at is not None:
        raise CaseConflict(f"case {case_id} was closed at {case.closed_at}; it cannot change")
    return case


def _hold(row: Any) -> Hold:
    return Hold.model_validate({**row._mapping, "scope": HoldScope.model_validate(row.scope)})


def _hold_row(hold: Hold) -> dict[str, Any]:
    return {**hold.model_dump(exclude={"scope"}), "scope": hold.scope.model_dump(mode="json")}


def _load_holds(connection: Connection, case_id: str) -> list[Hold]:
    rows = connection.execute(
        select(legal_holds).where(legal_holds.c.case_id == case_id).order_by(legal_holds.c.placed_at)
    )
    return [_hold(row) for row in rows]


def _policy(row: Any) -> RetentionPolicy:
    values = dict(row._mapping)
    values["scope_id"] = values["scope_id"] or None
    return RetentionPolicy.model_validate(values)


def _policy_row(policy: RetentionPolicy) -> dict[str, Any]:
    return {**policy.model_dump(), "scope_id": policy.scope_id or ""}


__all__: Sequence[str] = ("CaseConflict", "CaseNotFound", "CaseStore", "RetentionStore")
