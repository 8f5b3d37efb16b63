"""Type detection from the bytes: every image format Pillow writes, HTML in its declared charset."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from extraction.detect import detect
from extraction.extract import extract_stream
from tests.extraction.conftest import LIMITS


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP"])
def test_every_image_format_is_an_image_whatever_its_name(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format=fmt)

    assert detect(io.BytesIO(buffer.getvalue()), name="report.txt", content_type="text/plain") == "image"


def test_html_is_read_in_the_charset_its_meta_declares() -> None:
    page = '<html><head><meta charset="windows-1251"></head><body><p>Отчёт готов</p></body></html>'

    result = extract_stream(io.BytesIO(page.encode("cp1251")), name="", content_type="", limits=LIMITS)

    assert (result.state, result.file_type) == ("extracted", "html")
    assert "Отчёт готов" in result.text


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"%PDF-1.4\n", "pdf"),
        (b"{\\rtf1 hello}", "rtf"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html><body>x</body></html>", "html"),
        (b"Received: from a\nFrom: a@b\nSubject: s\n\nbody", "eml"),
        (b"Subject: only one header\n\nbody", "text"),
        ("plain words".encode("utf-16"), "text"),
        (b"\x00\x01\x02\x03binary", "unknown"),
    ],
)
def test_the_kind_comes_from_the_first_bytes(data: bytes, kind: str) -> None:
    assert detect(io.BytesIO(data)) == kind
