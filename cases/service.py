"""Changes to cases (their saved searches, notes and legal holds) and to retention policies, as
the API and the web pages make them: checked, stored, and audited with what they changed before
and after, on behalf of the caller.

A refusal is :class:`~cases.store.CaseNotFound` (no such case, search, note, hold or policy),
:class:`~cases.store.CaseConflict` (the state does not allow the change, or a policy names a
group the directory does not have) or :class:`~search.query_parser.QuerySyntaxError` (a saved
search's or a hold's query does not parse); nothing is stored or audited then. Who may make a
change (the role) is the caller's to check first."""

from __future__ import annotations

import re

from pydantic import BaseModel
from sqlalchemy import Engine

from archive import audit
from archive.principals import Principal
from cases.model import (
    Case,
    CaseSpec,
    Hold,
    HoldSpec,
    Note,
    NoteSpec,
    RetentionPolicy,
    RetentionPolicySpec,
    SavedSearch,
    SavedSearchSpec,
)
from cases.scopes import unknown_scope
from cases.store import CaseConflict, CaseStore, RetentionStore
from search.query_ast import TAG_OUTSIDE_REVIEW, Node, uses_tags
from search.query_parser import QuerySyntaxError, parse_query
from search.service import people_in


def _who(caller: Principal) -> str:
    return f"{caller.label} ({caller.token_id})"


def _audit(engine: Engine, caller: Principal, action: str, before: BaseModel | None, after: BaseModel | None) -> None:
    audit.record(
        engine,
        caller,
        action,
        {
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json") if after else None,
        },
    )


def _known_scope(engine: Engine, spec: RetentionPolicySpec) -> None:
    problem = unknown_scope(engine, spec)
    if problem is not None:
        raise CaseConflict(problem)


# --- cases ---------------------------------------------------------------------------------------


def open_case(engine: Engine, caller: Principal, spec: CaseSpec) -> Case:
    case = CaseStore(engine).create_case(spec, _who(caller))
    _audit(engine, caller, "case_create", None, case)
    return case


def change_case(engine: Engine, caller: Principal, case_id: str, spec: CaseSpec) -> Case:
    before, after = CaseStore(engine).update_case(case_id, spec)
    _audit(engine, caller, "case_update", before, after)
    return after


def close_case(engine: Engine, caller: Principal, case_id: str) -> Case:
    before, after = CaseStore(engine).close_case(case_id)
    _audit(engine, caller, "case_close", before, after)
    return after


# --- saved searches and notes --------------------------------------------------------------------


_TAG_FILTER = re.compile(r"(?<![^\s(\-])tag:", re.IGNORECASE)


def archive_query(query: str) -> Node:
    """``query`` parsed, for a search of the archive (a saved search, a hold's scope): a ``tag:``
    (a review set's coding, which only a review set's search answers) is refused now, as a
    QuerySyntaxError (422) naming where it is, not stored to fail when it runs."""
    node = parse_query(query)
    if uses_tags(node):
        found = _TAG_FILTER.search(query)
        raise QuerySyntaxError(TAG_OUTSIDE_REVIEW, found.start() + 1 if found else 1, query)
    return node


def add_search(engine: Engine, caller: Principal, case_id: str, spec: SavedSearchSpec) -> SavedSearch:
    archive_query(spec.query)
    saved = CaseStore(engine).add_search(case_id, spec, _who(caller))
    _audit(engine, caller, "case_search_add", None, saved)
    return saved


def remove_search(engine: Engine, caller: Principal, case_id: str, search_id: str) -> SavedSearch:
    before = CaseStore(engine).remove_search(case_id, search_id)
    _audit(engine, caller, "case_search_remove", before, None)
    return before


def add_note(engine: Engine, caller: Principal, case_id: str, spec: NoteSpec) -> Note:
    note = CaseStore(engine).add_note(case_id, spec, _who(caller))
    _audit(engine, caller, "case_note_add", None, note)
    return note


def remove_note(engine: Engine, caller: Principal, case_id: str, note_id: str) -> Note:
    before = CaseStore(engine).remove_note(case_id, note_id)
    _audit(engine, caller, "case_note_remove", before, None)
    return before


# --- legal holds ---------------------------------------------------------------------------------


def place_hold(engine: Engine, caller: Principal, case_id: str, spec: HoldSpec) -> Hold:
    if spec.scope is not None and spec.scope.query is not None:
        people_in(engine, archive_query(spec.scope.query))  # a name too common is refused (422): use an id
    hold = CaseStore(engine).place_hold(case_id, spec, _who(caller))
    _audit(engine, caller, "hold_place", None, hold)
    return hold


def release_hold(engine: Engine, caller: Principal, case_id: str, hold_id: str, reason: str) -> Hold:
    before, after = CaseStore(engine).release_hold(case_id, hold_id, reason, _who(caller))
    _audit(engine, caller, "hold_release", before, after)
    return after


# --- retention policies --------------------------------------------------------------------------


def create_policy(engine: Engine, caller: Principal, spec: RetentionPolicySpec) -> RetentionPolicy:
    _known_scope(engine, spec)
    policy = RetentionStore(engine).create_policy(spec, _who(caller))
    _audit(engine, caller, "retention_policy_create", None, policy)
    return policy


def change_policy(engine: Engine, caller: Principal, policy_id: str, spec: RetentionPolicySpec) -> RetentionPolicy:
    _known_scope(engine, spec)
    before, after = RetentionStore(engine).update_policy(policy_id, spec, _who(caller))
    _audit(engine, caller, "retention_policy_update", before, after)
    return after


def set_policy(engine: Engine, caller: Principal, spec: RetentionPolicySpec) -> RetentionPolicy:
    """Change the policy of ``spec``'s scope, or create it (audited as the one or the other)."""
    _known_scope(engine, spec)
    before, after = RetentionStore(engine).set_policy(spec, _who(caller))
    _audit(engine, caller, "retention_policy_create" if before is None else "retention_policy_update", before, after)
    return after


def remove_policy(engine: Engine, caller: Principal, policy_id: str) -> RetentionPolicy:
    before = RetentionStore(engine).delete_policy(policy_id)
    _audit(engine, caller, "retention_policy_delete", before, None)
    return before
