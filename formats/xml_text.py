"""Text that XML 1.0 cannot carry, escaped reversibly: the escape every XML output uses.

XML 1.0 allows tab, LF, CR and every character from U+0020 up except the surrogates and
U+FFFE/U+FFFF; a chat message can hold the others (NUL, BEL, ESC, ...), and even a character
reference cannot name them. Replacing or dropping them would change evidence silently, so the XML
outputs (the Lync, Actiance and EDRM exports, the ``xml`` and ``actiance`` adapters) write them
with this escape, which :func:`unescape_xml_text` undoes exactly:

- a C0 control other than tab, LF and CR (U+0000-U+001F) is written as its Unicode control
  picture, U+2400 + its code (NUL as ``␀``, BEL as ``␇``, ESC as ``␛``): a readable symbol;
- any other character XML cannot carry (U+FFFE, U+FFFF, a lone surrogate) is written as ``␦``
  (U+2426) followed by its code point in four upper-case hex digits (``␦FFFE``);
- so that the escape reads back exactly, a literal control picture (U+2400-U+241F) or ``␦`` in
  the text gets a ``␦`` before it (``␦␀``, ``␦␦``).

Text with none of these characters (nearly all text) is written exactly as it is.
"""

from __future__ import annotations

import re

ESCAPE = "\u2426"
"""``␦``: introduces a code point in hex, or a literal control picture or ``␦``."""
_PICTURES = 0x2400
_NEEDS_ESCAPE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff\u2400-\u241f\u2426]")
_ESCAPED = re.compile("\u2426([\u2400-\u241f\u2426]|[0-9A-F]{4})|[\u2400-\u241f]")
_MARKS = re.compile(b"\xe2\x90[\x80-\x9f\xa6]")
"""The UTF-8 of a control picture or ``␦``: what an escape leaves in a document."""


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(_PICTURES + code)
    if _PICTURES <= code <= _PICTURES + 0x1F or char == ESCAPE:
        return ESCAPE + char
    return f"{ESCAPE}{code:04X}"


def _unescape(match: re.Match[str]) -> str:
    escaped = match.group(1)
    if escaped is None:
        return chr(ord(match.group()) - _PICTURES)
    if len(escaped) == 1:
        return escaped
    return chr(int(escaped, 16))


def escape_xml_text(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry escaped (see the module docstring)."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return _NEEDS_ESCAPE.sub(_escape, text)


def escape_counted(text: str) -> tuple[str, int]:
    """:func:`escape_xml_text`, and how many characters it escaped."""
    if _NEEDS_ESCAPE.search(text) is None:
        return text, 0
    return _NEEDS_ESCAPE.subn(_escape, text)


def unescape_xml_text(text: str) -> str:
    """The original text of an :func:`escape_xml_text` result."""
    return _ESCAPED.sub(_unescape, text)


def escape_marks(document: bytes) -> int:
    """How many escapes (control pictures or ``␦``) a serialised UTF-8 document holds."""
    return len(_MARKS.findall(document))


ESCAPE_NOTE = (
    "characters XML 1.0 cannot carry (C0 control characters, U+FFFE, U+FFFF) are escaped reversibly: "
    "a control character as its Unicode control picture (U+2400 + code, NUL as \u2400), any other as \u2426 "
    "and four hex digits, and a literal control picture or \u2426 with \u2426 before it; the archive and "
    "events.jsonl keep the exact text"
)
"""What a report says when an XML output escaped something."""

ESCAPE_LOSS = (
    "XML 1.0 cannot carry C0 control characters other than tab, LF and CR, nor U+FFFE, U+FFFF or a lone "
    "surrogate: each is written as a reversible escape (a control character as its Unicode control picture, "
    "U+2400 + code; any other as \u2426 and four hex digits; a literal control picture or \u2426 with \u2426 "
    "before it)"
)
"""Why, for an export's losses (``Loss.why``), when an XML output escaped something."""
ESCAPE_EXACT = (
    "the same element or attribute, unescaped (formats.xml_text.unescape_xml_text gives the exact text back), "
    "and the archived event (events.jsonl)"
)
"""Where the exact text is, for an export's losses (``Loss.exact_value_in``)."""
