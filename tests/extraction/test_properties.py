"""Whatever the bytes, extraction answers with a state and never raises."""

from __future__ import annotations

import io
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extraction.extract import extract_stream
from tests.extraction.conftest import LIMITS

MAGIC = [b"", b"%PDF-1.7\n", b"PK\x03\x04", b"{\\rtf1 ", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff",
         b"<html><body>", b"From: a@b\nSubject: x\n\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xff\xfe"]  # fmt: skip
SMALL = replace(LIMITS, max_text_chars=10_000, max_archive_bytes=1 << 20, max_image_pixels=1_000_000)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from(MAGIC), body=st.binary(max_size=2_000), name=st.text(max_size=20))
def test_arbitrary_bytes_give_a_state_and_never_raise(prefix: bytes, body: bytes, name: str) -> None:
    result = extract_stream(io.BytesIO(prefix + body), name=name, content_type="", limits=SMALL)

    assert result.state in ("extracted", "empty", "unsupported", "failed")
    assert (result.state == "extracted") == bool(result.text)
    assert (result.reason is not None) or result.state in ("extracted", "empty")
    assert len(result.text) <= SMALL.max_text_chars
    result.text.encode("utf-8")  # what the store keeps: never a lone surrogate
    assert "\x00" not in result.text
