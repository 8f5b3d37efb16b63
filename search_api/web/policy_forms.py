"""The policies pages' forms read into the policy models, with a message per field.

Each form is a small dataclass holding what was typed (to show it again after a refusal) and
builds the model the API takes; what is wrong comes back as :class:`FormProblems`, keyed by
the form field the message belongs next to (``""``: the form as a whole). The models' own
validation stays the last word: a pydantic refusal is mapped to the field it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Any, get_args

from pydantic import ValidationError

from policies.disclaimers import normalize_locale, validate_templates
from policies.model import (
    ACTIONS,
    DisclaimerSpec,
    Group,
    Segment,
    Trigger,
    WallException,
    WallSpec,
)
from policies.simulate import SimulationRequest
from search_api.web.auth import first
from search_api.web.forms import id_list

Fields = dict[str, list[str]]
"""A posted form: every value of each field."""

MODES: tuple[str, ...] = ("block", "alert", "log")
TRIGGERS: tuple[str, ...] = get_args(Trigger)


class FormProblems(Exception):
    """What is wrong with a posted form: field name -> message (``""`` for the whole form)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(problems.values()))
        self.problems = problems


def explain(error: ValidationError) -> str:
    """A pydantic refusal as one line a person can act on."""
    return "; ".join((f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + str(e["msg"]) for e in error.errors())


def _add(problems: dict[str, str], key: str, message: str) -> None:
    problems[key] = f"{problems[key]} {message}" if key in problems else message


def _mapped(error: ValidationError, key_of: Any) -> dict[str, str]:
    """Each pydantic error under the form field ``key_of(loc)`` names."""
    problems: dict[str, str] = {}
    for item in error.errors():
        message = str(item["msg"]).removeprefix("Value error, ")
        _add(
            problems,
            key_of(tuple(item["loc"])),
            message[:1].upper() + message[1:] + ("" if message.endswith(".") else "."),
        )
    return problems


# --- dates ------------------------------------------------------------------------------------------


def parse_moment(text: str) -> datetime:
    """A ``datetime-local`` value (``2026-01-31T09:00``) or a date, read as UTC; a zone given
    in the text is honoured. Raises ValueError for anything else."""
    value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def moment_value(at: datetime | None) -> str:
    """What a ``datetime-local`` input (``step=1``) shows for ``at``, in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if at else ""


def _moment(text: str, label: str, key: str, problems: dict[str, str]) -> datetime | None:
    if not text:
        return None
    try:
        return parse_moment(text)
    except ValueError:
        _add(problems, key, f"“{label}” is not a date and time: write it as YYYY-MM-DD HH:MM (UTC).")
        return None


def _in_order(start: datetime | None, end: datetime | None, labels: tuple[str, str]) -> str | None:
    if start and end and end <= start:
        return f"“{labels[1]}” must be later than “{labels[0]}”."
    return None


# --- walls ------------------------------------------------------------------------------------------


def segments(text: str) -> tuple[Segment, ...]:
    """Ids typed into a side's box: ``user:...`` ids are single people, the rest groups."""
    return tuple(Segment(kind="user" if item.startswith("user:") else "group", id=item) for item in id_list(text))


def segment_text(items: tuple[Segment, ...]) -> str:
    return ", ".join(item.id for item in items)


def unfaithful_segments(wall: WallSpec) -> list[str]:
    """Segments the id boxes cannot show faithfully (a user id without ``user:``, a group id
    with it): saving the form would turn them into the other kind."""
    named = [*wall.side_a, *wall.side_b]
    for exception in wall.exceptions:
        named.extend((*exception.who, *exception.with_whom))
    return [s.id for s in named if (s.kind == "user") != s.id.startswith("user:")]


@dataclass
class ExceptionRow:
    name: str = ""
    who: str = ""
    with_whom: str = ""
    new: bool = False
    """The empty row offered for adding one."""


def _exception_key(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] == "exceptions" and len(loc) > 1:
        return f"exception_{loc[1]}"
    if loc and loc[0] in {"name", "side_a", "side_b", "mode", "scopes", "effective_from", "effective_until"}:
        return str(loc[0])
    return ""


@dataclass
class WallForm:
    """The wall form of the add, edit and what-if pages."""

    name: str = ""
    side_a: str = ""
    side_b: str = ""
    mode: str = "block"
    scopes: list[str] = field(default_factory=lambda: list(ACTIONS))
    effective_from: str = ""
    effective_until: str = ""
    enabled: bool = True
    exceptions: list[ExceptionRow] = field(default_factory=list)
    version: int | None = None
    """The version the form was opened at (edits of a wall changed meanwhile are refused)."""

    @classmethod
    def of_wall(cls, wall: WallSpec, version: int | None = None) -> WallForm:
        return cls(
            name=wall.name,
            side_a=segment_text(wall.side_a),
            side_b=segment_text(wall.side_b),
            mode=wall.mode,
            scopes=list(wall.scopes),
            effective_from=moment_value(wall.effective_from),
            effective_until=moment_value(wall.effective_until),
            enabled=wall.enabled,
            exceptions=[ExceptionRow(e.name, segment_text(e.who), segment_text(e.with_whom)) for e in wall.exceptions],
            version=version,
        )

    @classmethod
    def of_fields(cls, fields: Fields) -> WallForm:
        """What was posted; exception rows left empty or ticked for removal are dropped."""
        removed = set(fields.get("exception_remove", []))
        rows = zip_longest(
            fields.get("exception_name", []),
            fields.get("exception_who", []),
            fields.get("exception_with", []),
            fillvalue="",
        )
        exceptions = [
            ExceptionRow(name.strip(), who.strip(), with_whom.strip())
            for index, (name, who, with_whom) in enumerate(rows)
            if str(index) not in removed and (name.strip() or who.strip() or with_whom.strip())
        ]
        version = first(fields, "version")
        return cls(
            name=first(fields, "name"),
            side_a=first(fields, "side_a"),
            side_b=first(fields, "side_b"),
            mode=first(fields, "mode") or "block",
            scopes=[scope for scope in fields.get("scopes", []) if scope],
            effective_from=first(fields, "effective_from"),
            effective_until=first(fields, "effective_until"),
            enabled=first(fields, "state") != "disabled",
            exceptions=exceptions,
            version=int(version) if version.isdigit() else None,
        )

    def rows(self) -> list[ExceptionRow]:
        """The exceptions and an empty row to add one."""
        return [*self.exceptions, ExceptionRow(new=True)]

    def spec(self) -> WallSpec:
        """The wall; raises :class:`FormProblems`."""
        problems = self._problems()
        start = _moment(self.effective_from, "From", "effective_from", problems)
        end = _moment(self.effective_until, "Until", "effective_until", problems)
        order = _in_order(start, end, ("From", "Until"))
        if order:
            _add(problems, "effective_until", order)
        if problems:
            raise FormProblems(problems)
        try:
            return WallSpec(
                name=self.name,
                side_a=segments(self.side_a),
                side_b=segments(self.side_b),
                mode=self.mode,
                scopes=tuple(self.scopes),
                effective_from=start,
                effective_until=end,
                exceptions=tuple(
                    WallException(name=row.name, who=segments(row.who), with_whom=segments(row.with_whom))
                    for row in self.exceptions
                ),
                enabled=self.enabled,
            )
        except ValidationError as error:
            raise FormProblems(_mapped(error, _exception_key)) from None

    def _problems(self) -> dict[str, str]:
        problems: dict[str, str] = {}
        if not self.name:
            problems["name"] = "Give the wall a name."
        if not id_list(self.side_a):
            problems["side_a"] = "Side A needs at least one group or user id."
        if not id_list(self.side_b):
            problems["side_b"] = "Side B needs at least one group or user id."
        if self.mode not in MODES:
            problems["mode"] = f"The mode is one of {', '.join(MODES)}."
        if not self.scopes:
            problems["scopes"] = "Tick at least one scope: what the wall stops."
        for index, row in enumerate(self.exceptions):
            if not row.name:
                _add(problems, f"exception_{index}", f"Exception {index + 1}: give it a name.")
            if not id_list(row.who):
                _add(problems, f"exception_{index}", f"Exception {index + 1}: say who may cross the wall.")
        return problems


# --- disclaimers ------------------------------------------------------------------------------------


@dataclass
class TextRow:
    locale: str = ""
    text: str = ""
    new: bool = False


@dataclass
class DisclaimerForm:
    """The create and new-version forms of a disclaimer rule."""

    name: str = ""
    trigger: str = "conversation_start"
    group_id: str = ""
    default_locale: str = "en"
    enabled: bool = True
    texts: list[TextRow] = field(default_factory=list)

    @classmethod
    def of_rule(cls, rule: DisclaimerSpec) -> DisclaimerForm:
        return cls(
            name=rule.name,
            trigger=rule.trigger,
            group_id=rule.group_id or "",
            default_locale=rule.default_locale,
            enabled=rule.enabled,
            texts=[TextRow(locale, text) for locale, text in rule.texts.items()],
        )

    @classmethod
    def of_fields(cls, fields: Fields) -> DisclaimerForm:
        """What was posted; text rows left empty or ticked for removal are dropped."""
        removed = set(fields.get("text_remove", []))
        rows = zip_longest(fields.get("text_locale", []), fields.get("text_body", []), fillvalue="")
        texts = [
            TextRow(locale.strip(), body.replace("\r\n", "\n").strip())
            for index, (locale, body) in enumerate(rows)
            if str(index) not in removed and (locale.strip() or body.strip())
        ]
        return cls(
            name=first(fields, "name"),
            trigger=first(fields, "trigger"),
            group_id=first(fields, "group_id"),
            default_locale=first(fields, "default_locale"),
            enabled=first(fields, "state") != "disabled",
            texts=texts,
        )

    def rows(self) -> list[TextRow]:
        """The texts and empty rows to add more (two rows at least)."""
        blanks = max(1, 2 - len(self.texts))
        return [*self.texts, *(TextRow(new=True) for _ in range(blanks))]

    def spec(self) -> DisclaimerSpec:
        """The rule, its templates checked; raises :class:`FormProblems`."""
        problems = self._problems()
        if problems:
            raise FormProblems(problems)
        try:
            spec = DisclaimerSpec(
                name=self.name,
                trigger=self.trigger,
                group_id=self.group_id or None,
                texts={row.locale: row.text for row in self.texts},
                default_locale=self.default_locale,
                enabled=self.enabled,
            )
        except ValidationError as error:
            raise FormProblems(_mapped(error, self._key)) from None
        for message in validate_templates(spec):
            locale, _, reason = message.partition(": ")
            _add(problems, self._row_key(locale), "Template error: " + reason.replace(". at line", " at line"))
        if problems:
            raise FormProblems(problems)
        return spec

    def _problems(self) -> dict[str, str]:
        problems: dict[str, str] = {}
        if not self.name:
            problems["name"] = "Give the disclaimer a name."
        if self.trigger not in TRIGGERS:
            problems["trigger"] = f"Pick a trigger: {', '.join(TRIGGERS)}."
        elif self.trigger == "group_membership" and not self.group_id:
            problems["group_id"] = "The group_membership trigger needs the group whose members see the disclaimer."
        elif self.trigger != "group_membership" and self.group_id:
            problems["group_id"] = "Only the group_membership trigger takes a group: empty this field or change it."
        self._text_problems(problems)
        return problems

    def _text_problems(self, problems: dict[str, str]) -> None:
        if not self.texts:
            problems["text_0"] = "Write the disclaimer in at least one locale."
            return
        seen: dict[str, str] = {}
        for index, row in enumerate(self.texts):
            key = f"text_{index}"
            if not row.locale:
                _add(problems, key, f"Text {index + 1}: say which locale it is in (such as en or fr-CA).")
            elif not row.text:
                _add(problems, key, f"Text {index + 1} ({row.locale}) is empty: write it, or tick Remove.")
            elif normalize_locale(row.locale) in seen:
                _add(problems, key, f"{row.locale} is there twice (also as {seen[normalize_locale(row.locale)]}).")
            else:
                seen[normalize_locale(row.locale)] = row.locale
        locales = [row.locale for row in self.texts if row.locale]
        if not self.default_locale:
            problems["default_locale"] = "Say which locale is shown when the reader's has no text."
        elif locales and self.default_locale not in locales:
            problems["default_locale"] = (
                f"The default locale {self.default_locale} has no text: use one of {', '.join(locales)}."
            )

    def _row_key(self, locale: str) -> str:
        for index, row in enumerate(self.texts):
            if row.locale == locale:
                return f"text_{index}"
        return ""

    def _key(self, loc: tuple[Any, ...]) -> str:
        if loc and loc[0] == "texts" and len(loc) > 1:
            return self._row_key(str(loc[1]))
        if loc and loc[0] in {"name", "trigger", "group_id", "default_locale"}:
            return str(loc[0])
        return ""


# --- groups -----------------------------------------------------------------------------------------


def _group_key(loc: tuple[Any, ...]) -> str:
    if loc and loc[0] in {"id", "name", "members", "subgroups"}:
        return str(loc[0])
    return ""


def validated_group(values: dict[str, Any]) -> Group:
    """A group from plain values; raises :class:`FormProblems`."""
    try:
        return Group.model_validate(values)
    except ValidationError as error:
        raise FormProblems(_mapped(error, _group_key)) from None


@dataclass
class GroupForm:
    """The new-group form."""

    id: str = ""
    name: str = ""
    members: str = ""
    subgroups: str = ""

    @classmethod
    def of_fields(cls, fields: Fields) -> GroupForm:
        return cls(*(first(fields, name) for name in ("id", "name", "members", "subgroups")))

    def group(self) -> Group:
        problems: dict[str, str] = {}
        if not self.id:
            problems["id"] = "Give the group an id (such as group:research)."
        if not self.name:
            problems["name"] = "Give the group a name."
        if self.id and self.id in id_list(self.subgroups):
            problems["subgroups"] = "A group cannot be its own subgroup."
        if problems:
            raise FormProblems(problems)
        values = {
            "id": self.id,
            "name": self.name,
            "members": id_list(self.members),
            "subgroups": id_list(self.subgroups),
        }
        return validated_group(values)


GROUP_CHANGES: dict[str, str] = {
    "rename": "Renamed.",
    "add_members": "Members added.",
    "remove_members": "Members removed.",
    "add_subgroups": "Subgroups added.",
    "remove_subgroups": "Subgroups removed.",
}
"""The changes the group page makes, and what it says once one is done."""


def changed_group(group: Group, change: str, fields: Fields) -> Group:
    """``group`` after one change from its page; raises :class:`FormProblems`."""
    values: dict[str, Any] = group.model_dump()
    if change == "rename":
        values["name"] = first(fields, "name")
        if not values["name"]:
            raise FormProblems({"name": "Give the group a name."})
    elif change in ("add_members", "add_subgroups"):
        kind = change.removeprefix("add_")
        added = id_list(first(fields, kind))
        if not added:
            raise FormProblems({kind: f"Type at least one {'user' if kind == 'members' else 'group'} id to add."})
        if kind == "subgroups" and group.id in added:
            raise FormProblems({kind: "A group cannot be its own subgroup."})
        values[kind] = [*values[kind], *added]
    elif change in ("remove_members", "remove_subgroups"):
        kind = change.removeprefix("remove_")
        chosen = set(fields.get(f"remove_{kind}", []))
        if not chosen:
            raise FormProblems({f"remove_{kind}": f"Tick the {kind} to remove."})
        values[kind] = [item for item in values[kind] if item not in chosen]
    else:
        raise FormProblems({"": f"Unknown change {change!r}."})
    return validated_group(values)


# --- the what-if ------------------------------------------------------------------------------------


@dataclass
class SimulationForm:
    wall: WallForm = field(default_factory=WallForm)
    since: str = ""
    until: str = ""
    max_rooms: str = "200"

    @classmethod
    def of_fields(cls, fields: Fields) -> SimulationForm:
        return cls(
            WallForm.of_fields(fields), first(fields, "since"), first(fields, "until"), first(fields, "max_rooms")
        )

    def request(self) -> SimulationRequest:
        """The what-if request; raises :class:`FormProblems` (the wall's and the window's)."""
        problems: dict[str, str] = {}
        wall: WallSpec | None = None
        try:
            wall = self.wall.spec()
        except FormProblems as error:
            problems.update(error.problems)
        since = _moment(self.since, "Replay from", "since", problems)
        until = _moment(self.until, "Replay until", "until", problems)
        order = _in_order(since, until, ("Replay from", "Replay until"))
        if order:
            _add(problems, "until", order)
        rooms = int(self.max_rooms) if self.max_rooms.isdigit() else 0
        if not 1 <= rooms <= 10_000:
            problems["max_rooms"] = "List between 1 and 10000 rooms."
        if problems or wall is None:
            raise FormProblems(problems)
        try:
            return SimulationRequest(wall=wall, since=since, until=until, max_rooms=rooms)
        except ValidationError as error:
            raise FormProblems({"": explain(error)}) from None
