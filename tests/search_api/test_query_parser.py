from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select

from archive.schema import archive_events
from search import es_query, tantivy_backend
from search.archive_search import condition
from search.query_ast import (
    And,
    Current,
    Filter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    Within,
    is_bare_value,
    is_bare_word,
    reads_as_one_word,
    to_query,
)
from search.query_parser import (
    MAX_CLAUSES,
    MAX_DEPTH,
    MAX_NEAR_CLAUSES,
    MAX_NEAR_DISTANCE,
    MAX_QUERY_LENGTH,
    QuerySyntaxError,
    parse_query,
)
from search.tantivy_schema import build_schema

API_QUERY_LIMIT = MAX_QUERY_LENGTH


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
        # Through the last day there is: open at the end (the date facet's last bucket).
        ("sent:9999-01-01..9999-12-31", SentRange(date(9999, 1, 1), None)),
        ("sent:9999-12-31", SentRange(date(9999, 12, 31), None)),
        ("sent<=9999-12-31", SentRange(None, None)),
        ('"OR"', Term("OR")),
        ("café naïve", And((Term("café"), Term("naïve")))),
        # Keywords are whole words only (bug 1).
        ("NOTHING", Term("NOTHING")),
        ("a ORACLE", And((Term("a"), Term("ORACLE")))),
        ("windows NOTEPAD", And((Term("windows"), Term("NOTEPAD")))),
        ("x ANDROID", And((Term("x"), Term("ANDROID")))),
        ("ORDER AND ANDROID OR NOTION", Or((And((Term("ORDER"), Term("ANDROID"))), Term("NOTION")))),
        ("a or b and not c", And((Term("a"), Term("or"), Term("b"), Term("and"), Term("not"), Term("c")))),
        ("NOT-x", Not(Not(Term("x")))),
        ("a OR(b)", Or((Term("a"), Term("b")))),
        ('a OR"b c"', Or((Term("a"), Phrase("b c")))),
        ("a\tOR\nb", Or((Term("a"), Term("b")))),
        ("OR* NOT*", And((Prefix("OR"), Prefix("NOT")))),
        ("NEARBY", Term("NEARBY")),
        ("w/50cal", Term("w/50cal")),
        ("a w/50cal b", And((Term("a"), Term("w/50cal"), Term("b")))),
        ("a NEAR/5x b", And((Term("a"), Term("NEAR/5x"), Term("b")))),
        ("a W/5 b", And((Term("a"), Term("W/5"), Term("b")))),
        ('"w/5"', Term("w/5")),
        ('a NEAR/5"b c"', Near("a", "b c", 5)),
        ('a NEAR/5 "b*"', Near("a", "b*", 5)),
        (f"a NEAR/{MAX_NEAR_DISTANCE} b", Near("a", "b", MAX_NEAR_DISTANCE)),
        ("a NEAR/007 b", Near("a", "b", 7)),
        ("-a NEAR/5 b", Not(Near("a", "b", 5))),
        # Words with punctuation stay words.
        ("don't c++ e-mail", And((Term("don't"), Term("c++"), Term("e-mail")))),
        ("https://example.com/a?b=1", Term("https://example.com/a?b=1")),
        ("a:b sentence subject:x", And((Term("a:b"), Term("sentence"), Term("subject:x")))),
        ("ın:x", Term("ın:x")),  # field names are ASCII: a dotless i is not "in:"
        ("(((a)))", Term("a")),
        # Quoted filter values (bug 4).
        ('from:"bob smith"', Filter("from", "bob smith")),
        ('from:" bob "', Filter("from", "bob")),
        ('in:"#release planning"', Filter("in", "#release planning")),
        ('in:"release planning"', Filter("in", "#release planning")),
        ('mentions:"bob smith"', Filter("mentions", "bob smith")),
        ('participant:"bob smith" x', And((Filter("participant", "bob smith"), Term("x")))),
        ('type:"JOIN"', Filter("type", "join")),
        ('from:"bob*"', Filter("from", "bob*")),
        ("FROM:Bob", Filter("from", "Bob")),
        ('sent:"2024-01-15"', SentRange(date(2024, 1, 15), date(2024, 1, 16))),
        # The ends of the calendar (bug 2).
        ("sent>=9999-12-31", SentRange(date(9999, 12, 31), None)),
        ("sent<9999-12-31", SentRange(None, date(9999, 12, 31))),
        ("sent:9999-12-30", SentRange(date(9999, 12, 30), date(9999, 12, 31))),
        ("sent<0001-01-01", SentRange(None, date(1, 1, 1))),
        # Attachments (issue 18).
        ("attachment:ACME", Within("attachment", Term("ACME"))),
        ('Attachment:"buy now"', Within("attachment", Phrase("buy now"))),
        ("attachment:(buy OR sell)", Within("attachment", Or((Term("buy"), Term("sell"))))),
        ("attachment:acme*", Within("attachment", Prefix("acme"))),
        ("attachment:(a NEAR/3 b)", Within("attachment", Near("a", "b", 3))),
        ("-attachment:x y", And((Not(Within("attachment", Term("x"))), Term("y")))),
        ("file:report", Within("file", Term("report"))),
        ("FILE:rep*", Within("file", Prefix("rep"))),
        ('file:"q3 report"', Within("file", Phrase("q3 report"))),
        ("filetype:PDF", Filter("filetype", "pdf")),
        ("filetype:.docx has:file", And((Filter("filetype", "docx"), Filter("has", "file")))),
        ("profile:x files:y", And((Term("profile:x"), Term("files:y")))),
        ("current:attachment:x", Current(Within("attachment", Term("x")))),
    ],
)
def test_the_query_language(query: str, expected: Node) -> None:
    assert parse_query(query) == expected
    assert parse_query(to_query(expected)) == expected


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("", "empty", 1),
        (" \n\t", "empty", 1),
        ("(wine", "a parenthesis is not closed", 6),
        ("wine OR", "OR needs a search after it", 8),
        ("wine OR   ", "ends too early", 8),
        ("wine)", "no opening one", 5),
        ("()", "empty parentheses", 2),
        ('"unclosed', "quotation mark is not closed", 1),
        ("a sent>=2024-13-01", "not a date", 3),
        ("sent:2024-02-01..2024-01-01", "ends before it starts", 1),
        ("x*y", "may only end a word", 1),
        ("a*b*", "may only end a word", 1),
        ("*", "may only end a word", 1),
        ("has:link", "has:file", 1),
        ("a NEAR/0 b", "N must be between 1 and 50", 3),
        ('""', "empty phrase", 1),
        # Positions are character offsets, newlines included (bug 3).
        ("wine\n)", "no opening one", 6),
        ("a\nb\n(c", "not closed", 7),
        ("x\n\ny*z", "may only end a word", 4),
        ("a\n  sent>=2024-13-01", "not a date", 5),
        ('ab\ncd\n"x', "quotation mark is not closed", 7),
        # Dates past 9999-12-31 (bug 2).
        ("x sent>9999-12-31", "reaches past the last day", 3),
        ("sent:", "needs a date", 1),
        ('sent:""', "needs a date", 1),
        ("sent>=10000-01-01", "not a date", 1),
        # NEAR distance (bug 2).
        ("ubuntu NEAR/4294967297 linux", "NEAR/N: N must be between 1 and 50", 8),
        ("ubuntu NEAR/51 linux", "N must be between 1 and 50", 8),
        ("the NEAR/1000 the", "N must be between 1 and 50", 5),
        ("a NEAR/" + "9" * 3900 + " b", "N must be between 1 and 50", 3),
        # Constructs that used to be silently reinterpreted (bug 4).
        ("a NEAR/5 b*", "NEAR takes words or phrases, not prefixes", 10),
        ("a* NEAR/5 b", "NEAR takes words or phrases, not prefixes", 1),
        ("(a) NEAR/5 b", "NEAR/5 goes between two words or phrases", 5),
        ("from:x NEAR/5 b", "goes between two words or phrases", 8),
        ("a NEAR/5 b NEAR/5 c", "goes between two words or phrases", 12),
        ("NEAR/5 a", "goes between two words or phrases", 1),
        ("a w/5", "w/5 needs a word or a phrase after it", 6),
        ("a NEAR/5 (b)", "NEAR/5 needs a word or a phrase after it", 10),
        ("a NEAR/5 from:b", "NEAR/5 needs a word or a phrase after it", 10),
        ('a NEAR/5 ""', "empty phrase", 10),
        ("a OR OR b", "OR needs a search on each side, not after OR", 6),
        ("OR a", "OR needs a search on each side", 1),
        ("a AND OR b", "OR needs a search on each side, not after AND", 7),
        ("NOT AND a", "AND needs a search on each side", 5),
        ("a AND", "AND needs a search after it", 6),
        ("NOT", "NOT needs a search after it", 4),
        ("(a OR)", "OR needs a search after it", 6),
        ("a - b", "a - must touch what it excludes", 3),
        ("a -", "a - must touch what it excludes", 3),
        ("from:", "from: needs a value", 1),
        ("x from: bob", "from: needs a value", 3),
        ('from:""', "from: needs a value", 1),
        ('in:" "', "in: needs a value", 1),
        ("in:#", "in: needs a room name", 1),
        ("@", "@ needs a value", 1),
        ("#", "# needs a value", 1),
        ("from:bob*", "matches whole values, not prefixes", 1),
        ("#tag*", "matches whole values, not prefixes", 1),
        ('from:"bob', "quotation mark is not closed", 6),
        ("from:(a OR b)", "from: needs a value", 1),
        # Characters that cannot be searched (bug 5).
        ("a\x00b", "cannot be searched (U+0000)", 2),
        ("\ud800", "cannot be searched (U+D800)", 1),
        ("ok \udfff", "cannot be searched (U+DFFF)", 4),
        ("a\x1bb", "cannot be searched (U+001B)", 2),
        ("a\x7f", "cannot be searched (U+007F)", 2),
        ("attachment: x", "attachment: searches only the text of uploaded files", 1),
        ("a attachment:", "attachment: searches only the text of uploaded files", 14),
        ("file: x", "file: searches the names of uploaded files", 1),
        ("filetype:", "filetype: needs a value", 1),
        ("filetype:.", "filetype: needs a type", 1),
        ("filetype:pd*", "matches whole values, not prefixes", 1),
    ],
)
def test_errors_say_what_and_where(query: str, message: str, position: int) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.query == query
    assert f"position {position}" in str(caught.value)


@pytest.mark.parametrize(
    "query",
    [
        "NOT " * 999 + "a",
        "-(" * 1333 + "a" + ")" * 1333,
        "a -(b " * 570 + "c" + ")" * 570,
        "a (b OR " * 400 + "c" + ")" * 400,
        "NOT (" * 600 + "a" + ")" * 600,
    ],
)
def test_deep_nesting_is_refused_without_recursion(query: str) -> None:
    assert len(query) <= API_QUERY_LIMIT + 10
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert "nested too deeply" in caught.value.message
    assert f"at most {MAX_DEPTH} levels" in caught.value.message
    assert 1 <= caught.value.position <= len(query)


def _height(node: Node) -> int:
    """Levels of AND/OR/NOT in ``node`` (iteratively, so any tree can be measured)."""
    highest, pending = 0, [(node, 0)]
    while pending:
        item, depth = pending.pop()
        highest = max(highest, depth)
        if isinstance(item, And | Or):
            pending += [(child, depth + 1) for child in item.items]
        elif isinstance(item, Not):
            pending.append((item.item, depth + 1))
    return highest


def _deepest(grow: Callable[[str, str], str], leaf: str, prefix: str = "") -> str:
    """The most deeply nested query of this shape that the parser accepts."""
    query = prefix + leaf
    inner = leaf
    for _ in range(MAX_DEPTH + 1):
        inner = grow(inner, leaf)
        try:
            parse_query(prefix + inner)
        except QuerySyntaxError as error:
            assert "nested too deeply" in error.message
            return query
        query = prefix + inner
    raise AssertionError("the depth limit was never reached")


SHAPES: dict[str, Callable[[str, str], str]] = {
    "and-or": lambda q, x: f"{x} ({x} OR {q})",
    "or-and": lambda q, x: f"({x} {q}) OR {x}",
    "not-and": lambda q, x: f"NOT ({x} {q})",
    "not-or": lambda q, x: f"-({x} OR {q})",
    "not-not-and": lambda q, x: f"NOT NOT ({x} {q})",
    "nots": lambda q, x: f"NOT {q}",
    "and-not-or-not": lambda q, x: f"{x} -({x} OR NOT {q})",
    "or-and-dates": lambda q, x: f"(sent:2024-01-01..2024-01-31 {q}) OR {x} has:file",
}


@pytest.mark.parametrize("shape", SHAPES)
def test_the_deepest_accepted_queries_translate_on_every_backend(shape: str) -> None:
    """The depth limit keeps every consumer working: Tantivy and Elasticsearch translations,
    the archive's SQL on SQLite (whose parser overflows near 37 nested AND/OR levels), printing."""
    text_query = _deepest(SHAPES[shape], "ubuntu")
    node = parse_query(text_query)
    assert _height(node) <= MAX_DEPTH
    assert parse_query(to_query(node)) == node
    tantivy_backend.scoped(node, build_schema())
    json.dumps(es_query.search_body(node))

    archive_query = _deepest(SHAPES[shape], "from:kleedrac", prefix="type:join ")
    engine = create_engine("sqlite://")
    archive_events.metadata.create_all(engine)
    with engine.connect() as connection:
        where = condition(parse_query(archive_query))
        assert connection.execute(select(func.count()).select_from(archive_events).where(where)).scalar_one() == 0


def test_redundant_parentheses_cost_nothing() -> None:
    assert parse_query("(" * 1999 + "a" + ")" * 1999) == Term("a")
    assert parse_query("(" * 1000 + "a b" + ")" * 1000 + " c") == And((Term("a"), Term("b"), Term("c")))


def test_long_flat_queries_are_fine_up_to_the_clause_limit() -> None:
    words = " ".join(f"w{i}" for i in range(MAX_CLAUSES))
    assert parse_query(words) == And(tuple(Term(f"w{i}") for i in range(MAX_CLAUSES)))
    alternatives = " OR ".join(f"w{i}" for i in range(MAX_CLAUSES))
    assert parse_query(alternatives) == Or(tuple(Term(f"w{i}") for i in range(MAX_CLAUSES)))
    negations = " ".join(f"-w{i}" for i in range(MAX_CLAUSES))
    assert parse_query(negations) == And(tuple(Not(Term(f"w{i}")) for i in range(MAX_CLAUSES)))
    assert parse_query("x" * MAX_QUERY_LENGTH) == Term("x" * MAX_QUERY_LENGTH)


def test_a_deep_tree_prints_without_recursion() -> None:
    node: Node = Term("a")
    for index in range(5000):
        node = Not(node) if index % 2 else And((Term("b"), Or((Term("c"), node))))
    assert to_query(node).count("NOT") == 2500


@pytest.mark.parametrize(
    ("node", "printed"),
    [
        (Term("OR"), '"OR"'),
        (Term("NOT-x"), '"NOT-x"'),
        (Term("-x"), '"-x"'),
        (Term("-"), '"-"'),
        (Term("x*"), '"x*"'),
        (Term("w/5"), '"w/5"'),
        (Term("NEAR/5"), '"NEAR/5"'),
        (Term("sent>x"), '"sent>x"'),
        (Term("from:x"), '"from:x"'),
        (Term("@x"), '"@x"'),
        (Term("#x"), '"#x"'),
        (Term("NOTHING"), "NOTHING"),
        (Term("w/50cal"), "w/50cal"),
        (Term("a:b"), "a:b"),
        (Term("e-mail"), "e-mail"),
        (Prefix("a:b"), "a:b*"),
        (Near("OR", "b c", 3), '"OR" NEAR/3 "b c"'),
        (Filter("from", "bob smith"), 'from:"bob smith"'),
        (Filter("from", "bob*"), 'from:"bob*"'),
        (Filter("in", "#release planning"), 'in:"#release planning"'),
        (Filter("mentions", "bob"), "@bob"),
        (Filter("mentions", "bob smith"), 'mentions:"bob smith"'),
        (Not(Term("OR")), 'NOT "OR"'),
        (SentRange(date(9999, 12, 30), date(9999, 12, 31)), "sent:9999-12-30..9999-12-30"),
    ],
)
def test_the_printer_quotes_what_would_read_as_syntax(node: Node, printed: str) -> None:
    assert to_query(node) == printed
    assert parse_query(printed) == node


# --- Properties -------------------------------------------------------------------------------


def _check_any_outcome(query: str) -> None:
    """Every query either parses (to a tree that prints back to itself and is not too deep) or
    fails with a QuerySyntaxError that names a position inside it."""
    try:
        tree = parse_query(query)
    except QuerySyntaxError as error:
        assert error.message
        assert 1 <= error.position <= len(query) + 1
        assert error.query == query
        return
    assert _height(tree) <= MAX_DEPTH
    assert parse_query(to_query(tree)) == tree


@settings(max_examples=600, deadline=None)
@given(st.text(st.characters(exclude_categories=()), max_size=60))
def test_the_parser_never_crashes(query: str) -> None:
    _check_any_outcome(query)


syntax = st.one_of(
    st.sampled_from(list('abc xyz()"-*:@#/ORNOTAND<>=.0123456789\n\t')),
    st.sampled_from(
        [
            " OR ",
            " AND ",
            "NOT ",
            " NEAR/3 ",
            " w/2 ",
            "NEAR/0",
            "NEAR/99999",
            "from:",
            "in:",
            "sent:",
            "sent>=",
            "sent<=",
            "current:",
            "CURRENT:",
            "is:",
            "is:edited",
        ]
        + ["2024-01-01", "9999-12-31", "..", "@", "#", '"', "(", ")", "-", "*", "\x00", "\ud800", "\u00a0", "ı", "İ"]
    ),
)


@settings(max_examples=800, deadline=None)
@given(st.lists(syntax, max_size=30).map("".join))
def test_syntax_soup_never_crashes(query: str) -> None:
    _check_any_outcome(query)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(syntax, min_size=1, max_size=20).map("".join), st.integers(1, API_QUERY_LIMIT))
def test_long_repetitive_queries_never_crash(piece: str, length: int) -> None:
    _check_any_outcome((piece * (length // len(piece) + 1))[:length])


tricky_words = st.sampled_from(
    ["NOTHING", "ORACLE", "ANDROID", "NEARBY", "NOTEPAD", "ORDER", "OR", "AND", "NOT", "NOT-x", "OR-", "AND-y"]
    + ["NEAR/5", "NEAR/5x", "NEAR/", "w/", "w/5", "w/50cal", "W/5", "-x", "x-", "-", "--", "*", "x*", "a*b", "**"]
    + ["don't", "c++", "e-mail", "C#", "https://example.com/a?b=c&d=1", "user@example.com", "a:b", "a/b", "..."]
    + ["from:bob", "FROM:x", "in:#x", "sent>=2024-01-01", "sent<3", "Sent:x", "@nick", "#tag", "ÉCOLE", "naïve"]
    + ["current:x", "Current:", "is:edited", "IS:deleted", "is:"]
    + ["attachment:x", "Attachment:", "file:x", "FILE:", "filetype:pdf", "FileType:", "profile:x", "files:x"]
    + ["日本語", "١٢٣", "Straße", "ǅ", "İstanbul", "ıi", "0", "42", "3.14", "'", "`~!$%^&=+[]{}|\\;,<>?"]
)
plain_text = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters='"'), min_size=1, max_size=8
)
words = st.lists(st.one_of(tricky_words, plain_text), min_size=1, max_size=3).map("".join)
phrases = st.lists(words, min_size=2, max_size=3).map(" ".join)
values = st.one_of(words, phrases)
days = st.dates()


leaves = st.one_of(
    words.map(Term),
    words.map(lambda w: Term(f" {w} ")),
    words.filter(lambda w: "*" not in w and reads_as_one_word(w + "*")).map(Prefix),
    phrases.map(Phrase),
    st.builds(Near, values, values, st.integers(1, MAX_NEAR_DISTANCE)),
    st.builds(Filter, st.sampled_from(["from", "participant", "mentions"]), values),
    values.map(lambda v: Filter("type", v.lower())).filter(lambda f: f.value == f.value.strip()),
    values.map(lambda v: Filter("in", "#" + v)),
    words.filter(lambda w: is_bare_value(w) and w.lower() == w.lower().lower()).map(
        lambda w: Filter("hashtag", w.lower())
    ),
    st.just(Filter("has", "file")),
    words.filter(lambda w: is_bare_value(w.lower().lstrip(".")) and w.lower() == w.lower().lower()).map(
        lambda w: Filter("filetype", w.lower().lstrip("."))
    ),
    st.sampled_from([Filter("is", "edited"), Filter("is", "deleted")]),
    days.map(lambda d: SentRange(d, None)),
    days.map(lambda d: SentRange(None, d)),
    st.builds(
        lambda a, n: SentRange(a, date.fromordinal(min(a.toordinal() + n, date.max.toordinal()))),
        days.filter(lambda d: d < date.max),
        st.integers(1, 60),
    ),
)


def _and(items: list[Node]) -> Node:
    flat = [part for item in items for part in (item.items if isinstance(item, And) else (item,))]
    return And(tuple(flat))


def _or(items: list[Node]) -> Node:
    flat = [part for item in items for part in (item.items if isinstance(item, Or) else (item,))]
    return Or(tuple(flat))


def _trees(width: int, most_leaves: int) -> st.SearchStrategy[Node]:
    """Query trees of up to ``most_leaves`` leaves, each And and Or of 2 to ``width`` items."""
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=width).map(_and),
            st.lists(children, min_size=2, max_size=width).map(_or),
            children.map(Not),
            children.map(Current),
            children.map(lambda child: Within("attachment", child)),
            children.map(lambda child: Within("file", child)),
        ),
        max_leaves=most_leaves,
    )


trees = _trees(width=3, most_leaves=8)


@settings(max_examples=1000, deadline=None)
@given(trees)
def test_printing_and_parsing_again_gives_the_same_tree(tree: Node) -> None:
    assert parse_query(to_query(tree)) == tree


@settings(max_examples=500, deadline=None)
@given(words)
def test_a_bare_word_reads_back_as_itself_and_any_word_prints(text: str) -> None:
    if is_bare_word(text):
        assert to_query(Term(text)) == text
    assert parse_query(to_query(Term(text))) == Term(text)


# --- The cost limits (issue 15, bug 7) ----------------------------------------------------------


def _leaves_and_nears(node: Node) -> tuple[int, int]:
    leaves = nears = 0
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, And | Or):
            pending += item.items
        elif isinstance(item, Not | Current | Within):
            pending.append(item.item)
        else:
            leaves += 1
            nears += isinstance(item, Near)
    return leaves, nears


big_trees = _trees(width=12, most_leaves=150)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(big_trees)
def test_a_query_is_accepted_exactly_when_it_is_within_every_limit(tree: Node) -> None:
    printed = to_query(tree)
    leaves, nears = _leaves_and_nears(tree)
    within = (
        len(printed) <= MAX_QUERY_LENGTH
        and leaves <= MAX_CLAUSES
        and nears <= MAX_NEAR_CLAUSES
        and _height(tree) <= MAX_DEPTH
    )
    try:
        assert parse_query(printed) == tree
    except QuerySyntaxError as error:
        assert not within, error
        assert any(
            limit in error.message
            for limit in (
                f"at most {MAX_QUERY_LENGTH} characters",
                f"at most {MAX_CLAUSES} words",
                f"at most {MAX_NEAR_CLAUSES}",
                f"at most {MAX_DEPTH} levels",
            )
        ), error
        return
    assert within


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(["w", "w*", '"a b"', "from:x", "sent>=2024-01-01", "#t", "-w"]), min_size=1, max_size=150),
    st.sampled_from([" ", " OR ", " AND "]),
)
def test_the_clause_limit_is_reported_where_the_first_clause_past_it_starts(parts: list[str], joint: str) -> None:
    query = joint.join(parts)
    if len(parts) <= MAX_CLAUSES:
        parse_query(query)
        return
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert f"at most {MAX_CLAUSES} words" in caught.value.message
    assert caught.value.position == len(joint.join(parts[:MAX_CLAUSES]) + joint) + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 2 * MAX_NEAR_DISTANCE), min_size=1, max_size=2 * MAX_NEAR_CLAUSES))
@example([1] * (MAX_NEAR_CLAUSES + 1))  # too many, none too far: rarely drawn, so always tried
def test_near_is_bounded_in_distance_and_in_number(distances: list[int]) -> None:
    query = " OR ".join(f"the NEAR/{distance} the" for distance in distances)
    too_far = any(distance > MAX_NEAR_DISTANCE for distance in distances)
    if not too_far and len(distances) <= MAX_NEAR_CLAUSES:
        parse_query(query)
        return
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    if too_far:  # each NEAR is checked as it is read, their number once the OR is complete
        assert f"between 1 and {MAX_NEAR_DISTANCE}" in caught.value.message
    else:
        assert f"too many NEAR operators: at most {MAX_NEAR_CLAUSES}" in caught.value.message


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=20), st.integers(MAX_QUERY_LENGTH + 1, 3 * MAX_QUERY_LENGTH))
def test_a_query_past_the_length_limit_is_refused_before_it_is_read(piece: str, length: int) -> None:
    query = (piece * (length // len(piece) + 1))[:length]
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    assert caught.value.message == f"the query is too long: at most {MAX_QUERY_LENGTH} characters"
    assert caught.value.position == MAX_QUERY_LENGTH + 1
