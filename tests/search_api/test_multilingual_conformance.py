"""Every script: exact hit sets over a generated multilingual corpus (ja, zh, ko, ar, he, ru, el,
emoji, mixed), from the Tantivy backend for real and from the Elasticsearch translation (its
analysis and query evaluation simulated from the template), both against a brute-force oracle
that does not use the analyzer (tests/search_api/script_oracle.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.index_adapter import TantivyIndexAdapter
from bench.multilingual_corpus import LANGUAGES, Message, generate, query_words
from ingest.events import parse_event
from search.es_query import translate
from search.query_ast import And, Node, Not, Or, Prefix, Term
from search.query_parser import parse_query
from search.tantivy_backend import all_hits
from tests.factories import post_payload
from tests.search_api import es_simulator, script_oracle

CORPUS = generate(40)
QUERIES = [*query_words(), "契約書*", "東*", "会*", "회의*", "догов*", "ΣΥΜΒ*", "مدرس*", "אחר*"]


def message_id(message: Message) -> str:
    return f"msg:ml:{message.number}"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("multilingual") / "index"
    events = [parse_event(post_payload(m.number, run="ml", text=m.text)) for m in CORPUS]
    adapter = TantivyIndexAdapter(folder)
    assert all(result is None for result in adapter.write(events))
    adapter.close()
    return folder


@pytest.fixture(scope="module")
def es_documents() -> list[es_simulator.Document]:
    return [es_simulator.document(message_id(m), m.text) for m in CORPUS]


def oracle(node: Node) -> set[str]:
    def finds(node: Node, text: str) -> bool:
        match node:
            case Term(word):
                return script_oracle.finds(word, text)
            case Prefix(word):
                return script_oracle.finds(word + "*", text)
            case And(items):
                return all(finds(item, text) for item in items)
            case Or(items):
                return any(finds(item, text) for item in items)
            case Not(item):
                return not finds(item, text)
        raise ValueError(f"the oracle does not evaluate {node!r}")

    return {message_id(m) for m in CORPUS if finds(node, m.text)}


def tantivy_hits(index_dir: Path, node: Node) -> set[str]:
    return {hit.message_id for hit in all_hits(index_dir, node)}


def es_hits(documents: list[es_simulator.Document], node: Node) -> set[str]:
    query = translate(node)
    return {d.message_id for d in documents if es_simulator.matches(query, d)}


def test_the_corpus_covers_every_language_and_the_queries_find_something() -> None:
    assert {m.language for m in CORPUS} == set(LANGUAGES)
    found = [q for q in QUERIES if oracle(parse_query(q))]
    assert len(found) >= 0.9 * len(QUERIES), sorted(set(QUERIES) - set(found))


@pytest.mark.parametrize("query", QUERIES)
def test_tantivy_finds_exactly_what_the_oracle_finds(index_dir: Path, query: str) -> None:
    node = parse_query(query)
    assert tantivy_hits(index_dir, node) == oracle(node)


@pytest.mark.parametrize("query", QUERIES)
def test_the_elasticsearch_translation_finds_exactly_what_the_oracle_finds(
    es_documents: list[es_simulator.Document], query: str
) -> None:
    node = parse_query(query)
    assert es_hits(es_documents, node) == oracle(node)


def test_the_elasticsearch_analysis_gives_the_tantivy_terms() -> None:
    from search.tantivy_schema import searchable, text_terms

    for message in CORPUS:
        assert es_simulator.analyze(searchable(message.text)) == text_terms(message.text), message.text
        assert es_simulator.analyze(message.text) == text_terms(message.text), message.text


@pytest.mark.parametrize("length", [254, 255, 40_000])
def test_the_elasticsearch_analysis_drops_the_words_tantivy_drops(length: int) -> None:
    """Words of MAX_TOKEN_BYTES or more are not indexed (and a word past Lucene's longest term,
    32,766 bytes, would refuse the whole document)."""
    from search.tantivy_schema import searchable, text_terms

    text = f"before {'x' * length} after"
    assert es_simulator.analyze(searchable(text)) == text_terms(text)


WORDS = st.sampled_from(query_words())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tree=st.recursive(
        WORDS.map(Term),
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
            st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
            children.map(Not),
        ),
        max_leaves=4,
    )
)
def test_boolean_combinations_match_the_oracle_on_both_backends(
    index_dir: Path, es_documents: list[es_simulator.Document], tree: Node
) -> None:
    wanted = oracle(tree)
    assert tantivy_hits(index_dir, tree) == wanted
    assert es_hits(es_documents, tree) == wanted


CJK_TEXTS = [m for m in CORPUS if m.language in {"ja", "zh", "ko"}]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_run_of_two_or_more_cjk_characters_finds_its_text(index_dir: Path, data: st.DataObject) -> None:
    message = data.draw(st.sampled_from(CJK_TEXTS))
    runs = [run for run in _cjk_runs(message.text) if len(run) >= 2]
    run = data.draw(st.sampled_from(runs))
    start = data.draw(st.integers(0, len(run) - 2))
    end = data.draw(st.integers(start + 2, len(run)))
    piece = run[start:end]
    for query in (Term(piece), parse_query(f'"{piece}"'), Prefix(piece)):
        assert message_id(message) in tantivy_hits(index_dir, query), piece


def _cjk_runs(text: str) -> list[str]:
    runs, current = [], ""
    for character in text:
        if script_oracle.is_cjk(character):
            current += character
        else:
            runs.append(current)
            current = ""
    return [run for run in [*runs, current] if run]
