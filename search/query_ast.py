"""The e-discovery query language as a tree: what the parser produces and backends translate.

Nodes are frozen dataclasses, so two parses of the same query compare equal, and
:func:`to_query` prints any tree the parser can produce back into text that parses to the same
tree: words that would read as operators, filters or prefixes (``OR``, ``-x``, ``w/5``,
``from:x``, ``x*``) are quoted, as are filter values with spaces. The token patterns live here
so that the parser's grammar and the printer share one definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

FilterField = Literal["from", "in", "participant", "mentions", "hashtag", "has", "type", "is", "filetype", "tag"]
FILTER_FIELDS: tuple[str, ...] = (
    "from",
    "in",
    "participant",
    "mentions",
    "hashtag",
    "has",
    "type",
    "is",
    "filetype",
    "tag",
)
IS_VALUES: tuple[str, ...] = ("edited", "deleted")
"""What ``is:`` knows: ``is:edited`` (messages with at least one edit), ``is:deleted``."""


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
    ``#hashtag``, ``has:file``, ``type:join``, ``is:edited``, ``is:deleted``, ``filetype:pdf``
    (the value lower-case, without a leading dot), ``tag:hot`` (a review set's coding: meaningful
    only in a review set, see :func:`uses_tags`)."""

    field: FilterField
    value: str


@dataclass(frozen=True)
class SentRange:
    """Sent on or after ``start`` and before ``end`` (whole UTC days; either may be open)."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class Current:
    """The words of ``item`` in the current text only (written ``current:x``,
    ``current:"a b"``, ``current:(a OR b)``); without it every version of a message is searched.
    Filters inside it are unchanged."""

    item: Node


WithinField = Literal["attachment", "file"]
WITHIN_FIELDS: tuple[str, ...] = ("attachment", "file")


@dataclass(frozen=True)
class Within:
    """The words of ``item`` in one field of uploaded files only: ``attachment:`` the text
    extracted from them (``attachment:ACME``, ``attachment:"a b"``, ``attachment:(a OR b)``),
    ``file:`` their names (``file:report``, ``file:rep*``, ``file:"q3 report"``). Without it,
    words are searched in messages, file names and attachment text alike. Filters inside it are
    unchanged."""

    field: WithinField
    item: Node


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | Prefix | Phrase | Near | Filter | SentRange | Current | Within | Not | And | Or

# The lexical rules, shared by the parser's grammar (search.query_parser) and the printer
# below, so that the printer knows exactly which words would read back as something else.


def _caseless(word: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" for c in word)


BOUNDARY = r'(?![^\s()"\-])'
"""After a keyword or ``NEAR/n``: whitespace, a parenthesis, a quotation mark, a hyphen or the end."""
KEYWORDS: tuple[str, ...] = ("AND", "OR", "NOT")
QUERY_FIELDS: tuple[str, ...] = ("from", "in", "participant", "mentions", "has", "type", "is", "filetype", "tag")
"""The ``field:value`` filters (``hashtag`` is only written ``#tag``)."""
_VALUE = r'(?:"[^"]*"|[^\s()"]*)'
TOKEN_PATTERNS: dict[str, str] = {
    **{keyword: rf"{keyword}{BOUNDARY}" for keyword in KEYWORDS},
    "NEAR_OP": rf"(?:NEAR|w)/[0-9]+{BOUNDARY}",
    "NEGATION": r"-(?=[^\s)\-])",
    "FIELD_FILTER": "(?:" + "|".join(_caseless(name) for name in QUERY_FIELDS) + "):" + _VALUE,
    "SENT": _caseless("sent") + r"(?:>=|<=|>|<|:)" + _VALUE,
    "CURRENT": _caseless("current") + ":",
    "ATTACHMENT": _caseless("attachment") + ":",
    "FILE_NAME": _caseless("file") + ":",
    "MENTION": r'@[^\s()"]*',
    "HASHTAG": r'#[^\s()"]*',
    "PHRASE": r'"[^"]*"',
    "WORD": r'[^\s()"]+',
}
"""Every token but the parentheses, as Python regular expressions. No two of them but WORD
match at the same place, and the lexer tries WORD last (lowest priority): text is read as a
word only when none of the others matches at its start."""

_WORD = re.compile(TOKEN_PATTERNS["WORD"])
_SPECIAL = re.compile("|".join(f"(?:{pattern})" for name, pattern in TOKEN_PATTERNS.items() if name != "WORD"))
_VALUE_TEXT = re.compile(r'[^\s()"]+')


def reads_as_one_word(text: str) -> bool:
    """Whether ``text``, written alone, is read as a single WORD token (no operator, filter, ...)."""
    return bool(_WORD.fullmatch(text)) and not _SPECIAL.match(text)


def is_bare_word(text: str) -> bool:
    """Whether ``text`` prints as a plain term (otherwise it needs quotes)."""
    return reads_as_one_word(text) and "*" not in text and text != "-"


def is_bare_value(text: str) -> bool:
    """Whether a filter value prints without quotes (``from:bob`` but ``from:"bob smith"``)."""
    return bool(_VALUE_TEXT.fullmatch(text)) and not text.endswith("*")


TAG_OUTSIDE_REVIEW = "tag: searches a review set's coding: search within a review set to use it"


def uses_tags(node: Node) -> bool:
    """Whether ``node`` holds a ``tag:`` filter (a review set's coding, which the archive's
    search backends know nothing of: only a review set's search answers it)."""
    pending: list[Node] = [node]
    while pending:
        match pending.pop():
            case Filter("tag", _):
                return True
            case Current(item) | Within(_, item) | Not(item):
                pending.append(item)
            case And(items) | Or(items):
                pending.extend(items)
    return False


def searches_words(node: Node) -> bool:
    """Whether ``node`` holds a word condition (a word, phrase, prefix, NEAR, ``attachment:``,
    ``file:``) or ``filetype:``: such a query finds uploaded files by what they say, a query of
    filters alone finds messages only (unless it names a type or ``has:file``)."""
    pending: list[Node] = [node]
    while pending:
        match pending.pop():
            case Term() | Phrase() | Prefix() | Near() | Within() | Filter("filetype", _):
                return True
            case Current(item) | Not(item):
                pending.append(item)
            case And(items) | Or(items):
                pending.extend(items)
    return False


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "") + '"'


def _word(text: str) -> str:
    return text if is_bare_word(text) else _quoted(text)


def _value(text: str) -> str:
    return text if is_bare_value(text) else _quoted(text)


def _sent(node: SentRange) -> str:
    start, end = node.start, node.end
    if start is not None and end is not None:
        last_day = date.fromordinal(max(end.toordinal() - 1, start.toordinal()))
        return f"sent:{start.isoformat()}..{last_day.isoformat()}"
    if start is not None:
        return f"sent>={start.isoformat()}"
    if end is not None:
        return f"sent<{end.isoformat()}"
    return "sent<=9999-12-31"


def _leaf(node: Term | Prefix | Phrase | Near | Filter | SentRange) -> str:
    match node:
        case Term(text):
            return _word(text)
        case Prefix(text):
            return f"{text}*"
        case Phrase(text):
            return _quoted(text)
        case Near(left, right, distance):
            return f"{_word(left)} NEAR/{distance} {_word(right)}"
        case Filter("mentions", value):
            return f"@{value}" if is_bare_value(value) else f"mentions:{_quoted(value)}"
        case Filter("hashtag", value):
            return f"#{value}"
        case Filter(field, value):
            return f"{field}:{_value(value)}"
        case SentRange():
            return _sent(node)
    raise TypeError(f"not a query node: {node!r}")


def _grouped(node: Node, *, inside_or: bool = False) -> list[Node | str]:
    needs_parentheses = isinstance(node, Or) or (isinstance(node, And) and inside_or)
    return ["(", node, ")"] if needs_parentheses else [node]


def _pieces(node: Current | Within | Not | And | Or) -> list[Node | str]:
    match node:
        case Current(item):
            wrapped = isinstance(item, And | Or | Not | Current | Within)
            return ["current:", "(", item, ")"] if wrapped else ["current:", item]
        case Within(field, item):
            wrapped = isinstance(item, And | Or | Not | Current | Within)
            return [f"{field}:", "(", item, ")"] if wrapped else [f"{field}:", item]
        case Not(item):
            return ["NOT ", *_grouped(item, inside_or=True)]
        case And(items):
            pieces: list[Node | str] = []
            for index, item in enumerate(items):
                pieces += ([" "] if index else []) + _grouped(item)
            return pieces
        case Or(items):
            pieces = []
            for index, item in enumerate(items):
                pieces += ([" OR "] if index else []) + _grouped(item, inside_or=True)
            return pieces


def to_query(node: Node) -> str:
    """Text that parses back to ``node``, for every tree :func:`~search.query_parser.parse_query`
    can produce (words that would read as operators or filters are quoted). Iterative, so any
    depth prints. Text the language cannot hold (a ``"`` inside a word) is dropped."""
    printed: list[str] = []
    pending: list[Node | str] = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            printed.append(item)
        elif isinstance(item, Current | Within | Not | And | Or):
            pending.extend(reversed(_pieces(item)))
        else:
            printed.append(_leaf(item))
    return "".join(printed)


class UnsupportedQuery(ValueError):
    """A query a backend cannot answer (said to the user as a 422, never a server error)."""
