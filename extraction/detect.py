"""What a file is, from its bytes: magic numbers and, for zips, the members that name the format.

The name and content type a producer gives are hints only: they decide between kinds the
bytes cannot tell apart (an e-mail and a text that happens to start with ``Subject:``), never
against the bytes (a ``.pdf`` that is a zip is a zip).
"""

from __future__ import annotations

import re
import zipfile
from typing import BinaryIO, Literal

FileKind = Literal[
    "pdf", "docx", "xlsx", "pptx", "odf", "zip", "rtf", "html", "eml", "text", "image", "ole2", "unknown"
]

HEAD_BYTES = 8192
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",
    b"MM\x00*",
)
MAIL_HEADERS = {
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "received",
    "return-path",
    "delivered-to",
    "reply-to",
    "x-mailer",
    "content-type",
}
_HEADER_LINE = re.compile(rb"^([A-Za-z][A-Za-z0-9-]{0,76}):[ \t]")
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE | re.DOTALL)
_HTML_ANYWHERE = re.compile(rb"<(html|body|head)[\s>]", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")


def _zip_kind(stream: BinaryIO) -> FileKind:
    """A zip's format from its members: OOXML parts, an ODF ``mimetype`` entry, or a plain archive."""
    try:
        with zipfile.ZipFile(stream) as archive:
            names = set(archive.namelist())
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
            if "ppt/presentation.xml" in names:
                return "pptx"
            if "mimetype" in names and "content.xml" in names:
                mimetype = archive.read("mimetype")[:100]
                if mimetype.startswith(b"application/vnd.oasis.opendocument."):
                    return "odf"
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError, RuntimeError, EOFError):
        return "zip"  # a damaged archive: the zip reader says what is wrong
    return "zip"


def _looks_like_mail(head: bytes) -> bool:
    """At least two known mail headers in the first header block, and nothing but headers before."""
    known = 0
    for line in head.split(b"\n")[:40]:
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header
        match = _HEADER_LINE.match(line)
        if match is None:
            return False
        known += match.group(1).decode("ascii").lower() in MAIL_HEADERS
    return known >= 2


def detect(stream: BinaryIO, *, name: str = "", content_type: str = "") -> FileKind:
    """The kind of the file in ``stream`` (read from its start; the position is restored)."""
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    lowered_name = name.lower()
    lowered_type = content_type.lower()
    if head.startswith(b"%PDF-") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        kind = _zip_kind(stream)
        stream.seek(0)
        return kind
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP") or _is_bmp(head):
        return "image"
    stripped = head
    for bom in _BOMS:
        if stripped.startswith(bom):
            stripped = stripped[len(bom) :]
            break
    if b"\x00" in head and not head.startswith(_BOMS[1:]) and not _utf16_without_bom(head):
        return "unknown"
    if _HTML_START.match(stripped):
        return "html"
    if _looks_like_mail(stripped):
        return "eml"
    hinted_mail = lowered_type == "message/rfc822" or lowered_name.endswith(".eml")
    if hinted_mail and _HEADER_LINE.match(stripped):
        return "eml"
    hinted_html = lowered_type.startswith(("text/html", "application/xhtml")) or lowered_name.endswith(
        (".html", ".htm", ".xhtml")
    )
    if hinted_html and _HTML_ANYWHERE.search(stripped):
        return "html"
    return "text"


def _is_bmp(head: bytes) -> bool:
    """``BM``, then the file size, then four reserved zero bytes: text starting with "BM" is not one."""
    return head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\0\0\0\0"


def _utf16_without_bom(head: bytes) -> bool:
    """UTF-16 text without a byte-order mark: every other byte NUL, as in ASCII-range UTF-16."""
    sample = head[:512]
    if len(sample) < 4:
        return False
    even, odd = sample[0::2], sample[1::2]
    return even.count(0) > 0.4 * len(even) or odd.count(0) > 0.4 * len(odd)
