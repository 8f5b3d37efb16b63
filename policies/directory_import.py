"""Read a directory (users and groups) from files, with errors that name the file and line.

Formats, chosen by the file's extension:

``.csv`` (UTF-8, a BOM is fine, blank lines are skipped, cells are trimmed, an empty cell is
absent), one of two kinds told apart by the header (column names in any order and case):

* users: ``id`` and any of ``name``, ``email``, ``external`` (true/false, yes/no, 1/0; empty
  is false), ``groups`` (group ids separated by ``;``: the user is a member of each; a group
  named only there is created with its id as its name);
* groups: ``id`` and any of ``name`` (empty: the id), ``subgroups``, ``members`` (ids
  separated by ``;``).

A header of only ``id`` and ``name`` fits both kinds and is refused as ambiguous.

``.json``: the :class:`~policies.model.Directory` shape, ``{"users": [...], "groups": [...]}``;
errors name the element (``users[3].email``) and the line it starts on.

``.jsonl``: one object per line, a user or a group, with ``"kind": "user"`` or ``"group"``.

Several files are merged into one directory (users in one file, groups in another); an id
defined twice, in one file or two, is an error naming both places. Every problem is
collected (up to :data:`MAX_ERRORS`) and raised together as one :class:`DirectoryFileError`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from policies.model import Directory, Group, Identifier, User

MAX_ERRORS = 20
USER_COLUMNS = ("id", "name", "email", "external", "groups")
GROUP_COLUMNS = ("id", "name", "subgroups", "members")
FORMATS = (".csv", ".json", ".jsonl")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0", ""}
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class DirectoryFileError(ValueError):
    """What is wrong with the directory files: ``line`` and ``message`` of the first problem,
    every problem (up to :data:`MAX_ERRORS`) in ``problems``; ``str()`` lists them all."""

    def __init__(
        self, line: int | None, message: str, *, file: str = "<input>", problems: Sequence[Problem] = (), more: int = 0
    ) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems) or (Problem(file, line, message),)
        self.line = self.problems[0].line
        self.message = self.problems[0].message
        self.file = self.problems[0].file
        self.more = more
        """Problems found beyond those kept."""
        text = "\n".join(str(p) for p in self.problems)
        if more:
            text += f"\n... and {more} more problem{'s' if more > 1 else ''}"
        super().__init__(text)


def read_directory(paths: Sequence[Path]) -> Directory:
    """Parse and merge directory files; :class:`DirectoryFileError` lists what is wrong."""
    return parse_directory([(path.name, _read_bytes(path)) for path in paths])


def parse_directory(files: Sequence[tuple[str, bytes | str]]) -> Directory:
    """Parse and merge ``(file name, content)`` pairs; the name's extension picks the format."""
    collector = _Collector()
    records = [_parse_file(name, data, collector) for name, data in files]
    directory = _merge(records, collector)
    collector.raise_if_any()
    return directory


def parse_directory_file(name: str, data: bytes | str) -> Directory:
    """One file (see :func:`parse_directory`)."""
    return parse_directory([(name, data)])


def directory_to_csv(directory: Directory) -> tuple[str, str]:
    """The users file and the groups file that parse back to ``directory`` (memberships are
    written in the groups file). Ids containing ``;`` cannot be listed and raise ValueError."""
    users = io.StringIO()
    writer = csv.writer(users, lineterminator="\n")
    writer.writerow(["id", "name", "email", "external"])
    for user in directory.users:
        writer.writerow([user.id, user.name or "", user.email or "", "true" if user.external else "false"])
    groups = io.StringIO()
    writer = csv.writer(groups, lineterminator="\n")
    writer.writerow(["id", "name", "subgroups", "members"])
    for group in directory.groups:
        for listed in (*group.subgroups, *group.members):
            if ";" in listed:
                raise ValueError(f"id {listed!r} contains ';' and cannot be listed in a CSV cell")
        writer.writerow([group.id, group.name, ";".join(group.subgroups), ";".join(group.members)])
    return users.getvalue(), groups.getvalue()


def directory_to_json(directory: Directory) -> str:
    """The ``.json`` format: one user or group object per line inside the two lists."""
    users = ",\n".join("    " + user.model_dump_json() for user in directory.users)
    groups = ",\n".join("    " + group.model_dump_json() for group in directory.groups)
    return '{\n  "users": [\n' + users + '\n  ],\n  "groups": [\n' + groups + "\n  ]\n}\n"


# --- collecting problems ---------------------------------------------------------------------------


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.more = 0

    def add(self, file: str, line: int | None, message: str) -> None:
        if len(self.problems) < MAX_ERRORS:
            self.problems.append(Problem(file, line, message))
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.problems:
            raise DirectoryFileError(None, "", problems=self.problems, more=self.more)


@dataclass
class _GroupRecord:
    id: str
    name: str | None
    members: list[str]
    subgroups: list[str]
    line: int | None


@dataclass
class _FileRecords:
    file: str
    users: list[tuple[User, int | None]] = field(default_factory=list)
    groups: list[_GroupRecord] = field(default_factory=list)
    memberships: list[tuple[str, str, int | None]] = field(default_factory=list)
    """(group id, user id, line) from a users file's ``groups`` column."""


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise DirectoryFileError(None, f"cannot read: {error.strerror or error}", file=path.name) from None


def _parse_file(name: str, data: bytes | str, problems: _Collector) -> _FileRecords:
    records = _FileRecords(name)
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        problems.add(name, None, f"unknown format {suffix or '(no extension)'!r}: use {', '.join(FORMATS)}")
        return records
    text = _decode(name, data, problems)
    if text is None:
        return records
    if not text.strip():
        problems.add(name, None, "the file is empty")
        return records
    if suffix == ".csv":
        _parse_csv(text, records, problems)
    elif suffix == ".json":
        _parse_json(text, records, problems)
    else:
        _parse_jsonl(text, records, problems)
    return records


def _decode(name: str, data: bytes | str, problems: _Collector) -> str | None:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        problems.add(name, line, f"not UTF-8 text (byte {data[error.start]:#04x})")
        return None


# --- CSV -------------------------------------------------------------------------------------------


def _parse_csv(text: str, records: _FileRecords, problems: _Collector) -> None:
    file = records.file
    rows = _csv_rows(text, file, problems)
    header_row = next(rows, None)
    if header_row is None:
        problems.add(file, None, "the file is empty")
        return
    header_line, header = header_row
    columns = [cell.strip().lower() for cell in header]
    kind = _csv_kind(columns, file, header_line, problems)
    if kind is None:
        return
    for line, cells in rows:
        if len(cells) > len(columns):
            problems.add(file, line, f"{len(cells)} fields, but the header has {len(columns)}")
            continue
        values = {column: cell.strip() for column, cell in zip(columns, cells, strict=False)}
        if kind == "users":
            _csv_user(values, line, records, problems)
        else:
            _csv_group(values, line, records, problems)


def _csv_rows(text: str, file: str, problems: _Collector) -> Iterator[tuple[int, list[str]]]:
    """Non-blank records with the line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            problems.add(file, reader.line_num or start, f"not valid CSV: {error}")
            return
        line, start = start, reader.line_num + 1
        if any(cell.strip() for cell in cells):
            yield line, cells


def _csv_kind(columns: list[str], file: str, line: int, problems: _Collector) -> Literal["users", "groups"] | None:
    # Counted once over the header (list.count per column made a wide header quadratic).
    duplicates = sorted(column for column, seen in Counter(columns).items() if seen > 1)
    if len(duplicates) == 1:
        problems.add(file, line, f"column {duplicates[0]} appears twice in the header")
        return None
    if duplicates:
        problems.add(file, line, f"columns {_listed(duplicates)} appear twice or more in the header")
        return None
    names = set(columns)
    if "id" not in names:
        problems.add(
            file,
            line,
            f"the header has no id column (users: {','.join(USER_COLUMNS)}; groups: {','.join(GROUP_COLUMNS)})",
        )
        return None
    fits_users = names <= set(USER_COLUMNS)
    fits_groups = names <= set(GROUP_COLUMNS)
    if fits_users and fits_groups:
        problems.add(
            file, line, "the header id,name fits both users and groups: add an email column (users) or members (groups)"
        )
        return None
    if fits_users:
        return "users"
    if fits_groups:
        return "groups"
    unknown = sorted(names - set(USER_COLUMNS) - set(GROUP_COLUMNS), key=_natural)
    if unknown:
        problem = f"unknown header column {_listed([repr(c) for c in unknown])}"
    else:
        problem = "the header mixes users and groups columns"
    problems.add(file, line, f"{problem}: users have {','.join(USER_COLUMNS)}; groups have {','.join(GROUP_COLUMNS)}")
    return None


SHOWN_COLUMNS = 10


def _listed(names: Sequence[str]) -> str:
    """The first few names, and how many more: a message about a wide header stays short."""
    shown = ", ".join(name if len(name) <= 100 else name[:100] + "..." for name in names[:SHOWN_COLUMNS])
    more = len(names) - SHOWN_COLUMNS
    return f"{shown} and {more:,} more" if more > 0 else shown


def _natural(name: str) -> tuple[str, int, str]:
    """Sorts c2 before c10: the first unknown columns named are the first a person sees."""
    match = re.match(r"(.*?)(\d+)$", name)
    return (match[1], int(match[2]), name) if match else (name, -1, name)


def _csv_user(values: dict[str, str], line: int, records: _FileRecords, problems: _Collector) -> None:
    file = records.file
    external_text = values.get("external", "").lower()
    if external_text not in _TRUE | _FALSE:
        problems.add(file, line, f"external {values['external']!r} is not one of true/false, yes/no, 1/0")
        return
    fields = {
        "id": values.get("id", ""),
        "name": values.get("name") or None,
        "email": values.get("email") or None,
        "external": external_text in _TRUE,
    }
    user = _validated_user(fields, file, line, "", problems)
    if user is None:
        return
    records.users.append((user, line))
    for group_id in _id_list(values.get("groups", ""), "groups", file, line, problems):
        records.memberships.append((group_id, user.id, line))


def _csv_group(values: dict[str, str], line: int, records: _FileRecords, problems: _Collector) -> None:
    file = records.file
    group_id = values.get("id", "")
    if not _valid_id(group_id, "id", file, line, problems):
        return
    members = _id_list(values.get("members", ""), "members", file, line, problems)
    subgroups = _id_list(values.get("subgroups", ""), "subgroups", file, line, problems)
    if group_id in subgroups:
        problems.add(file, line, f"group {group_id} cannot contain itself")
        return
    records.groups.append(_GroupRecord(group_id, values.get("name") or None, members, subgroups, line))


def _id_list(cell: str, column: str, file: str, line: int, problems: _Collector) -> list[str]:
    ids = [item.strip() for item in cell.split(";") if item.strip()]
    return [item for item in ids if _valid_id(item, column, file, line, problems)]


def _valid_id(value: str, what: str, file: str, line: int | None, problems: _Collector) -> bool:
    if not value:
        problems.add(file, line, f"{what} is empty")
        return False
    try:
        _IDENTIFIER.validate_python(value)
    except ValidationError:
        problems.add(
            file, line, f"{what} {value!r} is not an id (1 to 200 characters, no spaces or control characters)"
        )
        return False
    return True


# --- JSON ------------------------------------------------------------------------------------------


class _Lines:
    def __init__(self, text: str) -> None:
        self._starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    def line(self, offset: int) -> int:
        return bisect_right(self._starts, offset)


_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, index: int) -> int:
    """The index of the first non-whitespace character from ``index`` on (JSON whitespace)."""
    match = _WHITESPACE.match(text, index)
    assert match is not None  # the pattern matches the empty string anywhere
    return match.end()


def _parse_json(text: str, records: _FileRecords, problems: _Collector) -> None:
    file = records.file
    document = _json_loads(text, file, 0, problems)
    if document is _INVALID:
        return
    if not isinstance(document, dict):
        problems.add(file, 1, f"expected an object with users and groups, found {_json_kind(document)}")
        return
    unknown = sorted(set(document) - {"users", "groups"})
    if unknown:
        problems.add(file, 1, f"unknown key {', '.join(repr(k) for k in unknown)}: expected users and groups")
        return
    lines = _Lines(text)
    for key, (element_offsets, value) in _top_level_lists(text).items():
        if not isinstance(value, list):
            problems.add(file, lines.line(element_offsets[0]) if element_offsets else 1, f"{key} must be a list")
            continue
        for index, (item, offset) in enumerate(zip(value, element_offsets, strict=True)):
            line = lines.line(offset)
            where = f"{key}[{index}]"
            if not isinstance(item, dict):
                problems.add(file, line, f"{where} must be an object, found {_json_kind(item)}")
            elif key == "users":
                _json_user(item, where, line, records, problems)
            else:
                _json_group(item, where, line, records, problems)


_INVALID: Any = object()


def _json_loads(text: str, file: str, line_offset: int, problems: _Collector) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        problems.add(file, error.lineno + line_offset, f"not valid JSON: {error.msg} (column {error.colno})")
    except (ValueError, RecursionError) as error:
        problems.add(file, 1 + line_offset, f"not valid JSON: {error}")
    return _INVALID


def _top_level_lists(text: str) -> dict[str, tuple[list[int], Any]]:
    """For each top-level key of a valid JSON object: where each element of its value starts
    (the value's own start when it is not a list) and the value; the last of repeated keys wins,
    as with ``json.loads``."""
    decoder = json.JSONDecoder()
    found: dict[str, tuple[list[int], Any]] = {}
    index = _skip(text, 0) + 1  # past the opening brace
    while True:
        index = _skip(text, index)
        if text[index] == "}":
            return found
        key, index = decoder.raw_decode(text, index)
        index = _skip(text, index) + 1  # past the colon
        index = _skip(text, index)
        value_start = index
        if text[index] == "[":
            offsets: list[int] = []
            values: list[Any] = []
            index += 1
            while True:
                index = _skip(text, index)
                if text[index] == "]":
                    index += 1
                    break
                offsets.append(index)
                item, index = decoder.raw_decode(text, index)
                values.append(item)
                index = _skip(text, index)
                if text[index] == ",":
                    index += 1
            found[key] = (offsets, values)
        else:
            value, index = decoder.raw_decode(text, index)
            found[key] = ([value_start], value)
        index = _skip(text, index)
        if text[index] == ",":
            index += 1


def _json_kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}.get(
        type(value), "a number"
    )


def _parse_jsonl(text: str, records: _FileRecords, problems: _Collector) -> None:
    file = records.file
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        item = _json_loads(raw, file, number - 1, problems)
        if item is _INVALID:
            continue
        if not isinstance(item, dict):
            problems.add(file, number, f"expected an object with a kind, found {_json_kind(item)}")
            continue
        kind = item.pop("kind", None)
        if kind == "user":
            _json_user(item, "", number, records, problems)
        elif kind == "group":
            _json_group(item, "", number, records, problems)
        else:
            problems.add(file, number, f'kind must be "user" or "group", found {json.dumps(kind)}')


def _json_user(item: dict[str, Any], where: str, line: int, records: _FileRecords, problems: _Collector) -> None:
    fields = dict(item)
    external = fields.get("external")
    if isinstance(external, str) and external.strip().lower() in _TRUE | _FALSE:
        fields["external"] = external.strip().lower() in _TRUE
    user = _validated_user(fields, records.file, line, where, problems)
    if user is not None:
        records.users.append((user, line))


def _json_group(item: dict[str, Any], where: str, line: int, records: _FileRecords, problems: _Collector) -> None:
    try:
        group = Group.model_validate(item)
    except ValidationError as error:
        _add_validation_problems(error, records.file, line, where, problems)
        return
    records.groups.append(_GroupRecord(group.id, group.name, list(group.members), list(group.subgroups), line))


def _validated_user(fields: dict[str, Any], file: str, line: int, where: str, problems: _Collector) -> User | None:
    try:
        user = User.model_validate(fields)
    except ValidationError as error:
        _add_validation_problems(error, file, line, where, problems)
        return None
    if user.email is not None and not _EMAIL.match(user.email):
        problems.add(file, line, f"{_path(where, 'email')} {user.email!r} is not an e-mail address")
        return None
    return user


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _add_validation_problems(error: ValidationError, file: str, line: int, where: str, problems: _Collector) -> None:
    for detail in error.errors():
        location = ".".join(str(part) for part in detail["loc"])
        path = _path(where, location) if location else (where or "the object")
        message = ": " + detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "string_pattern_mismatch":
            message = f" {detail['input']!r} is not an id (no spaces or control characters)"
        elif detail["type"] == "extra_forbidden":
            message = " is not a known field"
        problems.add(file, line, path + message)


# --- merging ---------------------------------------------------------------------------------------


def _merge(files: Iterable[_FileRecords], problems: _Collector) -> Directory:
    users: dict[str, tuple[User, str, int | None]] = {}
    groups: dict[str, tuple[_GroupRecord, str]] = {}
    implied: dict[str, list[str]] = {}
    for records in files:
        for user, line in records.users:
            if user.id in users:
                _, first_file, first_line = users[user.id]
                problems.add(
                    records.file,
                    line,
                    f"user {user.id} is defined twice (also {_place(first_file, first_line, records.file)})",
                )
            else:
                users[user.id] = (user, records.file, line)
        for group in records.groups:
            if group.id in groups:
                first, first_file = groups[group.id]
                problems.add(
                    records.file,
                    group.line,
                    f"group {group.id} is defined twice (also {_place(first_file, first.line, records.file)})",
                )
            else:
                groups[group.id] = (group, records.file)
        for group_id, user_id, _line in records.memberships:
            implied.setdefault(group_id, []).append(user_id)
    merged: list[Group] = []
    for group_id in dict.fromkeys([*groups, *implied]):
        defined = groups.get(group_id)
        record = defined[0] if defined else None
        members = [*(record.members if record else []), *implied.get(group_id, [])]
        merged.append(
            Group(
                id=group_id,
                name=(record.name if record else None) or group_id,
                members=tuple(dict.fromkeys(members)),
                subgroups=tuple(dict.fromkeys(record.subgroups if record else [])),
            )
        )
    return Directory(users=tuple(user for user, _, _ in users.values()), groups=tuple(merged))


def _place(file: str, line: int | None, current: str) -> str:
    where = f"line {line}" if line else "earlier"
    return where if file == current else f"{file}, {where}"
