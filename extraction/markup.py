"""Plain text in any charset (charset-normalizer) and HTML's visible text (lxml)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO

from lxml import etree

from extraction.base import Context, Refused

_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)
_BOM_CODECS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
HIDDEN_TAGS = ("script", "style", "noscript", "template", "head")
BLOCK_TAGS = (
    "p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "title", "table", "ul", "ol",
    "section", "article", "header", "footer", "blockquote", "pre", "hr", "dt", "dd", "address", "td", "th",
)  # fmt: skip


def decode_text(data: bytes, declared: str | None = None) -> str | None:
    """``data`` as text: its byte-order mark, else the declared charset, else charset-normalizer's guess.

    None when the bytes are not text in any charset charset-normalizer knows.
    """
    for bom, codec in _BOM_CODECS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace")
    if declared:
        try:
            return data.decode(declared, errors="replace")
        except LookupError:
            pass
    if not data:
        return ""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data.decode("utf-8")
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return None if best is None else str(best)


def _read_bounded(stream: BinaryIO, context: Context, what: str) -> bytes:
    """At most four bytes per allowed character (the widest UTF-8); a cut says so."""
    limit = context.limits.max_text_chars * 4
    data = stream.read(limit + 1)
    if len(data) > limit:
        context.truncated = True
        context.notes.append(f"only the first {limit:,} bytes of the {what} were read")
        data = data[:limit]
    return data


def plain_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    text = decode_text(_read_bounded(stream, context, "text"))
    if text is None:
        raise Refused("unsupported", "binary data of an unknown type (not text in any known charset)")
    yield text


_HIDDEN = etree.XPath(
    " | ".join(f"//{tag}" for tag in HIDDEN_TAGS)
    + " | //*[@hidden] | //comment() | //processing-instruction()"
    + " | //*[@style][contains(translate(@style, ' ', ''), 'display:none')]"
)
_STRING = etree.XPath("string()")


def _drop(element: etree._Element) -> None:
    """Removes ``element`` and what it holds, keeping the text that follows it (its tail)."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _visible_text(text: str) -> str:
    """What a browser shows: no script, style, head (but the title), hidden elements or comments."""
    if not text.strip():
        return ""
    # Parsed as UTF-8 bytes: lxml reads a str of wide characters several times slower.
    document = etree.fromstring(text.encode("utf-8", "replace"), etree.HTMLParser(encoding="utf-8", no_network=True))
    if document is None:
        return ""
    title = document.findtext(".//title") or ""
    for element in _HIDDEN(document):
        assert isinstance(element, etree._Element)
        _drop(element)
    for element in document.iter(*BLOCK_TAGS):  # a line break after each block
        element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in f"{title}\n{_STRING(document)}".splitlines())
    return "\n".join(line for line in lines if line) + "\n"


def html_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    data = _read_bounded(stream, context, "HTML page")
    match = _META_CHARSET.search(data[:4096])
    text = decode_text(data, match.group(1).decode("ascii") if match else None)
    if text is None:
        raise Refused("unsupported", "HTML in an unknown charset")
    yield _visible_text(text)
