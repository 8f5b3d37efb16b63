"""A Tantivy hit's highlight is the whole message, as Elasticsearch and OpenSearch give it
(``number_of_fragments: 0``): Tantivy's snippets stop at the last word of a 150-character
fragment, which dropped a closing "?" and everything past the fragment (found by the live
conformance suite, issue 21)."""

from __future__ import annotations

import pytest

from adapters.index_adapter import TantivyIndexAdapter
from ingest.events import parse_event
from search.backends import TantivySearchBackend
from search.query_parser import parse_query
from search.request import SearchRequest
from tests.factories import post_payload

LONG = "Start of a long message. " + "filler words here " * 40 + "the ubuntu question at the very end?!"
TEXTS = ["is ubuntu good?", "  ubuntu, <b>not</b> markup…  ", LONG, "مُحَمَّد يسأل عن ubuntu؟"]


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> TantivySearchBackend:
    index_dir = tmp_path_factory.mktemp("highlight") / "index"
    writer = TantivyIndexAdapter(index_dir)
    writer.write([parse_event(post_payload(n, run="hl", text=text)) for n, text in enumerate(TEXTS)])
    writer.close()
    return TantivySearchBackend(index_dir)


def _highlight_of(backend: TantivySearchBackend, text: str) -> str:
    hits = backend.search(SearchRequest(parse_query("ubuntu"), size=10)).hits
    (hit,) = [hit for hit in hits if hit.text == text]
    assert hit.highlight is not None
    return hit.highlight


def test_the_words_after_the_last_match_are_kept(backend: TantivySearchBackend) -> None:
    assert _highlight_of(backend, "is ubuntu good?") == "is <b>ubuntu</b> good?"


def test_markup_and_spaces_around_are_kept_escaped(backend: TantivySearchBackend) -> None:
    assert _highlight_of(backend, TEXTS[1]) == "  <b>ubuntu</b>, &lt;b&gt;not&lt;/b&gt; markup…  "


def test_a_long_message_is_highlighted_whole(backend: TantivySearchBackend) -> None:
    highlight = _highlight_of(backend, LONG)
    assert highlight.replace("<b>", "").replace("</b>", "") == LONG
    assert "the <b>ubuntu</b> question at the very end?!" in highlight


def test_a_folded_script_is_highlighted_whole_as_said(backend: TantivySearchBackend) -> None:
    highlight = _highlight_of(backend, TEXTS[3])
    assert highlight == "مُحَمَّد يسأل عن <b>ubuntu</b>؟"
