"""Issue 15 item 4: tamper evidence for every column a decision reads (SQLite and PostgreSQL).

A direct UPDATE of any column of ``archive_events`` or ``audit_log``, of a legal hold, a
retention policy or a case makes ``archivist verify`` exit non-zero naming the row and the
column; retention refuses to dispose of anything while what it decides on disagrees with the
chains; rows written before chain version 2 (migration 0006) keep verifying and are covered
by their chained payloads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, insert, select, text, update
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from archive.app_schema import audit_log
from archive.audit import entries, record, verify_audit
from archive.hashchain import GENESIS, content_hash, link_hash
from archive.membership_check import verify_memberships
from archive.principals import Principal
from archive.record import archived_events, verify_archive
from archive.schema import archive_dispositions, archive_events, archive_memberships
from archivist.cli import app
from archivist.migrate import MIGRATIONS
from archivist.settings import get_settings
from cases.ledger import verify_ledger
from cases.model import CaseSpec, HoldScope, HoldSpec, NoteSpec, RetentionPolicySpec
from cases.retention import RetentionFailed, RetentionRefused, run_retention
from cases.schema import case_ledger, case_notes, cases, legal_holds, retention_policies
from cases.store import CaseStore, RetentionStore
from ingest.db import create_db_engine
from ingest.events import event_to_json
from tests.cases.helpers import NOW, OPERATOR, at, event, post
from tests.services import fresh_postgres_database

runner = CliRunner()
HELD_ROOM = "room:legal"
SHORT_ROOM = "room:ephemeral"
ALICE = Principal("t1", "alice", "legal")


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The database ``archivist`` commands use: the embedded default, or PostgreSQL."""
    if request.param == "postgres":
        store = request.getfixturevalue("postgres_store")
        monkeypatch.setenv("ARCHIVIST_DATABASE_URL", store.engine.url.render_as_string(hide_password=False))
        get_settings.cache_clear()
        yield store.engine
        return
    from archivist import wiring

    built = wiring.staging_store(get_settings()).engine
    yield built
    built.dispose()


def verify() -> Any:
    return runner.invoke(app, ["verify"])


def broken(result: Any, *named: str) -> None:
    assert result.exit_code == 1, result.output
    for name in named:
        assert name in result.output, (name, result.output)


EVENTS = [post("user:bob", HELD_ROOM, at(100, minute), f"message {minute}") for minute in range(5)]
TARGET = str(EVENTS[2].event_id)

CHANGES: dict[str, Any] = {
    "room_id": SHORT_ROOM,
    "occurred_at": NOW - timedelta(days=3000),
    "actor_id": "user:mallory",
    "event_type": "edit",
    "event_id": "00000000-0000-4000-8000-000000000000",
    "archived_at": NOW - timedelta(days=3000),
}


@pytest.mark.parametrize("column", sorted(CHANGES))
def test_changing_any_column_of_an_archived_event_fails_verify_naming_row_and_column(
    engine: Engine, column: str
) -> None:
    ArchiveAdapter(engine).write(EVENTS)
    assert verify().exit_code == 0
    with engine.begin() as connection:
        seq = connection.execute(select(archive_events.c.seq).where(archive_events.c.event_id == TARGET)).scalar_one()
        connection.execute(
            update(archive_events).where(archive_events.c.event_id == TARGET).values({column: CHANGES[column]})
        )
    result = verify()
    broken(result, f"archive chain BROKEN at row {seq}", f"its {column} column")
    report = verify_archive(engine)
    assert report.first_bad is not None
    assert report.first_bad.position == seq
    assert report.checked == 2


def test_lowering_a_rows_chain_version_does_not_escape_the_record_check(engine: Engine) -> None:
    ArchiveAdapter(engine).write(EVENTS)
    with engine.begin() as connection:
        connection.execute(
            update(archive_events)
            .where(archive_events.c.event_id == TARGET)
            .values(chain_version=1, archived_at=NOW - timedelta(days=1))
        )
    broken(verify(), "archive chain BROKEN", "chain_version")


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor", "mallory (t9)"),
        ("role", "admin"),
        ("action", "view"),
        ("occurred_at", NOW),
        ("entry_id", "00000000-0000-4000-8000-000000000001"),
    ],
)
def test_changing_any_column_of_an_audit_entry_fails_verify(engine: Engine, column: str, value: Any) -> None:
    for n in range(4):
        record(engine, ALICE, "search", {"query": f"q{n}"})
    with engine.begin() as connection:
        seq = connection.execute(select(func.max(audit_log.c.seq))).scalar_one() - 1
        connection.execute(update(audit_log).where(audit_log.c.seq == seq).values({column: value}))
    broken(verify(), f"audit log chain BROKEN at row {seq}", f"its {column} column")
    assert not verify_audit(engine).ok


def _case_with_hold(engine: Engine) -> tuple[str, str]:
    store = CaseStore(engine)
    case = store.create_case(CaseSpec(name="ACME v. Us"), "legal")
    hold = store.place_hold(case.id, HoldSpec(reason="litigation", scope=HoldScope(rooms=(HELD_ROOM,))), "legal")
    return case.id, hold.id


TAMPERING: dict[str, tuple[str, str]] = {
    "release a hold": (
        "UPDATE legal_holds SET released_at = :now, released_by = 'mallory', release_reason = 'x'",
        "release_reason, released_at, released_by columns",
    ),
    "narrow a hold": ("UPDATE legal_holds SET scope = :scope", "scope column"),
    "delete a hold": ("DELETE FROM legal_holds", "it was deleted"),
    "shorten a policy": ("UPDATE retention_policies SET keep_days = 1", "keep_days column"),
    "add a policy": (
        "INSERT INTO retention_policies (id, scope_kind, scope_id, keep_days, created_by, created_at, updated_by, "
        "updated_at) VALUES ('p2', 'room', 'room:x', 1, 'm', :now, 'm', :now)",
        "inserted behind the store's back",
    ),
    "rename a case": ("UPDATE cases SET name = 'nothing to see'", "name column"),
    "close a case": ("UPDATE cases SET closed_at = :now", "closed_at column"),
    "move a case's time zone": ("UPDATE cases SET time_zone = 'Asia/Tokyo'", "time_zone column"),
    "edit a note": ("UPDATE case_notes SET text = 'rewritten'", "text column"),
    "edit a run": ("UPDATE retention_runs SET counts = :scope", "counts column"),
}


@pytest.mark.parametrize("tampering", sorted(TAMPERING))
def test_holds_policies_cases_notes_and_runs_changed_behind_the_stores_back_fail_verify(
    engine: Engine, tampering: str
) -> None:
    case_id, _hold_id = _case_with_hold(engine)
    CaseStore(engine).add_note(case_id, NoteSpec(text="called counsel"), "legal")
    RetentionStore(engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=365), "ops")
    run_retention(engine, OPERATOR, now=NOW)
    assert verify().exit_code == 0
    statement, named = TAMPERING[tampering]
    with engine.begin() as connection:
        connection.execute(text(statement), {"now": NOW, "scope": json.dumps({"rooms": ["room:none"]})})
    broken(verify(), "case ledger chain BROKEN", named)
    assert not verify_ledger(engine).ok


def test_an_edited_ledger_record_fails_verify(engine: Engine) -> None:
    _case_with_hold(engine)
    with engine.begin() as connection:
        first = connection.execute(select(func.min(case_ledger.c.seq))).scalar_one()
        connection.execute(update(case_ledger).where(case_ledger.c.seq == first).values(document='{"table":"cases"}'))
    broken(verify(), "case ledger chain BROKEN", "the case ledger does not hold")


def _demonstrated_attack(engine: Engine) -> str:
    """The attack of the issue: an event under a legal hold is moved to a room kept for one day
    and its hold is released, both by UPDATE."""
    old = post("user:bob", HELD_ROOM, at(100), "the evidence")
    ArchiveAdapter(engine).write([old])
    _case, hold_id = _case_with_hold(engine)
    retention = RetentionStore(engine)
    retention.create_policy(RetentionPolicySpec(scope_kind="room", scope_id=SHORT_ROOM, keep_days=1), "ops")
    with engine.begin() as connection:
        connection.execute(
            update(archive_events).where(archive_events.c.event_id == str(old.event_id)).values(room_id=SHORT_ROOM)
        )
        connection.execute(
            update(legal_holds)
            .where(legal_holds.c.id == hold_id)
            .values(released_at=datetime.now(UTC), released_by="mallory", release_reason="routine")
        )
    return str(old.event_id)


def _nothing_disposed(engine: Engine, event_id: str) -> None:
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(archive_dispositions)).scalar_one() == 0
        payload = connection.execute(
            select(archive_events.c.payload).where(archive_events.c.event_id == event_id)
        ).scalar_one()
    assert json.loads(payload)["message"]["text"] == "the evidence"


def test_the_demonstrated_attack_disposes_of_nothing_and_verify_fails(engine: Engine) -> None:
    event_id = _demonstrated_attack(engine)

    result = runner.invoke(app, ["retention", "run"])

    assert result.exit_code == 1, result.output
    assert "refused" in result.output
    assert "nothing was disposed" in result.output
    _nothing_disposed(engine, event_id)
    broken(verify(), "archive chain BROKEN", "its room_id column", "case ledger chain BROKEN", "released_at")
    refusals = [entry for entry in entries(engine) if entry["action"] == "retention_refused"]
    assert len(refusals) == 1
    assert "room_id" in refusals[0]["details"]["reason"] or "released_at" in refusals[0]["details"]["reason"]


def test_a_dry_run_refuses_too_and_writes_nothing(engine: Engine) -> None:
    _demonstrated_attack(engine)
    audited = len(entries(engine))
    with pytest.raises(RetentionRefused, match="nothing was disposed"):
        run_retention(engine, OPERATOR, dry_run=True)
    assert len(entries(engine)) == audited


def test_a_row_changed_after_the_runs_verification_is_refused_at_disposal(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second line: each chunk checks the rows it disposes of in its own transaction."""
    old = post("user:bob", HELD_ROOM, at(100), "the evidence")
    ArchiveAdapter(engine).write([old])
    RetentionStore(engine).create_policy(
        RetentionPolicySpec(scope_kind="room", scope_id=SHORT_ROOM, keep_days=1), "ops"
    )
    with engine.begin() as connection:
        connection.execute(
            update(archive_events).where(archive_events.c.event_id == str(old.event_id)).values(room_id=SHORT_ROOM)
        )
    real = verify_archive(engine)
    assert not real.ok
    for check in ("verify_archive", "verify_memberships"):  # as if the column changed just after them
        monkeypatch.setattr(f"cases.retention.{check}", lambda _engine: type(real)(1))

    with pytest.raises(RetentionFailed, match=f"event {old.event_id}: its room_id column"):
        run_retention(engine, OPERATOR, now=NOW)

    _nothing_disposed(engine, str(old.event_id))


def test_an_untampered_run_still_disposes_and_verifies(engine: Engine) -> None:
    old = post("user:bob", SHORT_ROOM, at(100), "routine chatter")
    ArchiveAdapter(engine).write([old, *EVENTS])
    _case_with_hold(engine)
    RetentionStore(engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=1), "ops")

    report = run_retention(engine, OPERATOR, now=NOW)

    assert (report.disposed, report.held) == (1, len(EVENTS))
    result = verify()
    assert result.exit_code == 0, result.output
    assert "case ledger chain intact" in result.output


def _custodian_history(engine: Engine) -> str:
    """Bob speaks in a room while custodian Alice is in it; a custodian hold covers it."""
    said = post("user:bob", HELD_ROOM, at(100, 20), "said while alice was there")
    ArchiveAdapter(engine).write(
        [
            event("join", "user:alice", HELD_ROOM, at(100, 10)),
            said,
            event("leave", "user:alice", HELD_ROOM, at(100, 40)),
        ]
    )
    store = CaseStore(engine)
    case = store.create_case(CaseSpec(name="matter"), "legal")
    store.place_hold(case.id, HoldSpec(reason="custodian", scope=HoldScope(custodians=("user:alice",))), "legal")
    RetentionStore(engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=30), "ops")
    return str(said.event_id)


@pytest.mark.parametrize(
    "tampering",
    [
        delete(archive_memberships).where(archive_memberships.c.actor_id == "user:alice"),
        update(archive_memberships).values(left_at=at(100, 15)),
        update(archive_memberships).values(room_id="room:elsewhere"),
        update(archive_memberships).values(actor_name="Someone Else"),
    ],
    ids=["delete", "shorten", "move", "rename"],
)
def test_a_custodians_membership_interval_changed_by_hand_stops_retention_and_fails_verify(
    engine: Engine, tampering: Any
) -> None:
    said = _custodian_history(engine)
    assert run_retention(engine, OPERATOR, now=NOW, dry_run=True).held == 3
    with engine.begin() as connection:
        connection.execute(tampering)

    with pytest.raises(RetentionRefused, match="membership table does not hold"):
        run_retention(engine, OPERATOR, now=NOW)

    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(archive_dispositions)).scalar_one() == 0
    assert said in {str(e.event_id) for e in archived_events(engine)}
    broken(verify(), "membership intervals BROKEN", "user:alice in room:")


def test_a_custodian_hold_run_with_untouched_intervals_disposes_and_verifies(engine: Engine) -> None:
    _custodian_history(engine)
    ArchiveAdapter(engine).write([post("user:bob", HELD_ROOM, at(100, 50), "after alice left")])
    report = run_retention(engine, OPERATOR, now=NOW)
    assert (report.disposed, report.held) == (1, 3)
    result = verify()
    assert result.exit_code == 0, result.output
    assert "membership intervals intact" in result.output


ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-23, minutes=-59))])
IDS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    when=st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=ZONES),
    room=IDS,
    actor=IDS,
    kind=st.sampled_from(["post", "join", "leave"]),
)
@example(when=datetime(1, 1, 1, tzinfo=UTC), room="r", actor="a", kind="post")
@example(when=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), room="r", actor="a", kind="join")
def test_untampered_events_of_any_time_zone_room_and_actor_verify(
    engine: Engine, when: datetime, room: str, actor: str, kind: str
) -> None:
    extra: dict[str, Any] = {"message": {"id": f"m{when.timestamp()}", "text": "x"}} if kind == "post" else {}
    ArchiveAdapter(engine).write([event(kind, actor, room, when, **extra)])
    report = verify_archive(engine)
    assert report.ok, report.problem
    intervals = verify_memberships(engine)
    assert intervals.ok, (intervals.first_bad, intervals.problem)


# --- rows written before chain version 2 ---------------------------------------------------------


def _alembic(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _old_rows(engine: Engine) -> None:
    """What the version before 0006 wrote: links over the payload hash and document hash alone,
    and a case with a hold and a policy."""
    archived_at = NOW - timedelta(days=50)
    previous = GENESIS
    rows = []
    for old in EVENTS:
        payload = event_to_json(old)
        digest = content_hash(payload)
        chained = link_hash(previous, digest)
        rows.append(
            {
                "event_id": str(old.event_id),
                "event_type": old.type,
                "occurred_at": old.occurred_at,
                "room_id": old.room.id,
                "actor_id": old.actor.id,
                "payload": payload,
                "payload_hash": digest,
                "prev_hash": previous,
                "chain_hash": chained,
                "archived_at": archived_at,
            }
        )
        previous = chained
    document = json.dumps({"entry_id": "e1", "occurred_at": NOW.isoformat(), "actor": "a", "role": "legal"})
    document = json.dumps({**json.loads(document), "action": "search", "details": {}}, sort_keys=True)
    audit_hash = content_hash(document)
    with engine.begin() as connection:
        # Only the columns 0005 made are named, so the statements fit the old schema.
        connection.execute(insert(archive_events), rows)
        connection.execute(
            insert(audit_log).values(
                entry_id="e1",
                occurred_at=NOW,
                actor="a",
                role="legal",
                action="search",
                document=document,
                content_hash=audit_hash,
                prev_hash=GENESIS,
                chain_hash=link_hash(GENESIS, audit_hash),
            )
        )
        connection.execute(
            insert(cases).values(
                id="c1",
                name="old matter",
                description="",
                custodians=[],
                rooms=[],
                created_by="legal",
                created_at=NOW - timedelta(days=60),
            )
        )
        connection.execute(
            insert(legal_holds).values(
                id="h1",
                case_id="c1",
                scope={"rooms": [HELD_ROOM], "custodians": []},
                reason="old",
                placed_by="legal",
                placed_at=NOW - timedelta(days=60),
            )
        )
        connection.execute(
            insert(retention_policies).values(
                id="p1",
                scope_kind="default",
                scope_id="",
                keep_days=3650,
                created_by="ops",
                created_at=NOW,
                updated_by="ops",
                updated_at=NOW,
            )
        )
        connection.execute(
            insert(case_notes).values(case_id="c1", id="n1", text="old note", author="legal", created_at=NOW)
        )


@pytest.fixture(params=["sqlite", "postgres"])
def migrated(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[Engine]:
    """A database with rows written before 0006, upgraded to the newest schema."""
    if request.param == "postgres":
        with fresh_postgres_database() as url:
            engine = create_db_engine(url)
            monkeypatch.setenv("ARCHIVIST_DATABASE_URL", url)
            get_settings.cache_clear()
            yield _upgraded(engine)
            engine.dispose()
        return
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    engine = create_db_engine(url)
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", url)
    get_settings.cache_clear()
    yield _upgraded(engine)
    engine.dispose()


def _upgraded(engine: Engine) -> Engine:
    _alembic(engine, "0005")
    _old_rows(engine)
    _alembic(engine, "head")
    return engine


def test_rows_written_before_version_2_keep_verifying_and_new_rows_continue_the_chain(migrated: Engine) -> None:
    assert verify_archive(migrated).checked == len(EVENTS)
    with migrated.connect() as connection:  # derived under other rules (here: never): rebuilt from the chain
        intervals = connection.execute(select(archive_memberships.c.actor_id, archive_memberships.c.actor_name)).all()
    assert [tuple(row) for row in intervals] == [("user:bob", "Bob")]
    ArchiveAdapter(migrated).write([post("user:carol", HELD_ROOM, at(1), "after the upgrade")])
    record(migrated, ALICE, "search", {"query": "after"})
    CaseStore(migrated).release_hold("c1", "h1", "settled", "legal")
    result = verify()
    assert result.exit_code == 0, result.output
    with migrated.connect() as connection:
        versions = connection.execute(select(archive_events.c.chain_version).order_by(archive_events.c.seq)).scalars()
        assert list(versions) == [1] * len(EVENTS) + [2]


@pytest.mark.parametrize("column", ["room_id", "occurred_at", "actor_id", "event_type", "event_id"])
def test_the_columns_of_rows_written_before_version_2_are_checked_against_their_payload(
    migrated: Engine, column: str
) -> None:
    with migrated.begin() as connection:
        connection.execute(
            update(archive_events).where(archive_events.c.event_id == TARGET).values({column: CHANGES[column]})
        )
    broken(verify(), "archive chain BROKEN at row 3", f"its {column} column")


@pytest.mark.parametrize("column", ["actor", "role", "action"])
def test_the_columns_of_audit_entries_written_before_version_2_are_checked_against_their_document(
    migrated: Engine, column: str
) -> None:
    with migrated.begin() as connection:
        connection.execute(update(audit_log).values({column: "forged"}))
    broken(verify(), "audit log chain BROKEN", f"its {column} column")


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE legal_holds SET released_at = :now, released_by = 'm', release_reason = 'm'", "released_at"),
        ("UPDATE retention_policies SET keep_days = 1", "keep_days"),
        ("UPDATE cases SET name = 'x'", "name column"),
        ("DELETE FROM case_notes", "it was deleted"),
    ],
)
def test_cases_holds_and_policies_there_before_the_ledger_are_recorded_by_the_migration(
    migrated: Engine, statement: str, named: str
) -> None:
    assert verify().exit_code == 0
    with migrated.begin() as connection:
        connection.execute(text(statement), {"now": NOW})
    broken(verify(), "case ledger chain BROKEN", named)
