from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, update
from typer.testing import CliRunner

from archive.app_schema import api_tokens, audit_log
from archive.audit import AuditEntry, ChainStatus, entries, new_entry, record, record_entries, verify_audit
from archive.principals import Principal, authenticate, create_token
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.group_commit import GroupCommit
from ingest.staging import StagingStore

OFFICER = Principal("abc123", "Dana (compliance)", "compliance_officer")


def test_a_token_authenticates_as_its_role_and_is_stored_hashed(store: StagingStore) -> None:
    token = create_token(store.engine, "legal", "Lee from legal")
    principal = authenticate(store.engine, token)
    assert principal is not None
    assert (principal.role, principal.label) == ("legal", "Lee from legal")
    with store.engine.connect() as connection:
        stored = connection.execute(api_tokens.select()).one()
    assert token.split("_", 2)[2] not in (stored.secret_hash, stored.token_id, stored.label)


@pytest.mark.parametrize("presented", ["", "nonsense", "arch__x", "arch_abc_", "bearer xyz"])
def test_malformed_tokens_are_refused(store: StagingStore, presented: str) -> None:
    assert authenticate(store.engine, presented) is None


def test_a_wrong_secret_or_a_revoked_token_is_refused(store: StagingStore) -> None:
    token = create_token(store.engine, "auditor", "Ann")
    assert authenticate(store.engine, token[:-2] + "xx") is None
    with store.engine.begin() as connection:
        connection.execute(update(api_tokens).values(revoked_at=func.current_timestamp()))
    assert authenticate(store.engine, token) is None


def test_unknown_roles_are_refused(store: StagingStore) -> None:
    with pytest.raises(ValueError, match="unknown role 'boss'"):
        create_token(store.engine, "boss", "x")


def test_audit_entries_chain_and_read_back_newest_first(store: StagingStore) -> None:
    for hits in range(5):
        record(store.engine, OFFICER, "search", {"query": "wine NEAR/5 windows", "hits": hits})
    listed = entries(store.engine, limit=3)
    assert [e["details"]["hits"] for e in listed] == [4, 3, 2]
    assert listed[0]["actor"] == "Dana (compliance) (abc123)"
    assert entries(store.engine, before=listed[-1]["seq"])[0]["details"]["hits"] == 1
    report = verify_audit(store.engine)
    assert (report.ok, report.checked) == (True, 5)


def test_verify_catches_an_edited_audit_entry(store: StagingStore) -> None:
    for hits in range(4):
        record(store.engine, OFFICER, "search", {"query": "q", "hits": hits})
    with store.engine.begin() as connection:
        connection.execute(
            update(audit_log)
            .where(audit_log.c.seq == 3)
            .values(document=func.replace(audit_log.c.document, '"hits": 2', '"hits": 0'))
        )
    report = verify_audit(store.engine)
    assert report.first_bad is not None
    assert report.first_bad.position == 3


def test_token_create_prints_a_working_token_and_rejects_bad_roles() -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["token", "create", "--role", "auditor", "--label", "Ann"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    principal = authenticate(wiring.staging_store(get_settings()).engine, token)
    assert principal is not None
    assert principal.role == "auditor"
    refused = runner.invoke(app, ["token", "create", "--role", "boss"])
    assert refused.exit_code == 2
    assert "unknown role" in refused.output


def test_tokens_are_listed_and_revoked_from_the_command_line_and_both_are_audited() -> None:
    runner = CliRunner()
    token = runner.invoke(app, ["token", "create", "--role", "legal", "--label", "Bea"]).stdout.strip()
    token_id = token.split("_")[1]
    listed = json.loads(runner.invoke(app, ["token", "list", "--json"]).stdout)
    assert [(t["token_id"], t["role"], t["label"], t["revoked_at"]) for t in listed] == [
        (token_id, "legal", "Bea", None)
    ]
    assert token not in runner.invoke(app, ["token", "list"]).stdout
    revoked = runner.invoke(app, ["token", "revoke", token_id])
    assert revoked.exit_code == 0, revoked.output
    engine = wiring.staging_store(get_settings()).engine
    assert authenticate(engine, token) is None
    unknown = runner.invoke(app, ["token", "revoke", "nosuchtoken"])
    assert unknown.exit_code == 1
    assert "no token" in unknown.output
    actions = [(e["action"], e["details"]["token_id"]) for e in entries(engine)]
    assert actions == [("token_revoke", token_id), ("token_create", token_id)]
    assert verify_audit(engine).ok


def test_the_api_walks_the_audit_chain_at_most_once_per_period(store: StagingStore) -> None:
    for hits in range(3):
        record(store.engine, OFFICER, "search", {"query": "q", "hits": hits})
    cached, fresh = ChainStatus(max_age=3600), ChainStatus(max_age=0)
    assert cached.current(store.engine)[0].ok
    assert fresh.current(store.engine)[0].ok
    with store.engine.begin() as connection:
        connection.execute(
            update(audit_log).where(audit_log.c.seq == 2).values(document=func.replace(audit_log.c.document, "q", "Q"))
        )
    report, verified_at = cached.current(store.engine)
    assert report.ok, "within its period the last walk stands"
    assert verified_at <= datetime.now(UTC)
    broken, _ = fresh.current(store.engine)
    assert broken.first_bad is not None
    assert broken.first_bad.position == 2


def test_entries_of_concurrent_callers_share_commits_and_still_chain(store: StagingStore) -> None:
    commits: list[int] = []

    def write(batch: list[AuditEntry]) -> None:
        commits.append(len(batch))
        record_entries(store.engine, batch)

    grouped: GroupCommit[AuditEntry] = GroupCommit(write, name="test-audit")
    record(store.engine, OFFICER, "search", {"hits": -1})
    futures = [grouped.enqueue([new_entry(OFFICER, "policy_check", {"n": n})]) for n in range(200)]
    for future in futures:
        future.result(timeout=30)
    assert sum(commits) == 200
    assert len(commits) < 200, "entries that queued up while a commit ran went in together"
    assert [e["details"]["n"] for e in reversed(entries(store.engine, limit=200))] == list(range(200))
    report = verify_audit(store.engine)
    assert (report.ok, report.checked) == (True, 201)


def test_a_failed_grouped_write_fails_every_waiting_caller() -> None:
    def refuse(batch: list[int]) -> None:
        raise RuntimeError("database is down")

    grouped: GroupCommit[int] = GroupCommit(refuse, name="test-refuse")
    futures = [grouped.enqueue([n]) for n in range(3)]
    for future in futures:
        with pytest.raises(RuntimeError, match="database is down"):
            future.result(timeout=10)
