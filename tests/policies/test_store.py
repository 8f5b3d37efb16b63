"""The policy store against SQLite and PostgreSQL: directory, walls, disclaimers, revision."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from ingest.staging import StagingStore
from policies.model import (
    Directory,
    DisclaimerRule,
    DisclaimerSpec,
    Group,
    Segment,
    User,
    Wall,
    WallException,
    WallSpec,
)
from policies.schema import directory_group_members
from policies.store import ImportCounts, PolicyConflict, PolicyNotFound, PolicyStore


@pytest.fixture
def policies(store: StagingStore) -> PolicyStore:
    return PolicyStore(store.engine)


def user(n: str, **fields: object) -> User:
    return User.model_validate({"id": f"user:{n}", "name": n.title(), "email": f"{n}@example.com", **fields})


def group(n: str, members: tuple[str, ...] = (), subgroups: tuple[str, ...] = (), name: str | None = None) -> Group:
    return Group(
        id=f"group:{n}",
        name=name or n.title(),
        members=tuple(f"user:{m}" for m in members),
        subgroups=tuple(f"group:{s}" for s in subgroups),
    )


def wall_spec(a: str = "research", b: str = "banking", **fields: object) -> WallSpec:
    return WallSpec.model_validate(
        {
            "name": f"{a} / {b}",
            "side_a": [{"kind": "group", "id": f"group:{a}"}],
            "side_b": [{"kind": "group", "id": f"group:{b}"}],
            **fields,
        }
    )


def disclaimer_spec(text: str = "This chat is recorded.", **fields: object) -> DisclaimerSpec:
    return DisclaimerSpec.model_validate(
        {"name": "recorded", "trigger": "conversation_start", "texts": {"en": text}, **fields}
    )


# --- users ------------------------------------------------------------------------------------------


def test_put_user_returns_the_previous_version_and_get_reads_it_back(policies: PolicyStore) -> None:
    assert policies.get_user("user:alice") is None
    assert policies.put_user(user("alice")) is None
    assert policies.get_user("user:alice") == user("alice")
    changed = user("alice", external=True, email=None)
    assert policies.put_user(changed) == user("alice")
    assert policies.get_user("user:alice") == changed


def test_users_page_by_id(policies: PolicyStore) -> None:
    for n in ["dave", "alice", "carol", "bob", "erin"]:
        policies.put_user(user(n))
    first = policies.users(limit=2)
    assert [u.id for u in first] == ["user:alice", "user:bob"]
    second = policies.users(limit=2, after=first[-1].id)
    assert [u.id for u in second] == ["user:carol", "user:dave"]
    assert [u.id for u in policies.users(limit=2, after="user:dave")] == ["user:erin"]
    assert policies.users(after="user:erin") == []


def test_delete_user_removes_its_memberships(policies: PolicyStore) -> None:
    policies.put_user(user("alice"))
    policies.put_user(user("bob"))
    policies.put_group(group("research", members=("alice", "bob")))
    assert policies.delete_user("user:alice") == user("alice")
    assert policies.get_user("user:alice") is None
    assert policies.get_group("group:research") == group("research", members=("bob",))
    assert policies.delete_user("user:alice") is None


def test_members_may_be_put_in_groups_before_their_user_record(policies: PolicyStore) -> None:
    policies.put_group(group("research", members=("nobody-yet",)))
    assert policies.get_group("group:research") == group("research", members=("nobody-yet",))
    # Deleting the user that never had a record still removes the membership.
    assert policies.delete_user("user:nobody-yet") is None
    assert policies.get_group("group:research") == group("research")


# --- groups -----------------------------------------------------------------------------------------


def test_put_group_keeps_member_order_and_returns_the_previous_version(policies: PolicyStore) -> None:
    policies.put_group(group("quants"))
    first = group("research", members=("zed", "alice", "mike"), subgroups=("quants",))
    assert policies.put_group(first) is None
    assert policies.get_group("group:research") == first
    second = group("research", members=("mike",), name="Research desk")
    assert policies.put_group(second) == first
    assert policies.get_group("group:research") == second


def test_repeated_members_are_kept_once(policies: PolicyStore) -> None:
    policies.put_group(Group(id="group:g", name="G", members=("user:a", "user:b", "user:a")))
    assert policies.get_group("group:g") == Group(id="group:g", name="G", members=("user:a", "user:b"))


def test_groups_page_by_id(policies: PolicyStore) -> None:
    for n in ["c", "a", "b"]:
        policies.put_group(group(n, members=(n,)))
    assert policies.groups(limit=2) == [group("a", members=("a",)), group("b", members=("b",))]
    assert policies.groups(limit=2, after="group:b") == [group("c", members=("c",))]


def test_subgroup_cycles_are_refused_naming_the_cycle(policies: PolicyStore) -> None:
    policies.put_group(group("a"))
    policies.put_group(group("b", subgroups=("a",)))
    policies.put_group(group("c", subgroups=("b",)))
    before = policies.revision()
    with pytest.raises(PolicyConflict, match="group:a -> group:c -> group:b -> group:a"):
        policies.put_group(group("a", subgroups=("c",)))
    with pytest.raises(PolicyConflict, match="group:a -> group:b -> group:a"):
        policies.put_group(group("a", subgroups=("b",)))
    assert policies.get_group("group:a") == group("a")
    assert policies.revision() == before


def test_unknown_subgroups_are_refused(policies: PolicyStore) -> None:
    with pytest.raises(PolicyConflict, match="unknown subgroups group:ghost"):
        policies.put_group(group("a", subgroups=("ghost",)))
    assert policies.get_group("group:a") is None


def test_delete_group_refused_while_named_by_a_wall_a_disclaimer_or_a_parent(policies: PolicyStore) -> None:
    for n in ["research", "banking", "quants", "legal"]:
        policies.put_group(group(n))
    policies.put_group(group("research", subgroups=("quants",)))
    policies.create_wall(wall_spec(), "wall-1")
    policies.create_disclaimer(disclaimer_spec(trigger="group_membership", group_id="group:legal"), "disc-1")
    with pytest.raises(PolicyConflict, match=r"wall wall-1 \(research / banking\) names group:banking"):
        policies.delete_group("group:banking")
    with pytest.raises(PolicyConflict, match="disclaimer disc-1"):
        policies.delete_group("group:legal")
    with pytest.raises(PolicyConflict, match="group group:research has group:quants as a subgroup"):
        policies.delete_group("group:quants")
    policies.delete_wall("wall-1")
    assert policies.delete_group("group:banking") == group("banking")
    assert policies.get_group("group:banking") is None
    assert policies.delete_group("group:banking") is None


def test_delete_group_removes_its_memberships(policies: PolicyStore) -> None:
    policies.put_group(group("a", members=("x", "y")))
    policies.delete_group("group:a")
    with policies.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(directory_group_members)).scalar() == 0


# --- import -----------------------------------------------------------------------------------------


def test_import_counts_created_updated_unchanged(policies: PolicyStore) -> None:
    directory = Directory(
        users=(user("alice"), user("bob")),
        groups=(group("quants", members=("alice",)), group("research", members=("bob",), subgroups=("quants",))),
    )
    assert policies.import_directory(directory) == ImportCounts(users_created=2, groups_created=2)
    assert policies.snapshot_inputs()[0] == directory
    again = Directory(
        users=(user("alice", external=True), user("bob"), user("carol")),
        groups=(
            group("quants", members=("alice", "carol")),
            group("research", members=("bob",), subgroups=("quants",)),
        ),
    )
    assert policies.import_directory(again) == ImportCounts(
        users_created=1, users_updated=1, users_unchanged=1, groups_updated=1, groups_unchanged=1
    )
    assert policies.snapshot_inputs()[0] == again


def test_import_without_replace_keeps_what_the_file_leaves_out(policies: PolicyStore) -> None:
    policies.import_directory(Directory(users=(user("alice"),), groups=(group("quants"),)))
    counts = policies.import_directory(
        Directory(users=(user("bob"),), groups=(group("research", subgroups=("quants",)),))
    )
    assert counts == ImportCounts(users_created=1, groups_created=1)
    assert [u.id for u in policies.users()] == ["user:alice", "user:bob"]
    assert [g.id for g in policies.groups()] == ["group:quants", "group:research"]


def test_replace_import_removes_users_and_groups_left_out(policies: PolicyStore) -> None:
    policies.import_directory(
        Directory(users=(user("alice"), user("bob")), groups=(group("old", members=("alice", "bob")), group("keep")))
    )
    counts = policies.import_directory(
        Directory(users=(user("bob"),), groups=(group("keep", members=("bob",)),)), replace=True
    )
    assert counts == ImportCounts(users_unchanged=1, users_removed=1, groups_updated=1, groups_removed=1)
    assert policies.snapshot_inputs()[0] == Directory(users=(user("bob"),), groups=(group("keep", members=("bob",)),))


def test_replace_import_keeps_members_the_directory_lists_without_a_user_record(policies: PolicyStore) -> None:
    policies.import_directory(Directory(users=(user("alice"), user("bob")), groups=(group("g", members=("alice",)),)))
    replacement = Directory(users=(user("bob"),), groups=(group("g", members=("alice", "bob")),))
    counts = policies.import_directory(replacement, replace=True)
    assert counts == ImportCounts(users_unchanged=1, users_removed=1, groups_updated=1)
    assert policies.snapshot_inputs()[0] == replacement


def test_replace_import_refuses_removing_a_group_a_wall_names(policies: PolicyStore) -> None:
    policies.import_directory(Directory(groups=(group("research"), group("banking"))))
    policies.create_wall(wall_spec(), "wall-1")
    with pytest.raises(PolicyConflict, match="cannot remove group:banking: wall wall-1"):
        policies.import_directory(Directory(groups=(group("research"),)), replace=True)
    assert policies.get_group("group:banking") == group("banking")


def test_import_refuses_cycles_unknown_subgroups_and_duplicates(policies: PolicyStore) -> None:
    policies.import_directory(Directory(groups=(group("a"),)))
    with pytest.raises(PolicyConflict, match="group:a -> group:b -> group:a"):
        policies.import_directory(Directory(groups=(group("a", subgroups=("b",)), group("b", subgroups=("a",)))))
    with pytest.raises(PolicyConflict, match="unknown subgroups group:nope"):
        policies.import_directory(Directory(groups=(group("b", subgroups=("nope",)),)))
    with pytest.raises(PolicyConflict, match="user user:x appears twice"):
        policies.import_directory(Directory(users=(user("x"), user("x"))))
    # With replace, a subgroup only in the store (and so about to be removed) is unknown too.
    with pytest.raises(PolicyConflict, match="unknown subgroups group:a"):
        policies.import_directory(Directory(groups=(group("b", subgroups=("a",)),)), replace=True)
    assert policies.snapshot_inputs()[0] == Directory(groups=(group("a"),))


def test_dry_run_import_counts_and_changes_nothing(policies: PolicyStore) -> None:
    policies.import_directory(Directory(users=(user("alice"),)))
    revision = policies.revision()
    counts = policies.import_directory(Directory(users=(user("bob"),)), replace=True, dry_run=True)
    assert counts == ImportCounts(users_created=1, users_removed=1)
    assert policies.users() == [user("alice")]
    assert policies.revision() == revision


def test_import_of_ten_thousand_users_and_five_hundred_groups_is_bulk(policies: PolicyStore) -> None:
    users = tuple(user(f"u{i:05d}") for i in range(10_000))
    groups = tuple(
        group(
            f"g{g:03d}",
            members=tuple(f"u{i:05d}" for i in range(g * 20, g * 20 + 40)),
            subgroups=(f"g{g - 1:03d}",) if g else (),
        )
        for g in range(500)
    )
    directory = Directory(users=users, groups=groups)
    started = time.perf_counter()
    assert policies.import_directory(directory) == ImportCounts(users_created=10_000, groups_created=500)
    first = time.perf_counter() - started
    assert policies.snapshot_inputs()[0] == directory
    # Groups 430 to 449 still list users 9000 and up, whom the replacement removes.
    replacement = Directory(
        users=(user("u00000", external=True), *users[1:9_000]),
        groups=(group("g000", members=("u00000",)), *groups[1:]),
    )
    started = time.perf_counter()
    counts = policies.import_directory(replacement, replace=True)
    second = time.perf_counter() - started
    assert counts == ImportCounts(
        users_updated=1, users_unchanged=8_999, users_removed=1_000, groups_updated=1, groups_unchanged=499
    )
    assert first < 30, first
    assert second < 30, second
    assert policies.snapshot_inputs()[0] == replacement


# --- walls ------------------------------------------------------------------------------------------


@pytest.fixture
def with_groups(policies: PolicyStore) -> PolicyStore:
    policies.import_directory(Directory(groups=(group("research"), group("banking"), group("legal"))))
    return policies


def test_create_wall_generates_an_id_and_reads_back(with_groups: PolicyStore) -> None:
    spec = wall_spec(
        mode="alert",
        effective_from=datetime(2026, 1, 1, tzinfo=UTC),
        exceptions=[WallException(name="counsel", who=(Segment(kind="group", id="group:legal"),))],
    )
    wall = with_groups.create_wall(spec)
    assert wall.id.startswith("wall-")
    assert len(wall.id) == len("wall-") + 8
    assert wall.version == 1
    assert with_groups.get_wall(wall.id) == wall
    assert with_groups.walls() == [wall]
    assert Wall.model_validate({**spec.model_dump(), "id": wall.id}) == wall


def test_create_wall_with_a_taken_id_is_a_conflict(with_groups: PolicyStore) -> None:
    with_groups.create_wall(wall_spec(), "wall-x")
    with pytest.raises(PolicyConflict, match="wall-x already exists"):
        with_groups.create_wall(wall_spec(), "wall-x")


def test_walls_naming_unknown_groups_are_refused(with_groups: PolicyStore) -> None:
    with pytest.raises(PolicyConflict, match="wall wall-1 names unknown group group:trading"):
        with_groups.create_wall(wall_spec(b="trading"), "wall-1")
    exception = WallException(name="x", who=(Segment(kind="group", id="group:ghost"),))
    with pytest.raises(PolicyConflict, match="group:ghost"):
        with_groups.create_wall(wall_spec(exceptions=[exception]), "wall-1")
    assert with_groups.walls() == []
    # A user segment may name anyone: it matches that actor whatever the directory holds.
    spec = wall_spec().model_copy(update={"side_b": (Segment(kind="user", id="user:unknown"),)})
    assert with_groups.create_wall(spec, "wall-1").side_b == (Segment(kind="user", id="user:unknown"),)
    with pytest.raises(PolicyConflict, match="group:ghost"):
        with_groups.update_wall("wall-1", wall_spec(b="ghost"))
    assert with_groups.get_wall("wall-1") is not None
    assert with_groups.get_wall("wall-1").version == 1  # type: ignore[union-attr]


def test_update_wall_returns_before_and_after_at_the_next_version(with_groups: PolicyStore) -> None:
    created = with_groups.create_wall(wall_spec(), "wall-1")
    before, after = with_groups.update_wall("wall-1", wall_spec(b="legal", mode="log"))
    assert before == created
    assert (after.version, after.mode, after.side_b[0].id) == (2, "log", "group:legal")
    assert with_groups.get_wall("wall-1") == after
    # A Wall passed as the spec: its own id and version are ignored.
    _, third = with_groups.update_wall("wall-1", after.model_copy(update={"enabled": False}))
    assert (third.id, third.version, third.enabled) == ("wall-1", 3, False)
    with pytest.raises(PolicyNotFound):
        with_groups.update_wall("wall-none", wall_spec())


def test_delete_wall(with_groups: PolicyStore) -> None:
    created = with_groups.create_wall(wall_spec(), "wall-1")
    assert with_groups.delete_wall("wall-1") == created
    assert with_groups.get_wall("wall-1") is None
    assert with_groups.delete_wall("wall-1") is None


# --- disclaimers ------------------------------------------------------------------------------------


def test_create_disclaimer_generates_an_id_and_keeps_version_one(policies: PolicyStore) -> None:
    rule = policies.create_disclaimer(disclaimer_spec(texts={"en": "Recorded.", "fr-CA": "Enregistré."}))
    assert rule.id.startswith("disclaimer-")
    assert rule.version == 1
    assert policies.get_disclaimer(rule.id) == rule
    assert policies.disclaimers() == [rule]
    assert policies.disclaimer_version(rule.id, 1) == rule
    with pytest.raises(PolicyConflict, match="already exists"):
        policies.create_disclaimer(disclaimer_spec(), rule.id)


def test_every_disclaimer_version_is_kept_after_update_and_delete(policies: PolicyStore) -> None:
    v1 = policies.create_disclaimer(disclaimer_spec("first text"), "disc-1")
    before, v2 = policies.update_disclaimer("disc-1", disclaimer_spec("second text"))
    assert before == v1
    assert (v2.version, v2.texts) == (2, {"en": "second text"})
    assert policies.get_disclaimer("disc-1") == v2
    assert policies.delete_disclaimer("disc-1") == v2
    assert policies.get_disclaimer("disc-1") is None
    assert policies.delete_disclaimer("disc-1") is None
    assert policies.disclaimer_version("disc-1", 1) == v1
    assert policies.disclaimer_version("disc-1", 2) == v2
    assert policies.disclaimer_version("disc-1", 3) is None
    # Re-created under the same id, the rule continues the numbering: (id, version) stays unique.
    v3 = policies.create_disclaimer(disclaimer_spec("third text"), "disc-1")
    assert v3.version == 3
    assert policies.disclaimer_version("disc-1", 1) == v1
    with pytest.raises(PolicyNotFound):
        policies.update_disclaimer("disc-none", disclaimer_spec())


def test_group_membership_disclaimers_naming_unknown_groups_are_refused(policies: PolicyStore) -> None:
    spec = disclaimer_spec(trigger="group_membership", group_id="group:legal")
    with pytest.raises(PolicyConflict, match="disclaimer disc-1 names unknown group group:legal"):
        policies.create_disclaimer(spec, "disc-1")
    policies.put_group(group("legal"))
    policies.create_disclaimer(spec, "disc-1")
    with pytest.raises(PolicyConflict, match="group:ghost"):
        policies.update_disclaimer("disc-1", disclaimer_spec(trigger="group_membership", group_id="group:ghost"))
    assert policies.disclaimer_version("disc-1", 2) is None


# --- revision and snapshot --------------------------------------------------------------------------


def test_every_change_bumps_the_revision(with_groups: PolicyStore) -> None:
    store = with_groups
    seen = [store.revision()]

    def bumped() -> None:
        seen.append(store.revision())
        assert seen[-1] == seen[-2] + 1, seen

    store.put_user(user("alice"))
    bumped()
    store.delete_user("user:alice")
    bumped()
    store.put_group(group("quants"))
    bumped()
    store.delete_group("group:quants")
    bumped()
    store.import_directory(Directory(users=(user("bob"),)))
    bumped()
    store.create_wall(wall_spec(), "wall-1")
    bumped()
    store.update_wall("wall-1", wall_spec(mode="log"))
    bumped()
    store.delete_wall("wall-1")
    bumped()
    store.create_disclaimer(disclaimer_spec(), "disc-1")
    bumped()
    store.update_disclaimer("disc-1", disclaimer_spec("new"))
    bumped()
    store.delete_disclaimer("disc-1")
    bumped()
    # Changes that change nothing, and refused ones, leave it alone.
    store.import_directory(Directory(users=(user("bob"),)))
    store.delete_wall("wall-1")
    store.delete_user("user:nobody")
    with pytest.raises(PolicyConflict):
        store.create_wall(wall_spec(b="ghost"))
    assert store.revision() == seen[-1]


def test_snapshot_inputs_read_everything_with_the_revision(with_groups: PolicyStore) -> None:
    store = with_groups
    store.put_user(user("bob"))
    store.put_user(user("alice"))
    wall = store.create_wall(wall_spec(), "wall-1")
    rule = store.create_disclaimer(disclaimer_spec(), "disc-1")
    directory, walls, rules, revision = store.snapshot_inputs()
    assert directory == Directory(
        users=(user("alice"), user("bob")), groups=(group("banking"), group("legal"), group("research"))
    )
    assert walls == [wall]
    assert rules == [rule]
    assert isinstance(rules[0], DisclaimerRule)
    assert revision == store.revision() > 0
