"""disentangle/metrics.py: the scores of the corpus' evaluation tools, on hand-made cases and
on invariants (a perfect prediction scores 100; the Hungarian pairing is the best pairing)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.metrics import (
    conversations,
    evaluate,
    exact_match,
    link_scores,
    max_assignment,
    one_to_one,
    variation_of_information,
)


def test_link_scores_pool_the_files() -> None:
    gold = {"a": {(1, 1), (2, 1), (3, 2)}, "b": {(5, 5)}}
    auto = {"a": {(1, 1), (2, 1), (3, 1)}, "b": {(5, 4)}}
    scores = link_scores(gold, auto)
    assert (scores.gold, scores.predicted, scores.matched) == (4, 4, 2)
    assert scores.precision == pytest.approx(50.0)
    assert scores.recall == pytest.approx(50.0)
    assert scores.f1 == pytest.approx(50.0)


def test_link_scores_with_nothing_matched_are_zero() -> None:
    scores = link_scores({"a": {(1, 1)}}, {"a": {(1, 0)}})
    assert (scores.precision, scores.recall, scores.f1) == (0.0, 0.0, 0.0)


def test_conversations_are_components_from_the_first_annotated_line() -> None:
    # Line 2 is context (before the first later end, 5): it joins 5 and 6 but is cut.
    found = conversations({(5, 2), (6, 2), (7, 7), (8, 6)})
    assert found == [frozenset({5, 6, 8}), frozenset({7})]


def test_variation_of_information_by_hand() -> None:
    gold = {"a": [frozenset({1, 2}), frozenset({3, 4})]}
    auto = {"a": [frozenset({1, 2, 3, 4})]}
    # H(gold | auto) = 1 bit, H(auto | gold) = 0; N = 4 lines: 100 * (1 - 1 / log2 4) = 50.
    assert variation_of_information(gold, auto) == pytest.approx(50.0)
    singletons = {"a": [frozenset({i}) for i in range(1, 5)]}
    # One conversation against four singletons: VI = log2 4, the worst.
    assert variation_of_information(singletons, auto) == pytest.approx(0.0)


def test_one_to_one_by_hand() -> None:
    gold = {"a": [frozenset({1, 2, 3}), frozenset({4})]}
    auto = {"a": [frozenset({1, 2}), frozenset({3, 4})]}
    # {1,2} with {1,2,3} (2 lines) and {3,4} with {4} (1 line): 3 of 4.
    assert one_to_one(gold, auto) == pytest.approx(75.0)


def test_exact_match_counts_conversations_of_two_lines_or_more() -> None:
    gold = {"a": [frozenset({1, 2}), frozenset({3, 4}), frozenset({5})]}
    auto = {"a": [frozenset({1, 2}), frozenset({3}), frozenset({4, 5})]}
    scores = exact_match(gold, auto)
    assert (scores.gold, scores.predicted, scores.matched) == (2, 2, 1)
    assert scores.f1 == pytest.approx(50.0)


def test_conversation_scores_need_the_same_lines() -> None:
    with pytest.raises(ValueError, match="different lines"):
        one_to_one({"a": [frozenset({1, 2})]}, {"a": [frozenset({1})]})


@st.composite
def link_sets(draw: st.DrawFn) -> dict[str, set[tuple[int, int]]]:
    files: dict[str, set[tuple[int, int]]] = {}
    for name in draw(st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True)):
        size = draw(st.integers(min_value=1, max_value=25))
        links = set()
        for later in range(10, 10 + size):
            links.add((later, draw(st.integers(min_value=later - 5, max_value=later))))
        files[name] = links
    return files


@settings(max_examples=60, deadline=None)
@given(link_sets())
def test_a_perfect_prediction_scores_100(gold: dict[str, set[tuple[int, int]]]) -> None:
    scores = evaluate(gold, gold)
    assert scores.links.f1 == pytest.approx(100.0)
    assert scores.vi == pytest.approx(100.0)
    assert scores.one_to_one == pytest.approx(100.0)
    if scores.exact.gold:
        assert scores.exact.f1 == pytest.approx(100.0)


@settings(max_examples=60, deadline=None)
@given(link_sets(), st.randoms(use_true_random=False))
def test_scores_stay_in_range(gold: dict[str, set[tuple[int, int]]], rng: object) -> None:
    import random

    assert isinstance(rng, random.Random)
    # Each annotated line of gold gets one predicted link, to itself or up to 5 lines back.
    auto = {
        name: {(later, rng.randint(later - 5, later)) for later in {a for a, _ in links}}
        for name, links in gold.items()
    }
    # Keep the same lines: a predicted earlier end before the cut-off is fine, one after it
    # must be an annotated line.
    for name, links in auto.items():
        annotated = {a for a, _ in gold[name]}
        first = min(annotated)
        auto[name] = {(a, b if b < first or b in annotated else a) for a, b in links}
    scores = evaluate(gold, auto)
    for value in (scores.links.f1, scores.vi, scores.one_to_one, scores.exact.f1):
        assert 0.0 <= value <= 100.0 + 1e-9
    assert not math.isnan(scores.vi)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(min_value=1, max_value=5).flatmap(
        lambda rows: st.integers(min_value=1, max_value=5).flatmap(
            lambda cols: st.lists(
                st.lists(st.integers(min_value=0, max_value=9), min_size=cols, max_size=cols),
                min_size=rows,
                max_size=rows,
            )
        )
    )
)
def test_the_hungarian_pairing_is_the_best_pairing(table: list[list[int]]) -> None:
    matrix = np.array(table, dtype=np.float64)
    rows, cols = matrix.shape
    if rows <= cols:
        best = max(
            sum(matrix[r, c] for r, c in zip(range(rows), perm, strict=True))
            for perm in itertools.permutations(range(cols), rows)
        )
    else:
        best = max(
            sum(matrix[r, c] for r, c in zip(perm, range(cols), strict=True))
            for perm in itertools.permutations(range(rows), cols)
        )
    assert max_assignment(matrix) == pytest.approx(best)
