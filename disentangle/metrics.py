"""The scores of a disentanglement, computed as the corpus' public evaluation tools compute them
(Kummerfeld et al., ACL 2019; https://github.com/jkkummerfeld/irc-disentanglement,
``tools/evaluation/graph-eval.py``, ``tools/evaluation/conversation-eval.py`` and
``tools/format_conversion/graph_to_cluster.py``).

- Link precision, recall and F1 (``graph-eval.py``): the links of every file are a set of
  (later line, earlier line) pairs, a self-link included; counts are pooled over the files:
  P = matched / predicted links, R = matched / gold links, F = 2PR / (P + R), all in percent.
- Conversations (``graph_to_cluster.py``): the connected components of a file's links, keeping
  only the lines from the file's first annotated line on (the smallest later end of a link).
- Variation of information (``conversation-eval.py``, reported as "1 - Scaled VI"): over the
  contingency table of every file's gold and predicted conversations pooled, VI = H(U|V) +
  H(V|U) in bits, scaled by log2 of the number of lines: 100 * (1 - VI / log2 N).
- One-to-one overlap: the largest total overlap of a one-to-one pairing of predicted with gold
  conversations, as a percentage of the lines (the tool solves it as a min-cost flow; the
  Hungarian method below finds the same optimum, file by file, since conversations of different
  files never overlap).
- Exact match P/R/F: conversations of two or more lines only; a gold conversation is matched if
  the prediction has exactly the same set of lines; P = matched / predicted conversations,
  R = matched / gold conversations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

__all__ = [
    "PRF",
    "Scores",
    "conversations",
    "evaluate",
    "exact_match",
    "link_scores",
    "max_assignment",
    "one_to_one",
    "variation_of_information",
]

Links = Mapping[str, Iterable[tuple[int, int]]]
Conversations = Mapping[str, list[frozenset[int]]]


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float
    f1: float
    gold: int
    predicted: int
    matched: int


def _prf(gold: int, predicted: int, matched: int) -> PRF:
    precision = 100.0 * matched / predicted if predicted else 0.0
    recall = 100.0 * matched / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if matched else 0.0
    return PRF(precision, recall, f1, gold, predicted, matched)


def link_scores(gold: Links, auto: Links) -> PRF:
    """Link P/R/F over every file, pooled."""
    gold_sets = {name: set(pairs) for name, pairs in gold.items()}
    auto_sets = {name: set(pairs) for name, pairs in auto.items()}
    matched = sum(len(pairs & auto_sets.get(name, set())) for name, pairs in gold_sets.items())
    return _prf(
        sum(len(pairs) for pairs in gold_sets.values()),
        sum(len(pairs) for pairs in auto_sets.values()),
        matched,
    )


def conversations(links: Iterable[tuple[int, int]]) -> list[frozenset[int]]:
    """The connected components of one file's links, lines before the first annotated one cut."""
    parent: dict[int, int] = {}

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    cutoff: int | None = None
    for later, earlier in links:
        parent.setdefault(later, later)
        parent.setdefault(earlier, earlier)
        cutoff = later if cutoff is None else min(cutoff, later)
        a, b = find(later), find(earlier)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, set[int]] = {}
    for node in parent:
        if cutoff is not None and node >= cutoff:
            groups.setdefault(find(node), set()).add(node)
    return sorted((frozenset(group) for group in groups.values()), key=min)


def _check_same_lines(gold: Conversations, auto: Conversations) -> None:
    if set(gold) != set(auto):
        raise ValueError(f"files differ: {sorted(set(gold) ^ set(auto))}")
    for name in gold:
        gold_lines = set().union(*gold[name]) if gold[name] else set()
        auto_lines = set().union(*auto[name]) if auto[name] else set()
        if gold_lines != auto_lines:
            raise ValueError(f"{name}: the gold and predicted conversations cover different lines")


def variation_of_information(gold: Conversations, auto: Conversations) -> float:
    """``100 * (1 - VI / log2 N)`` over every file pooled."""
    _check_same_lines(gold, auto)
    total = sum(len(cluster) for clusters in gold.values() for cluster in clusters)
    if total <= 1:
        return 100.0
    h_uv = 0.0
    i_uv = 0.0
    for name in auto:
        for acluster in auto[name]:
            for gcluster in gold[name]:
                count = len(acluster & gcluster)
                if count:
                    h_uv -= (count / total) * math.log2(count / total)
                    i_uv += (count / total) * math.log2(count * total / (len(acluster) * len(gcluster)))
    vi = h_uv - i_uv
    return 100.0 - 100.0 * vi / math.log2(total)


def max_assignment(weight: np.ndarray) -> float:
    """The largest sum of a one-to-one pairing of rows with columns (Hungarian method, O(n^2 m))."""
    if weight.size == 0:
        return 0.0
    matrix = np.asarray(weight, dtype=np.float64)
    if matrix.shape[0] > matrix.shape[1]:
        matrix = matrix.T
    cost = -matrix
    rows, cols = cost.shape
    u = np.zeros(rows + 1)
    v = np.zeros(cols + 1)
    owner = np.zeros(cols + 1, dtype=np.int64)
    way = np.zeros(cols + 1, dtype=np.int64)
    for row in range(1, rows + 1):
        owner[0] = row
        column = 0
        best = np.full(cols + 1, np.inf)
        used = np.zeros(cols + 1, dtype=bool)
        while True:
            used[column] = True
            current_row = owner[column]
            reduced = cost[current_row - 1] - u[current_row] - v[1:]
            free = ~used[1:]
            better = free & (reduced < best[1:])
            best[1:][better] = reduced[better]
            way[1:][better] = column
            masked = np.where(free, best[1:], np.inf)
            nxt = int(np.argmin(masked)) + 1
            delta = masked[nxt - 1]
            u[owner[used]] += delta
            v[used] -= delta
            best[~used] -= delta
            column = nxt
            if owner[column] == 0:
                break
        while column:
            previous = way[column]
            owner[column] = owner[previous]
            column = previous
    assigned = owner[1:] > 0
    return float(matrix[owner[1:][assigned] - 1, np.nonzero(assigned)[0]].sum())


def one_to_one(gold: Conversations, auto: Conversations) -> float:
    """The percentage of lines in the best one-to-one pairing of conversations."""
    _check_same_lines(gold, auto)
    total = sum(len(cluster) for clusters in gold.values() for cluster in clusters)
    if total == 0:
        return 100.0
    overlap = 0.0
    for name in gold:
        table = np.array([[len(a & g) for g in gold[name]] for a in auto[name]], dtype=np.float64).reshape(
            len(auto[name]), len(gold[name])
        )
        overlap += max_assignment(table)
    return 100.0 * overlap / total


def exact_match(gold: Conversations, auto: Conversations) -> PRF:
    """P/R/F of conversations (two lines or more) predicted exactly."""
    gold_count = 0
    auto_count = 0
    matched = 0
    for name in gold:
        predicted = {cluster for cluster in auto.get(name, []) if len(cluster) > 1}
        auto_count += len(predicted)
        for cluster in gold[name]:
            if len(cluster) > 1:
                gold_count += 1
                matched += cluster in predicted
    for name in auto:
        if name not in gold:
            auto_count += sum(1 for cluster in auto[name] if len(cluster) > 1)
    return _prf(gold_count, auto_count, matched)


@dataclass(frozen=True, slots=True)
class Scores:
    links: PRF
    vi: float
    one_to_one: float
    exact: PRF

    def as_dict(self) -> dict[str, float]:
        return {
            "link_precision": self.links.precision,
            "link_recall": self.links.recall,
            "link_f1": self.links.f1,
            "vi": self.vi,
            "one_to_one": self.one_to_one,
            "exact_precision": self.exact.precision,
            "exact_recall": self.exact.recall,
            "exact_f1": self.exact.f1,
        }


def evaluate(gold: Links, auto: Links) -> Scores:
    """Every score of predicted links against gold links, file by file."""
    gold_sets = {name: set(pairs) for name, pairs in gold.items()}
    auto_sets = {name: set(pairs) for name, pairs in auto.items()}
    gold_conversations = {name: conversations(pairs) for name, pairs in gold_sets.items()}
    auto_conversations = {name: conversations(pairs) for name, pairs in auto_sets.items()}
    return Scores(
        links=link_scores(gold_sets, auto_sets),
        vi=variation_of_information(gold_conversations, auto_conversations),
        one_to_one=one_to_one(gold_conversations, auto_conversations),
        exact=exact_match(gold_conversations, auto_conversations),
    )
