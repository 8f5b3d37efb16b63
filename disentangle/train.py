"""Train the reply-link model on the ``train`` logs of the Ubuntu IRC corpus (Kummerfeld et al.,
ACL 2019, CC BY 4.0, https://jkk.name/irc-disentanglement/) and write the weights the package
ships (``disentangle/weights.json``).

    OPENBLAS_NUM_THREADS=1 python -m disentangle.train [--train DIR] [--out FILE]
        [--hidden 32] [--epochs 8] [--seed 20] [--rate 0.003] [--batch 256] [--holdout 0]

Each annotated message of a log is one example: its features against its candidates (the
``window`` messages before it and itself), the annotated parents marking the right ones. The
loss is the negative log of the softmax probability of the right candidates together (a message
may answer several); a one-hidden-layer network scores each candidate; Adam, seeded shuffling
and initialisation, so a run reproduces the same weights. ``--holdout K`` keeps every K-th log
out of training and reports the scores on those instead of writing weights (for choosing the
settings on train only: the dev logs are never read here).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from disentangle.corpus import Log, read_split
from disentangle.evaluation import DEFAULT_DATA, MODES, gold_links, log_posts, score_logs
from disentangle.features import FEATURES, featurize
from disentangle.model import Weights

__all__ = ["ensemble", "examples", "fit", "main"]

ATTRIBUTION = (
    "Trained on the train split of the Ubuntu IRC disentanglement corpus, Kummerfeld et al., "
    "'A Large-Scale Corpus for Conversation Disentanglement', ACL 2019, "
    "https://jkk.name/irc-disentanglement/, data licensed CC BY 4.0."
)


def examples(log: Log, window: int, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(x, valid, gold)`` for the annotated non-system posts of a log that have an annotated
    parent within the window."""
    posts, numbers = log_posts(log, mode)
    gold = gold_links(log, mode)
    parents: dict[int, list[int]] = {}
    for later, earlier in gold:
        parents.setdefault(later, []).append(earlier)
    position = {number: index for index, number in enumerate(numbers)}
    first = min(parents)
    start = next(index for index, number in enumerate(numbers) if number >= first)
    x, candidates = featurize(posts, start, window)
    width = window + 1
    keep: list[int] = []
    mask = np.zeros((len(posts) - start, width), dtype=bool)
    for row in range(len(posts) - start):
        index = start + row
        if posts[index].system or numbers[index] not in parents:
            continue
        for parent in parents[numbers[index]]:
            if parent in position:
                distance = index - position[parent]
                if 0 <= distance <= window:
                    mask[row, distance] = True
        if mask[row].any():
            keep.append(row)
    rows = np.array(keep, dtype=np.int64)
    return x[rows], candidates[rows] >= 0, mask[rows]


def fit(
    x: np.ndarray,
    valid: np.ndarray,
    gold: np.ndarray,
    *,
    window: int,
    hidden: int,
    epochs: int,
    seed: int,
    batch: int = 256,
    rate: float = 0.003,
    decay: float = 1e-5,
) -> Weights:
    """A one-hidden-layer scorer trained by Adam on the softmax over each example's candidates."""
    rng = np.random.default_rng(seed)
    count, width, features = x.shape
    rows = x[valid]
    mean = rows.mean(axis=0).astype(np.float32)
    scale = rows.std(axis=0).astype(np.float32)
    scale[scale < 1e-6] = 1.0
    w1 = (rng.standard_normal((features, hidden)) / np.sqrt(features)).astype(np.float32)
    b1 = np.zeros(hidden, dtype=np.float32)
    w2 = (rng.standard_normal(hidden) / np.sqrt(hidden)).astype(np.float32)
    params = [w1, b1, w2]
    moments = [np.zeros_like(p) for p in params]
    squares = [np.zeros_like(p) for p in params]
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    step = 0
    for _epoch in range(epochs):
        order = rng.permutation(count)
        for begin in range(0, count, batch):
            chosen = order[begin : begin + batch]
            xb = (x[chosen] - mean) / scale
            vb = valid[chosen]
            gb = gold[chosen]
            n = len(chosen)
            flat = xb.reshape(n * width, features)
            z = flat @ w1 + b1
            h = np.tanh(z)
            logits = (h @ w2).reshape(n, width)
            logits = np.where(vb, logits, -np.inf)
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits)
            p /= p.sum(axis=1, keepdims=True)
            p_gold = np.where(gb, p, 0.0)
            target = p_gold / p_gold.sum(axis=1, keepdims=True)
            g_logits = ((p - target) / n).astype(np.float32).reshape(n * width)
            g_w2 = h.T @ g_logits
            g_z = (g_logits[:, None] * w2[None, :]) * (1.0 - h * h)
            g_w1 = flat.T @ g_z + decay * w1
            g_b1 = g_z.sum(axis=0)
            step += 1
            for index, grad in enumerate((g_w1, g_b1, g_w2)):
                moments[index] = beta1 * moments[index] + (1 - beta1) * grad
                squares[index] = beta2 * squares[index] + (1 - beta2) * grad * grad
                corrected = moments[index] / (1 - beta1**step)
                spread = squares[index] / (1 - beta2**step)
                params[index] -= (rate * corrected / (np.sqrt(spread) + epsilon)).astype(np.float32)
    return Weights(
        features=FEATURES,
        window=window,
        mean=mean,
        scale=scale,
        hidden_weights=params[0],
        hidden_bias=params[1],
        output_weights=params[2],
        output_bias=0.0,
        meta={
            "attribution": ATTRIBUTION,
            "trained_on": "train",
            "examples": int(count),
            "hidden": hidden,
            "epochs": epochs,
            "seed": seed,
        },
    )


def ensemble(members: Sequence[Weights]) -> Weights:
    """One network that scores a candidate by the mean of the members' scores: their hidden
    layers side by side, their output weights divided by their number (the members share the
    standardisation, computed from the same examples)."""
    first = members[0]
    for member in members[1:]:
        if member.features != first.features or member.window != first.window:
            raise ValueError("ensemble members differ in features or window")
        if not (np.array_equal(member.mean, first.mean) and np.array_equal(member.scale, first.scale)):
            raise ValueError("ensemble members differ in their standardisation")
    count = len(members)
    return Weights(
        features=first.features,
        window=first.window,
        mean=first.mean,
        scale=first.scale,
        hidden_weights=np.concatenate([m.hidden_weights for m in members], axis=1),
        hidden_bias=np.concatenate([m.hidden_bias for m in members]),
        output_weights=np.concatenate([m.output_weights for m in members]) / count,
        output_bias=float(sum(m.output_bias for m in members) / count),
        meta={**first.meta, "members": count, "seeds": [m.meta.get("seed") for m in members]},
    )


def _stack(logs: Sequence[Log], window: int, modes: Sequence[str]) -> tuple[np.ndarray, ...]:
    parts = [examples(log, window, mode) for log in logs for mode in modes]
    return tuple(np.concatenate([part[i] for part in parts]) for i in range(3))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m disentangle.train", description=__doc__)
    parser.add_argument("--train", type=Path, default=DEFAULT_DATA / "train")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("weights.json"))
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.003)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--members", type=int, default=1)
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["messages"])
    parser.add_argument("--holdout", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        logs = read_split(args.train)
    except (OSError, ValueError) as error:
        sys.stderr.write(f"error: {error}" + "\n")
        return 2
    if args.holdout < 0 or min(args.hidden, args.epochs, args.window, args.batch, args.members) < 1 or args.rate <= 0:
        sys.stderr.write(
            "error: --holdout must be >= 0, --hidden, --epochs, --window, --batch, --members >= 1, --rate > 0\n"
        )
        return 2
    held = [log for i, log in enumerate(logs) if args.holdout and i % args.holdout == 0]
    training = [log for log in logs if log not in held]
    x, valid, gold = _stack(training, args.window, args.modes)
    members = [
        fit(
            x,
            valid,
            gold,
            window=args.window,
            hidden=args.hidden,
            epochs=args.epochs,
            seed=args.seed + member,
            batch=args.batch,
            rate=args.rate,
        )
        for member in range(args.members)
    ]
    weights = members[0] if len(members) == 1 else ensemble(members)
    if held:
        report = {mode: score_logs(weights, held, mode).as_dict() for mode in MODES}
        sys.stdout.write(json.dumps({"held_out_logs": len(held), "scores": report}, indent=2) + "\n")
        return 0
    args.out.write_text(weights.to_json(), encoding="utf-8")
    sys.stdout.write(f"wrote {args.out} ({len(x)} examples)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
