"""Scope: people, groups (through subgroups), rooms, directions (im, internal, external by the
room's members on the message's day) and effective dates."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from adapters.archive import ArchiveAdapter
from ingest.events import parse_event
from ingest.staging import StagingStore
from policies.model import Group, User
from policies.store import PolicyStore
from supervision.model import PolicySpec, Scope
from supervision.scope import (
    CompiledScope,
    Participants,
    ScopedMessage,
    directory_snapshot,
    in_scope,
    needs_directory,
)

DAY = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def spec(**scope: object) -> PolicySpec:
    return PolicySpec(name="p", scope=Scope.model_validate(scope))


def message(sender: str = "user:ann", room: str = "room:desk", kind: str = "room", **extra: object) -> ScopedMessage:
    return ScopedMessage(room_id=room, room_kind=kind, sender=sender, sent_at=extra.pop("at", DAY), **extra)  # type: ignore[arg-type]


def join(room: str, actor: str, at: datetime, kind: str = "room") -> dict[str, object]:
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "type": "join",
        "occurred_at": at.isoformat(),
        "room": {"id": room, "kind": kind},
        "actor": {"id": actor},
    }


def leave(room: str, actor: str, at: datetime) -> dict[str, object]:
    return join(room, actor, at) | {"type": "leave"}


def setup_directory(store: StagingStore) -> None:
    policies = PolicyStore(store.engine)
    for user in ("user:ann", "user:bob", "user:cat"):
        policies.put_user(User(id=user))
    policies.put_user(User(id="user:ext", external=True))
    policies.put_group(Group(id="traders-fx", name="FX", members=("user:bob",)))
    policies.put_group(Group(id="traders", name="Traders", members=("user:ann",), subgroups=("traders-fx",)))


def test_people_groups_with_subgroups_and_rooms(sqlite_store: StagingStore) -> None:
    setup_directory(sqlite_store)
    with sqlite_store.engine.connect() as connection:
        directory = directory_snapshot(connection)
    traders = CompiledScope.of(spec(groups=["traders"]), directory)
    never = Participants({}, directory.is_external).directions
    assert in_scope(traders, message("user:ann"), never)
    assert in_scope(traders, message("user:bob"), never)  # through the subgroup
    assert not in_scope(traders, message("user:cat"), never)
    people = CompiledScope.of(spec(people=["user:cat"], rooms=["room:ops"]), directory)
    assert in_scope(people, message("user:cat"), never)
    assert in_scope(people, message("user:ann", room="room:ops"), never)
    assert not in_scope(people, message("user:ann"), never)
    everybody = CompiledScope.of(spec(), directory)
    assert in_scope(everybody, message("user:zed"), never)
    assert needs_directory([spec(groups=["traders"])])
    assert not needs_directory([spec(people=["user:cat"])])


def test_directions_from_the_rooms_members_on_the_day(sqlite_store: StagingStore) -> None:
    setup_directory(sqlite_store)
    engine = sqlite_store.engine
    events = [
        join("room:mixed", "user:ann", DAY - timedelta(days=3)),
        join("room:mixed", "user:ext", DAY - timedelta(hours=2)),
        join("room:inside", "user:ann", DAY - timedelta(days=3)),
        join("room:gone", "user:ext", DAY - timedelta(days=5)),
        leave("room:gone", "user:ext", DAY - timedelta(days=4)),
        join("room:later", "user:ext", DAY + timedelta(hours=1)),
    ]
    assert ArchiveAdapter(engine).write([parse_event(e) for e in events]) == [None] * len(events)
    with engine.connect() as connection:
        directory = directory_snapshot(connection)
    batch = [
        message(room="room:mixed"),
        message(room="room:inside"),
        message(room="room:gone"),
        message(room="im:ann:bob", kind="im"),
        message(room="im:ann:x", kind="im", recipients=("user:ext",)),
        message(room="room:inside", sender_internal=False),
        message(room="room:later"),
        message(room="room:later", at=DAY + timedelta(hours=2)),
    ]
    with engine.connect() as connection:
        participants = Participants.for_messages(connection, batch, directory.is_external)
    found = [participants.directions(m) for m in batch]
    assert found == [
        {"external"},
        {"internal"},
        {"internal"},  # the outsider left days before
        {"internal", "im"},
        {"external", "im"},
        {"external"},  # the event itself says its sender is outside the firm
        {"internal"},  # the outsider joins an hour after it
        {"external"},
    ]
    external = CompiledScope.of(spec(directions=["external"]), directory)
    internal = CompiledScope.of(spec(directions=["internal"]), directory)
    ims = CompiledScope.of(spec(directions=["im"]), directory)
    assert [in_scope(external, m, participants.directions) for m in batch] == [
        True,
        False,
        False,
        False,
        True,
        True,
        False,
        True,
    ]
    assert [in_scope(internal, m, participants.directions) for m in batch] == [
        False,
        True,
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    assert [in_scope(ims, m, participants.directions) for m in batch] == [
        False,
        False,
        False,
        True,
        True,
        False,
        False,
        False,
    ]


def test_effective_dates_against_the_messages_time() -> None:
    dated = CompiledScope.of(PolicySpec(name="p", effective_from=DAY, effective_until=DAY + timedelta(days=1)), None)
    never = Participants({}, lambda _actor: False).directions
    assert not in_scope(dated, message(at=DAY - timedelta(seconds=1)), never)
    assert in_scope(dated, message(at=DAY), never)
    assert not in_scope(dated, message(at=DAY + timedelta(days=1)), never)
