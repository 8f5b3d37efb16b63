"""disentangle/train.py and the command lines: seeded training reproduces its weights, bad
input is a clear error with a non-zero exit."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from bench.review_threads import run as bench_run
from disentangle.corpus import read_split
from disentangle.evaluation import DEFAULT_DATA
from disentangle.evaluation import main as evaluation_main
from disentangle.features import FEATURES
from disentangle.model import Weights
from disentangle.train import ensemble, examples, fit
from disentangle.train import main as train_main

LOG = [
    "[10:00] <alice> how do I mount an iso image?",
    "=== bob [~b@h]  has joined #ubuntu",
    "[10:01] <bob> my wifi is gone after the upgrade",
    "[10:01] <carol> alice: sudo mount -o loop image.iso /mnt",
    "[10:02] <dave> bob: which card? lspci",
    "[10:03] <alice> carol: thanks, it mounted",
    "[10:03] * bob looks",
    "[10:04] <bob> dave: intel 3945",
]
ANNOTATION = "2 2 -\n3 0 -\n4 2 -\n5 3 -\n6 6 -\n7 4 -\n1 1 -\n"


def small_corpus(root: Path) -> Path:
    for split in ("train", "dev"):
        folder = root / split
        folder.mkdir(parents=True)
        (folder / "2005-01-01.raw.txt").write_text("\n".join(LOG) + "\n", encoding="utf-8")
        (folder / "2005-01-01.annotation.txt").write_text(ANNOTATION, encoding="utf-8")
    return root


def test_examples_mark_the_annotated_parents(tmp_path: Path) -> None:
    (log,) = read_split(small_corpus(tmp_path) / "train")
    x, valid, gold = examples(log, 4, "messages")
    # Messages only: 7 posts; the annotation starts at line 1 (a join: dropped), so the posts
    # from line 2 on are examples; line 6 (an action) is its own parent.
    assert x.shape == (6, 5, len(FEATURES))
    assert gold.sum(axis=1).tolist() == [1, 1, 1, 1, 1, 1]
    # Line 3 (carol to alice) answers line 0: 2 posts back once the join is gone.
    assert gold[1].tolist() == [False, False, True, False, False]
    # Line 2 is the second post: itself and alice's question are its candidates.
    assert valid[0].tolist() == [True, True, False, False, False]


def test_training_is_deterministic() -> None:
    logs = read_split(DEFAULT_DATA / "train")[:2]
    parts = [examples(log, 100, "messages") for log in logs]
    x, valid, gold = (np.concatenate([part[i] for part in parts]) for i in range(3))
    first = fit(x, valid, gold, window=100, hidden=8, epochs=1, seed=3)
    second = fit(x, valid, gold, window=100, hidden=8, epochs=1, seed=3)
    other = fit(x, valid, gold, window=100, hidden=8, epochs=1, seed=4)
    np.testing.assert_array_equal(first.hidden_weights, second.hidden_weights)
    np.testing.assert_array_equal(first.output_weights, second.output_weights)
    assert not np.array_equal(first.hidden_weights, other.hidden_weights)


def test_train_writes_weights_and_holdout_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = small_corpus(tmp_path / "data")
    out = tmp_path / "weights.json"
    argv = ["--train", str(root / "train"), "--out", str(out), "--hidden", "4", "--epochs", "1"]
    assert train_main(argv) == 0
    assert out.is_file()
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--train", "/nonexistent/folder"], ["--hidden", "0"], ["--holdout", "-1"]],
)
def test_train_refuses_bad_input(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert train_main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_evaluation_refuses_a_missing_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert evaluation_main(["--split", "/nonexistent/folder"]) == 2
    assert "error: " in capsys.readouterr().err


def test_the_bench_measures_every_mode(tmp_path: Path) -> None:
    root = small_corpus(tmp_path)
    args = argparse.Namespace(data=root, splits=["dev"], repeats=1, single=3, chunk=2)
    figures = bench_run(args)
    assert figures["messages"] == 7
    for mode in ("floor", "batch", "chunks", "single"):
        measured = figures[mode]
        assert isinstance(measured, dict)
        assert measured["messages"] == (3 if mode == "single" else 7)
        assert measured["messages_per_cpu_second"] >= 0
    scores = figures["dev_scores"]
    assert isinstance(scores, dict)
    assert set(scores) == {"full", "messages"}


def test_an_ensemble_scores_by_the_mean_of_its_members() -> None:
    logs = read_split(DEFAULT_DATA / "train")[:1]
    x, valid, gold = examples(logs[0], 100, "messages")
    members = [fit(x, valid, gold, window=100, hidden=4, epochs=1, seed=seed) for seed in (1, 2)]
    joined = ensemble(members)
    assert joined.hidden_weights.shape == (len(FEATURES), 8)
    assert joined.meta["members"] == 2
    sample = x[:5]

    def logits(weights: Weights) -> np.ndarray:
        flat = (sample.reshape(-1, len(FEATURES)) - weights.mean) / weights.scale
        hidden = np.tanh(flat @ weights.hidden_weights + weights.hidden_bias)
        return np.asarray(hidden @ weights.output_weights + weights.output_bias)

    expected = (logits(members[0]) + logits(members[1])) / 2
    np.testing.assert_allclose(logits(joined), expected, rtol=1e-5, atol=1e-5)
