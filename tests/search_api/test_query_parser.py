from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_api.query_ast import (
    And,
    Filter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    to_query,
)
from search_api.query_parser import QuerySyntaxError, parse_query


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("totem xine", And((Term("totem"), Term("xine")))),
        ("totem AND xine", And((Term("totem"), Term("xine")))),
        ("totem OR xine", Or((Term("totem"), Term("xine")))),
        ("a b OR c", Or((And((Term("a"), Term("b"))), Term("c")))),
        ('"media player" -windows', And((Phrase("media player"), Not(Term("windows"))))),
        ("NOT (a OR b)", Not(Or((Term("a"), Term("b"))))),
        ("-(a OR b)", Not(Or((Term("a"), Term("b"))))),
        ("xorg*", Prefix("xorg")),
        ("wine NEAR/5 windows", Near("wine", "windows", 5)),
        ("wine w/5 windows", Near("wine", "windows", 5)),
        ("from:crimsun", Filter("from", "crimsun")),
        ("in:#ubuntu", Filter("in", "#ubuntu")),
        ("in:ubuntu", Filter("in", "#ubuntu")),
        ("participant:kleedrac", Filter("participant", "kleedrac")),
        ("mentions:kleedrac", Filter("mentions", "kleedrac")),
        ("@kleedrac", Filter("mentions", "kleedrac")),
        ("#Media", Filter("hashtag", "media")),
        ("has:file", Filter("has", "file")),
        ("type:JOIN", Filter("type", "join")),
        ("sent>=2024-01-01", SentRange(date(2024, 1, 1), None)),
        ("sent>2024-01-01", SentRange(date(2024, 1, 2), None)),
        ("sent<2024-02-01", SentRange(None, date(2024, 2, 1))),
        ("sent<=2024-01-31", SentRange(None, date(2024, 2, 1))),
        ("sent:2024-01-15", SentRange(date(2024, 1, 15), date(2024, 1, 16))),
        ("sent:2024-01-01..2024-01-31", SentRange(date(2024, 1, 1), date(2024, 2, 1))),
        ('"OR"', Term("OR")),
        ("café naïve", And((Term("café"), Term("naïve")))),
    ],
)
def test_the_query_language(query: str, expected: Node) -> None:
    assert parse_query(query) == expected


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "empty", 1),
        ("(wine", "ends too early", 6),
        ("wine OR", "ends too early", 8),
        ("wine)", "no opening one", 5),
        ("()", "empty parentheses", 2),
        ('"unclosed', "quotation mark is not closed", 1),
        ("a sent>=2024-13-01", "not a date", 3),
        ("sent:2024-02-01..2024-01-01", "ends before it starts", 1),
        ("x*y", "may only end a word", 1),
        ("has:link", "has:file", 1),
        ("a NEAR/0 b", "distance of 1 or more", 3),
        ('""', "empty phrase", 1),
    ],
)
def test_errors_say_what_and_where(query: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.position == position
    assert f"position {position}" in str(caught.value)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=60))
def test_the_parser_never_crashes(query: str) -> None:
    try:
        parse_query(query)
    except QuerySyntaxError as error:
        assert 1 <= error.position <= len(query) + 1


query_chars = st.sampled_from(list('abc xyz()"-*:@#/ORNOTAND<>=.0123456789'))


@settings(max_examples=400, deadline=None)
@given(st.text(query_chars, max_size=40))
def test_syntax_soup_never_crashes(query: str) -> None:
    try:
        parse_query(query)
    except QuerySyntaxError as error:
        assert error.message


words = st.from_regex(r"[a-zà-ÿ0-9][a-zà-ÿ0-9_.']{0,8}", fullmatch=True)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 12, 31))
leaves = st.one_of(
    words.map(Term),
    words.map(Prefix),
    st.lists(words, min_size=2, max_size=3).map(lambda w: Phrase(" ".join(w))),
    st.builds(Near, words, words, st.integers(1, 20)),
    st.builds(Filter, st.sampled_from(["from", "participant", "mentions", "type"]), words),
    words.map(lambda w: Filter("in", "#" + w)),
    words.map(lambda w: Filter("hashtag", w.lower())),
    st.just(Filter("has", "file")),
    days.map(lambda d: SentRange(d, None)),
    days.map(lambda d: SentRange(None, d)),
    st.builds(lambda a, n: SentRange(a, date.fromordinal(a.toordinal() + n)), days, st.integers(1, 60)),
)


def _and(items: list[Node]) -> Node:
    flat = [part for item in items for part in (item.items if isinstance(item, And) else (item,))]
    return And(tuple(flat))


def _or(items: list[Node]) -> Node:
    flat = [part for item in items for part in (item.items if isinstance(item, Or) else (item,))]
    return Or(tuple(flat))


trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(_and),
        st.lists(children, min_size=2, max_size=3).map(_or),
        children.filter(lambda c: not isinstance(c, Not)).map(Not),
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(trees)
def test_printing_and_parsing_again_gives_the_same_tree(tree: Node) -> None:
    assert parse_query(to_query(tree)) == tree
