"""Defects of the lexicon engine found in the issue 22 review: what a regular expression term
matches, and where a match is said to be."""

from __future__ import annotations

import pytest

from supervision.lexicon import LexiconSet, Message, PolicyLexicon
from supervision.model import LexiconTerm, TermMatch


def _matches(kind: str, expression: str, text: str) -> list[TermMatch]:
    lexicons = LexiconSet.compile({"p": PolicyLexicon(terms=(LexiconTerm(id="t", kind=kind, expression=expression),))})
    verdict = lexicons.verdicts(Message(text=text)).get("p")
    return list(verdict.matches) if verdict is not None else []


@pytest.mark.xfail(
    strict=True,
    reason="a regex term runs over the text as said: written with a precomposed é it misses the same "
    "word typed with a combining accent (canonically equivalent), which the query term finds",
)
def test_a_regex_term_matches_canonically_equivalent_text_as_the_query_term_does() -> None:
    decomposed = "le rendement est garanti\u0301 sans risque"  # "garanti" + U+0301: "garantí" decomposed
    precomposed = "le rendement est garantí sans risque"
    assert [m.matched for m in _matches("query", "garantí", decomposed)] == ["garanti\u0301"]
    assert [m.matched for m in _matches("regex", "garantí", precomposed)] == ["garantí"]
    # The same word, the same regular expression: the regex term should find it too.
    assert [m.matched for m in _matches("regex", "garantí", decomposed)] == ["garanti\u0301"]


@pytest.mark.xfail(
    strict=True,
    reason="supervision.analysis._composition treats U+0F73 (combining class 0 but decomposing to "
    "non-starters) as a starter, its pieces do not give NFC back and every offset falls back to the "
    "whole text: a match anywhere in the message is reported (and highlighted) as the whole message",
)
def test_a_match_after_a_non_starter_decomposition_keeps_its_own_offsets() -> None:
    text = "a\u0f73\u0301 guarantee"  # a, TIBETAN VOWEL SIGN II, COMBINING ACUTE; then the word
    found = _matches("query", "guarantee", text)
    assert [(m.start, m.end, m.matched) for m in found] == [(4, 13, "guarantee")]
