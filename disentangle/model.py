"""The interface of a disentangler and the small model behind it.

A room's messages arrive in time order. For each new message the disentangler names the earlier
message it answers (its parent) or says it starts a thread; it may look back at most ``window``
messages of the same room, which the caller hands in as ``history``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Protocol

import numpy as np

from disentangle.features import FEATURES, Post, featurize


@dataclass(frozen=True, slots=True)
class Utterance:
    """One message of a room as the disentangler sees it."""

    id: str
    author: str
    """The name the room shows (an IRC nick): people address each other by it."""
    text: str
    at: float
    """Seconds on any fixed scale (POSIX time): only differences are used."""
    action: bool = False
    """A ``/me`` line."""


@dataclass(frozen=True, slots=True)
class Link:
    id: str
    parent: str | None
    """The message it answers; None: it starts a thread."""
    score: float


class Disentangler(Protocol):
    name: str
    window: int

    def links(self, history: Sequence[Utterance], new: Sequence[Utterance]) -> list[Link]:
        """One link per message of ``new`` (in order); ``history`` is the room's messages before
        them (at most ``window``, oldest first)."""
        ...


_ADDRESS = re.compile(r"^\s*([^\s:,]+)\s*[:,]")


class AddressedNick:
    """A message addressed to someone (``nick: ...``) answers that person's last message; any
    other starts a thread."""

    name = "addressed-nick"
    window = 100

    def links(self, history: Sequence[Utterance], new: Sequence[Utterance]) -> list[Link]:
        seen = list(history[-self.window :])
        out: list[Link] = []
        for utterance in new:
            parent: str | None = None
            match = _ADDRESS.match(utterance.text)
            if match:
                nick = match.group(1).casefold()
                for earlier in reversed(seen[-self.window :]):
                    if earlier.author.casefold() == nick and earlier.id != utterance.id:
                        parent = earlier.id
                        break
            out.append(Link(utterance.id, parent, 1.0 if parent else 0.0))
            seen.append(utterance)
        return out


@dataclass(frozen=True, slots=True)
class Weights:
    """A feed-forward scorer of candidate links: one hidden layer (tanh), one score."""

    features: tuple[str, ...]
    window: int
    mean: np.ndarray
    scale: np.ndarray
    hidden_weights: np.ndarray
    """(features, hidden)"""
    hidden_bias: np.ndarray
    output_weights: np.ndarray
    """(hidden,)"""
    output_bias: float
    meta: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> str:
        def rounded(array: np.ndarray) -> list[object]:
            return [round(float(value), 7) for value in np.ravel(array)]

        body = {
            "format": 1,
            "features": list(self.features),
            "window": self.window,
            "hidden": int(self.hidden_bias.shape[0]),
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "hidden_weights": rounded(self.hidden_weights),
            "hidden_bias": rounded(self.hidden_bias),
            "output_weights": rounded(self.output_weights),
            "output_bias": round(float(self.output_bias), 7),
            "meta": self.meta,
        }
        return json.dumps(body, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Weights:
        try:
            return cls._from_body(json.loads(text))
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as error:
            raise ValueError(f"weights: malformed ({type(error).__name__}: {error})") from None

    @classmethod
    def _from_body(cls, body: dict[str, Any]) -> Weights:
        if body.get("format") != 1:
            raise ValueError("weights: unknown format (expected format 1)")
        features = tuple(str(name) for name in body["features"])
        hidden = int(body["hidden"])
        width = len(features)

        def array(name: str, shape: tuple[int, ...]) -> np.ndarray:
            values = np.asarray(body[name], dtype=np.float32)
            if values.size != int(np.prod(shape)):
                raise ValueError(f"weights: {name} has {values.size} values, expected {shape}")
            return values.reshape(shape)

        return cls(
            features=features,
            window=int(body["window"]),
            mean=array("mean", (width,)),
            scale=array("scale", (width,)),
            hidden_weights=array("hidden_weights", (width, hidden)),
            hidden_bias=array("hidden_bias", (hidden,)),
            output_weights=array("output_weights", (hidden,)),
            output_bias=float(body["output_bias"]),
            meta=dict(body.get("meta", {})),
        )


def load_weights() -> Weights:
    """The weights shipped in the package (``disentangle/weights.json``)."""
    text = resources.files("disentangle").joinpath("weights.json").read_text(encoding="utf-8")
    return Weights.from_json(text)


def candidate_scores(weights: Weights, x: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Softmax probabilities over each post's candidates (padding gets 0)."""
    n, width, count = x.shape
    # The standardisation folded into the first layer; the features feature-major (free when
    # ``x`` comes from :func:`featurize`, a view of a feature-major array).
    hidden_weights = weights.hidden_weights / weights.scale[:, None]
    hidden_bias = weights.hidden_bias - (weights.mean / weights.scale) @ weights.hidden_weights
    columns = np.ascontiguousarray(x.transpose(2, 0, 1)).reshape(count, n * width)
    hidden = np.tanh(hidden_weights.T @ columns + hidden_bias[:, None])
    logits = (weights.output_weights @ hidden + weights.output_bias).reshape(n, width)
    logits = np.where(candidates >= 0, logits, -np.inf)
    logits -= logits.max(axis=1, keepdims=True)
    probabilities = np.exp(logits)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    return probabilities


def predict(
    weights: Weights, posts: Sequence[Post], start: int, ids: Sequence[str] | None = None
) -> list[tuple[int, float]]:
    """For each post from ``start`` on: the index of the post it answers (itself: it starts a
    conversation) and the model's probability. A system line always starts its own. With
    ``ids`` (one per post), a post never answers an earlier post of its own id (the archive
    keeps a re-delivered message twice): that would link a message to itself."""
    if start >= len(posts):
        return []
    x, candidates = featurize(posts, start, weights.window)
    if ids is not None:
        own = np.asarray(ids, dtype=object)
        rows = np.arange(start, start + len(candidates))
        earlier = candidates[:, 1:]
        same = (earlier >= 0) & (own[np.maximum(earlier, 0)] == own[rows][:, None])
        earlier[same] = -1  # a view: the candidate is dropped
    probabilities = candidate_scores(weights, x, candidates)
    best = probabilities.argmax(axis=1)
    rows = np.arange(len(best))
    parents = candidates[rows, best]
    chosen = probabilities[rows, best]
    out: list[tuple[int, float]] = []
    for offset, (parent, score) in enumerate(zip(parents.tolist(), chosen.tolist(), strict=True)):
        index = start + offset
        if posts[index].system:
            out.append((index, 1.0))
        else:
            out.append((int(parent), float(score)))
    return out


class ReplyModel:
    """The trained reply-link model (features of :mod:`disentangle.features`, a small
    feed-forward scorer, the best-scoring candidate wins), trained on the Ubuntu IRC corpus of
    Kummerfeld et al. (ACL 2019, CC BY 4.0, https://jkk.name/irc-disentanglement/)."""

    name = "reply-ff"

    def __init__(self, weights: Weights | None = None) -> None:
        self.weights = weights if weights is not None else load_weights()
        if self.weights.features != FEATURES:
            raise ValueError("weights: trained on other features than disentangle.features has")
        # Candidates are the weights' window of posts before a message, but a candidate's own
        # features look at the window before it: twice that much history keeps every link the
        # same whatever the batches the caller cuts a room into.
        self.window = 2 * self.weights.window

    def links(self, history: Sequence[Utterance], new: Sequence[Utterance]) -> list[Link]:
        if not new:
            return []
        seen = list(history[-self.window :]) if self.window else []
        posts = [Post(u.author, u.text, u.at if math.isfinite(u.at) else 0.0, u.action) for u in (*seen, *new)]
        ids = [u.id for u in (*seen, *new)]
        out: list[Link] = []
        for offset, (parent, score) in enumerate(predict(self.weights, posts, len(seen), ids)):
            index = len(seen) + offset
            out.append(Link(ids[index], None if parent == index else ids[parent], score))
        return out


def default_disentangler() -> Disentangler:
    """The model the ``threads`` adapter runs: the trained :class:`ReplyModel`."""
    return ReplyModel()
