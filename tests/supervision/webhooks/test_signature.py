"""Signing and verifying: HMAC-SHA256 over ``{timestamp}.{body}``, old timestamps refused."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supervision.webhooks import (
    MIN_SECRET_LENGTH,
    SignatureError,
    WebhookConfig,
    WebhookConfigError,
    sign,
    signed_headers,
    verify_signature,
)
from tests.supervision.webhooks.helpers import SECRET, START

BODY = b'{"delivery_id": "d-1", "item_id": "i-1", "kind": "escalation"}'
NOW = int(START.timestamp())


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_in_hex() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == f"v1={expected}"


def test_the_headers_name_the_delivery_the_time_and_the_signature() -> None:
    headers = signed_headers(SECRET, "d-1", "escalation", BODY, START)
    assert headers["X-Archivist-Delivery"] == "d-1"
    assert headers["X-Archivist-Timestamp"] == str(NOW)
    assert headers["X-Archivist-Signature"] == sign(SECRET, NOW, BODY)
    assert headers["X-Archivist-Kind"] == "escalation"
    assert headers["Content-Type"] == "application/json"


def test_a_good_signature_verifies() -> None:
    verify_signature(SECRET, str(NOW), BODY, sign(SECRET, NOW, BODY), START + timedelta(seconds=30))


def test_another_secret_is_a_mismatch() -> None:
    with pytest.raises(SignatureError, match="no signature matches"):
        verify_signature("another-secret-0123456789abcdefghij", str(NOW), BODY, sign(SECRET, NOW, BODY), START)


def test_a_changed_body_is_a_mismatch() -> None:
    with pytest.raises(SignatureError, match="no signature matches"):
        verify_signature(SECRET, str(NOW), BODY.replace(b"i-1", b"i-2"), sign(SECRET, NOW, BODY), START)


def test_a_changed_timestamp_is_a_mismatch() -> None:
    with pytest.raises(SignatureError, match="no signature matches"):
        verify_signature(SECRET, str(NOW + 1), BODY, sign(SECRET, NOW, BODY), START)


def test_a_replay_outside_the_tolerance_is_refused() -> None:
    header = sign(SECRET, NOW, BODY)
    verify_signature(SECRET, str(NOW), BODY, header, START + timedelta(minutes=5))
    with pytest.raises(SignatureError, match="older than"):
        verify_signature(SECRET, str(NOW), BODY, header, START + timedelta(minutes=5, seconds=1))
    with pytest.raises(SignatureError, match="older than"):
        verify_signature(SECRET, str(NOW), BODY, header, START + timedelta(hours=1), tolerance=timedelta(minutes=10))


def test_a_timestamp_from_the_future_is_refused() -> None:
    with pytest.raises(SignatureError, match="in the future"):
        verify_signature(SECRET, str(NOW), BODY, sign(SECRET, NOW, BODY), START - timedelta(minutes=6))


@pytest.mark.parametrize("timestamp", ["", "yesterday", "1.5", "-3"])
def test_a_timestamp_that_is_not_unix_seconds_is_refused(timestamp: str) -> None:
    with pytest.raises(SignatureError, match="timestamp"):
        verify_signature(SECRET, timestamp, BODY, sign(SECRET, NOW, BODY), START)


@pytest.mark.parametrize("header", ["", "sha256=abc", "v0=" + "0" * 64, "v1"])
def test_a_header_without_a_v1_signature_is_refused(header: str) -> None:
    with pytest.raises(SignatureError, match="v1="):
        verify_signature(SECRET, str(NOW), BODY, header, START)


def test_any_of_several_signatures_may_match_during_a_secret_rotation() -> None:
    old = sign("old-secret-0123456789abcdefghijklmn", NOW, BODY)
    new = sign(SECRET, NOW, BODY)
    verify_signature(SECRET, str(NOW), BODY, f"{old} {new}", START)
    verify_signature(SECRET, str(NOW), BODY, f"{old},{new}", START)


def test_a_config_refuses_a_short_or_missing_secret_without_repeating_it() -> None:
    short = "s3cr3t-too-short"
    with pytest.raises(WebhookConfigError, match=f"at least {MIN_SECRET_LENGTH} characters") as refused:
        WebhookConfig(url="https://hooks.example.com/archivist", secret=short)
    assert short not in str(refused.value)
    with pytest.raises(WebhookConfigError, match="secret"):
        WebhookConfig(url="https://hooks.example.com/archivist", secret="")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "no URL"),
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("hooks.example.com/x", "http:// or https://"),
        ("https:///x", "no host"),
        ("https://hooks.example.com:99999/x", "port"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
        ("http://169.254.169.254/latest", "cloud metadata"),
        ("http://[fe80::1]/x", "link-local"),
        ("https://hooks.example.com/x#frag", "fragment"),
    ],
)
def test_a_config_refuses_a_bad_url_clearly(url: str, problem: str) -> None:
    with pytest.raises(WebhookConfigError, match=problem) as refused:
        WebhookConfig(url=url, secret=SECRET)
    assert "pw@" not in str(refused.value)


def test_a_config_never_shows_its_secret_or_url() -> None:
    config = WebhookConfig(url="https://hooks.example.com/archivist?token=abc", secret=SECRET)
    assert SECRET not in repr(config)
    assert "token=abc" not in repr(config)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.example.com/x", "hooks.example.com"),
        ("https://hooks.example.com:8443/x", "hooks.example.com:8443"),
        ("http://hooks.example.com:80/x", "hooks.example.com"),
        ("http://[2001:db8::1]:8080/x", "[2001:db8::1]:8080"),
    ],
)
def test_the_host_header_names_the_port_only_when_it_is_not_the_schemes(url: str, host: str) -> None:
    assert WebhookConfig(url=url, secret=SECRET).target.host_header == host


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=2048),
    secret=st.text(min_size=MIN_SECRET_LENGTH, max_size=80),
    timestamp=st.integers(min_value=0, max_value=4_102_444_800),
    skew=st.integers(min_value=-300, max_value=300),
    flip=st.integers(min_value=0),
)
def test_any_body_verifies_as_sent_and_no_changed_byte_does(
    body: bytes, secret: str, timestamp: int, skew: int, flip: int
) -> None:
    now = datetime.fromtimestamp(timestamp + skew, UTC)
    header = sign(secret, timestamp, body)
    verify_signature(secret, str(timestamp), body, header, now)
    if body:
        position = flip % len(body)
        changed = body[:position] + bytes([body[position] ^ 0x01]) + body[position + 1 :]
        with pytest.raises(SignatureError, match="no signature matches"):
            verify_signature(secret, str(timestamp), changed, header, now)
