"""Directory files: CSV (users, groups), JSON and JSON Lines, with errors naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies import directory_import
from policies.directory_import import (
    MAX_ERRORS,
    DirectoryFileError,
    directory_to_csv,
    directory_to_json,
    parse_directory,
    parse_directory_file,
    read_directory,
)
from policies.model import Directory, Group, User

USERS_CSV = """\ufeffid,name,email,external,groups
user:alice,Alice Smith,alice@example.com,yes,group:research;group:quants

user:bob, Bob ,bob@example.com,FALSE,group:research
user:carol,,,1,
"""

GROUPS_CSV = """id,name,subgroups,members
group:research,Research,group:quants,user:dave
group:quants,,,
"""


def problems(name: str, data: str | bytes) -> list[str]:
    with pytest.raises(DirectoryFileError) as raised:
        parse_directory_file(name, data)
    return [str(p) for p in raised.value.problems]


# --- CSV --------------------------------------------------------------------------------------------


def test_users_csv_with_bom_blank_lines_and_memberships() -> None:
    directory = parse_directory_file("people.csv", USERS_CSV.encode())
    assert directory.users == (
        User(id="user:alice", name="Alice Smith", email="alice@example.com", external=True),
        User(id="user:bob", name="Bob", email="bob@example.com", external=False),
        User(id="user:carol", external=True),
    )
    # Groups named only in the users file are created with their id as the name.
    assert directory.groups == (
        Group(id="group:research", name="group:research", members=("user:alice", "user:bob")),
        Group(id="group:quants", name="group:quants", members=("user:alice",)),
    )


def test_users_and_groups_files_merge() -> None:
    directory = parse_directory([("people.csv", USERS_CSV), ("groups.csv", GROUPS_CSV)])
    assert directory.groups == (
        Group(
            id="group:research",
            name="Research",
            members=("user:dave", "user:alice", "user:bob"),
            subgroups=("group:quants",),
        ),
        Group(id="group:quants", name="group:quants", members=("user:alice",)),
    )
    assert [u.id for u in directory.users] == ["user:alice", "user:bob", "user:carol"]


def test_header_columns_in_any_order_and_case() -> None:
    directory = parse_directory_file("p.csv", "EMAIL, Id\nx@example.com,user:x\n")
    assert directory.users == (User(id="user:x", email="x@example.com"),)


def test_errors_name_the_file_and_line_and_are_all_collected() -> None:
    text = (
        "id,name,email,external\n"
        "user:a,A,a@example.com,no\n"
        "user:b,B,x,no\n"
        "user:c,C,,maybe\n"
        "user c,,,\n"
        "user:d,D,d@e.com,no,extra\n"
    )
    assert problems("people.csv", text) == [
        "people.csv, line 3: email 'x' is not an e-mail address",
        "people.csv, line 4: external 'maybe' is not one of true/false, yes/no, 1/0",
        "people.csv, line 5: id 'user c' is not an id (no spaces or control characters)",
        "people.csv, line 6: 5 fields, but the header has 4",
    ]


def test_the_first_problem_is_the_exceptions_line_and_message() -> None:
    with pytest.raises(DirectoryFileError) as raised:
        parse_directory_file("people.csv", "id,email\nuser:a,nope\n")
    assert (raised.value.file, raised.value.line) == ("people.csv", 2)
    assert raised.value.message == "email 'nope' is not an e-mail address"
    assert str(raised.value) == "people.csv, line 2: email 'nope' is not an e-mail address"


def test_at_most_twenty_problems_are_listed() -> None:
    text = "id,email\n" + "".join(f"user:{i},bad\n" for i in range(30))
    with pytest.raises(DirectoryFileError) as raised:
        parse_directory_file("p.csv", text)
    assert len(raised.value.problems) == MAX_ERRORS
    assert raised.value.more == 10
    assert str(raised.value).endswith("... and 10 more problems")


def test_duplicate_ids_name_both_lines_even_across_files() -> None:
    assert problems("p.csv", "id,email\nuser:a,\nuser:b,\nuser:a,\n") == [
        "p.csv, line 4: user user:a is defined twice (also line 2)"
    ]
    with pytest.raises(DirectoryFileError) as raised:
        parse_directory(
            [("g1.csv", "id,members\ngroup:x,\n"), ("g2.jsonl", '{"kind": "group", "id": "group:x", "name": "X"}\n')]
        )
    assert str(raised.value) == "g2.jsonl, line 1: group group:x is defined twice (also g1.csv, line 2)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "p.csv: the file is empty"),
        ("\ufeff\n\n  \n", "p.csv: the file is empty"),
        ("name,email\n", "p.csv, line 1: the header has no id column"),
        ("id,name,colour\n", "p.csv, line 1: unknown header column 'colour'"),
        ("id,email,members\n", "p.csv, line 1: the header mixes users and groups columns"),
        ("id,name\nuser:a,A\n", "p.csv, line 1: the header id,name fits both users and groups"),
        ("id,id\n", "p.csv, line 1: column id appears twice in the header"),
        ('id,email\n"open quote\n', "p.csv, line 2: not valid CSV: unexpected end of data"),
        ("id,subgroups\ngroup:a,group:b;group:a\n", "p.csv, line 2: group group:a cannot contain itself"),
        ("id,members\ngroup:a,user:x;user y\n", "p.csv, line 2: members 'user y' is not an id"),
    ],
)
def test_csv_problems(text: str, message: str) -> None:
    assert problems("p.csv", text)[0].startswith(message)


def test_not_utf8_names_the_line() -> None:
    assert problems("p.csv", b"id,email\nuser:a,\nuser:\xff,\n") == ["p.csv, line 3: not UTF-8 text (byte 0xff)"]


def test_unknown_extension() -> None:
    assert problems("people.xlsx", "x") == ["people.xlsx: unknown format '.xlsx': use .csv, .json, .jsonl"]


def test_read_directory_reads_files_and_reports_missing_ones(tmp_path: Path) -> None:
    (tmp_path / "people.csv").write_text(USERS_CSV, encoding="utf-8")
    assert len(read_directory([tmp_path / "people.csv"]).users) == 3
    with pytest.raises(DirectoryFileError, match=r"nope\.csv: cannot read"):
        read_directory([tmp_path / "nope.csv"])


# --- JSON and JSON Lines ----------------------------------------------------------------------------


def test_json_in_the_directory_shape() -> None:
    document = {
        "users": [{"id": "user:a", "name": "A", "external": True}, {"id": "user:b"}],
        "groups": [{"id": "group:g", "name": "G", "members": ["user:a"], "subgroups": []}],
    }
    assert parse_directory_file("d.json", json.dumps(document)) == Directory.model_validate(document)


def test_json_errors_name_the_element_and_its_line() -> None:
    text = """{
  "users": [
    {"id": "user:a"},
    {"id": "user:b",
     "email": "nope"},
    {"id": "user:c", "colour": "red"},
    "user:d"
  ],
  "groups": [{"id": "group:g", "members": ["user:a"]}]
}"""
    assert problems("d.json", text) == [
        "d.json, line 4: users[1].email 'nope' is not an e-mail address",
        "d.json, line 6: users[2].colour is not a known field",
        "d.json, line 7: users[3] must be an object, found a string",
        "d.json, line 9: groups[0].name: Field required",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"users": [\n{"id": "a"},\n]}', "d.json, line 3: not valid JSON: "),
        ("[]", "d.json, line 1: expected an object with users and groups, found a list"),
        ('{"people": []}', "d.json, line 1: unknown key 'people'"),
        ('{\n"users": {"id": "a"}}', "d.json, line 2: users must be a list"),
    ],
)
def test_json_problems(text: str, message: str) -> None:
    assert problems("d.json", text)[0].startswith(message)


def test_jsonl_one_user_or_group_per_line() -> None:
    text = (
        '{"kind": "user", "id": "user:a", "external": "yes"}\n'
        "\n"
        '{"kind": "group", "id": "group:g", "name": "G", "members": ["user:a"]}\n'
    )
    assert parse_directory_file("d.jsonl", text) == Directory(
        users=(User(id="user:a", external=True),), groups=(Group(id="group:g", name="G", members=("user:a",)),)
    )


def test_jsonl_problems_name_the_line() -> None:
    text = (
        '{"kind": "user", "id": "user:a"}\n'
        '{"kind": "room", "id": "x"}\n'
        '{"id": "user:b"\n'
        "7\n"
        '{"kind": "group", "id": "group:g"}\n'
    )
    assert problems("d.jsonl", text) == [
        'd.jsonl, line 2: kind must be "user" or "group", found "room"',
        "d.jsonl, line 3: not valid JSON: Expecting ',' delimiter (column 16)",
        "d.jsonl, line 4: expected an object with a kind, found a number",
        "d.jsonl, line 5: name: Field required",
    ]


# --- properties -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["f.csv", "f.json", "f.jsonl"]),
    st.one_of(
        st.text(),
        st.binary(),
        st.text(alphabet=st.sampled_from(list('id,name,email,external,groups;"\n\r {}[]:user@x.1'))),
        st.text(alphabet=st.sampled_from(list('{}[]":,\n usergroupkindidname1-tf'))).map(lambda t: '{"users": [' + t),
    ),
)
def test_the_parser_only_ever_raises_directory_file_error(name: str, data: str | bytes) -> None:
    try:
        directory = parse_directory_file(name, data)
    except DirectoryFileError as error:
        assert error.problems
        assert str(error)
    else:
        assert isinstance(directory, Directory)


ids = st.from_regex(r"\A[a-z][a-z0-9:._-]{0,15}\Z")
names = (
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
emails = st.from_regex(r"\A[a-z0-9.]{1,8}@[a-z]{1,8}\.[a-z]{2,4}\Z")


@st.composite
def directories(draw: st.DrawFn) -> Directory:
    user_ids = draw(st.lists(ids.map(lambda i: f"user:{i}"), unique=True, max_size=8))
    users = tuple(
        User(id=i, name=draw(st.none() | names), email=draw(st.none() | emails), external=draw(st.booleans()))
        for i in user_ids
    )
    group_ids = draw(st.lists(ids.map(lambda i: f"group:{i}"), unique=True, max_size=6))
    groups = []
    for index, group_id in enumerate(group_ids):
        members = draw(st.lists(st.sampled_from(user_ids) | ids, unique=True, max_size=5)) if user_ids else []
        subgroups = draw(st.lists(st.sampled_from(group_ids[:index]), unique=True, max_size=3)) if index else []
        groups.append(Group(id=group_id, name=draw(names), members=tuple(members), subgroups=tuple(subgroups)))
    return Directory(users=users, groups=tuple(groups))


@settings(max_examples=200, deadline=None)
@given(directories())
def test_a_directory_written_out_parses_back_the_same(directory: Directory) -> None:
    users_csv, groups_csv = directory_to_csv(directory)
    assert parse_directory([("users.csv", users_csv.encode()), ("groups.csv", groups_csv)]) == directory
    assert parse_directory_file("d.json", directory_to_json(directory)) == directory


# --- issue 15, item 13: the work is linear in the width of the header -----------------------------

WIDE = 200_000
"""Columns: linear work takes well under a second; the quadratic header check took
WIDE**2 = 4e10 steps (hours; 100,000 columns ran past 120 s)."""


@pytest.mark.timeout(60)
def test_a_header_of_two_hundred_thousand_unknown_columns_is_refused_quickly_and_briefly() -> None:
    header = ",".join(["id", "name", "email", *(f"c{i}" for i in range(WIDE))])
    data = f"{header}\nu1,U,u@example.com{',' * WIDE}\n"
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory_file("users.csv", data)
    (problem,) = caught.value.problems
    assert problem.line == 1
    assert problem.message.startswith("unknown header column 'c0', 'c1', ")
    assert f"and {WIDE - 10:,} more" in problem.message
    assert len(problem.message) < 500


@pytest.mark.timeout(60)
def test_a_header_of_two_hundred_thousand_repeated_columns_is_refused_quickly_and_briefly() -> None:
    header = ",".join(["id", *(f"c{i % 1000}" for i in range(WIDE))])
    with pytest.raises(DirectoryFileError) as caught:
        parse_directory_file("users.csv", header + "\n")
    (problem,) = caught.value.problems
    assert problem.message.startswith("columns c0, c1, c10, ")
    assert problem.message.endswith("and 990 more appear twice or more in the header")
    assert len(problem.message) < 500


def test_the_header_check_counts_each_column_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linear by construction: no per-column scan of the header (list.count) is left."""
    calls: list[int] = []

    class CountingList(list[str]):
        def count(self, value: str) -> int:
            calls.append(1)
            return super().count(value)

    header = CountingList(["id", "name", "email", *(f"c{i}" for i in range(50))])
    problems = directory_import._Collector()
    assert directory_import._csv_kind(header, "users.csv", 1, problems) is None
    assert calls == []
