"""The seeded sampling draw: reproducible from (seed, policy, event) alone, and its observed rate
within the binomial confidence interval (deterministic: fixed ids and seeds)."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from supervision.sampling import Sampler, confidence_interval, draw_value, drawn

IDS = [str(uuid.UUID(int=n)) for n in range(100_000)]


@pytest.mark.parametrize("percent", [0.5, 2.0, 10.0, 37.5])
def test_the_observed_fraction_lies_within_the_interval_of_the_rate(percent: float) -> None:
    count = sum(drawn("seed-2026", "policy-1", event_id, percent) for event_id in IDS)
    low, high = confidence_interval(count, len(IDS), level=0.999)
    assert low <= percent / 100 <= high, (count, low, high)


def test_zero_and_a_hundred_per_cent() -> None:
    assert not any(drawn("s", "p", event_id, 0.0) for event_id in IDS[:1000])
    assert all(drawn("s", "p", event_id, 100.0) for event_id in IDS[:1000])


@given(st.text(max_size=20), st.text(min_size=1, max_size=40), st.uuids(), st.floats(0, 100))
def test_a_draw_is_reproducible_from_seed_policy_and_event_alone(
    seed: str, policy_id: str, event_id: uuid.UUID, percent: float
) -> None:
    digest = hashlib.sha256(f"{seed}\0{policy_id}\0{event_id}".encode()).digest()
    value = int.from_bytes(digest[:8], "big") / 2**64
    assert draw_value(seed, policy_id, str(event_id)) == value
    assert drawn(seed, policy_id, str(event_id), percent) == (value < percent / 100)
    assert Sampler(seed, policy_id, percent).draws(str(event_id)) == drawn(seed, policy_id, str(event_id), percent)


def test_seed_and_policy_change_the_draw() -> None:
    first = {e for e in IDS[:5000] if drawn("a", "p", e, 10)}
    assert first != {e for e in IDS[:5000] if drawn("b", "p", e, 10)}
    assert first != {e for e in IDS[:5000] if drawn("a", "q", e, 10)}


def test_the_interval() -> None:
    low, high = confidence_interval(50, 1000)
    assert low < 0.05 < high
    assert confidence_interval(0, 100)[0] == 0.0
    assert confidence_interval(100, 100)[1] == 1.0
    assert confidence_interval(0, 0) == (0.0, 1.0)
    wide, narrow = confidence_interval(5, 100, level=0.999), confidence_interval(5, 100, level=0.9)
    assert wide[0] < narrow[0]
    assert narrow[1] < wide[1]
    with pytest.raises(ValueError, match="drawn"):
        confidence_interval(5, 4)
