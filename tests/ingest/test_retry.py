from __future__ import annotations

import pytest

from ingest.retry import Backoff, retry


class Flaky:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"failure {self.calls}")
        return "ok"


def test_retries_until_success_with_growing_capped_delays() -> None:
    slept: list[float] = []
    operation = Flaky(failures=6)
    result = retry(
        operation, retry_on=(ConnectionError,), backoff=Backoff(initial=1, maximum=8, jitter=0), sleep=slept.append
    )
    assert result == "ok"
    assert operation.calls == 7
    assert slept == [1, 2, 4, 8, 8, 8]


def test_gives_up_after_the_attempts_allowed() -> None:
    operation = Flaky(failures=10)
    with pytest.raises(ConnectionError, match="failure 3"):
        retry(operation, retry_on=(ConnectionError,), attempts=3, sleep=lambda _: None)
    assert operation.calls == 3


def test_other_errors_are_not_retried() -> None:
    def broken() -> None:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError, match="a bug"):
        retry(broken, retry_on=(ConnectionError,), sleep=lambda _: None)


def test_jitter_stays_within_its_spread() -> None:
    delays = Backoff(initial=10, maximum=10, jitter=0.1).delays()
    assert all(9 <= next(delays) <= 11 for _ in range(100))
