"""bench/review_duplicates.py on a small corpus: every figure is there and consistent."""

from __future__ import annotations

from bench.duplicate_corpus import generate
from bench.review_duplicates import THRESHOLDS, parser, run
from tests.services import POSTGRES_URL, require_postgresql


def test_the_benchmark_reports_quality_per_threshold_time_and_memory() -> None:
    require_postgresql()
    options = ["--documents", "600", "--sample", "200", "--stored", "300", "--seed", "5", "--repeat", "2"]
    args = parser().parse_args([*options, "--postgres", POSTGRES_URL])
    figures = run(args)
    quality = figures["quality"]
    assert isinstance(quality, list)
    assert [row["threshold"] for row in quality] == list(THRESHOLDS)
    assert quality[0]["true_pairs"] == generate(600, seed=5).true_pairs()
    predicted = [row["predicted_pairs"] for row in quality]
    assert predicted == sorted(predicted, reverse=True)  # a higher threshold only splits groups
    for row in quality:
        assert 0.0 <= row["precision"] <= 1.0
        assert 0.0 <= row["recall"] <= 1.0
    timing = figures["timing"]
    assert isinstance(timing, dict)
    assert timing["documents"] == 600
    assert set(timing["seconds_per_100k"]) >= {"sign", "group", "total", "floor_normalise_shingle_hash"}
    assert timing["peak_traced_mb"] > 0
    bands = figures["bands"]
    assert isinstance(bands, list)
    assert [(row["bands"], row["rows"]) for row in bands] == [(32, 4), (25, 5), (21, 6)]
    stored = figures["stored"]
    assert isinstance(stored, dict)
    assert stored["documents"] == 300
    assert stored["grouped"] >= 2 * stored["groups"] > 0
    on_postgres = figures["stored_postgres"]
    assert isinstance(on_postgres, dict)
    assert {k: on_postgres[k] for k in ("documents", "groups", "grouped")} == {
        k: stored[k] for k in ("documents", "groups", "grouped")
    }
