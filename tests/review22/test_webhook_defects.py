"""Defects of the escalation webhooks found in the issue 22 review."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supervision.webhooks import SignatureError, sign, verify_signature

SECRET = "s" * 40
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def test_a_huge_timestamp_is_refused_as_a_bad_signature() -> None:
    body = b'{"item_id": "x"}'
    timestamp = "9" * 400
    header = sign(SECRET, int(timestamp), body)
    with pytest.raises(SignatureError):
        verify_signature(SECRET, timestamp, body, header, NOW)
