"""The sampling draw: which in-scope messages a policy's lexicon did not match are reviewed anyway.

A message is drawn when the first eight bytes of the SHA-256 of ``seed \\0 policy id \\0 event
id`` (big-endian, over 2**64) fall under the policy's rate: the draw depends on nothing else (not
on the batch, the time or the order of evaluation), so an auditor holding the seed recomputes
every draw, and a re-delivered event draws the same way. Only in-scope messages that no term
matched and no exclusion removed are drawn (the caller decides which).

The ledger (``supervision_scope_days``: in scope, matched and drawn per policy version and day)
lets a report show the observed rate beside its binomial confidence interval
(:func:`confidence_interval`, Clopper-Pearson: exact, never narrower than it should be).
"""

from __future__ import annotations

import hashlib

from scipy.stats import beta

_SCALE = float(2**64)


def draw_value(seed: str, policy_id: str, event_id: str) -> float:
    """The event's draw in [0, 1) for this policy and seed."""
    digest = hashlib.sha256(f"{seed}\0{policy_id}\0{event_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def drawn(seed: str, policy_id: str, event_id: str, percent: float) -> bool:
    """Whether the event is drawn at ``percent`` per cent (0: never; 100: always)."""
    if percent <= 0:
        return False
    return draw_value(seed, policy_id, event_id) < percent / 100


class Sampler:
    """One policy's draw, its seed and id hashed once: :func:`drawn` for many events."""

    __slots__ = ("_prefix", "_threshold")

    def __init__(self, seed: str, policy_id: str, percent: float) -> None:
        self._prefix = hashlib.sha256(f"{seed}\0{policy_id}\0".encode())
        self._threshold = percent / 100

    def draws(self, event_id: str | bytes) -> bool:
        """``event_id`` as text, or already UTF-8 encoded (a caller drawing it for many policies)."""
        if self._threshold <= 0:
            return False
        digest = self._prefix.copy()
        digest.update(event_id if isinstance(event_id, bytes) else event_id.encode())
        return int.from_bytes(digest.digest()[:8], "big") / _SCALE < self._threshold


def confidence_interval(drawn: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """The Clopper-Pearson interval of the rate behind ``drawn`` draws out of ``total`` at the
    confidence ``level``; (0, 1) when nothing was seen."""
    if total < 0 or drawn < 0 or drawn > total:
        raise ValueError(f"drawn must be between 0 and total: {drawn} of {total}")
    if not 0 < level < 1:
        raise ValueError(f"the confidence level must be between 0 and 1, not {level}")
    if total == 0:
        return (0.0, 1.0)
    alpha = 1 - level
    low = 0.0 if drawn == 0 else float(beta.ppf(alpha / 2, drawn, total - drawn + 1))
    high = 1.0 if drawn == total else float(beta.ppf(1 - alpha / 2, drawn + 1, total - drawn))
    return (low, high)
