"""Creating and changing supervision policies as the API and the policy editor do: checked,
stored as a new version and audited, in one transaction per change.

A policy's lexicon is checked before anything is stored: a term whose query does not parse, or
whose regular expression the safe engine refuses, is :class:`PolicyRefused` naming the term.
A stale edit (the policy changed since the version the editor started from) or a name taken is
:class:`~supervision.policy_store.PolicyConflict`; an unknown id
:class:`~supervision.policy_store.PolicyNotFound`. Nothing is stored or audited then.

The audit entry (``supervision_policy_create`` with the whole first version,
``supervision_policy_update`` with what changed: :func:`spec_changes`) is appended in the
change's own transaction, so a version the log does not mention cannot exist. Every version
itself is kept by the store (``GET /supervision/policies/{id}/versions``). Who may make a change
(the role) is the caller's to check first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from archive import audit
from archive.principals import Principal
from ingest.db import read_only
from supervision.backtest import DRAFT_ID, BacktestReport, backtest
from supervision.detect import PolicyCompileError
from supervision.lexicon import LexiconError, PolicyLexicon, check_lexicon
from supervision.model import LexiconTerm, Policy, PolicySpec
from supervision.policy_store import create_policy, get_policy, update_policy

CREATE = "supervision_policy_create"
UPDATE = "supervision_policy_update"
BACKTEST = "supervision_backtest"
MAX_COMMENT = 2_000
MAX_BACKTEST_DAYS = 366
"""The longest period one backtest reads (a request holds a worker while it runs)."""


class PolicyRefused(ValueError):
    """The policy cannot be saved or backtested as written; ``field``: the spec's field at fault
    (``lexicon`` for a term, ``exclusions`` for an exclusion), None for the request as a whole."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def who(caller: Principal) -> str:
    """How a version names who saved it: the token's label and id, as the audit log does."""
    return f"{caller.label} ({caller.token_id})"


def check_spec(spec: PolicySpec) -> None:
    """Refuse (:class:`PolicyRefused`) a policy whose lexicon or exclusions would not run: a
    query that does not parse, a regular expression RE2 refuses or that exceeds its bound. The
    message names the term (``term 'g2': ...``) or the exclusion (``exclusion 1 (...): ...``)."""
    try:
        check_lexicon(PolicyLexicon.of(spec))
    except LexiconError as error:
        message = str(error)
        raise PolicyRefused(message, "exclusions" if message.startswith("exclusion") else "lexicon") from None


def _comment(comment: str) -> str:
    cleaned = comment.strip()
    if len(cleaned) > MAX_COMMENT:
        raise PolicyRefused(f"the comment is {len(cleaned)} characters long; at most {MAX_COMMENT}")
    return cleaned


def create(
    engine: Engine, caller: Principal, spec: PolicySpec, comment: str = "", *, now: datetime | None = None
) -> Policy:
    """A new policy at version 1, audited with its whole spec."""
    check_spec(spec)
    said = _comment(comment)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        policy = create_policy(connection, spec, who(caller), said, at)
        details = {
            "policy_id": policy.id,
            "version": policy.version,
            "comment": said,
            "spec": spec.model_dump(mode="json"),
        }
        audit.append_entries(connection, [audit.new_entry(caller, CREATE, details)])
    return policy


def change(
    engine: Engine,
    caller: Principal,
    policy_id: str,
    spec: PolicySpec,
    expected_version: int,
    comment: str = "",
    *,
    now: datetime | None = None,
) -> Policy:
    """``spec`` as the policy's next version, if it is still at ``expected_version``; audited
    with what changed (before and after of each field, terms added, removed and changed)."""
    check_spec(spec)
    said = _comment(comment)
    at = now or datetime.now(UTC)
    with engine.begin() as connection:
        before = get_policy(connection, policy_id)
        policy = update_policy(connection, policy_id, spec, who(caller), said, at, expected_version=expected_version)
        details = {
            "policy_id": policy.id,
            "version": policy.version,
            "previous_version": before.version,
            "comment": said,
            "changes": spec_changes(before.spec, spec),
        }
        audit.append_entries(connection, [audit.new_entry(caller, UPDATE, details)])
    return policy


def _term(term: LexiconTerm) -> dict[str, Any]:
    return term.model_dump(mode="json")


def spec_changes(before: PolicySpec, after: PolicySpec) -> dict[str, Any]:
    """What changed from ``before`` to ``after``: each changed field's before and after, and for
    the lexicon the terms added, removed and changed (by term id), so a 1,000-term lexicon with
    one term edited is a short entry. Empty when nothing changed."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changes: dict[str, Any] = {
        name: {"before": old[name], "after": new[name]} for name in new if name != "lexicon" and old[name] != new[name]
    }
    old_terms = {term.id: term for term in before.lexicon}
    new_terms = {term.id: term for term in after.lexicon}
    added = [_term(term) for term_id, term in new_terms.items() if term_id not in old_terms]
    removed = [_term(term) for term_id, term in old_terms.items() if term_id not in new_terms]
    changed = [
        {"id": term_id, "before": _term(old_terms[term_id]), "after": _term(term)}
        for term_id, term in new_terms.items()
        if term_id in old_terms and old_terms[term_id] != term
    ]
    reordered = not (added or removed or changed) and list(old_terms) != list(new_terms)
    if added or removed or changed or reordered:
        changes["lexicon"] = {"added": added, "removed": removed, "changed": changed, "reordered": reordered}
    return changes


def run_backtest(
    engine: Engine,
    caller: Principal,
    spec: PolicySpec,
    start: datetime,
    end: datetime,
    *,
    policy_id: str | None = None,
    samples: int = 10,
) -> BacktestReport:
    """What ``spec`` would have made of ``[start, end)``, nothing created; under ``policy_id``
    (a saved policy's: :class:`PolicyNotFound` if there is none) the sampling draw is the one
    the adapter makes for it. Audited (who, which policy, the period and what it found) as the
    read of the archive it is."""
    check_spec(spec)
    if end <= start:
        raise PolicyRefused("the period must end after it starts")
    if end - start > timedelta(days=MAX_BACKTEST_DAYS):
        raise PolicyRefused(f"a backtest covers at most {MAX_BACKTEST_DAYS} days; split the period")
    if policy_id is not None:
        with read_only(engine) as connection:
            get_policy(connection, policy_id)
    try:
        report = backtest(engine, spec, start, end, policy_id=policy_id or DRAFT_ID, samples=samples)
    except PolicyCompileError as error:
        raise PolicyRefused("; ".join(error.policies.values()), "lexicon") from None
    details = {
        "policy_id": policy_id,
        "name": spec.name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "messages": report.messages,
        "items": report.items,
    }
    audit.record(engine, caller, BACKTEST, details)
    return report
