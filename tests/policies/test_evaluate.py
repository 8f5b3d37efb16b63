from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.evaluate import PolicySnapshot, decide, transitive_members
from policies.model import (
    ACTIONS,
    Action,
    CheckRequest,
    CheckRoom,
    Decision,
    Directory,
    DisclaimerRule,
    Group,
    Mode,
    Segment,
    Trigger,
    User,
    Wall,
    WallException,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)

DIRECTORY = Directory(
    users=(
        User(id="alice", name="Alice"),
        User(id="bob", name="Bob"),
        User(id="carol", name="Carol"),
        User(id="dave", name="Dave"),
        User(id="erin", name="Erin", external=True),
        User(id="frank", name="Frank"),
        User(id="gina", name="Gina"),
        User(id="henry", name="Henry"),
    ),
    groups=(
        Group(id="research", name="Research", members=("alice", "frank"), subgroups=("analysts",)),
        Group(id="analysts", name="Analysts", members=("carol",)),
        Group(id="sales", name="Sales", members=("bob", "frank", "gina", "henry")),
    ),
)
"""Frank is in research and sales; Carol is in research through analysts; Dave and Erin are in no group."""


def group(group_id: str) -> Segment:
    return Segment(kind="group", id=group_id)


def person(user_id: str) -> Segment:
    return Segment(kind="user", id=user_id)


def wall(wall_id: str = "w1", **changes: object) -> Wall:
    fields: dict[str, object] = {"id": wall_id, "name": f"wall {wall_id}", "side_a": (group("research"),)}
    fields["side_b"] = (group("sales"),)
    fields.update(changes)
    return Wall.model_validate(fields)


def snapshot(*walls: Wall, rules: Sequence[DisclaimerRule] = (), directory: Directory = DIRECTORY) -> PolicySnapshot:
    return PolicySnapshot.build(directory, walls, rules)


def im(actor: str, *targets: str, locale: str | None = None) -> CheckRequest:
    return CheckRequest(action="im", actor=actor, targets=targets, locale=locale)


def in_room(action: Action, actor: str, targets: Sequence[str] = ()) -> CheckRequest:
    return CheckRequest(action=action, actor=actor, targets=tuple(targets), room=CheckRoom(id="room:1", name="Deals"))


def check(policies: PolicySnapshot, request: CheckRequest, members: Sequence[str] = (), at: datetime = NOW) -> Decision:
    return decide(policies, request, room_members=members, at=at)


# --- the snapshot -------------------------------------------------------------------------------------


def test_groups_are_transitive() -> None:
    policies = snapshot()
    assert policies.groups_of("carol") == {"analysts", "research"}
    assert policies.groups_of("frank") == {"research", "sales"}
    assert policies.groups_of("dave") == frozenset()
    assert policies.members_of("research") == {"alice", "frank", "carol"}


def test_cycles_between_groups_are_tolerated() -> None:
    cyclic = Directory(
        groups=(
            Group(id="a", name="A", members=("u1",), subgroups=("b",)),
            Group(id="b", name="B", members=("u2",), subgroups=("a", "missing")),
        )
    )
    assert transitive_members(cyclic) == {"a": {"u1", "u2"}, "b": {"u1", "u2"}}


def test_users_and_names() -> None:
    policies = PolicySnapshot.build(Directory(users=(User(id="x"), User(id="y", name="Y"))), [], [], revision=7)
    assert policies.revision == 7
    assert policies.user("y") == User(id="y", name="Y")
    assert policies.user("nobody") is None
    assert [policies.name_of(u) for u in ("x", "y", "nobody")] == ["x", "Y", "nobody"]


def test_the_index_holds_only_the_walls_a_user_is_on() -> None:
    policies = snapshot(wall("w1"), wall("w2", side_a=(person("dave"),), side_b=(person("erin"),)))
    assert [c.wall.id for c in policies.walls_of("alice")] == ["w1"]
    assert [c.wall.id for c in policies.walls_of("dave")] == ["w2"]
    assert policies.walls_of("nobody") == ()


# --- walls ------------------------------------------------------------------------------------------------


def test_a_blocking_wall_denies_both_ways() -> None:
    policies = snapshot(wall())
    for actor, target in (("alice", "bob"), ("bob", "alice")):
        decision = check(policies, im(actor, target))
        assert (decision.outcome, decision.mode) == ("deny", "block")
        assert [(m.wall_id, m.wall_name, m.mode, m.counterparts) for m in decision.walls] == [
            ("w1", "wall w1", "block", (target,))
        ]


def test_nested_groups_are_on_the_wall() -> None:
    assert check(snapshot(wall()), im("carol", "bob")).outcome == "deny"


def test_people_outside_the_wall_are_not_blocked() -> None:
    policies = snapshot(wall())
    assert check(policies, im("dave", "bob")) == Decision(outcome="allow", mode=None)
    assert check(policies, im("alice", "carol", "dave")).outcome == "allow"


@pytest.mark.parametrize("mode", ["alert", "log"])
def test_alert_and_log_allow_but_report(mode: Mode) -> None:
    decision = check(snapshot(wall(mode=mode)), im("alice", "bob"))
    assert (decision.outcome, decision.mode) == ("allow", mode)
    assert [m.counterparts for m in decision.walls] == [("bob",)]


def test_the_strongest_mode_wins_and_walls_come_by_id() -> None:
    policies = snapshot(wall("w3", mode="log"), wall("w1", mode="alert"), wall("w2", mode="block"))
    decision = check(policies, im("alice", "bob"))
    assert (decision.outcome, decision.mode) == ("deny", "block")
    assert [m.wall_id for m in decision.walls] == ["w1", "w2", "w3"]
    assert check(snapshot(wall("w3", mode="log"), wall("w1", mode="alert")), im("alice", "bob")).mode == "alert"


def test_a_wall_applies_only_to_its_scopes() -> None:
    policies = snapshot(wall(scopes=("im", "file_share")))
    assert check(policies, im("alice", "bob")).outcome == "deny"
    assert check(policies, in_room("room_post", "alice"), ["bob"]).outcome == "allow"
    assert check(policies, in_room("room_join", "alice"), ["bob"]).outcome == "allow"
    assert check(policies, in_room("file_share", "alice"), ["bob"]).outcome == "deny"


def test_effective_dates_bound_the_wall() -> None:
    policies = snapshot(wall(effective_from=NOW, effective_until=NOW + timedelta(days=30)))
    assert check(policies, im("alice", "bob"), at=NOW - timedelta(seconds=1)).outcome == "allow"
    assert check(policies, im("alice", "bob"), at=NOW).outcome == "deny"
    assert check(policies, im("alice", "bob"), at=NOW + timedelta(days=30)).outcome == "allow"


def test_a_disabled_wall_never_matches() -> None:
    assert check(snapshot(wall(enabled=False)), im("alice", "bob")) == Decision(outcome="allow", mode=None)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(snapshot(wall()), im("alice", "bob"), at=datetime(2026, 6, 1))


def test_user_segments() -> None:
    policies = snapshot(wall(side_a=(person("dave"),), side_b=(person("erin"), group("analysts"))))
    assert check(policies, im("dave", "carol")).outcome == "deny"
    assert check(policies, im("erin", "dave")).outcome == "deny"
    assert check(policies, im("alice", "dave")).outcome == "allow"


def test_room_join_is_checked_against_the_people_already_there() -> None:
    policies = snapshot(wall())
    decision = check(policies, in_room("room_join", "alice"), ["dave", "henry", "alice", "bob", "carol"])
    assert decision.outcome == "deny"
    assert decision.walls[0].counterparts == ("bob", "henry")
    assert check(policies, in_room("room_join", "alice"), ["dave", "carol"]).outcome == "allow"
    assert check(policies, in_room("room_join", "alice"), []).outcome == "allow"


def test_room_members_are_ignored_for_an_im() -> None:
    assert check(snapshot(wall()), im("alice", "dave"), ["bob"]).outcome == "allow"


def test_file_share_counts_targets_and_room_members() -> None:
    policies = snapshot(wall())
    assert check(policies, in_room("file_share", "alice", ["bob"]), ["dave"]).walls[0].counterparts == ("bob",)
    assert check(policies, in_room("file_share", "alice", ["dave"]), ["gina"]).walls[0].counterparts == ("gina",)
    both = check(policies, in_room("file_share", "alice", ["bob"]), ["gina", "bob"])
    assert both.walls[0].counterparts == ("bob", "gina")


def test_someone_on_both_sides_is_across_from_everyone_else_on_the_wall() -> None:
    policies = snapshot(wall())
    assert check(policies, im("frank", "alice")).outcome == "deny"
    assert check(policies, im("frank", "bob")).outcome == "deny"
    assert check(policies, im("frank", "frank")).outcome == "allow"  # never across from themself
    assert check(policies, in_room("room_join", "frank"), ["frank"]).outcome == "allow"
    both_sides = Directory(
        users=DIRECTORY.users,
        groups=(*DIRECTORY.groups[:2], Group(id="sales", name="Sales", members=("bob", "frank", "alice"))),
    )
    assert check(snapshot(wall(), directory=both_sides), im("alice", "frank")).outcome == "deny"


# --- exceptions ---------------------------------------------------------------------------------------------


def test_an_exception_without_with_whom_lets_its_people_across_in_both_directions() -> None:
    policies = snapshot(wall(exceptions=(WallException(name="liaison", who=(person("alice"),)),)))
    assert check(policies, im("alice", "bob")).outcome == "allow"
    assert check(policies, im("bob", "alice")).outcome == "allow"
    assert check(policies, im("carol", "bob")).outcome == "deny"


def test_an_exception_with_with_whom_covers_only_those_pairs() -> None:
    exception = WallException(name="coverage", who=(group("analysts"),), with_whom=(person("bob"), person("gina")))
    policies = snapshot(wall(exceptions=(exception,)))
    assert check(policies, im("carol", "bob")).outcome == "allow"
    assert check(policies, im("gina", "carol")).outcome == "allow"
    assert check(policies, im("carol", "henry")).outcome == "deny"
    assert check(policies, im("alice", "bob")).outcome == "deny"
    decision = check(policies, in_room("room_post", "carol"), ["bob", "gina", "henry"])
    assert decision.walls[0].counterparts == ("henry",)


# --- disclaimers ---------------------------------------------------------------------------------------------


def rule(rule_id: str, trigger: Trigger, text: str = "{{ actor }}", **changes: object) -> DisclaimerRule:
    fields: dict[str, object] = {"id": rule_id, "name": rule_id, "trigger": trigger, "texts": {"en": text}}
    fields.update(changes)
    return DisclaimerRule.model_validate(fields)


def triggered(policies: PolicySnapshot, request: CheckRequest, members: Sequence[str] = ()) -> list[str]:
    return [d.rule_id for d in check(policies, request, members).disclaimers]


def test_conversation_start_and_room_join_follow_the_action() -> None:
    policies = snapshot(rules=[rule("start", "conversation_start"), rule("join", "room_join")])
    assert triggered(policies, im("alice", "dave")) == ["start"]
    assert triggered(policies, in_room("room_join", "alice"), ["dave"]) == ["join"]
    assert triggered(policies, in_room("room_post", "alice"), ["dave"]) == []


def test_external_participants_trigger_from_either_end() -> None:
    policies = snapshot(rules=[rule("ext", "external_participant")])
    assert triggered(policies, im("alice", "erin")) == ["ext"]
    assert triggered(policies, im("erin", "alice")) == ["ext"]
    assert triggered(policies, in_room("room_post", "alice"), ["dave", "erin"]) == ["ext"]
    assert triggered(policies, im("alice", "dave")) == []


def test_group_membership_is_transitive() -> None:
    policies = snapshot(rules=[rule("research", "group_membership", group_id="research")])
    assert triggered(policies, im("dave", "carol")) == ["research"]
    assert triggered(policies, im("carol", "dave")) == ["research"]
    assert triggered(policies, im("dave", "bob")) == []


def test_disabled_rules_never_trigger_and_the_others_come_by_id() -> None:
    rules = [rule("b", "external_participant"), rule("c", "conversation_start", enabled=False)]
    policies = snapshot(rules=[*rules, rule("a", "conversation_start")])
    assert triggered(policies, im("alice", "erin")) == ["a", "b"]


def test_no_disclaimers_with_a_deny_but_with_an_alert() -> None:
    rules = [rule("start", "conversation_start")]
    assert triggered(snapshot(wall(), rules=rules), im("alice", "bob")) == []
    assert triggered(snapshot(wall(mode="alert"), rules=rules), im("alice", "bob")) == ["start"]


def test_the_text_is_rendered_with_the_check() -> None:
    text = "{{ participants|join(', ') }} | {{ actor }} | {{ room }} | {{ date }}"
    policies = snapshot(rules=[rule("ext", "external_participant", text)])
    request = CheckRequest(action="room_post", actor="henry", room=CheckRoom(id="r", name="Deals"), locale="en-GB")
    (disclaimer,) = check(policies, request, ["erin", "zed", "alice", "henry"]).disclaimers
    assert (disclaimer.locale, disclaimer.version) == ("en", 1)
    assert disclaimer.text == "Henry, Alice, Erin, zed | Henry | Deals | 2026-06-01"
    assert check(policies, im("erin", "bob")).disclaimers[0].text == "Erin, Bob | Erin |  | 2026-06-01"


def test_the_requested_locale_is_used() -> None:
    texts = {"en": "Recorded", "fr": "Enregistré", "fr-CA": "Enregistré (QC)"}
    policies = snapshot(rules=[rule("start", "conversation_start", texts=texts)])
    by_locale = {
        locale: check(policies, im("alice", "dave", locale=locale)).disclaimers[0]
        for locale in ("fr_ca", "fr-BE", "de")
    }
    assert {locale: (d.locale, d.text) for locale, d in by_locale.items()} == {
        "fr_ca": ("fr-CA", "Enregistré (QC)"),
        "fr-BE": ("fr", "Enregistré"),
        "de": ("en", "Recorded"),
    }


# --- properties ---------------------------------------------------------------------------------------------

PAST, FUTURE = NOW - timedelta(days=1), NOW + timedelta(days=1)
WINDOWS: list[tuple[datetime | None, datetime | None]] = [
    (None, None),
    (None, None),
    (PAST, None),
    (None, FUTURE),
    (PAST, FUTURE),
    (FUTURE, None),
    (None, PAST),
]
OUTSIDER = "outsider"
"""In the directory, in no group and no segment."""


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    user_ids = [f"u{i}" for i in range(draw(st.integers(2, 8)))]
    users = [
        User(id=u, name=draw(st.sampled_from(["Ann", "Ben", "Cy", None])), external=draw(st.booleans()))
        for u in user_ids
    ]
    group_count = draw(st.integers(1, 5))
    groups = []
    for index in range(group_count):
        later = [f"g{j}" for j in range(index + 1, group_count)]  # subgroups only point forward: no cycles
        members = draw(st.lists(st.sampled_from(user_ids), unique=True, max_size=4))
        subgroups = draw(st.lists(st.sampled_from(later), unique=True, max_size=2)) if later else []
        groups.append(Group(id=f"g{index}", name=f"G{index}", members=tuple(members), subgroups=tuple(subgroups)))
    return Directory(users=(*users, User(id=OUTSIDER)), groups=tuple(groups))


def segments(directory: Directory, min_size: int = 1) -> st.SearchStrategy[tuple[Segment, ...]]:
    user_ids = [u.id for u in directory.users if u.id != OUTSIDER]
    segment = st.one_of(
        st.builds(Segment, kind=st.just("group"), id=st.sampled_from([g.id for g in directory.groups])),
        st.builds(Segment, kind=st.just("user"), id=st.sampled_from(user_ids)),
    )
    return st.lists(segment, min_size=min_size, max_size=3).map(tuple)


@st.composite
def walls(draw: st.DrawFn, directory: Directory, wall_id: str) -> Wall:
    effective_from, effective_until = draw(st.sampled_from(WINDOWS))
    exceptions = draw(
        st.lists(
            st.builds(WallException, name=st.just("x"), who=segments(directory), with_whom=segments(directory, 0)),
            max_size=2,
        )
    )
    return Wall(
        id=wall_id,
        name=wall_id,
        side_a=draw(segments(directory)),
        side_b=draw(segments(directory)),
        mode=draw(st.sampled_from(["block", "block", "alert", "log"])),
        scopes=tuple(draw(st.lists(st.sampled_from(ACTIONS), min_size=1, unique=True))),
        effective_from=effective_from,
        effective_until=effective_until,
        exceptions=tuple(exceptions),
        enabled=draw(st.sampled_from([True, True, True, False])),
    )


@st.composite
def worlds(draw: st.DrawFn) -> tuple[Directory, list[Wall]]:
    directory = draw(directories())
    count = draw(st.integers(0, 4))
    return directory, [draw(walls(directory, f"w{i}")) for i in range(count)]


@st.composite
def checks(draw: st.DrawFn, directory: Directory) -> tuple[CheckRequest, list[str]]:
    people = [u.id for u in directory.users] + ["unknown"]
    action = draw(st.sampled_from(ACTIONS))
    actor = draw(st.sampled_from(people))
    targets = draw(st.lists(st.sampled_from(people), min_size=1 if action == "im" else 0, max_size=3))
    members = draw(st.lists(st.sampled_from(people), max_size=6))
    room = None if action == "im" else CheckRoom(id="room", name="Room")
    request = CheckRequest(action=action, actor=actor, targets=tuple(targets), room=room)
    return request, members


def pair_check(action: Action, actor: str, other: str) -> tuple[CheckRequest, list[str]]:
    """A check between exactly two people, as the action puts them together."""
    if action == "im":
        return im(actor, other), []
    return in_room(action, actor), [other]


def matches(decision: Decision) -> dict[str, set[str]]:
    return {match.wall_id: set(match.counterparts) for match in decision.walls}


def on_a_side(directory: Directory, user_id: str, wall: Wall) -> bool:
    """Independent of the snapshot: a plain recursive walk of the directory."""
    groups = {g.id: g for g in directory.groups}

    def in_group(group_id: str) -> bool:
        found = groups.get(group_id)
        return found is not None and (user_id in found.members or any(in_group(s) for s in found.subgroups))

    sides = (*wall.side_a, *wall.side_b)
    return any(s.id == user_id if s.kind == "user" else in_group(s.id) for s in sides)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), world=worlds(), action=st.sampled_from(ACTIONS))
def test_a_blocked_pair_is_blocked_both_ways(
    data: st.DataObject, world: tuple[Directory, list[Wall]], action: Action
) -> None:
    directory, wall_list = world
    policies = snapshot(*wall_list, directory=directory)
    people = [u.id for u in directory.users]
    one, other = data.draw(st.lists(st.sampled_from(people), min_size=2, max_size=2, unique=True))
    there = check(policies, *pair_check(action, one, other))
    back = check(policies, *pair_check(action, other, one))
    assert there.outcome == back.outcome
    assert there.mode == back.mode
    assert matches(there).keys() == matches(back).keys()


@settings(max_examples=100, deadline=None)
@given(data=st.data(), world=worlds())
def test_exceptions_only_ever_allow(data: st.DataObject, world: tuple[Directory, list[Wall]]) -> None:
    directory, wall_list = world
    if not wall_list:
        return
    index = data.draw(st.integers(0, len(wall_list) - 1))
    extra = WallException(name="extra", who=data.draw(segments(directory)), with_whom=data.draw(segments(directory, 0)))
    changed = wall_list[index].model_copy(update={"exceptions": (*wall_list[index].exceptions, extra)})
    before = snapshot(*wall_list, directory=directory)
    after = snapshot(*wall_list[:index], changed, *wall_list[index + 1 :], directory=directory)
    request, members = data.draw(checks(directory))
    old, new = check(before, request, members), check(after, request, members)
    if old.outcome == "allow":
        assert new.outcome == "allow"
    old_matches = matches(old)
    for wall_id, counterparts in matches(new).items():
        assert counterparts <= old_matches[wall_id]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), world=worlds())
def test_someone_in_no_walled_segment_is_never_blocked(
    data: st.DataObject, world: tuple[Directory, list[Wall]]
) -> None:
    directory, wall_list = world
    policies = snapshot(*wall_list, directory=directory)
    unwalled = [u.id for u in directory.users if not any(on_a_side(directory, u.id, w) for w in wall_list)]
    assert OUTSIDER in unwalled
    request, members = data.draw(checks(directory))
    actor = data.draw(st.sampled_from(unwalled))
    as_actor = check(policies, request.model_copy(update={"actor": actor}), members)
    assert (as_actor.outcome, as_actor.walls) == ("allow", ())
    everyone = [u.id for u in directory.users]
    for person_id in unwalled:
        for decision in (check(policies, im(a, person_id)) for a in everyone):
            assert all(person_id not in match.counterparts for match in decision.walls)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), world=worlds())
def test_decide_is_deterministic_and_ignores_the_order_of_members(
    data: st.DataObject, world: tuple[Directory, list[Wall]]
) -> None:
    directory, wall_list = world
    rules = [
        rule("r1", "external_participant", "{{ participants|join(',') }}"),
        rule("r2", "group_membership", "{{ actor }} {{ participants|length }}", group_id="g0"),
    ]
    policies = snapshot(*wall_list, rules=rules, directory=directory)
    request, members = data.draw(checks(directory))
    shuffled = data.draw(st.permutations(members))
    first = check(policies, request, members)
    assert check(policies, request, members) == first
    assert check(policies, request, shuffled) == first
    assert check(snapshot(*reversed(wall_list), rules=rules[::-1], directory=directory), request, members) == first
