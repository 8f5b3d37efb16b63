"""Scoring the model on annotated logs, the two ways the corpus can be read.

- ``full``: every line of the raw log, joins and quits included, as the corpus was annotated and
  as the paper scores it. A system line always starts its own conversation (99% of them do in
  the annotations); it is a candidate like any other line.
- ``messages``: what the archive has: messages and actions only, the system lines dropped from
  the history and from the scoring. The few messages annotated as answering a system line (a
  greeting of someone who joined: 2 of the 2,500 annotated dev lines, 52 of the 67,463 train
  lines) answer nothing the model can see;
  in this reading their gold link is a self-link (they start a conversation among the
  messages).

    python -m disentangle.evaluation [--split DIR] [--mode full|messages]
        [--predictor model|previous|addressed-nick]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from disentangle.corpus import Kind, Log, read_split
from disentangle.features import Post
from disentangle.metrics import Scores, evaluate
from disentangle.model import AddressedNick, Utterance, Weights, load_weights, predict

__all__ = [
    "MODES",
    "addressed_nick",
    "gold_links",
    "log_posts",
    "model_predictor",
    "predicted_links",
    "previous_post",
    "score_logs",
]

MODES = ("full", "messages")


def _default_data() -> Path:
    """``$UBUNTU_IRC``, else the first ``shared/data/ubuntu-irc`` beside the checkout or above it,
    else the checkout's own slice (``tests/data/ubuntu-irc``: the dev split and two train logs,
    so a clean clone still scores dev; training needs the whole corpus)."""
    named = os.environ.get("UBUNTU_IRC")
    if named:
        return Path(named)
    here = Path(__file__).resolve()
    for folder in here.parents:
        candidate = folder / "shared" / "data" / "ubuntu-irc"
        if candidate.is_dir():
            return candidate
    return here.parents[1] / "tests" / "data" / "ubuntu-irc"


DEFAULT_DATA = _default_data()


def log_posts(log: Log, mode: str) -> tuple[list[Post], list[int]]:
    """The posts the model sees and the raw line number of each."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: one of {', '.join(MODES)}")
    posts: list[Post] = []
    numbers: list[int] = []
    for line in log.lines:
        system = line.kind is Kind.SYSTEM
        if system and mode == "messages":
            continue
        posts.append(Post(line.author, line.text, line.minute * 60.0, line.kind is Kind.ACTION, system))
        numbers.append(line.index)
    return posts, numbers


def gold_links(log: Log, mode: str) -> set[tuple[int, int]]:
    """The annotated links as scored in ``mode``."""
    if mode == "full":
        return set(log.links)
    system = {line.index for line in log.lines if line.kind is Kind.SYSTEM}
    out: set[tuple[int, int]] = set()
    for later, earlier in log.links:
        if later in system:
            continue
        out.add((later, later) if earlier in system else (later, earlier))
    return out


Predictor = Callable[[Sequence[Post], int], list[tuple[int, float]]]
"""Given posts and a start, the index of each later post's parent (itself: a new conversation)."""


def previous_post(posts: Sequence[Post], start: int) -> list[tuple[int, float]]:
    """A baseline: every message answers the post just before it; a system line starts its own."""
    return [(index if posts[index].system or index == 0 else index - 1, 1.0) for index in range(start, len(posts))]


def addressed_nick(posts: Sequence[Post], start: int) -> list[tuple[int, float]]:
    """The foundation's baseline (:class:`~disentangle.model.AddressedNick`): ``nick: ...``
    answers that person's last message in the window, anything else starts a conversation."""
    window = AddressedNick.window
    utterances = [
        Utterance(str(index), post.author, "" if post.system else post.text, post.at)
        for index, post in enumerate(posts)
    ]
    found = AddressedNick().links(utterances[max(0, start - window) : start], utterances[start:])
    return [
        (int(link.parent) if link.parent is not None else start + offset, link.score)
        for offset, link in enumerate(found)
    ]


def model_predictor(weights: Weights) -> Predictor:
    def run(posts: Sequence[Post], start: int) -> list[tuple[int, float]]:
        return predict(weights, posts, start)

    return run


def predicted_links(weights: Weights | Predictor, log: Log, mode: str) -> set[tuple[int, int]]:
    """The model's (or a baseline's) link for every annotated line of ``mode``."""
    predictor = model_predictor(weights) if isinstance(weights, Weights) else weights
    posts, numbers = log_posts(log, mode)
    annotated = {later for later, _ in gold_links(log, mode)}
    first = min(annotated)
    start = next(position for position, number in enumerate(numbers) if number >= first)
    out: set[tuple[int, int]] = set()
    for offset, (parent, _score) in enumerate(predictor(posts, start)):
        line = numbers[start + offset]
        if line in annotated:
            out.add((line, numbers[parent]))
    return out


def score_logs(weights: Weights | Predictor, logs: Sequence[Log], mode: str) -> Scores:
    gold = {log.name: gold_links(log, mode) for log in logs}
    auto = {log.name: predicted_links(weights, log, mode) for log in logs}
    return evaluate(gold, auto)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m disentangle.evaluation", description=__doc__)
    parser.add_argument("--split", type=Path, default=DEFAULT_DATA / "dev")
    parser.add_argument("--mode", choices=MODES, action="append")
    parser.add_argument("--predictor", choices=["model", "previous", "addressed-nick"], default="model")
    args = parser.parse_args(argv)
    try:
        logs = read_split(args.split)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"error: {error}" + "\n")
        return 2
    parser_models = {"model": model_predictor(load_weights()), "previous": previous_post}
    parser_models["addressed-nick"] = addressed_nick
    chosen = parser_models[args.predictor]
    report = {mode: score_logs(chosen, logs, mode).as_dict() for mode in (args.mode or list(MODES))}
    sys.stdout.write(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
