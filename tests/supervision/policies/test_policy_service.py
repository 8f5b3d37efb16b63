"""The policy service: every change a new version in one transaction with its audit entry
(the first version whole, later ones as what changed), a stale edit refused and nothing
stored or audited then; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from archive.app_schema import audit_log
from archive.audit import verify_audit
from archive.principals import Principal
from ingest.staging import StagingStore
from supervision import policy_service
from supervision.model import LexiconTerm, PolicySpec, Scope
from supervision.policy_service import PolicyRefused, spec_changes
from supervision.policy_store import PolicyConflict, PolicyNotFound, policy_versions
from supervision.schema import supervision_policy_versions

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
OFFICER = Principal(token_id="t-officer", label="Olga", role="compliance_officer")
ADMIN = Principal(token_id="t-admin", label="Ada", role="admin")


def _spec(name: str = "Guarantees", **changes: object) -> PolicySpec:
    values: dict[str, object] = {
        "name": name,
        "lexicon": (
            LexiconTerm(id="g1", expression="guarantee*"),
            LexiconTerm(id="g2", expression='"no risk"', language="en"),
        ),
        "reviewers": ("Sam Supervisor",),
        **changes,
    }
    return PolicySpec.model_validate(values)


def _entries(store: StagingStore) -> list[dict[str, object]]:
    with store.engine.connect() as connection:
        documents = connection.execute(select(audit_log.c.document).order_by(audit_log.c.seq)).scalars().all()
    return [json.loads(document) for document in documents]


def test_create_and_change_keep_every_version_with_who_when_and_why(store: StagingStore) -> None:
    made = policy_service.create(store.engine, OFFICER, _spec(), "  first draft ", now=NOW)
    later = NOW + timedelta(hours=2)
    wider = _spec(
        scope=Scope(groups=("traders",)),
        lexicon=(
            LexiconTerm(id="g1", expression="guarantee* OR promise*"),
            LexiconTerm(id="g3", kind="regex", expression=r"\b100 ?% (safe|sure)\b"),
        ),
        sampling_percent=2.5,
    )
    changed = policy_service.change(store.engine, ADMIN, made.id, wider, 1, "wider scope", now=later)
    assert (made.version, changed.version) == (1, 2)
    with store.engine.connect() as connection:
        versions = policy_versions(connection, made.id)
    assert [(v.version, v.changed_by, v.changed_at, v.comment, v.spec) for v in versions] == [
        (1, "Olga (t-officer)", NOW, "first draft", _spec()),
        (2, "Ada (t-admin)", later, "wider scope", wider),
    ]

    create_entry, update_entry = _entries(store)
    assert (create_entry["action"], create_entry["actor"], create_entry["role"]) == (
        "supervision_policy_create",
        "Olga (t-officer)",
        "compliance_officer",
    )
    assert create_entry["details"] == {
        "policy_id": made.id,
        "version": 1,
        "comment": "first draft",
        "spec": _spec().model_dump(mode="json"),
    }
    assert update_entry["action"] == "supervision_policy_update"
    assert update_entry["actor"] == "Ada (t-admin)"
    details = update_entry["details"]
    assert isinstance(details, dict)
    assert (details["policy_id"], details["version"], details["previous_version"]) == (made.id, 2, 1)
    assert details["changes"] == spec_changes(_spec(), wider)
    assert set(details["changes"]) == {"scope", "sampling_percent", "lexicon"}
    assert verify_audit(store.engine).ok


def test_the_changes_name_each_field_and_each_term_added_removed_or_changed() -> None:
    before = _spec()
    after = _spec(
        "Guarantees and promises",
        lexicon=(
            LexiconTerm(id="g2", expression='"no risk"', language="en"),
            LexiconTerm(id="g1", expression="guarantee* OR promise*"),
            LexiconTerm(id="g4", expression="sure thing"),
        ),
        sla_hours=24,
    )
    changes = spec_changes(before, after)
    assert changes["name"] == {"before": "Guarantees", "after": "Guarantees and promises"}
    assert changes["sla_hours"] == {"before": 72, "after": 24}
    assert changes["lexicon"] == {
        "added": [{"id": "g4", "kind": "query", "expression": "sure thing", "label": None, "language": None}],
        "removed": [],
        "changed": [
            {
                "id": "g1",
                "before": {"id": "g1", "kind": "query", "expression": "guarantee*", "label": None, "language": None},
                "after": {
                    "id": "g1",
                    "kind": "query",
                    "expression": "guarantee* OR promise*",
                    "label": None,
                    "language": None,
                },
            }
        ],
        "reordered": False,
    }
    assert spec_changes(before, before) == {}
    swapped = _spec(lexicon=tuple(reversed(before.lexicon)))
    assert spec_changes(before, swapped) == {"lexicon": {"added": [], "removed": [], "changed": [], "reordered": True}}


def _counts(store: StagingStore) -> tuple[int, int]:
    with store.engine.connect() as connection:
        versions = connection.execute(select(func.count()).select_from(supervision_policy_versions)).scalar_one()
        entries = connection.execute(select(func.count()).select_from(audit_log)).scalar_one()
    return int(versions), int(entries)


def test_a_stale_edit_a_taken_name_or_an_unknown_policy_stores_and_audits_nothing(store: StagingStore) -> None:
    made = policy_service.create(store.engine, OFFICER, _spec(), now=NOW)
    policy_service.create(store.engine, OFFICER, _spec("Gifts"), now=NOW)
    policy_service.change(store.engine, OFFICER, made.id, _spec(sla_hours=48), 1, now=NOW)
    counted = _counts(store)
    with pytest.raises(PolicyConflict, match="at version 2 now, not 1"):
        policy_service.change(store.engine, ADMIN, made.id, _spec(sla_hours=12), 1, now=NOW)
    with pytest.raises(PolicyConflict, match="named 'gifts' exists already"):
        policy_service.change(store.engine, ADMIN, made.id, _spec("gifts"), 2, now=NOW)
    with pytest.raises(PolicyConflict, match="exists already"):
        policy_service.create(store.engine, ADMIN, _spec("GIFTS"), now=NOW)
    with pytest.raises(PolicyNotFound):
        policy_service.change(store.engine, ADMIN, "no-such-policy", _spec(), 1, now=NOW)
    with pytest.raises(PolicyRefused, match="comment is 2001 characters"):
        policy_service.change(store.engine, ADMIN, made.id, _spec(), 2, "x" * 2001, now=NOW)
    assert _counts(store) == counted
    assert verify_audit(store.engine).ok


@pytest.mark.parametrize(
    ("lexicon", "exclusions", "field", "said"),
    [
        (
            (LexiconTerm(id="ok", expression="guarantee*"), LexiconTerm(id="bad", expression="(a OR")),
            (),
            "lexicon",
            "term 'bad': the query ends too early",
        ),
        ((LexiconTerm(id="back", kind="regex", expression=r"(a)\1"),), (), "lexicon", "term 'back': RE2 refuses"),
        ((LexiconTerm(id="look", kind="regex", expression=r"(?=x)y"),), (), "lexicon", "term 'look': RE2 refuses"),
        ((), ('"open',), "exclusions", "exclusion 1 ('\"open'): a quotation mark is not closed"),
    ],
)
def test_a_lexicon_that_would_not_run_is_refused_naming_the_term(
    store: StagingStore, lexicon: tuple[LexiconTerm, ...], exclusions: tuple[str, ...], field: str, said: str
) -> None:
    made = policy_service.create(store.engine, OFFICER, _spec(), now=NOW)
    counted = _counts(store)
    broken = _spec(lexicon=lexicon, exclusions=exclusions)
    with pytest.raises(PolicyRefused) as refused:
        policy_service.create(store.engine, OFFICER, _spec("Other", lexicon=lexicon, exclusions=exclusions), now=NOW)
    assert (refused.value.field, refused.value.message[: len(said)]) == (field, said)
    with pytest.raises(PolicyRefused, match=r"RE2|query|quotation"):
        policy_service.change(store.engine, OFFICER, made.id, broken, 1, now=NOW)
    assert _counts(store) == counted
