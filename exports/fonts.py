"""The fonts PDF exports draw with: DejaVu Sans, from Debian's ``fonts-dejavu-core``.

DejaVu covers Latin, Greek, Cyrillic, Hebrew, Arabic, Armenian, Georgian and many symbols,
but no CJK and no emoji. reportlab embeds TrueType outlines only (no CFF/OpenType-CFF fonts
such as Noto CJK) and does no bidi reordering or Arabic shaping: right-to-left text is drawn
in logical order. reportlab draws a character no face covers (CJK, most emoji) as glyph 0,
which its ToUnicode map cannot tell apart, so such a character would vanish from the PDF's text
layer; and its ToUnicode map cannot express characters beyond U+FFFF even when a face covers
them. Both kinds are therefore written out, so the text layer keeps every character (search and
copy find them): ``[U+4E2D CJK UNIFIED IDEOGRAPH-4E2D]``, ``[U+1F44D THUMBS UP SIGN]``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]

FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),  # Arch
)
FACES = {
    "regular": "DejaVuSans",
    "bold": "DejaVuSans-Bold",
    "italic": "DejaVuSans-Oblique",
    "mono": "DejaVuSansMono",
}


class FontMissing(RuntimeError):
    """A font the PDF report needs is not installed."""


@dataclass(frozen=True)
class Font:
    name: str
    """The name it is registered under with reportlab (``canvas.setFont(name, size)``)."""
    covered: frozenset[int]
    """Code points the font has a glyph for."""

    def covers(self, text: str) -> bool:
        return text.isascii() or all(ord(ch) in self.covered for ch in text)

    def width(self, text: str, size: float) -> float:
        return float(pdfmetrics.stringWidth(text, self.name, size))


@dataclass(frozen=True)
class ReportFonts:
    regular: Font
    bold: Font
    italic: Font
    mono: Font

    def uncovered(self, text: str) -> list[str]:
        """The characters of ``text`` no face can draw (the regular face covers the most)."""
        if text.isascii():
            return []
        covered = self.regular.covered
        return [ch for ch in text if ord(ch) not in covered and not ch.isspace()]

    def drawable(self, text: str) -> tuple[str, list[str]]:
        """``text`` as it can be drawn with every character kept in the text layer (characters
        no face covers, and all beyond U+FFFF, written out as their code point and name), and
        the characters no face covers."""
        if text.isascii():
            return text, []
        covered = self.regular.covered
        missing = [ch for ch in text if ord(ch) not in covered and not ch.isspace()]
        if not missing and all(ord(ch) <= 0xFFFF for ch in text):
            return text, missing
        return "".join(
            _spelled(ch) if ord(ch) > 0xFFFF or (ord(ch) not in covered and ch != "\n") else ch for ch in text
        ), missing

    def best(self, preferred: Font, text: str) -> Font:
        """``preferred`` if it can draw all of ``text``, else the regular face (the oblique face
        has no Arabic, the mono face no Hebrew)."""
        return preferred if preferred.covers(text) else self.regular


def _spelled(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"[U+{ord(ch):04X} {name}]" if name else f"[U+{ord(ch):04X}]"


def _find(file_name: str, dirs: tuple[Path, ...]) -> Path:
    for directory in dirs:
        candidate = directory / file_name
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d) for d in dirs)
    raise FontMissing(
        f"{file_name} not found (searched {searched}): install the DejaVu fonts "
        "(Debian/Ubuntu: apt-get install fonts-dejavu-core; Fedora: dnf install dejavu-sans-fonts "
        "dejavu-sans-mono-fonts)"
    )


def _register(name: str, dirs: tuple[Path, ...]) -> Font:
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(_find(f"{name}.ttf", dirs))))
    face = pdfmetrics.getFont(name).face
    return Font(name, frozenset(face.charToGlyph))


@cache
def load_fonts(dirs: tuple[Path, ...] = FONT_DIRS) -> ReportFonts:
    """Register the DejaVu faces with reportlab (once per process) and describe their coverage."""
    return ReportFonts(**{role: _register(name, dirs) for role, name in FACES.items()})
