"""Parsing the e-discovery query language (lark, LALR) into :mod:`search.query_ast` trees.

Terms are ANDed by default; ``OR`` binds looser than the implicit AND; ``NOT x`` and ``-x``
negate; parentheses group. Errors name the position (1-based character offset into the query,
counting every character including newlines) and what was expected.

Lexical rules (shared with the printer, see ``TOKEN_PATTERNS`` in :mod:`search.query_ast`):

- ``AND``, ``OR``, ``NOT`` (upper case) are operators only as whole words: followed by
  whitespace, ``(``, ``)``, ``"``, ``-`` or the end. ``NOTHING``, ``ORACLE``, ``ANDROID``, ``or``
  are words; ``NOT-x`` is ``NOT -x``. To search the word OR, quote it: ``"OR"``.
- ``NEAR/n`` and ``w/n`` (n in ASCII digits) are the proximity operator under the same rule:
  ``w/50cal``, ``NEARBY``, ``NEAR/5x`` are words. Written where no word or phrase can stand on
  each side (``(a) NEAR/5 b``, ``from:x NEAR/5 y``, ``a NEAR/5 b NEAR/5 c``, at either end) it
  is an error, never a word: quote it (``"w/5"``) to search it. Its sides are single words or
  quoted phrases, not prefixes (``a NEAR/5 b*`` is refused). n is 1 to ``MAX_NEAR_DISTANCE``.
- ``from:``, ``in:``, ``participant:``, ``mentions:``, ``has:``, ``type:`` (any case) take a
  value right after the colon, bare (``from:bob``) or quoted (``from:"bob smith"``,
  ``in:"#release planning"``; surrounding spaces are dropped). A missing value is an error, so
  is a bare value ending in ``*`` (filters match whole values; quote it to mean a literal ``*``).
  ``@nick`` and ``#tag`` likewise need a bare value.
- ``tag:<name>`` keeps the documents of a review set coded with that tag (``-tag:hot``: not
  coded Hot); only a review set's search answers it, the archive's search refuses it (400).
- ``is:edited`` and ``is:deleted`` keep messages with an edit, or deleted ones (any other value
  is refused, with a did-you-mean).
- ``current:`` (any case) makes what follows it, touching it, search the current text only: a
  word, a prefix, a phrase, a NEAR or a parenthesised search (``current:ACME``,
  ``current:"buy now"``, ``current:(buy OR sell)``). Without it every version of a message (the
  original, each edit, the deleted text) is searched.
- ``attachment:`` and ``file:`` (any case) work as ``current:`` does, for the text extracted from
  uploaded files (``attachment:ACME``, ``attachment:"buy now"``, ``attachment:(buy OR sell)``)
  and for their names (``file:report``, ``file:rep*``, ``file:"q3 report"``). Without them words
  are searched in messages, file names and attachment text alike.
- ``filetype:pdf`` (any case; ``.pdf`` and ``PDF`` alike) keeps uploaded files of that type (the
  name's extension, else the content type's); ``has:file`` keeps every uploaded file.
- ``sent>=D``, ``sent>D``, ``sent<D``, ``sent<=D``, ``sent:D``, ``sent:D1..D2`` take ISO dates
  up to 9999-12-31; a range through that day is open at its end, ``sent>9999-12-31`` is refused.
- A lone ``-`` (``a - b``) is refused: ``-`` must touch what it excludes (``-windows``).
- Control characters other than whitespace (NUL, ...) and lone surrogates are refused.

Limits, so that parsing, printing and every backend's work stay bounded whatever the query
(each refused with a message naming the limit; the API answers 422). They live here, in one
place, and docs/security.md lists them with their numbers:

- ``MAX_QUERY_LENGTH`` (4000) characters;
- ``MAX_DEPTH`` (32) levels of AND, OR and NOT inside one another (see ``MAX_DEPTH`` for why
  32; parentheses alone cost nothing);
- ``MAX_CLAUSES`` (64) conditions: words, phrases, prefixes, NEARs, filters and dates;
- ``MAX_NEAR_CLAUSES`` (8) NEAR operators, each with n from 1 to ``MAX_NEAR_DISTANCE`` (50):
  the Tantivy translation of a NEAR whose sides repeat a word or hold several words builds O(n)
  exact-offset phrase queries (``the NEAR/1000 the`` took 3 s on the demo index);
- ``SEARCH_TIME_BUDGET_SECONDS`` (10): where the backend can stop a search (Elasticsearch's
  ``timeout``), a search that runs longer is refused rather than answered with partial hits.

Parsing builds the tree while the LALR parser reduces (no parse tree, no recursion), and
:func:`~search.query_ast.to_query` is iterative, so no query nests deep enough to exhaust
Python's stack.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import cast

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import LexError

from search.query_ast import (
    IS_VALUES,
    TOKEN_PATTERNS,
    And,
    Current,
    Filter,
    FilterField,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    Within,
    WithinField,
)

MAX_DEPTH = 32
"""Most levels of AND, OR and NOT (or ``-``) inside one another, i.e. the height of the tree
(``a b`` is 1, ``(a b) OR c`` is 2, ``NOT (a OR b)`` is 2; parentheses that change nothing, as
in ``((a))``, cost nothing, so every printing of an accepted tree is accepted too). The
tightest consumer sets it: SQLite's parser overflows ("parser stack overflow") from about 37
nested AND/OR levels in the SQL that :mod:`search.archive_search` writes. Python recursion
in the backends' translations stays far below the interpreter's limit at this depth."""
MAX_NEAR_DISTANCE = 50
"""Largest n of ``NEAR/n`` (about a paragraph)."""
MAX_QUERY_LENGTH = 4000
"""Most characters in a query."""
MAX_CLAUSES = 64
"""Most conditions (words, phrases, prefixes, NEARs, filters, dates) in a query; each becomes at
least one backend query, and 64 is well past any search a reviewer writes by hand."""
MAX_NEAR_CLAUSES = 8
"""Most NEAR operators in a query: the costliest condition (up to ``2 * MAX_NEAR_DISTANCE``
phrase queries each on Tantivy; 8 of the worst kind, ``the NEAR/50 the``, took about 1 s on the
demo index)."""
SEARCH_TIME_BUDGET_SECONDS = 10
"""How long a backend that can stop a running search (Elasticsearch) lets one run before the
search is refused; Tantivy's binding cannot stop a search, so there the limits above bound it."""


def _slashed(pattern: str) -> str:
    """``pattern`` written inside lark's ``/.../``."""
    return pattern.replace("/", r"\/")


_TERMINALS = "\n".join(
    f"{terminal}.{priority}: /{_slashed(TOKEN_PATTERNS[terminal.lstrip('_')])}/"
    for terminal, priority in (
        ("NEAR_OP", 3),
        ("NEGATION", 3),
        ("FIELD_FILTER", 3),
        ("SENT", 3),
        ("CURRENT", 3),
        ("ATTACHMENT", 3),
        ("FILE_NAME", 3),
        ("_AND", 2),
        ("_OR", 2),
        ("NOT", 2),
        ("MENTION", 2),
        ("HASHTAG", 2),
        ("PHRASE", 2),
        ("WORD", 0),
    )
)

GRAMMAR = (
    r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: unary (_AND? unary)*
?unary: NOT unary          -> negated
      | NEGATION atom      -> negated
      | atom
?atom: LPAR or_expr RPAR   -> group
     | near
     | FIELD_FILTER        -> field_filter
     | SENT                -> sent
     | CURRENT atom        -> current
     | ATTACHMENT atom     -> within
     | FILE_NAME atom      -> within
     | MENTION             -> mention
     | HASHTAG             -> hashtag
     | PHRASE              -> phrase
     | WORD                -> word

near: near_operand NEAR_OP near_operand
?near_operand: WORD | PHRASE

LPAR: "("
RPAR: ")"
"""
    + _TERMINALS
    + r"""

%ignore /\s+/
"""
)


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed: ``position`` is the 1-based character offset of the problem
    in ``query`` (one past the end when the query stops too early)."""

    def __init__(self, message: str, position: int, query: str) -> None:
        super().__init__(message, position, query)
        self.message = message
        self.position = position
        self.query = query

    def __str__(self) -> str:
        return f"{self.message} (at position {self.position})"


class _Refused(Exception):
    """A refusal raised while the tree is built; ``offset`` is 0-based."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message, offset)
        self.message = message
        self.offset = offset


def _refuse(token: Token, message: str) -> _Refused:
    return _Refused(message, token.start_pos or 0)


@dataclass(frozen=True)
class _Built:
    """A subtree while parsing: where it starts, how deeply it nests, how many conditions and
    NEARs it holds."""

    node: Node
    start: int
    depth: int
    clauses: int = 1
    nears: int = 0


def _built(node: Node, start: int, depth: int, clauses: int = 1, nears: int = 0) -> _Built:
    if depth > MAX_DEPTH:
        raise _Refused(
            f"the query is nested too deeply: at most {MAX_DEPTH} levels of AND, OR and NOT (or -) inside one another",
            start,
        )
    if clauses > MAX_CLAUSES:
        raise _Refused(
            f"the query has too many conditions: at most {MAX_CLAUSES} words, phrases, prefixes, NEARs, "
            "filters and dates",
            start,
        )
    if nears > MAX_NEAR_CLAUSES:
        raise _Refused(f"the query has too many NEAR operators: at most {MAX_NEAR_CLAUSES}", start)
    return _Built(node, start, depth, clauses, nears)


def _day(token: Token, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _refuse(token, f"{text!r} is not a date like 2024-01-31") from None


def _next_day(token: Token, day: date) -> date:
    if day == date.max:
        raise _refuse(token, f"{token!s} reaches past the last day a query can name ({date.max.isoformat()})")
    return day + timedelta(days=1)


def _end_after(day: date) -> date | None:
    """The exclusive end of a range whose last day is ``day``: open after the last day there is
    (so ``sent:9999-01-01..9999-12-31``, the date facet's last year, can be searched)."""
    return None if day == date.max else day + timedelta(days=1)


def _sent_range(token: Token) -> SentRange:
    text = str(token)[4:]
    operator = next(op for op in (">=", "<=", ">", "<", ":") if text.startswith(op))
    value = _unquote(text[len(operator) :]).strip()
    if not value:
        raise _refuse(token, f"sent{operator} needs a date right after it, as in sent{operator}2024-01-31")
    if operator == ":" and ".." in value:
        first, _, last = value.partition("..")
        start, end = _day(token, first), _day(token, last)
        if end < start:
            raise _refuse(token, f"the range {value} ends before it starts")
        return SentRange(start, _end_after(end))
    day = _day(token, value)
    match operator:
        case ">=":
            return SentRange(day, None)
        case ">":
            return SentRange(_next_day(token, day), None)
        case "<":
            return SentRange(None, day)
        case "<=":
            return SentRange(None, _end_after(day))
    return SentRange(day, _end_after(day))


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _flatten(kind: type[And] | type[Or], items: tuple[_Built, ...]) -> _Built:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.node.items if isinstance(item.node, kind) else (item.node,))
    # The height of the flattened node: an item of the same kind gives up its own level.
    depth = 1 + max(item.depth - 1 if isinstance(item.node, kind) else item.depth for item in items)
    clauses = nears = 0
    for item in items:  # a limit passed is reported where the condition that passes it starts
        clauses, nears = clauses + item.clauses, nears + item.nears
        if clauses > MAX_CLAUSES or nears > MAX_NEAR_CLAUSES:
            _built(item.node, item.start, 0, clauses, nears)
    return _built(kind(tuple(flat)), items[0].start, depth, clauses, nears)


def _word_text(token: Token, *, in_near: bool = False) -> str:
    """The text of a WORD token, refusing what is not a plain word (``*`` inside, a lone ``-``)."""
    text = str(token)
    if text == "-":
        raise _refuse(token, "a - must touch what it excludes, as in -windows")
    if "*" in text[:-1] or text == "*":
        raise _refuse(token, "a * may only end a word, as in deploy*")
    if in_near and text.endswith("*"):
        raise _refuse(token, f"NEAR takes words or phrases, not prefixes: {text} cannot be a side of NEAR")
    return text


def _near_operand(token: Token) -> str:
    if token.type != "PHRASE":
        return _word_text(token, in_near=True)
    text = _unquote(str(token))
    if not text.strip():
        raise _refuse(token, "an empty phrase finds nothing")
    return text


_CURRENT_NEEDS = (
    "current: searches only the current text of messages (every version is searched without it): "
    'put a word, a phrase or a parenthesised search right after it, as in current:ACME, current:"buy now" '
    "or current:(buy OR sell)"
)


_WITHIN_NEEDS = {
    "ATTACHMENT": (
        "attachment: searches only the text of uploaded files: put a word, a phrase or a parenthesised "
        'search right after it, as in attachment:ACME, attachment:"buy now" or attachment:(buy OR sell)'
    ),
    "FILE_NAME": (
        "file: searches the names of uploaded files: put a word, a prefix or a phrase right after it, "
        'as in file:report, file:rep* or file:"q3 report"'
    ),
}
_NEEDS_AFTER = {"CURRENT": _CURRENT_NEEDS, **_WITHIN_NEEDS}


def _unknown_is(value: str) -> str:
    """The refusal of ``is:value``, with what was probably meant."""
    known = " and ".join(f"is:{name}" for name in IS_VALUES)
    if value in {"current", "latest", "original", "old", "version", "versions"}:
        return (
            f"is: knows {known}; every version of a message is searched, and current:word searches only "
            "the current text"
        )
    guess = next((name for name in IS_VALUES if name.startswith(value[:4]) or value.startswith(name[:4])), None)
    meant = f" (did you mean is:{guess}?)" if guess is not None else ""
    return f"is: knows {known}{meant}"


def _filter_value(token: Token, prefix: str, value: str, example: str) -> str:
    """The value of a filter token, bare or quoted; refused when missing or ending in ``*``."""
    quoted = value.startswith('"')
    value = _unquote(value).strip() if quoted else value
    if not value:
        raise _refuse(token, f"{prefix} needs a value right after it, as in {example}")
    if not quoted and value.endswith("*"):
        literally = ", or quote the value to search a *" if prefix.endswith(":") else ""
        raise _refuse(token, f"{prefix} matches whole values, not prefixes: remove the *{literally}")
    return value


@v_args(inline=True)
class _ToAst(Transformer[Token, "_Built"]):
    """Callbacks the LALR parser calls as it reduces (lark's tree-less mode)."""

    def or_expr(self, *items: _Built) -> _Built:
        return _flatten(Or, items)

    def and_expr(self, *items: _Built) -> _Built:
        return _flatten(And, items)

    def negated(self, operator: Token, item: _Built) -> _Built:
        return _built(Not(item.node), operator.start_pos or 0, item.depth + 1, item.clauses, item.nears)

    def group(self, opening: Token, item: _Built, _closing: Token) -> _Built:
        return _Built(item.node, opening.start_pos or 0, item.depth, item.clauses, item.nears)

    def word(self, token: Token) -> _Built:
        text = _word_text(token)
        node: Node = Prefix(text[:-1]) if text.endswith("*") else Term(text)
        return _Built(node, token.start_pos or 0, 0)

    def phrase(self, token: Token) -> _Built:
        text = _unquote(str(token))
        if not text.strip():
            raise _refuse(token, "an empty phrase finds nothing")
        # One quoted word is a term; quoting only lets it contain syntax ("OR", "#1", "a:b").
        node = Phrase(text) if len(text.split()) > 1 else Term(text)
        return _Built(node, token.start_pos or 0, 0)

    def near(self, left: Token, operator: Token, right: Token) -> _Built:
        digits = str(operator).split("/")[1].lstrip("0")
        distance = int(digits) if 0 < len(digits) <= 6 else (0 if not digits else MAX_NEAR_DISTANCE + 1)
        if not 1 <= distance <= MAX_NEAR_DISTANCE:
            raise _refuse(
                operator,
                f"NEAR/N: N must be between 1 and {MAX_NEAR_DISTANCE} (the most words apart), as in NEAR/5",
            )
        return _Built(Near(_near_operand(left), _near_operand(right), distance), left.start_pos or 0, 0, nears=1)

    def field_filter(self, token: Token) -> _Built:
        name, _, raw = str(token).partition(":")
        field = name.lower()
        value = _filter_value(token, f"{field}:", raw, f"{field}:nick" if field != "in" else "in:#room")
        if field == "in" and not value.startswith("#"):
            value = f"#{value}"
        if field == "in" and value == "#":
            raise _refuse(token, "in: needs a room name, as in in:#ubuntu")
        if field in {"has", "type", "is"}:
            value = value.lower()
        if field == "filetype":
            value = value.lower().lstrip(".")
            if not value:
                raise _refuse(token, "filetype: needs a type, as in filetype:pdf")
        if field == "has" and value != "file":
            raise _refuse(token, "has: only knows has:file")
        if field == "is" and value not in IS_VALUES:
            raise _refuse(token, _unknown_is(value))
        return _Built(Filter(cast(FilterField, field), value), token.start_pos or 0, 0)

    def mention(self, token: Token) -> _Built:
        value = _filter_value(token, "@", str(token)[1:], "@nick")
        return _Built(Filter("mentions", value), token.start_pos or 0, 0)

    def hashtag(self, token: Token) -> _Built:
        value = _filter_value(token, "#", str(token)[1:], "#release")
        return _Built(Filter("hashtag", value.lower()), token.start_pos or 0, 0)

    def current(self, token: Token, item: _Built) -> _Built:
        if item.start != token.end_pos:
            raise _refuse(token, _CURRENT_NEEDS)
        return _built(Current(item.node), token.start_pos or 0, item.depth, item.clauses, item.nears)

    def within(self, token: Token, item: _Built) -> _Built:
        if item.start != token.end_pos:
            raise _refuse(token, _WITHIN_NEEDS[token.type])
        field: WithinField = "attachment" if token.type == "ATTACHMENT" else "file"
        return _built(Within(field, item.node), token.start_pos or 0, item.depth, item.clauses, item.nears)

    def sent(self, token: Token) -> _Built:
        return _Built(_sent_range(token), token.start_pos or 0, 0)


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="basic", transformer=_ToAst(), maybe_placeholders=False)


@cache
def _lexer() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="basic")


def _bad_character(query: str) -> int | None:
    """0-based offset of the first control character (not whitespace) or lone surrogate."""
    for offset, character in enumerate(query):
        category = unicodedata.category(character)
        if category == "Cs" or (category == "Cc" and not character.isspace()):
            return offset
    return None


def parse_query(query: str) -> Node:
    """The tree of ``query``, or :class:`QuerySyntaxError` saying where and why not."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QuerySyntaxError(
            f"the query is too long: at most {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH + 1, query
        )
    if not query.strip():
        raise QuerySyntaxError("the query is empty", 1, query)
    bad = _bad_character(query)
    if bad is not None:
        code = f"U+{ord(query[bad]):04X}"
        raise QuerySyntaxError(f"the query contains a character that cannot be searched ({code})", bad + 1, query)
    try:
        built = cast(_Built, _parser().parse(query))
    except _Refused as refused:
        raise QuerySyntaxError(refused.message, refused.offset + 1, query) from None
    except UnexpectedInput as error:
        message, offset = _explain(query, error)
        raise QuerySyntaxError(message, offset + 1, query) from None
    return built.node


def _tokens_before(query: str, offset: int) -> list[Token]:
    """The tokens of ``query`` that start before ``offset`` (the lexer needs no parser state)."""
    tokens: list[Token] = []
    try:
        for token in _lexer().lex(query):
            if (token.start_pos or 0) >= offset:
                break
            tokens.append(token)
    except LexError:
        pass
    return tokens


def _explain(query: str, error: UnexpectedInput) -> tuple[str, int]:
    """What went wrong and where (0-based offset)."""
    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream or 0
        if query[offset : offset + 1] == '"':
            return "a quotation mark is not closed", offset
        return f"unexpected {query[offset : offset + 1]!r}", offset
    if not isinstance(error, UnexpectedToken):
        return "the query cannot be read", 0
    token = error.token
    at_end = token.type == "$END"
    offset = len(query) if at_end else (token.start_pos or 0)
    before = _tokens_before(query, offset)
    previous = before[-1] if before else None
    if at_end:
        offset = (previous.end_pos or 0) if previous is not None else len(query.rstrip())
        return "the query ends too early: " + _missing(previous, before), offset
    if previous is not None and previous.type == "NEAR_OP":
        return f"{previous} needs a word or a phrase after it, as in wine {previous} windows", offset
    if previous is not None and previous.type in _NEEDS_AFTER:
        return _NEEDS_AFTER[previous.type], offset
    if token.type == "NEAR_OP":
        return f"{token} goes between two words or phrases, as in wine {token} windows", offset
    if token.type == "RPAR":
        if previous is not None and previous.type == "LPAR":
            return "empty parentheses: put a search inside them", offset
        if _open_parentheses(before) <= 0:
            return "a closing parenthesis has no opening one", offset
        return f"unexpected ')': {_missing(previous, before)}", offset
    if token.type in {"_AND", "_OR"}:
        after = f", not after {previous}" if previous is not None and previous.type in {"_AND", "_OR", "NOT"} else ""
        return f"{token} needs a search on each side{after}", offset
    return f"unexpected {str(token)!r}", offset


def _open_parentheses(tokens: list[Token]) -> int:
    return sum(1 if t.type == "LPAR" else -1 if t.type == "RPAR" else 0 for t in tokens)


def _missing(previous: Token | None, before: list[Token]) -> str:
    if previous is None:
        return "there is nothing to search"
    if previous.type in {"_AND", "_OR", "NOT", "NEGATION"}:
        return f"{previous} needs a search after it"
    if previous.type == "NEAR_OP":
        return f"{previous} needs a word or a phrase after it"
    if previous.type in _NEEDS_AFTER:
        return _NEEDS_AFTER[previous.type]
    if previous.type == "LPAR" or _open_parentheses(before) > 0:
        return "a parenthesis is not closed"
    return "an operator or a parenthesis is missing its other side"
