"""bench/review_coding.py on a small set: every figure is there and every document was coded."""

from __future__ import annotations

from bench.review_coding import run


def test_the_bench_codes_every_document_and_measures_its_floor() -> None:
    figures = run(["--documents", "300"])
    sqlite = figures["sqlite"]
    assert isinstance(sqlite, dict)
    assert sqlite["documents"] == 300
    assert sqlite["code_all_changed"] == sqlite["swap_changed"] == sqlite["code_selection_changed"] == 300
    assert sqlite["select_by_tag_documents"] == 300
    for name in ("load", "code_all", "swap", "select_by_tag", "code_selection", "floor"):
        assert isinstance(sqlite[f"{name}_seconds"], float)
    assert "postgresql" not in figures
