"""The policy editor's form read into a :class:`~supervision.model.PolicySpec`, with a message
per field, and written back from one.

The lexicon is a text box, one term per line::

    id | kind | language | label | expression

``kind`` is ``query`` (the query language; the default when left empty) or ``regex``;
``language`` an ISO 639 code or empty (every language); ``label`` free text or empty; the
expression is the rest of the line (it may hold ``|``). Blank lines are skipped. A policy's
lexicon written this way reads back to exactly the same terms unless a term holds what a line
cannot (a ``|`` in its id or label, a line break, spaces around the expression or label):
:func:`unfaithful_terms` names those, and the page warns before anything is saved.
Exclusions are one query per line, reviewers one token label per line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from search_api.web.auth import first
from search_api.web.forms import id_list
from search_api.web.policy_forms import Fields, FormProblems, moment_value, parse_moment
from supervision.model import DIRECTIONS, LexiconTerm, PolicySpec

FIELDS = frozenset(
    {
        "name",
        "description",
        "people",
        "groups",
        "rooms",
        "directions",
        "lexicon",
        "exclusions",
        "languages",
        "sampling_percent",
        "sampling_seed",
        "effective_from",
        "effective_until",
        "reviewers",
        "escalation_reviewers",
        "sla_hours",
    }
)
LEXICON_FORMAT = "id | kind | language | label | expression"


def term_line(term: LexiconTerm) -> str:
    return f"{term.id} | {term.kind} | {term.language or ''} | {term.label or ''} | {term.expression}"


def lexicon_text(terms: tuple[LexiconTerm, ...]) -> str:
    return "\n".join(term_line(term) for term in terms)


def unfaithful_terms(terms: tuple[LexiconTerm, ...]) -> list[str]:
    """Ids of the terms one line cannot hold exactly (saving the form would change them)."""
    return [
        term.id
        for term in terms
        if "|" in term.id
        or (term.label is not None and ("|" in term.label or "\n" in term.label or term.label != term.label.strip()))
        or "\n" in term.expression
        or "\r" in term.expression
        or term.expression != term.expression.strip()
    ]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


@dataclass
class ParsedLexicon:
    terms: list[dict[str, Any]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def parse_lexicon(text: str) -> ParsedLexicon:
    """The lines as term values (validated by the spec), with their line numbers."""
    parsed = ParsedLexicon()
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|", 4)]
        if len(parts) < 5:
            parsed.problems.append(f"Line {number} has {len(parts)} part(s); write it as {LEXICON_FORMAT}.")
            continue
        term_id, kind, language, label, expression = parts
        parsed.terms.append(
            {
                "id": term_id,
                "kind": kind or "query",
                "language": language or None,
                "label": label or None,
                "expression": expression,
            }
        )
        parsed.line_numbers.append(number)
    return parsed


def _add(problems: dict[str, str], key: str, message: str) -> None:
    problems[key] = f"{problems[key]} {message}" if key in problems else message


def _sentence(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


@dataclass
class PolicyForm:
    """What the editor shows and posts (strings as typed, to show again after a refusal)."""

    name: str = ""
    description: str = ""
    people: str = ""
    groups: str = ""
    rooms: str = ""
    directions: list[str] = field(default_factory=lambda: list(DIRECTIONS))
    lexicon: str = ""
    exclusions: str = ""
    languages: str = ""
    sampling_percent: str = "0"
    sampling_seed: str = ""
    effective_from: str = ""
    effective_until: str = ""
    reviewers: str = ""
    escalation_reviewers: str = ""
    sla_hours: str = "72"
    enabled: bool = True
    comment: str = ""
    version: int | None = None
    """The version the editor was opened at (a save over a later one is refused)."""
    backtest_start: str = ""
    backtest_end: str = ""
    """The backtest's period: UTC days (the end included) or times."""

    @classmethod
    def of_spec(cls, spec: PolicySpec, version: int | None = None) -> PolicyForm:
        return cls(
            name=spec.name,
            description=spec.description,
            people=", ".join(spec.scope.people),
            groups=", ".join(spec.scope.groups),
            rooms=", ".join(spec.scope.rooms),
            directions=list(spec.scope.directions),
            lexicon=lexicon_text(spec.lexicon),
            exclusions="\n".join(spec.exclusions),
            languages=", ".join(spec.languages),
            sampling_percent=f"{spec.sampling_percent:g}",
            sampling_seed=spec.sampling_seed,
            effective_from=moment_value(spec.effective_from),
            effective_until=moment_value(spec.effective_until),
            reviewers="\n".join(spec.reviewers),
            escalation_reviewers="\n".join(spec.escalation_reviewers),
            sla_hours=str(spec.sla_hours),
            enabled=spec.enabled,
            version=version,
        )

    @classmethod
    def of_fields(cls, fields: Fields) -> PolicyForm:
        def text(name: str) -> str:
            return (fields.get(name) or [""])[0].replace("\r\n", "\n")

        version = first(fields, "version")
        return cls(
            name=first(fields, "name"),
            description=text("description").strip(),
            people=first(fields, "people"),
            groups=first(fields, "groups"),
            rooms=first(fields, "rooms"),
            directions=[value for value in fields.get("directions", []) if value],
            lexicon=text("lexicon"),
            exclusions=text("exclusions"),
            languages=first(fields, "languages"),
            sampling_percent=first(fields, "sampling_percent") or "0",
            sampling_seed=first(fields, "sampling_seed"),
            effective_from=first(fields, "effective_from"),
            effective_until=first(fields, "effective_until"),
            reviewers=text("reviewers"),
            escalation_reviewers=text("escalation_reviewers"),
            sla_hours=first(fields, "sla_hours"),
            enabled=first(fields, "state") != "disabled",
            comment=first(fields, "comment"),
            version=int(version) if version.isdigit() else None,
            backtest_start=first(fields, "backtest_start"),
            backtest_end=first(fields, "backtest_end"),
        )

    def backtest_period(self) -> tuple[datetime, datetime]:
        """``[start, end)`` of the backtest: a day given as the end is included; raises
        :class:`FormProblems`."""
        problems: dict[str, str] = {}
        moments: dict[str, datetime] = {}
        for key, label in (("backtest_start", "From"), ("backtest_end", "Until")):
            text = getattr(self, key)
            if not text:
                problems[key] = f"Give the backtest's “{label}” day."
                continue
            try:
                moments[key] = parse_moment(text)
            except ValueError:
                problems[key] = f"“{label}” is not a date: write it as YYYY-MM-DD."
        if problems:
            raise FormProblems(problems)
        start, end = moments["backtest_start"], moments["backtest_end"]
        if len(self.backtest_end) == 10:
            end += timedelta(days=1)
        if end <= start:
            raise FormProblems({"backtest_end": "“Until” must not be before “From”."})
        return start, end

    def spec(self) -> PolicySpec:
        """The policy as typed; raises :class:`FormProblems` keyed by field."""
        problems: dict[str, str] = {}
        lexicon = parse_lexicon(self.lexicon)
        for message in lexicon.problems:
            _add(problems, "lexicon", message)
        values: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "scope": {
                "people": id_list(self.people),
                "groups": id_list(self.groups),
                "rooms": id_list(self.rooms),
                "directions": self.directions,
            },
            "lexicon": lexicon.terms,
            "exclusions": _lines(self.exclusions),
            "languages": [code.lower() for code in id_list(self.languages)],
            "sampling_seed": self.sampling_seed,
            "reviewers": _lines(self.reviewers),
            "escalation_reviewers": _lines(self.escalation_reviewers),
            "enabled": self.enabled,
        }
        if not self.name:
            problems["name"] = "Give the policy a name."
        if not self.directions:
            problems["directions"] = "Tick at least one direction."
        try:
            values["sampling_percent"] = float(self.sampling_percent.replace(",", "."))
        except ValueError:
            problems["sampling_percent"] = "Write the sampling rate as a number of per cent, such as 2.5."
        try:
            values["sla_hours"] = int(self.sla_hours)
        except ValueError:
            problems["sla_hours"] = "Write the SLA as a whole number of hours."
        for key, label in (("effective_from", "From"), ("effective_until", "Until")):
            if getattr(self, key):
                try:
                    values[key] = parse_moment(getattr(self, key))
                except ValueError:
                    problems[key] = f"“{label}” is not a date and time: write it as YYYY-MM-DD HH:MM (UTC)."
        if problems:
            raise FormProblems(problems)
        try:
            return PolicySpec.model_validate(values)
        except ValidationError as error:
            for item in error.errors():
                _add(problems, *self._placed(tuple(item["loc"]), str(item["msg"]), lexicon))
            raise FormProblems(problems) from None

    @staticmethod
    def _placed(loc: tuple[Any, ...], message: str, lexicon: ParsedLexicon) -> tuple[str, str]:
        said = _sentence(message)
        if not loc:
            if "effective_until" in message:
                return "effective_until", "“Until” must be later than “From”."
            if "lexicon" in message:
                return "lexicon", said
            return "", said
        if loc[0] == "lexicon" and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(lexicon.line_numbers):
            term = lexicon.terms[loc[1]]
            part = f" ({loc[2]})" if len(loc) > 2 else ""
            return "lexicon", f"Line {lexicon.line_numbers[loc[1]]}, term {term['id']}{part}: {said}"
        if loc[0] == "scope" and len(loc) > 1:
            return str(loc[1]), said
        if loc[0] in FIELDS:
            return str(loc[0]), said
        return "", said
