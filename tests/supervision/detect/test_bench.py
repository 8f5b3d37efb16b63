"""The detection bench runs end to end on a small corpus (its figures are the bench's to print)."""

from __future__ import annotations

import pytest

from bench import supervision_detect


def test_the_bench_runs_small(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.argv", ["bench", "--messages", "300", "--backtest", "600", "--rounds", "1"])
    supervision_detect.main()
    printed = capsys.readouterr().out
    assert "| processor, + supervision |" in printed
    assert "| backtest of 600 posts (" in printed
    corpus = supervision_detect.messages(300)
    assert len({e.event_id for e in corpus}) == 300
    assert sum(len(p.lexicon) for p in supervision_detect.policies()) == 1000
