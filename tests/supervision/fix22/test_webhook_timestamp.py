"""A received timestamp too long to be a Unix time is a bad signature, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supervision.webhooks import SignatureError, sign, verify_signature

SECRET = "s" * 40
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
BODY = b'{"item_id": "x"}'


@pytest.mark.parametrize("timestamp", ["9" * 5000, "1" + "0" * 12])
def test_a_timestamp_too_long_for_a_unix_time_is_refused(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="not a Unix time"):
        verify_signature(SECRET, timestamp, BODY, "v1=" + "0" * 64, NOW)


def test_a_timestamp_of_now_is_still_accepted() -> None:
    timestamp = int(NOW.timestamp())
    verify_signature(SECRET, str(timestamp), BODY, sign(SECRET, timestamp, BODY), NOW)
