"""The pure parts of ``bench/other_engines.py``: query translations, keyword tokens, staging of posts,
and FTS5 beside Tantivy on a small corpus of awkward posts (Sphinx needs its binaries; it is checked
by ``python -m bench.other_engines``)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adapters.index_adapter import TantivyIndexAdapter
from bench.other_engines import (
    EDGE_QUERIES,
    EDGE_TEXTS,
    FACETS,
    FULL_HIT_SET,
    QUERY_NAMES,
    Fts5Engine,
    Split,
    UnsupportedQuery,
    edge_events,
    fts5_match,
    keyword_token,
    query_text,
    query_words,
    sphinx_charset_table,
    sphinx_match,
    sphinx_where,
    split_query,
    stage_posts,
)
from bench.search import QUERIES
from search.query_ast import Node
from search.query_parser import parse_query
from search.tantivy_backend import search_page


def test_keyword_tokens_are_one_opaque_word() -> None:
    assert keyword_token("alice.smith") == "k" + b"alice.smith".hex()
    assert query_words(keyword_token("ünïcode@#.")) == [keyword_token("ünïcode@#.")]


def test_query_words_split_like_the_simple_tokenizer() -> None:
    assert query_words("sign-off") == ["sign", "off"]
    assert query_words("foo_bar") == ["foo", "bar"]
    assert query_words("Cafe\u0301") == ["Café"]  # composed first (NFC)


def test_date_ranges_become_bounds() -> None:
    split = split_query(parse_query(QUERIES["boolean + date range + room"]))
    assert split.sent_from == int(datetime(2026, 1, 6, tzinfo=UTC).timestamp()) * 1_000_000
    assert split.sent_before == int(datetime(2026, 3, 1, tzinfo=UTC).timestamp()) * 1_000_000
    assert split_query(parse_query("sent:2026-01-01..2026-01-31")).text is None


def _text_part(query: str) -> Node:
    text = split_query(parse_query(query)).text
    assert text is not None
    return text


def test_typical_queries_in_sphinx_syntax() -> None:
    translated = {name: sphinx_match(_text_part(text)) for name, text in QUERIES.items()}
    hashed, bare = keyword_token("#compliance"), keyword_token("compliance")
    assert translated == {
        "single term": "(@(text,history) deploy)",
        "phrase": '(@(text,history) "risk report")',
        "boolean + date range + room": (
            "(((@(text,history) audit) | (@(text,history) kyc))"
            f" ((@room_kw {hashed}) | (@room_kw {bare})) -(@(text,history) urgent))"
        ),
        "proximity": "(@(text,history) margin NEAR/3 call)",
        "prefix": "(@(text,history) settle*)",
        "mention or hashtag": f"((@hashtags {keyword_token('urgent')}) | (@mentions {keyword_token('alice.smith')}))",
    }
    where = sphinx_where(split_query(parse_query(QUERIES["boolean + date range + room"])))
    assert where.startswith(" WHERE MATCH('(((@(text,history) audit)")
    assert where.endswith("AND sent >= 1767657600000000 AND sent < 1772323200000000")
    assert sphinx_where(Split(None, None, None)) == ""


def test_typical_queries_in_fts5_syntax() -> None:
    translated = {name: fts5_match(_text_part(text)) for name, text in QUERIES.items()}
    hashed, bare = keyword_token("#compliance"), keyword_token("compliance")
    assert translated == {
        "single term": '({text history} : "deploy")',
        "phrase": '({text history} : "risk report")',
        "boolean + date range + room": (
            '(((({text history} : "audit") OR ({text history} : "kyc"))'
            f' AND ((room_kw : "{hashed}") OR (room_kw : "{bare}")))'
            ' NOT ({text history} : "urgent"))'
        ),
        "proximity": '({text history} : NEAR("margin" "call", 2))',
        "prefix": '({text history} : "settle" *)',
        "mention or hashtag": (
            f'((hashtags : "{keyword_token("urgent")}") OR (mentions : "{keyword_token("alice.smith")}"))'
        ),
    }


@pytest.mark.parametrize("query", ["-urgent", "participant:bob", "has:file", "a OR sent>=2026-01-01", "type:post"])
def test_untranslatable_queries_are_refused(query: str) -> None:
    node = parse_query(query)
    with pytest.raises(UnsupportedQuery):
        sphinx_match(split_query(node).text or node)
    with pytest.raises(UnsupportedQuery):
        fts5_match(split_query(node).text or node)


def test_every_typical_query_has_text() -> None:
    assert QUERY_NAMES[-2:] == (FACETS, FULL_HIT_SET)
    assert query_text(FACETS) == query_text(FULL_HIT_SET) == QUERIES["single term"]
    with pytest.raises(KeyError):
        query_text("nope")


def test_charset_table_folds_like_tantivy() -> None:
    table = sphinx_charset_table()
    assert "U+00C9->U+0065" in table  # É -> e
    assert "U+0141->U+006C" in table  # Ł -> l
    assert "U+005F" not in table  # _ separates words, as in Tantivy
    assert "U+00DF" in table  # ß stays ß: Sphinx maps one character to one, Tantivy folds it to "ss"


def test_staging_applies_edits_and_keeps_deleted_posts() -> None:
    connection = sqlite3.connect(":memory:")
    assert stage_posts(connection, edge_events()) == len(EDGE_TEXTS) + 2  # and two uploaded files
    text, hashtags = connection.execute("SELECT text, hashtags FROM posts WHERE message_id = 'm16'").fetchone()
    assert text == "correction: the risk report #risk"
    assert hashtags == keyword_token("risk")
    ids = [row[0] for row in connection.execute("SELECT id FROM posts ORDER BY sent")]
    assert ids == sorted(ids)
    assert (
        connection.execute("SELECT day FROM posts WHERE message_id = 'm0'").fetchone()[0]
        == (date(2026, 1, 5) - date(1970, 1, 1)).days
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Fts5Engine]:
    folder = tmp_path_factory.mktemp("other-engines")
    adapter = TantivyIndexAdapter(folder / "index")
    assert all(result is None for result in adapter.write(edge_events()))
    adapter.close()
    engine = Fts5Engine()
    engine.prepare(folder, edge_events())
    return folder / "index", engine


@pytest.mark.parametrize("query", EDGE_QUERIES)
def test_fts5_finds_what_tantivy_finds(corpus: tuple[Path, Fts5Engine], query: str) -> None:
    index_dir, engine = corpus
    page = search_page(index_dir, parse_query(query), size=50)
    result = engine.search(query)
    assert result.total == page.total
    assert [sent for _id, sent in result.hits] == [hit.sent for hit in page.hits]


@pytest.mark.parametrize(("written", "folded"), [("straße", "strasse"), ("Łukasz", "lukasz")])
def test_fts5_folds_fewer_letters_than_tantivy(corpus: tuple[Path, Fts5Engine], written: str, folded: str) -> None:
    """Tantivy's ASCII folding maps ß to ss and Ł to l; unicode61 only removes diacritics that
    Unicode decomposes (é is e + U+0301; Ł and ß do not decompose), so FTS5 needs them as written."""
    index_dir, engine = corpus
    assert search_page(index_dir, parse_query(folded), size=50).total == 1
    assert engine.search(folded).total == 0
    assert engine.search(written).total == 1


def test_fts5_facets_and_every_hit_match_tantivy(corpus: tuple[Path, Fts5Engine]) -> None:
    index_dir, engine = corpus
    page = search_page(index_dir, parse_query("margin OR risk OR deploy"), size=50, facets=True, facet_size=20)
    result = engine.search("margin OR risk OR deploy", facets=True)
    assert result.facets == page.facets
    every = engine.search("margin OR risk OR deploy", every=True)
    assert [sent for _id, sent in every.hits] == [hit.sent for hit in page.hits]
    assert engine.query("single term")() == search_page(index_dir, parse_query("deploy"), size=50).total
