"""Every script reaches the PDF, drawn and in its text layer: checked with poppler's pdftotext
(an independent extractor), one script at a time.

Right-to-left text is drawn in visual order with Arabic letters shaped (presentation forms), as
a PDF must; pdftotext gives it back in logical order, inside directional embedding marks and
with the shaped forms. The comparison is therefore exact, in logical order, after two steps only:
NFKC on the Arabic presentation forms (which gives back the letters; no other character is
normalised) and without the directional marks. Lines mixing directions are not compared
exactly: pdftotext reconstructs their order and spaces from the drawing (its reading of a
visual-order line is its own), so each script is checked on its own line."""

from __future__ import annotations

import shutil
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import pytest

from exports.base import ExportContext, MemoryExportFiles
from exports.fonts import FONT_DIRS, Fallback, load_fonts
from exports.pdf_report import PdfReportFormat, Totals
from ingest.events import parse_event
from tests.exports.pdf_documents_text import documents_pdftotext

CONTEXT = ExportContext(
    export_id="exp-scripts",
    created_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
    requested_by="counsel@example.com",
    query="everything",
)
SCRIPTS = {
    "ja": ("田中 勇気", "日本語のテキストです。カタカナも"),
    "zh": ("王小明", "中文文本，简体和繁體"),
    "ko": ("김민준", "한국어 텍스트입니다"),
    "ar": ("محمد حداد", "مرحبا بالعالم لا شيء"),
    "he": ("דוד לוי", "שלום עולם"),
    "ru": ("Иван Петров", "Привет, мир"),
    "el": ("Γιώργος Παπαδόπουλος", "Καλημέρα κόσμε"),
    "emoji": ("Rocket 🚀", "launch 🚀 thumbs 👍 party 🎉"),
}
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed: run scripts/services.sh"
)


def _render(texts: list[tuple[str, str]], room_name: str = "#scripts") -> tuple[str, list[str]]:
    events = [
        parse_event(
            {
                "schema_version": 1,
                "event_id": f"0b9d6f3e-6b1a-4a36-9b4e-1c2d3e4f5a{index:02d}",
                "type": "post",
                "occurred_at": f"2026-01-05T08:00:{index:02d}+00:00",
                "room": {"id": "room:scripts", "name": room_name},
                "actor": {"id": f"user:{index}", "name": name},
                "message": {"id": f"m{index}", "text": text},
            }
        )
        for index, (name, text) in enumerate(texts)
    ]
    files = MemoryExportFiles()
    report = PdfReportFormat().write(events, files, CONTEXT)
    return documents_pdftotext(files.contents), report.warnings


def _normalised(text: str) -> str:
    """Arabic presentation forms back to letters (NFKC on those characters only: every other
    character must come back exactly), directional marks dropped."""
    return "".join(
        unicodedata.normalize("NFKC", ch) if "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufefe" else ch
        for ch in text.translate(_BIDI_MARKS)
    )


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_script_is_in_the_text_layer_as_written(script: str) -> None:
    name, text = SCRIPTS[script]
    extracted, warnings = _render([(name, text)], room_name=f"#{name}")
    normalised = _normalised(extracted)
    assert "[U+" not in extracted
    assert name in normalised
    assert text in normalised
    assert not any("no glyph" in warning for warning in warnings)


def test_arabic_is_shaped_and_drawn_right_to_left() -> None:
    extracted, _ = _render([("محمد حداد", "سلام")])
    # Shaped: the letters of the name are joined forms (presentation forms B), not isolated base letters.
    assert any("\ufe70" <= ch <= "\ufeff" for ch in extracted)
    # Reversed, unshaped text read back would be "دادح دمحم".
    assert "دادح" not in _normalised(extracted)


def test_control_characters_are_shown_as_control_pictures() -> None:
    extracted, _ = _render([("Carla", "first\rsecond\x07bell\x1b")])
    assert "first␍second␇bell␛" in extracted
    assert "\\x0d" not in extracted


def test_without_the_fallback_fonts_cjk_is_written_out_and_the_package_named() -> None:
    absent = Fallback("NotInstalled", (Path("/nonexistent/font.ttf"),), "fonts-not-installed")
    fonts = load_fonts(FONT_DIRS, (absent,))
    assert fonts.missing_packages == ("fonts-not-installed",)
    assert fonts.drawable("a中") == ("a[U+4E2D CJK UNIFIED IDEOGRAPH-4E2D]", ["中"])
    totals = Totals(missing_fonts=fonts.missing_packages)
    totals.missing_glyphs.update(["中"])
    assert any("fonts-not-installed" in warning for warning in totals.warnings())
