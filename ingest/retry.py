"""The one retry helper: capped exponential backoff with jitter, used for every service call."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    """Delays of ``initial * factor**n`` seconds, capped at ``maximum``, with +-``jitter`` spread."""

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 10.0
    jitter: float = 0.1

    def delays(self) -> Iterator[float]:
        delay = self.initial
        while True:
            spread = delay * self.jitter
            yield max(0.0, delay + random.uniform(-spread, spread))
            delay = min(self.maximum, delay * self.factor)


def retry(
    operation: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...],
    attempts: int | None = None,
    deadline: float | None = None,
    backoff: Backoff = Backoff(),
    describe: str = "operation",
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation`` until it succeeds, retrying ``retry_on`` errors with capped backoff.

    Gives up (re-raising the last error) after ``attempts`` tries or once ``deadline`` seconds
    have passed; with neither it retries for ever, which is what a long-running consumer wants.
    """
    started = time.monotonic()
    delays = backoff.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return operation()
        except retry_on as error:
            delay = next(delays)
            out_of_attempts = attempts is not None and attempt >= attempts
            out_of_time = deadline is not None and time.monotonic() - started + delay > deadline
            if out_of_attempts or out_of_time:
                raise
            log.warning("%s failed (attempt %d: %s); retrying in %.1fs", describe, attempt, error, delay)
            sleep(delay)
