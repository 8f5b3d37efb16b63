"""The features of a reply link: for each message and each candidate among the ``window``
messages before it (and itself, the "starts a conversation" candidate), a vector of numbers.

They follow the hand-made features of Kummerfeld et al. (ACL 2019; the corpus' ``src/
disentangle.py``): distance in messages and in time, whether either message names the other's
author (``nick:`` at the start or the nick anywhere), the same author, the author's own previous
message, whether anyone else spoke in between, earlier addressing between the two authors, words
in common, questions and links, system lines. Word vectors are left out: the model stays a few
kilobytes of numbers.

A single left-to-right sweep keeps, for each nick and word, the positions where it was seen, so
a message's features cost a handful of dictionary look-ups plus a few array operations shared by
the whole batch: no pair of messages is compared string by string.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = ["FEATURES", "Post", "featurize"]


@dataclass(frozen=True, slots=True)
class Post:
    """One line of a room: a message, an action (/me) or a system line (join, leave...)."""

    author: str
    text: str
    at: float
    """Seconds (only differences are used)."""
    action: bool = False
    system: bool = False


FEATURES: tuple[str, ...] = (
    # the message itself
    "q_system",
    "q_action",
    "q_question",
    "q_url",
    "q_addresses_someone",
    "q_has_earlier_own",
    "q_short",
    # the candidate
    "self",
    "c_system",
    "c_action",
    "c_question",
    "c_url",
    "c_addresses_someone",
    "c_short",
    # the pair
    "distance",
    "distance_1",
    "distance_2",
    "distance_3_4",
    "distance_5_9",
    "distance_10_19",
    "distance_20_plus",
    "gap_log",
    "gap_under_1m",
    "gap_1_2m",
    "gap_2_5m",
    "gap_5_60m",
    "gap_60m_plus",
    "q_names_c_author",
    "q_addresses_c_author",
    "c_names_q_author",
    "same_author",
    "c_is_q_authors_last",
    "q_author_silent_between",
    "c_author_silent_since",
    "same_target",
    "c_addresses_other",
    "q_addresses_other",
    "q_author_named_c_author_before",
    "c_author_named_q_author_before",
    "overlap_of_c",
    "overlap_of_q",
    "overlap_0",
    "overlap_1",
    "overlap_2_plus",
    "overlap_5_plus",
    "c_authors_first",
    "c_followed_by_own",
    "c_after_own",
    "q_busy",
    "q_own_gap_log",
)
_INDEX = {name: index for index, name in enumerate(FEATURES)}

_PUNCTUATION = ".,:;!?()[]{}<>\"'`@*~=+|\\/-_#&%$^"
_STOPWORD_TEXT = """
a an and are as at be but by can do does for from have how i if in is it its i'm it's me my
no not of on or so that the then there this to was what when where which who why will with
you your yes ok okay just get got use using now need know like there's don't can't thanks
thank any all one some
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True, slots=True)
class _Text:
    names: tuple[str, ...]
    """Tokens that could be nicks (lower case, outer punctuation stripped)."""
    prefix: str
    """The nick a ``nick: ...`` / ``nick, ...`` message is addressed to, or ''."""
    words: tuple[str, ...]
    """Distinct content words."""
    question: bool
    url: bool
    short: bool


@lru_cache(maxsize=1 << 16)
def _read_text(text: str) -> _Text:
    raw = text.lower().split()
    names: list[str] = []
    words: list[str] = []
    for token in raw:
        core = token.strip(_PUNCTUATION)
        if len(core) >= 2:
            names.append(core)
            if len(core) >= 3 and core not in _STOPWORDS:
                words.append(core)
    prefix = ""
    if raw:
        first = raw[0]
        head = first.rstrip(":,")
        if head != first and head:
            prefix = head.strip(_PUNCTUATION) or head
    lowered = text.lower()
    return _Text(
        names=tuple(dict.fromkeys(names)),
        prefix=prefix,
        words=tuple(dict.fromkeys(words)),
        question="?" in text,
        url="http" in lowered or "www." in lowered,
        short=len(raw) <= 3,
    )


_EMPTY = _Text((), "", (), False, False, False)


@lru_cache(maxsize=1 << 16)
def _nick(author: str) -> str:
    folded = author.casefold()
    return folded.strip(_PUNCTUATION) or folded


def _recent(positions: list[int], low: int) -> list[int]:
    """The positions of ``positions`` (increasing) at or after ``low``."""
    if not positions or positions[-1] < low:
        return []
    return positions[bisect_left(positions, low) :]


def featurize(posts: Sequence[Post], start: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """The features of every post from ``start`` on against its candidates.

    A post's features depend on the ``2 * window`` posts before it and on nothing older (a
    candidate's own features look at the window before the candidate), so a caller that hands
    in that much history gets the same features whatever the batch.

    Returns ``(x, candidates)``: ``x`` is ``(n, window + 1, len(FEATURES))`` float32 and
    ``candidates`` ``(n, window + 1)`` int64, the index in ``posts`` of candidate ``d`` of each
    post (``d`` = distance: 0 is the post itself, -1 past the start of ``posts``).
    """
    count = len(posts)
    n = max(0, count - start)
    width = window + 1
    # Feature-major: each feature is one contiguous (n, width) block, written in one pass; the
    # (n, width, features) array returned is a view of it.
    x = np.zeros((len(FEATURES), n, width), dtype=np.float32)
    distance = np.arange(width, dtype=np.int64)
    candidates = np.arange(start, start + n, dtype=np.int64)[:, None] - distance[None, :]
    candidates[candidates < 0] = -1
    if n == 0:
        return x.transpose(1, 2, 0), candidates

    # One sweep: what each post says, who said what where.
    nicks = [_nick(post.author) for post in posts]
    texts = [_EMPTY if post.system else _read_text(post.text) for post in posts]
    spoken: dict[str, list[int]] = {}
    named: dict[str, list[int]] = {}
    seen_words: dict[str, list[int]] = {}
    targets: list[frozenset[str]] = []
    previous_own = np.full(count, -1, dtype=np.int64)
    next_own = np.full(count, count, dtype=np.int64)
    last_at: dict[str, int] = {}
    rows: list[tuple[int, tuple[list[int], ...]]] = []
    for index, post in enumerate(posts):
        nick = nicks[index]
        text = texts[index]
        low = index - window
        # Posts older than the first candidate only tell who spoke when.
        needed = index >= start - window
        if needed and not post.system:
            # Who of the people who spoke in the window this post names.
            found = {name for name in text.names if name in spoken and spoken[name][-1] >= low}
            if text.prefix in spoken and spoken[text.prefix][-1] >= low:
                found.add(text.prefix)
            found.discard(nick)
            targets.append(frozenset(found))
        else:
            targets.append(frozenset())
        if index >= start:
            # Pair features that need the positions seen so far (strictly before ``index``).
            names_c = [p for name in text.names if name in spoken for p in _recent(spoken[name], low)]
            prefix_c = _recent(spoken.get(text.prefix, []), low) if text.prefix else []
            name_q = _recent(named.get(nick, []), low)
            same_target = [p for target in targets[index] for p in _recent(named.get(target, []), low)]
            q_named_before: list[int] = []
            addressed_by_q: set[str] = set()
            for own in _recent(spoken.get(nick, []), low):
                addressed_by_q |= targets[own]
            for target in addressed_by_q:
                q_named_before.extend(_recent(spoken.get(target, []), low))
            addressed_q = {nicks[p] for p in name_q}
            c_named_before: list[int] = []
            for speaker in addressed_q:
                c_named_before.extend(_recent(spoken.get(speaker, []), low))
            overlap: list[int] = []
            for word in text.words:
                overlap.extend(_recent(seen_words.get(word, []), low))
            found_at = (names_c, prefix_c, name_q, same_target, q_named_before, c_named_before, overlap)
            rows.append((index, found_at))
        if not post.system:
            if nick in last_at:
                previous_own[index] = last_at[nick]
                next_own[last_at[nick]] = index
            last_at[nick] = index
            spoken.setdefault(nick, []).append(index)
            if not needed:
                continue
            for name in text.names:
                positions = named.setdefault(name, [])
                positions.append(index)
            for word in text.words:
                seen_words.setdefault(word, []).append(index)

    system = np.array([post.system for post in posts], dtype=bool)
    action = np.array([post.action for post in posts], dtype=bool)
    question = np.array([text.question for text in texts], dtype=bool)
    url = np.array([text.url for text in texts], dtype=bool)
    short = np.array([text.short for text in texts], dtype=bool)
    addressing = np.array([bool(t) for t in targets], dtype=bool)
    at = np.array([post.at for post in posts], dtype=np.float64)
    word_count = np.array([len(text.words) for text in texts], dtype=np.float32)
    interned: dict[str, int] = {}
    author = np.array(
        [interned.setdefault(post.author.casefold(), len(interned)) for post in posts],
        dtype=np.int64,
    )

    valid = candidates >= 0
    gather = np.where(valid, candidates, 0)
    queries = np.arange(start, count, dtype=np.int64)
    not_self = valid & (distance[None, :] > 0)

    def put(name: str, values: np.ndarray) -> None:
        x[_INDEX[name]] = np.where(valid, values, 0)

    put("q_system", system[queries][:, None])
    put("q_action", action[queries][:, None])
    put("q_question", question[queries][:, None])
    put("q_url", url[queries][:, None])
    put("q_addresses_someone", addressing[queries][:, None])
    has_own = previous_own[queries] >= np.maximum(queries - window, 0)
    put("q_has_earlier_own", has_own[:, None])
    put("q_short", short[queries][:, None])
    put("self", distance[None, :] == 0)
    put("c_system", not_self & system[gather])
    put("c_action", not_self & action[gather])
    put("c_question", not_self & question[gather])
    put("c_url", not_self & url[gather])
    put("c_addresses_someone", not_self & addressing[gather])
    put("c_short", not_self & short[gather])
    put("distance", distance[None, :] / max(window, 1))
    for name, low, high in (
        ("distance_1", 1, 2),
        ("distance_2", 2, 3),
        ("distance_3_4", 3, 5),
        ("distance_5_9", 5, 10),
        ("distance_10_19", 10, 20),
        ("distance_20_plus", 20, window + 2),
    ):
        put(name, (distance >= low) & (distance < high))
    gap = np.maximum(at[queries][:, None] - at[gather], 0.0) / 60.0
    put("gap_log", not_self * np.log1p(np.minimum(gap, 600.0)) / np.log1p(600.0))
    for name, low_m, high_m in (
        ("gap_under_1m", 0.0, 1.0),
        ("gap_1_2m", 1.0, 2.0),
        ("gap_2_5m", 2.0, 5.0),
        ("gap_5_60m", 5.0, 60.0),
        ("gap_60m_plus", 60.0, np.inf),
    ):
        put(name, not_self & (gap >= low_m) & (gap < high_m))
    same = author[gather] == author[queries][:, None]
    put("same_author", not_self & same)
    last_own = previous_own[queries][:, None]
    put("c_is_q_authors_last", not_self & (gather == last_own))
    put("q_author_silent_between", not_self & (last_own <= gather))
    put("c_author_silent_since", not_self & (next_own[gather] >= queries[:, None]))

    flags = {
        name: np.zeros((n, width), dtype=bool)
        for name in (
            "q_names_c_author",
            "q_addresses_c_author",
            "c_names_q_author",
            "same_target",
            "q_author_named_c_author_before",
            "c_author_named_q_author_before",
        )
    }
    overlap_count = np.zeros((n, width), dtype=np.float32)
    columns = (
        ("q_names_c_author", 0),
        ("q_addresses_c_author", 1),
        ("c_names_q_author", 2),
        ("same_target", 3),
        ("q_author_named_c_author_before", 4),
        ("c_author_named_q_author_before", 5),
        ("", 6),
    )
    for name, column in columns:
        hit_rows: list[int] = []
        hit_distances: list[int] = []
        for row, (index, hits) in enumerate(rows):
            positions = hits[column]
            if positions:
                hit_rows.extend([row] * len(positions))
                hit_distances.extend([index - position for position in positions])
        if not hit_rows:
            continue
        where = (np.array(hit_rows, dtype=np.int64), np.array(hit_distances, dtype=np.int64))
        if name:
            flags[name][where] = True
        else:
            np.add.at(overlap_count, where, 1.0)
    for name, values in flags.items():
        put(name, not_self & values)
    put("c_addresses_other", not_self & addressing[gather] & ~flags["c_names_q_author"])
    put(
        "q_addresses_other",
        not_self & addressing[queries][:, None] & ~flags["q_names_c_author"],
    )
    c_words = word_count[gather]
    q_words = word_count[queries][:, None]
    put("overlap_of_c", not_self * overlap_count / np.maximum(c_words, 1.0))
    put("overlap_of_q", not_self * overlap_count / np.maximum(q_words, 1.0))
    put("overlap_0", not_self & (overlap_count == 0))
    put("overlap_1", not_self & (overlap_count == 1))
    put("overlap_2_plus", not_self & (overlap_count >= 2))
    put("overlap_5_plus", not_self & (overlap_count >= 5))
    following = np.minimum(gather + 1, count - 1)
    put(
        "c_followed_by_own",
        not_self & (gather + 1 < queries[:, None]) & (author[following] == author[gather]),
    )
    preceding = np.maximum(gather - 1, 0)
    put("c_after_own", not_self & (gather >= 1) & (author[preceding] == author[gather]))
    busy = (not_self & (gap < 5.0)).sum(axis=1) / max(window, 1)
    put("q_busy", busy[:, None])
    own_index = previous_own[queries]
    recent_own = (own_index >= 0) & (own_index >= queries - window)
    own_gap = np.where(recent_own, (at[queries] - at[np.maximum(own_index, 0)]) / 60.0, 600.0)
    own_gap_log = np.log1p(np.clip(own_gap, 0.0, 600.0)) / np.log1p(600.0)
    put("q_own_gap_log", own_gap_log[:, None])
    first_own = previous_own[gather] < np.maximum(gather - window, 0)
    put("c_authors_first", not_self & ~system[gather] & first_own)
    return x.transpose(1, 2, 0), candidates
