"""bench/duplicate_corpus.py: seeded, with the families, hard negatives and languages it says,
and a score that counts pairs the way the docs say."""

from __future__ import annotations

from collections import Counter

from bench.duplicate_corpus import EDITS, LANGUAGES, generate, score


def test_the_same_seed_gives_the_same_corpus_and_another_seed_another() -> None:
    assert generate(500, seed=1) == generate(500, seed=1)
    assert generate(500, seed=1).texts != generate(500, seed=2).texts


def test_families_hard_negatives_and_languages() -> None:
    corpus = generate(3000, seed=4)
    assert len(corpus.texts) == 3000
    kinds = Counter(corpus.edit)
    assert kinds["template"] == 300
    in_families = sum(1 for f in corpus.family if f >= 0)
    assert in_families == 900
    originals = Counter(f for f, e in zip(corpus.family, corpus.edit, strict=True) if e == "original")
    assert set(originals) == {f for f in corpus.family if f >= 0}
    assert set(originals.values()) == {1}
    assert {kind for edit in kinds for kind in edit.split("+")} >= set(EDITS)
    assert set(corpus.language) == set(LANGUAGES)
    for family, edit, text in zip(corpus.family, corpus.edit, corpus.texts, strict=True):
        if edit in ("distinct", "template"):
            assert family == -1
        assert text.strip()


def test_pairwise_score() -> None:
    corpus = generate(200, seed=9)
    perfect = score(corpus, corpus.family)
    assert (perfect.precision, perfect.recall, perfect.families_whole) == (1.0, 1.0, 1.0)
    assert perfect.correct_pairs == perfect.true_pairs == corpus.true_pairs()
    nothing = score(corpus, [-1] * 200)
    assert (nothing.precision, nothing.recall, nothing.predicted_pairs) == (1.0, 0.0, 0)
    everything = score(corpus, [0] * 200)
    assert everything.recall == 1.0
    assert everything.predicted_pairs == 200 * 199 // 2
    assert everything.precision == corpus.true_pairs() / everything.predicted_pairs
