"""Parsing the e-discovery query language (lark, LALR) into :mod:`search_api.query_ast` trees.

Terms are ANDed by default; ``OR`` binds looser than the implicit AND; ``NOT x`` and ``-x``
negate; parentheses group. Errors name the position (1-based column) and what was expected.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Any, cast

from lark import Lark, Token, Transformer, UnexpectedEOF, UnexpectedInput, UnexpectedToken, v_args

from search_api.query_ast import And, Filter, FilterField, Near, Node, Not, Or, Phrase, Prefix, SentRange, Term

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: unary (_AND? unary)*
?unary: _NOT unary        -> negated
      | NEGATION atom     -> negated
      | atom
?atom: "(" or_expr ")"
     | near
     | FIELD_FILTER        -> field_filter
     | SENT                -> sent
     | MENTION             -> mention
     | HASHTAG             -> hashtag
     | PHRASE              -> phrase
     | WORD                -> word

near: near_operand NEAR_OP near_operand
?near_operand: WORD | PHRASE

_OR.2: "OR"
_AND.2: "AND"
_NOT.2: "NOT"
NEAR_OP.3: /(?:NEAR|w)\/\d+/
NEGATION.3: /-(?=[^\s)-])/
FIELD_FILTER.3: /(?i:from|in|participant|mentions|has|type):[^\s()"]+/
SENT.3: /(?i:sent)(?:>=|<=|>|<|:)[^\s()"]+/
MENTION.2: /@[^\s()"]+/
HASHTAG.2: /#[^\s()"]+/
PHRASE.2: /"[^"]*"/
WORD: /[^\s()"]+/

%ignore /\s+/
"""


class QuerySyntaxError(ValueError):
    """A query that cannot be parsed: ``position`` is the 1-based column of the problem."""

    def __init__(self, message: str, position: int, query: str) -> None:
        super().__init__(message, position, query)
        self.message = message
        self.position = position
        self.query = query

    def __str__(self) -> str:
        return f"{self.message} (at position {self.position})"


def _value_error(token: Token, message: str) -> QuerySyntaxError:
    return QuerySyntaxError(message, (token.column or 1), "")


def _day(token: Token, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _value_error(token, f"{text!r} is not a date like 2024-01-31") from None


def _sent_range(token: Token) -> SentRange:
    text = str(token)[4:]
    for operator in (">=", "<=", ">", "<", ":"):
        if text.startswith(operator):
            value = text[len(operator) :]
            break
    if operator == ":" and ".." in value:
        first, _, last = value.partition("..")
        start, end = _day(token, first), _day(token, last)
        if end < start:
            raise _value_error(token, f"the range {value} ends before it starts")
        return SentRange(start, end + timedelta(days=1))
    day = _day(token, value)
    following = day + timedelta(days=1)
    return {
        ">=": SentRange(day, None),
        ">": SentRange(following, None),
        "<": SentRange(None, day),
        "<=": SentRange(None, following),
        ":": SentRange(day, following),
    }[operator]


def _unquote(token: Token) -> str:
    return str(token)[1:-1]


def _flatten(kind: type[And] | type[Or], items: list[Node]) -> Node:
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


@v_args(inline=True)
class _ToAst(Transformer[Token, Node]):
    def or_expr(self, *items: Node) -> Node:
        return _flatten(Or, list(items))

    def and_expr(self, *items: Node) -> Node:
        return _flatten(And, list(items))

    def negated(self, *parts: Any) -> Node:
        return Not(cast(Node, parts[-1]))

    def word(self, token: Token) -> Node:
        text = str(token)
        if text.endswith("*") and len(text) > 1 and not text[:-1].endswith("*"):
            return Prefix(text[:-1])
        if "*" in text:
            raise _value_error(token, "a * may only end a word, as in deploy*")
        return Term(text)

    def phrase(self, token: Token) -> Node:
        text = _unquote(token)
        if not text.strip():
            raise _value_error(token, "an empty phrase finds nothing")
        # One quoted word is a term; quoting only lets it contain syntax ("OR", "#1", "a:b").
        return Phrase(text) if len(text.split()) > 1 else Term(text)

    def near(self, left: Token, operator: Token, right: Token) -> Node:
        distance = int(str(operator).split("/")[1])
        if distance < 1:
            raise _value_error(operator, "NEAR needs a distance of 1 or more words, as in NEAR/5")
        words = [_unquote(t) if t.type == "PHRASE" else str(t) for t in (left, right)]
        return Near(words[0], words[1], distance)

    def field_filter(self, token: Token) -> Node:
        name, _, value = str(token).partition(":")
        field = name.lower()
        if field == "in" and not value.startswith("#"):
            value = f"#{value}"
        if field == "has" and value.lower() != "file":
            raise _value_error(token, "has: only knows has:file")
        return Filter(cast(FilterField, field), value.lower() if field in {"has", "type"} else value)

    def mention(self, token: Token) -> Node:
        return Filter("mentions", str(token)[1:])

    def hashtag(self, token: Token) -> Node:
        return Filter("hashtag", str(token)[1:].lower())

    def sent(self, token: Token) -> Node:
        return _sent_range(token)


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", lexer="contextual", maybe_placeholders=False)


def parse_query(query: str) -> Node:
    """The tree of ``query``, or :class:`QuerySyntaxError` saying where and why not."""
    if not query.strip():
        raise QuerySyntaxError("the query is empty", 1, query)
    try:
        tree = _parser().parse(query)
        return _ToAst().transform(tree)
    except UnexpectedInput as error:
        position = _position(error, query)
        raise QuerySyntaxError(_explain(query, position), position, query) from None
    except QuerySyntaxError as error:
        raise QuerySyntaxError(error.message, error.position, query) from None
    except Exception as error:  # lark wraps transformer errors in VisitError
        inner = getattr(error, "orig_exc", None)
        if isinstance(inner, QuerySyntaxError):
            raise QuerySyntaxError(inner.message, inner.position, query) from None
        raise


def _position(error: UnexpectedInput, query: str) -> int:
    """1-based column of the problem; one past the end when the query stopped too early."""
    at_end = isinstance(error, UnexpectedEOF) or (isinstance(error, UnexpectedToken) and error.token.type == "$END")
    if at_end or error.column is None or error.column < 1:
        return len(query.rstrip()) + 1
    return int(error.column)


def _explain(query: str, column: int) -> str:
    found = query[column - 1 : column] if column <= len(query.rstrip()) else ""
    if not found:
        return "the query ends too early (an operator or a parenthesis is missing its other side)"
    if found == ")":
        before = query[: column - 1]
        if before.rstrip().endswith("("):
            return "empty parentheses: put a search inside them"
        if before.count(")") >= before.count("("):
            return "a closing parenthesis has no opening one"
        return "unexpected ')': an operator is missing its other side"
    if found == '"':
        return "a quotation mark is not closed"
    return f"unexpected {found!r}"
