"""The changes the API and the web pages make through :mod:`cases.service`: each audited with
what it changed before and after, on behalf of the caller; a refused one neither stored nor
audited."""

from __future__ import annotations

import pytest

from archive.audit import entries
from cases import service
from cases.model import CaseSpec, HoldSpec, RetentionPolicySpec, SavedSearchSpec
from cases.store import CaseConflict, CaseNotFound, CaseStore, RetentionStore
from ingest.staging import StagingStore
from search.query_parser import QuerySyntaxError
from tests.cases.helpers import OPERATOR


def _actions(store: StagingStore) -> list[str]:
    return [entry["action"] for entry in reversed(entries(store.engine))]


def test_setting_a_policy_creates_it_then_changes_it_audited_as_either(store: StagingStore) -> None:
    created = service.set_policy(store.engine, OPERATOR, RetentionPolicySpec(scope_kind="default", keep_days=30))
    changed = service.set_policy(store.engine, OPERATOR, RetentionPolicySpec(scope_kind="default", keep_days=90))
    assert changed.id == created.id
    assert [policy.keep_days for policy in RetentionStore(store.engine).policies()] == [90]
    update, create = entries(store.engine, limit=2)
    assert (create["action"], create["details"]["before"]) == ("retention_policy_create", None)
    assert create["details"]["after"]["keep_days"] == 30
    assert update["action"] == "retention_policy_update"
    assert (update["details"]["before"]["keep_days"], update["details"]["after"]["keep_days"]) == (30, 90)
    assert create["actor"] == f"{OPERATOR.label} ({OPERATOR.token_id})"


def test_removing_a_policy_returns_it_audited(store: StagingStore) -> None:
    policy = service.create_policy(store.engine, OPERATOR, RetentionPolicySpec(scope_kind="default", keep_days=7))
    assert service.remove_policy(store.engine, OPERATOR, policy.id) == policy
    assert RetentionStore(store.engine).policies() == []
    removed = entries(store.engine, limit=1)[0]
    assert (removed["action"], removed["details"]["after"]) == ("retention_policy_delete", None)
    assert removed["details"]["before"]["id"] == policy.id
    with pytest.raises(CaseNotFound, match=f"no retention policy {policy.id!r}"):
        service.remove_policy(store.engine, OPERATOR, policy.id)


def test_refused_changes_are_neither_stored_nor_audited(store: StagingStore) -> None:
    case = service.open_case(store.engine, OPERATOR, CaseSpec(name="Matter"))
    service.place_hold(store.engine, OPERATOR, case.id, HoldSpec(reason="litigation"))
    before = _actions(store)
    assert before == ["case_create", "hold_place"]

    with pytest.raises(QuerySyntaxError):
        service.add_search(store.engine, OPERATOR, case.id, SavedSearchSpec(name="bad", query="(wine OR"))
    with pytest.raises(CaseConflict, match="active legal holds"):
        service.close_case(store.engine, OPERATOR, case.id)
    with pytest.raises(CaseConflict, match="no directory group 'group:nobody': create it first"):
        service.set_policy(
            store.engine, OPERATOR, RetentionPolicySpec(scope_kind="group", scope_id="group:nobody", keep_days=1)
        )
    with pytest.raises(CaseNotFound):
        service.add_search(store.engine, OPERATOR, "no-such-case", SavedSearchSpec(name="ok", query="wine"))

    assert CaseStore(store.engine).searches(case.id) == []
    assert CaseStore(store.engine).get_case(case.id) == case
    assert RetentionStore(store.engine).policies() == []
    assert _actions(store) == before
