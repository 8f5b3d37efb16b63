"""The RE2 program budget of a whole set of lexicons (the per-lexicon one: tests/review22)."""

from __future__ import annotations

import pytest

from supervision.lexicon import LexiconError, LexiconSet, PolicyLexicon
from supervision.model import LexiconTerm


def _big(policy: int, count: int) -> PolicyLexicon:
    return PolicyLexicon(
        terms=tuple(LexiconTerm(id=f"t{n}", kind="regex", expression=f"\\pL{{400}}x{policy}y{n}") for n in range(count))
    )


def test_lexicons_each_within_their_budget_are_refused_together_past_the_sets() -> None:
    LexiconSet.compile({"p0": _big(0, 4)})  # one lexicon: accepted
    with pytest.raises(LexiconError, match="regular expressions of all 5 lexicons"):
        LexiconSet.compile({f"p{n}": _big(n, 4) for n in range(5)})


def test_the_refusal_names_the_policy_and_the_term_past_the_lexicons_budget() -> None:
    with pytest.raises(LexiconError, match=r"policy 'p', term 't4': the lexicon's regular expressions take"):
        LexiconSet.compile({"p": _big(0, 6)})
