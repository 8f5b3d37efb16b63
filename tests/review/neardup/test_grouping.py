"""review.near_duplicates: normalisation, signatures (checked against datasketch's own MinHash),
and the grouping's invariants (unit tests and hypothesis properties)."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.duplicate_corpus import generate, score
from review.near_duplicates import (
    DEFAULT_THRESHOLD,
    MIN_CHARS,
    NUM_PERM,
    DuplicatesRefused,
    Grouping,
    Signer,
    group,
    group_texts,
    normalise,
    shingle_hash,
    shingles,
)

BASE = "The supplier contract for the Berlin office must be signed before the audit on Friday."


def test_normalise_folds_case_punctuation_and_whitespace() -> None:
    assert normalise("  Hello,\tWORLD!!  ÉTÉ — ok…\n") == "hello world été ok"
    assert normalise("ﬁle ２０２６") == "file 2026"  # NFKC: ligature and full-width digits
    assert normalise("予算の見直し、来週。") == "予算の見直し 来週"


def test_signatures_are_datasketchs_minhash_value_for_value() -> None:
    texts = [
        normalise(t)
        for t in (BASE, "ein ganz anderer Satz über Lizenzen und Preise", "短い日本語の文です", "ab", "😀 x")
    ]
    ours = Signer(seed=7).sign(texts)
    for text, row in zip(texts, ours, strict=True):
        theirs = MinHash(num_perm=NUM_PERM, seed=7, scheme="affine32", hashfunc=shingle_hash)
        theirs.update_batch(sorted(shingles(text)))
        assert row.tolist() == theirs.hashvalues.tolist()


def test_a_long_text_spanning_several_chunks_is_signed_like_datasketch() -> None:
    text = normalise(" ".join(f"word{i} and more words {i * 7}" for i in range(3000)))
    row = Signer().sign([text, "short text for another row"])[0]
    theirs = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32", hashfunc=shingle_hash)
    theirs.update_batch(list(shingles(text)))
    assert row.tolist() == theirs.hashvalues.tolist()


def test_signing_in_small_batches_gives_the_same_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [normalise(t) for t in generate(300, seed=2).texts] + ["ab", "xyz"]
    whole = Signer().sign(texts)
    monkeypatch.setattr("review.near_duplicates.SIGN_CHARS", 500)
    monkeypatch.setattr("review.near_duplicates._CHUNK", 64)
    assert np.array_equal(Signer().sign(texts), whole)


def test_near_duplicates_are_grouped_with_similarity_to_the_pivot() -> None:
    texts = [
        BASE,
        "Fwd: " + BASE,
        BASE.replace("signed", "sigend"),
        "Lunch on Thursday? The new place near the station has a good menu.",
        "ok",
        "ok",
    ]
    grouping = group_texts(texts)
    assert grouping.pivot[0] == grouping.pivot[1] == grouping.pivot[2] >= 0
    assert grouping.pivot[3] == -1
    assert grouping.pivot[4] == grouping.pivot[5] == -1  # too short to be compared
    pivot = int(grouping.pivot[0])
    assert grouping.similarity[pivot] == 1.0
    assert all(DEFAULT_THRESHOLD <= grouping.similarity[i] < 1.0 for i in (0, 1, 2) if i != pivot)
    assert list(grouping.groups()) == [pivot]


def test_thresholds_out_of_range_are_refused() -> None:
    signatures = Signer().sign([normalise(BASE)])
    for threshold in (0.49, 1.01, -1.0):
        with pytest.raises(DuplicatesRefused, match=r"between 0\.5 and 1\.0"):
            group(signatures, threshold)


def test_a_bucket_of_many_copies_makes_linear_pairs_and_one_group() -> None:
    grouping = group_texts([BASE] * 3000 + ["Another message entirely, about the holiday rota."])
    assert set(grouping.pivot[:3000].tolist()) == {0}
    assert grouping.pivot[3000] == -1


def test_grouping_the_generated_corpus_clears_the_regression_floor() -> None:
    corpus = generate(4000, seed=3)
    grouping = group_texts(corpus.texts)
    measured = score(corpus, grouping.pivot.tolist())
    # docs/near-duplicates.md: 0.993 precision and 0.929 recall at 0.7 on 100,000 documents; on these
    # 4,000 measured 1.0 and 0.958 (by edit at least 0.94). Floors a little under what is measured.
    assert measured.precision >= 0.98
    assert measured.recall >= 0.92
    assert min(measured.recall_by_edit.values()) >= 0.9


# --- properties ----------------------------------------------------------------------------------

_words = st.sampled_from(
    [
        "invoice",
        "contract",
        "budget",
        "meeting",
        "friday",
        "supplier",
        "legal",
        "review",
        "draft",
        "numbers",
        "server",
        "report",
        "licence",
    ]
)
_text = st.lists(_words, min_size=4, max_size=14).map(" ".join)


def _same_group(grouping: Grouping) -> set[tuple[int, int]]:
    found: set[tuple[int, int]] = set()
    for members in grouping.groups().values():
        found.update((a, b) for a in members for b in members if a < b)
    return found


@settings(max_examples=60, deadline=None)
@given(st.lists(_text, min_size=1, max_size=25), st.data())
def test_identical_texts_are_always_grouped(texts: list[str], data: st.DataObject) -> None:
    copies = data.draw(st.lists(st.integers(0, len(texts) - 1), min_size=1, max_size=5))
    everything = texts + [texts[i] for i in copies]
    grouping = group_texts(everything, data.draw(st.floats(0.5, 1.0)))
    for offset, original in enumerate(copies):
        if len(normalise(texts[original])) >= MIN_CHARS:
            assert grouping.pivot[original] >= 0
            assert grouping.pivot[len(texts) + offset] == grouping.pivot[original]
        else:
            assert grouping.pivot[original] == -1


@settings(max_examples=60, deadline=None)
@given(st.lists(_text, min_size=2, max_size=30))
def test_each_document_is_in_at_most_one_group_around_its_pivot(texts: list[str]) -> None:
    grouping = group_texts(texts, 0.5)
    for index, pivot in enumerate(grouping.pivot.tolist()):
        if pivot < 0:
            assert grouping.similarity[index] == 0.0
            continue
        assert grouping.pivot[pivot] == pivot  # the pivot is a member of its own group
        assert (grouping.pivot == pivot).sum() >= 2  # a group has two documents at least
        assert 0.0 < grouping.similarity[index] <= 1.0
    assert sum(len(m) for m in grouping.groups().values()) == int((grouping.pivot >= 0).sum())


@settings(max_examples=40, deadline=None)
@given(st.lists(_text, min_size=2, max_size=30), st.floats(0.5, 1.0), st.floats(0.5, 1.0))
def test_a_higher_threshold_only_splits_groups(texts: list[str], first: float, second: float) -> None:
    low, high = sorted((first, second))
    assert _same_group(group_texts(texts, high)) <= _same_group(group_texts(texts, low))


@settings(max_examples=30, deadline=None)
@given(st.lists(_text, min_size=2, max_size=20), st.integers(0, 2**31 - 1))
def test_the_grouping_is_deterministic_for_a_seed(texts: list[str], seed: int) -> None:
    first = group_texts(texts, 0.6, seed=seed)
    second = group_texts(list(texts), 0.6, seed=seed)
    assert np.array_equal(first.pivot, second.pivot)
    assert np.array_equal(first.similarity, second.similarity)
