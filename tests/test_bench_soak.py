"""bench/soak.py: slopes and growth verdicts, the BENCHMARKS.md section, replayed traffic, and a
short soak through real processes (RabbitMQ and PostgreSQL required: fails, never skips)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.soak import (
    BEGIN,
    END,
    PUBLISHER,
    MemoryPoint,
    SoakOptions,
    clean_exit,
    fit_slope,
    growth,
    irc_traffic,
    memory_of,
    percentile,
    reason_key,
    reconnects,
    rekey,
    replace_section,
    replayed,
    report,
    run_soak,
    write_soak_section,
)
from ingest.events import PostEvent
from tests.services import AMQP_URL, POSTGRES_URL, require_postgresql, require_rabbitmq

HOUR = 3600.0


def points(rss: list[float], *, every: float = 30.0, anon: list[float] | None = None) -> list[MemoryPoint]:
    return [MemoryPoint(n * every, value, None if anon is None else anon[n]) for n, value in enumerate(rss)]


def test_slope_of_an_exact_line_and_of_degenerate_inputs() -> None:
    assert fit_slope([(0, 1), (1, 3), (2, 5)]) == pytest.approx(2.0)
    assert fit_slope([(0, 4), (10, 4), (20, 4)]) == 0.0
    assert fit_slope([(5, 4)]) == 0.0
    assert fit_slope([]) == 0.0
    assert fit_slope([(3, 1), (3, 9)]) == 0.0  # no spread in x: no slope


def test_flat_memory_with_noise_is_bounded() -> None:
    rss = [100.0 + (3.0 if n % 2 else -3.0) for n in range(121)]  # an hour, every 30 s, +-3 MB
    found = growth(points(rss), warmup=360, duration=HOUR)
    assert found.verdict == "bounded"
    assert abs(found.slope_mb_per_hour) < 1
    assert found.max_mb == 103.0


def test_steady_growth_over_the_second_half_is_growing_with_its_rate() -> None:
    rss = [100.0 + 20.0 * n * 30 / HOUR for n in range(121)]  # 20 MB per hour
    found = growth(points(rss), warmup=360, duration=HOUR)
    assert found.verdict == "GROWING"
    assert found.slope_mb_per_hour == pytest.approx(20.0)
    assert not found.bounded


def test_growth_during_the_warm_up_only_is_bounded_and_start_is_after_it() -> None:
    rss = [50.0 + n * 10 for n in range(12)] + [170.0] * 109  # warm-up: 0..330 s, then flat
    found = growth(points(rss), warmup=360, duration=HOUR)
    assert found.verdict == "bounded"
    assert found.start_mb == 170.0  # the first sample at or after 360 s
    assert found.end_mb == 170.0


def test_growth_that_stops_at_half_time_is_judged_on_the_second_half() -> None:
    rss = [100.0 + min(n, 60) for n in range(121)]  # +60 MB in the first half, then flat
    found = growth(points(rss), warmup=360, duration=HOUR)
    assert found.bounded
    assert found.end_mb == 160.0


def test_rss_growing_with_file_backed_pages_but_a_flat_heap_is_said_so() -> None:
    rss = [100.0 + 40.0 * n * 30 / HOUR for n in range(121)]
    found = growth(points(rss, anon=[70.0] * 121), warmup=360, duration=HOUR)
    assert found.verdict == "bounded heap (RSS grows with file-backed pages)"
    assert found.bounded
    assert found.anon_slope_mb_per_hour == pytest.approx(0.0)


def test_growth_needs_samples() -> None:
    with pytest.raises(ValueError, match="no memory samples"):
        growth([], warmup=0, duration=60)


def test_percentile_is_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([7.0], 0.95) == 7.0
    assert percentile([], 0.5) is None


OTHERS = (
    "# Benchmarks\n\nIntro.\n\n"
    "<!-- bench/ingest.py begin -->\n## Ingest\n\nfigures\n<!-- bench/ingest.py end -->\n\n"
    "## Export (`bench/export.py`)\n\nno markers here\n"
)


def test_section_is_appended_when_absent_and_replaced_in_place_afterwards() -> None:
    first = replace_section(OTHERS, f"{BEGIN}\n## Soak\n\none\n{END}")
    assert first.startswith(OTHERS.rstrip("\n"))
    assert first.endswith(f"{BEGIN}\n## Soak\n\none\n{END}\n")
    middle = first + "\n## Later section\n\nkept\n"
    second = replace_section(middle, f"{BEGIN}\n## Soak\n\ntwo\n{END}")
    assert second == middle.replace("\none\n", "\ntwo\n")
    assert replace_section(second, f"{BEGIN}\n## Soak\n\ntwo\n{END}") == second


def test_a_soak_section_without_markers_is_replaced_up_to_the_next_section() -> None:
    text = "# Benchmarks\n\n## Soak (`bench/soak.py`)\n\nold figures\n\nmore\n\n## Export\n\nkept\n"
    updated = replace_section(text, f"{BEGIN}\n## Soak\n\nnew\n{END}")
    assert updated == f"# Benchmarks\n\n{BEGIN}\n## Soak\n\nnew\n{END}\n\n## Export\n\nkept\n"
    assert replace_section("## Soaking\n", "x") == "## Soaking\n\nx\n"  # only the exact heading is ours


def test_writing_changes_only_the_soak_section(tmp_path: Path) -> None:
    results = tmp_path / "BENCHMARKS.md"
    results.write_text(OTHERS, encoding="utf-8")
    write_soak_section(f"{BEGIN}\n## Soak\n\none\n{END}\n", results)
    write_soak_section(f"{BEGIN}\n## Soak\n\ntwo\n{END}\n", results)
    assert results.read_text(encoding="utf-8") == OTHERS.rstrip("\n") + f"\n\n{BEGIN}\n## Soak\n\ntwo\n{END}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["BENCHMARKS.md"]


def test_replayed_traffic_has_new_ids_on_every_pass_and_the_logs_content() -> None:
    traffic = irc_traffic()
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    first_pass = [replayed(traffic, n, now) for n in range(len(traffic))]
    second_pass = [replayed(traffic, len(traffic) + n, now) for n in range(len(traffic))]
    ids = {str(e.event_id) for e in first_pass + second_pass}
    assert len(ids) == 2 * len(traffic)
    assert not ids & {p["event_id"] for p in traffic}
    posts = [e for e in first_pass + second_pass if isinstance(e, PostEvent)]
    assert len({p.message.id for p in posts}) == len(posts)
    assert all(e.occurred_at == now for e in first_pass)
    original = traffic[0]
    again = rekey(original, 0, now)
    assert again == rekey(original, 0, now)  # deterministic
    assert {k: v for k, v in again.items() if k not in {"event_id", "occurred_at", "message"}} == {
        k: v for k, v in original.items() if k not in {"event_id", "occurred_at", "message"}
    }


def test_memory_of_this_process_and_of_a_gone_one() -> None:
    found = memory_of(os.getpid())
    assert found is not None
    rss, anon = found
    assert rss > 10
    assert anon is None or 0 < anon <= rss
    assert memory_of(2**22 + 12345) is None


def test_serve_stopped_by_sigterm_is_clean_only_for_uvicorn() -> None:
    assert clean_exit("consume-1", 0)
    assert clean_exit("serve", -15)
    assert not clean_exit("process-1", -15)
    assert not clean_exit("serve", 1)
    assert not clean_exit("serve", None)


def test_retry_reasons_lose_their_paths_and_reconnects_are_read_from_exit_lines() -> None:
    locked = "index: index is locked by another process (it holds the Tantivy writer); will retry: /tmp/x/index"
    assert reason_key(locked) == "index: index is locked by another process (it holds the Tantivy writer); will retry"
    assert reason_key("archive: timeout") == "archive: timeout"
    lines = {
        "consume-1": "consumed 10 messages: 10 staged, 0 duplicates, 0 dead-lettered, 2 reconnects",
        "process-1": "processed 10 events with archive: 10 delivered everywhere",
    }
    assert reconnects(lines) == {"consume-1": 2}


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_a_short_soak_archives_every_event_once_and_samples_every_process(tmp_path: Path) -> None:
    require_rabbitmq()
    require_postgresql()
    samples = tmp_path / "samples.jsonl"
    options = SoakOptions(
        duration=20,
        rate=20,
        interval=5,
        search_every=1,
        samples=samples,
        amqp_url=AMQP_URL,
        postgres_url=POSTGRES_URL,
        drain_timeout=30,
        quiet=True,
        code_version="test",
    )
    result = run_soak(options)

    # How many the publisher made in 20 s depends on the machine's load: the rate is the
    # benchmark's business (BENCHMARKS.md), this test checks that every one was archived once.
    assert result.published > 0
    assert result.archived == result.archived_distinct == result.published
    assert result.indexed == result.posts_published
    assert result.staged_after == result.parked_after == result.dead_letters == 0
    assert set(result.growth) == {"consume-1", "consume-2", "process-1", "process-2", "serve", PUBLISHER}
    assert result.exit_codes.keys() == {"consume-1", "consume-2", "process-1", "process-2", "serve"}
    assert all(clean_exit(name, code) for name, code in result.exit_codes.items())
    assert result.search_ms
    assert not result.search_errors
    lines = samples.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(result.samples) >= 5
    section = report(result)
    assert section.startswith(BEGIN)
    assert section.endswith(END)
    assert "every event exactly once" in section
    assert "Broker reconnects: 0 (consume-1 0, consume-2 0)." in section
