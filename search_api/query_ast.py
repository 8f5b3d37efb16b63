"""The e-discovery query language as a tree: what the parser produces and backends translate.

Nodes are frozen dataclasses, so two parses of the same query compare equal, and
:func:`to_query` prints any tree back into text that parses to the same tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

FilterField = Literal["from", "in", "participant", "mentions", "hashtag", "has", "type"]
FILTER_FIELDS: tuple[str, ...] = ("from", "in", "participant", "mentions", "hashtag", "has", "type")


@dataclass(frozen=True)
class Term:
    """A word to find in the text (case and accents are ignored by the backends)."""

    text: str


@dataclass(frozen=True)
class Prefix:
    """Words starting with ``text`` (written ``text*``)."""

    text: str


@dataclass(frozen=True)
class Phrase:
    """Words in this order (written ``"a b c"``)."""

    text: str


@dataclass(frozen=True)
class Near:
    """``left`` within ``distance`` words of ``right``, in either order (``a NEAR/5 b``)."""

    left: str
    right: str
    distance: int


@dataclass(frozen=True)
class Filter:
    """A field condition: ``from:nick``, ``in:#room``, ``participant:``, ``mentions:``/``@nick``,
    ``#hashtag``, ``has:file``, ``type:join``."""

    field: FilterField
    value: str


@dataclass(frozen=True)
class SentRange:
    """Sent on or after ``start`` and before ``end`` (whole UTC days; either may be open)."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | Prefix | Phrase | Near | Filter | SentRange | Not | And | Or

_BARE_WORD = re.compile(r"^[^\s()\"*:@#\-][^\s()\":]*$")
_RESERVED = {"AND", "OR", "NOT"}


def is_bare_word(text: str) -> bool:
    """Whether ``text`` prints as a plain term (otherwise it needs quotes)."""
    return bool(_BARE_WORD.match(text)) and text not in _RESERVED and not text.endswith("*") and "/" not in text


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "") + '"'


def _sent(node: SentRange) -> str:
    start, end = node.start, node.end
    if start is not None and end is not None:
        last_day = date.fromordinal(end.toordinal() - 1)
        return f"sent:{start.isoformat()}..{last_day.isoformat()}"
    if start is not None:
        return f"sent>={start.isoformat()}"
    if end is not None:
        return f"sent<{end.isoformat()}"
    return "sent>=0001-01-01"


def to_query(node: Node) -> str:
    """Text that parses back to ``node``."""
    match node:
        case Term(text):
            return text if is_bare_word(text) else _quoted(text)
        case Prefix(text):
            return f"{text}*"
        case Phrase(text):
            return _quoted(text)
        case Near(left, right, distance):
            return f"{_word(left)} NEAR/{distance} {_word(right)}"
        case Filter("mentions", value):
            return f"@{value}"
        case Filter("hashtag", value):
            return f"#{value}"
        case Filter(field, value):
            return f"{field}:{value}"
        case SentRange():
            return _sent(node)
        case Not(item):
            return f"NOT {_grouped(item, inside_or=True)}"
        case And(items):
            return " ".join(_grouped(item) for item in items)
        case Or(items):
            return " OR ".join(_grouped(item, inside_or=True) for item in items)
    raise TypeError(f"not a query node: {node!r}")


def _word(text: str) -> str:
    return text if is_bare_word(text) else _quoted(text)


def _grouped(node: Node, *, inside_or: bool = False) -> str:
    needs_parentheses = isinstance(node, Or) or (isinstance(node, And) and inside_or)
    printed = to_query(node)
    return f"({printed})" if needs_parentheses else printed
