"""The lexicon bench runs end to end on a small slice (its figures are for the report, not asserted)."""

from __future__ import annotations

import pytest

from bench import lexicon_match


def test_the_bench_compiles_the_lexicons_and_matches_every_message(capsys: pytest.CaptureFixture[str]) -> None:
    figures = lexicon_match.main(["--messages", "300", "--policies", "5", "--terms", "20"])
    assert figures["messages"] == 300
    assert figures["terms"] == 100
    assert 0.0 <= figures["matched_share"] <= 1.0
    assert "µs/message" in capsys.readouterr().out
