"""The fonts PDF exports draw with, and how a run of text is split between them.

The faces are DejaVu Sans (Debian's ``fonts-dejavu-core``, required): Latin, Greek, Cyrillic,
Hebrew, Arabic (with its presentation forms, for shaped text), Armenian, Georgian and many
symbols. Two optional fallbacks, installed by ``scripts/services.sh``, draw what DejaVu lacks:

- WenQuanYi Zen Hei (``fonts-wqy-zenhei``) for Chinese, Japanese and Korean. It is TrueType
  (glyf outlines) in a collection, which reportlab can embed; Noto CJK is CFF-flavoured
  OpenType, which reportlab cannot.
- Symbola (``fonts-symbola``), monochrome, for emoji up to Unicode 9, other symbols and the
  control pictures (␍) control characters are shown as. (Noto Color Emoji is a CBDT bitmap
  font, which reportlab cannot embed.)

A face draws a character with its own glyph if it has one, else with the regular face, else
with the first fallback that has one (:meth:`Font.runs`). A character no installed font covers
would be drawn as glyph 0, which the PDF's ToUnicode map cannot tell apart, and vanish from the
text layer; such characters are therefore written out, so the text layer keeps every
character: ``[U+4E2D CJK UNIFIED IDEOGRAPH-4E2D]`` (without the fallback fonts, CJK and emoji
come out like this, as before; the report's cover says so and which package to install).

reportlab writes each ToUnicode entry as ``%04X``, which is not valid for a character beyond
U+FFFF (an emoji): the PDF's text layer would have garbage. :func:`_to_unicode_cmap` replaces
that helper with one that writes the UTF-16BE code units the PDF specification requires (the
same bytes for every character up to U+FFFF).
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics, ttfonts  # type: ignore[import-untyped]
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


@dataclass(frozen=True)
class Fallback:
    name: str
    """The name it is registered under with reportlab."""
    files: tuple[Path, ...]
    """Where it may be installed (the first that exists is used)."""
    package: str
    """The Debian package that installs it (named in the report when it is missing)."""
    subfont: int = 0
    """The face within a TrueType collection (``.ttc``)."""


FALLBACKS: tuple[Fallback, ...] = (
    Fallback(
        "Symbola",
        (
            Path("/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf"),  # Debian, Ubuntu
            Path("/usr/share/fonts/gdouros-symbola/Symbola.ttf"),  # Fedora
            Path("/usr/share/fonts/TTF/Symbola.ttf"),  # Arch
        ),
        "fonts-symbola",
    ),
    Fallback(
        "WenQuanYiZenHei",
        (
            Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # Debian, Ubuntu
            Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),  # Fedora, Arch
        ),
        "fonts-wqy-zenhei",
    ),
)


class Fallbacks:
    """The installed fallback fonts, each registered with reportlab only when a character the
    faces lack first needs one (WenQuanYi Zen Hei is 16 MB: an export without CJK does not
    read it)."""

    def __init__(self, installed: list[tuple[Fallback, Path]]) -> None:
        self.pending = list(installed)
        self.loaded: tuple[Font, ...] = ()
        self.lock = threading.Lock()

    def font_for(self, code: int) -> Font | None:
        """The first fallback with a glyph for ``code``, or None."""
        for font in self.loaded:
            if code in font.covered:
                return font
        if not self.pending:
            return None
        with self.lock:  # export jobs may share the process's fonts across threads
            for font in self.loaded:
                if code in font.covered:
                    return font
            while self.pending:
                fallback, path = self.pending.pop(0)
                font = Font(fallback.name, _register(fallback.name, path, fallback.subfont))
                self.loaded = (*self.loaded, font)
                if code in font.covered:
                    return font
        return None


class FontMissing(RuntimeError):
    """A font the PDF report needs is not installed."""


@dataclass(frozen=True, eq=False)
class Font:
    name: str
    """The name it is registered under with reportlab (``canvas.setFont(name, size)``)."""
    covered: frozenset[int]
    """Code points the font has a glyph for."""
    base: Font | None = field(default=None, repr=False)
    """The regular face, which draws what this face lacks (None for the regular face)."""
    fallbacks: Fallbacks | None = field(default=None, repr=False)
    """The fonts that draw what the faces lack."""
    chars: frozenset[str] = field(init=False, repr=False)
    """``covered`` as characters, so a text's coverage is one set operation."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "chars", frozenset(map(chr, self.covered)))

    def font_for(self, code: int) -> Font | None:
        """The font that draws ``code``: this face, the regular face or a fallback."""
        if code in self.covered:
            return self
        if self.base is not None and code in self.base.covered:
            return self.base
        return None if self.fallbacks is None else self.fallbacks.font_for(code)

    def covers(self, text: str) -> bool:
        """Whether this face itself has a glyph for every character of ``text``."""
        return text.isascii() or self.chars.issuperset(text)

    def runs(self, text: str) -> list[tuple[Font, str]]:
        """``text`` split into runs, each with the font that draws it: this face where it has
        the glyph, else the first fallback that has it (white space and punctuation stay in
        the run they are in, if its font has them)."""
        if self.covers(text):
            return [(self, text)]
        found: list[tuple[Font, str]] = []
        current, start = self, 0
        for index, ch in enumerate(text):
            code = ord(ch)
            if code in current.covered and (current is self or not ch.isalnum()):
                continue
            font = self.font_for(code) or current
            if font is not current:
                if index > start:
                    found.append((current, text[start:index]))
                current, start = font, index
        found.append((current, text[start:]))
        return found

    def width(self, text: str, size: float) -> float:
        if self.covers(text):
            return float(pdfmetrics.stringWidth(text, self.name, size))
        return sum(float(pdfmetrics.stringWidth(run, font.name, size)) for font, run in self.runs(text))


@dataclass(frozen=True, eq=False)
class ReportFonts:
    regular: Font
    bold: Font
    italic: Font
    mono: Font
    fallbacks: Fallbacks = field(default_factory=lambda: Fallbacks([]))
    missing_packages: tuple[str, ...] = ()
    """Debian packages of fallback fonts that are not installed."""

    def named(self, name: str) -> Font:
        """The face registered as ``name``."""
        for font in (self.regular, self.bold, self.italic, self.mono):
            if font.name == name:
                return font
        raise KeyError(name)

    def _drawable(self, ch: str) -> bool:
        code = ord(ch)
        return code in self.regular.covered or ch.isspace() or self.fallbacks.font_for(code) is not None

    def uncovered(self, text: str) -> list[str]:
        """The characters of ``text`` no installed font can draw."""
        if text.isascii():
            return []
        return [ch for ch in text if not self._drawable(ch)]

    def drawable(self, text: str) -> tuple[str, list[str]]:
        """``text`` as it can be drawn with every character kept in the text layer (characters
        no installed font covers written out as their code point and name), and those
        characters."""
        if text.isascii():
            return text, []
        missing = self.uncovered(text)
        if not missing:
            return text, missing
        return "".join(ch if self._drawable(ch) else _spelled(ch) for ch in text), missing

    def best(self, preferred: Font, text: str) -> Font:
        """``preferred`` if it can draw all of ``text`` itself, else the regular face (the
        oblique face has no Arabic, the mono face no Hebrew)."""
        return preferred if preferred.covers(text) else self.regular


def _spelled(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"[U+{ord(ch):04X} {name}]" if name else f"[U+{ord(ch):04X}]"


def _utf16_hex(code: int) -> str:
    try:
        return chr(code).encode("utf-16-be").hex().upper()
    except UnicodeEncodeError:  # a lone surrogate: never drawn (no font covers it), kept as reportlab had it
        return f"{code:04X}"


def _to_unicode_cmap(fontname: str, subset: list[int]) -> str:
    """reportlab's ``makeToUnicodeCMap`` with each destination in UTF-16BE (PDF 32000-1, 9.10.3),
    so characters beyond U+FFFF are mapped by a surrogate pair instead of an invalid code."""
    return "\n".join(
        [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo",
            f"<< /Registry ({fontname})",
            f"/Ordering ({fontname})",
            "/Supplement 0",
            ">> def",
            f"/CMapName /{fontname} def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            f"<00> <{len(subset) - 1:02X}>",
            "endcodespacerange",
            f"{len(subset)} beginbfchar",
            *(f"<{index:02X}> <{_utf16_hex(code)}>" for index, code in enumerate(subset)),
            "endbfchar",
            "endcmap",
            "CMapName currentdict /CMap defineresource pop",
            "end",
            "end",
        ]
    )


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


def _register(name: str, path: Path, subfont: int = 0) -> frozenset[int]:
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(path), subfontIndex=subfont))
    return frozenset(pdfmetrics.getFont(name).face.charToGlyph)


@cache
def load_fonts(dirs: tuple[Path, ...] = FONT_DIRS, fallbacks: tuple[Fallback, ...] = FALLBACKS) -> ReportFonts:
    """Register the DejaVu faces and the installed fallbacks with reportlab (once per process)
    and describe their coverage."""
    ttfonts.makeToUnicodeCMap = _to_unicode_cmap
    installed: list[tuple[Fallback, Path]] = []
    missing: list[str] = []
    for fallback in fallbacks:
        path = next((p for p in fallback.files if p.is_file()), None)
        if path is None:
            missing.append(fallback.package)
        else:
            installed.append((fallback, path))
    extra = Fallbacks(installed)
    covered = {role: _register(name, _find(f"{name}.ttf", dirs)) for role, name in FACES.items()}
    regular = Font(FACES["regular"], covered["regular"], None, extra)
    return ReportFonts(
        regular=regular,
        bold=Font(FACES["bold"], covered["bold"], regular, extra),
        italic=Font(FACES["italic"], covered["italic"], regular, extra),
        mono=Font(FACES["mono"], covered["mono"], regular, extra),
        fallbacks=extra,
        missing_packages=tuple(missing),
    )
