"""disentangle/features.py: what the features say about small hand-made rooms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disentangle.features import FEATURES, Post, featurize

ROOM = [
    Post("alice", "how do I mount an iso image?", 0.0),  # 0
    Post("bob", "anyone know grub well?", 10.0),  # 1
    Post("carol", "alice: sudo mount -o loop image.iso /mnt", 20.0),  # 2
    Post("dave", "joined", 25.0, system=True),  # 3
    Post("alice", "carol: thanks, the iso image mounted", 200.0),  # 4
]


def feature(x: np.ndarray, row: int, distance: int, name: str) -> float:
    return float(x[row, distance, FEATURES.index(name)])


def test_shapes_and_candidates() -> None:
    x, candidates = featurize(ROOM, 2, window=3)
    assert x.shape == (3, 4, len(FEATURES))
    assert x.dtype == np.float32
    assert candidates.tolist() == [[2, 1, 0, -1], [3, 2, 1, 0], [4, 3, 2, 1]]
    # Padding past the start of the room is all zeros.
    assert not x[0, 3].any()


def test_addressing_by_nick_either_way() -> None:
    x, _ = featurize(ROOM, 0, window=4)
    # carol (2) addresses alice: her question (0) is named by the answer.
    assert feature(x, 2, 2, "q_addresses_c_author") == 1.0
    assert feature(x, 2, 2, "q_names_c_author") == 1.0
    assert feature(x, 2, 1, "q_names_c_author") == 0.0
    assert feature(x, 2, 0, "q_addresses_someone") == 1.0
    # alice (4) answers carol; carol's message (2) had named alice.
    assert feature(x, 4, 2, "q_addresses_c_author") == 1.0
    assert feature(x, 4, 2, "c_names_q_author") == 1.0
    assert feature(x, 4, 2, "c_author_named_q_author_before") == 1.0
    # bob (1) addresses no one.
    assert feature(x, 1, 0, "q_addresses_someone") == 0.0


def test_own_messages_distance_time_and_words() -> None:
    x, _ = featurize(ROOM, 0, window=4)
    assert feature(x, 4, 4, "same_author") == 1.0
    assert feature(x, 4, 4, "c_is_q_authors_last") == 1.0
    assert feature(x, 4, 0, "self") == 1.0
    assert feature(x, 4, 1, "c_system") == 1.0
    assert feature(x, 4, 1, "distance_1") == 1.0
    assert feature(x, 4, 2, "distance_2") == 1.0
    assert feature(x, 4, 4, "distance_3_4") == 1.0
    # 180 s between carol's answer and alice's thanks.
    assert feature(x, 4, 2, "gap_2_5m") == 1.0
    # "iso" and "image" are shared by alice's question and her thanks.
    assert feature(x, 4, 4, "overlap_2_plus") == 1.0
    assert feature(x, 4, 3, "overlap_0") == 1.0
    assert feature(x, 0, 0, "q_question") == 1.0
    # carol has not spoken since her answer; alice spoke before it (at 0).
    assert feature(x, 4, 2, "c_author_silent_since") == 1.0
    assert feature(x, 4, 2, "q_author_silent_between") == 1.0
    # bob (1) spoke after alice's own last message (0): alice was silent since.
    assert feature(x, 4, 3, "q_author_silent_between") == 1.0
    again = [Post("ann", "one", 0.0), Post("ben", "two", 1.0), Post("ann", "three", 2.0)]
    again.append(Post("ann", "four", 3.0))
    y, _ = featurize(again, 3, window=3)
    # ann spoke at 2, between ben's message (1) and now.
    assert feature(y, 0, 2, "q_author_silent_between") == 0.0
    assert feature(y, 0, 1, "c_is_q_authors_last") == 1.0
    assert feature(y, 0, 3, "c_is_q_authors_last") == 0.0


@st.composite
def rooms(draw: st.DrawFn) -> list[Post]:
    authors = ["ann", "ben", "cy", "dora"]
    size = draw(st.integers(min_value=1, max_value=30))
    posts = []
    at = 0.0
    for _ in range(size):
        author = draw(st.sampled_from(authors))
        words = draw(st.lists(st.sampled_from([*authors, "ann:", "iso", "grub?", "x"]), max_size=5))
        at += draw(st.floats(min_value=0, max_value=500))
        posts.append(Post(author, " ".join(words), at, system=draw(st.booleans()) and not words))
    return posts


@settings(max_examples=50, deadline=None)
@given(rooms(), st.data())
def test_a_posts_features_do_not_depend_on_where_the_batch_starts(posts: list[Post], data: st.DataObject) -> None:
    start = data.draw(st.integers(min_value=0, max_value=len(posts) - 1))
    window = data.draw(st.integers(min_value=1, max_value=8))
    whole, whole_candidates = featurize(posts, 0, window)
    part, part_candidates = featurize(posts, start, window)
    np.testing.assert_array_equal(whole[start:], part)
    np.testing.assert_array_equal(whole_candidates[start:], part_candidates)
    # Only the 2 * window posts before a post count: cutting older ones off changes nothing.
    low = max(0, start - 2 * window)
    cut, _ = featurize(posts[low:], start - low, window)
    np.testing.assert_allclose(cut, part)


def test_nothing_to_featurize() -> None:
    x, candidates = featurize(ROOM, len(ROOM), window=3)
    assert x.shape == (0, 4, len(FEATURES))
    assert candidates.shape == (0, 4)


@pytest.mark.parametrize("text", ["", "   ", "::", "é" * 300, "\x00\n\t"])
def test_odd_texts_are_featurized(text: str) -> None:
    x, _ = featurize([Post("a", "hi", 0.0), Post("b", text, 1.0)], 0, window=2)
    assert np.isfinite(x).all()
