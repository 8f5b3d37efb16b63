"""bench/policy.py: the load result's arithmetic and the report's target lines."""

from __future__ import annotations

from bench.policy import (
    BEGIN,
    END,
    HttpRun,
    Latency,
    LoadResult,
    outcomes,
    report,
    sample_checks,
    synthetic_policies,
)
from policies.evaluate import PolicySnapshot


def test_errors_count_every_non_200_answer_and_failure() -> None:
    run = LoadResult(
        "open loop at 500/s", [0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0], [200, 503, 0, 503], 2.0, {"ReadError": 1}
    )
    assert run.rate == 2.0
    assert run.errors == {"503": 2, "ReadError": 1}


def test_report_has_both_tables_and_says_whether_each_target_is_met() -> None:
    directory, walls, rules = synthetic_policies(3, users=300)
    snapshot = PolicySnapshot.build(directory, walls, rules)
    requests = sample_checks(directory, 200, 3)
    fast = LoadResult("open loop at 500/s, up to 8 connections", list(range(200)), [2.0] * 200, [200] * 200, 0.4)
    slow = LoadResult("closed loop, 4 clients", list(range(200)), [30.0] * 200, [200] * 200, 1.0)
    section = report(
        [Latency("in-process decide", "all", [50.0] * 200, 0.01)],
        0.1,
        snapshot,
        outcomes(snapshot, requests),
        3,
        HttpRun([fast, slow], events=10, audits=2, checks=401),
        requests,
        ["pytest -q"],
    )
    assert section.startswith(BEGIN)
    assert section.endswith(END)
    assert "In-process target, p99 under 1 ms: **met**" in section
    assert "Over-HTTP target, p99 under 10 ms at 500 requests/s: **met** (p99 2.0 ms at 500 answers/s" in section
    assert "| closed loop, 4 clients | all | 200 | 200 | 30.0 |" in section
    assert "Machine shared during the run with: pytest -q." in section
