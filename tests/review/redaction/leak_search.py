"""Every byte a production zip holds, unpacked as deep as it goes, for a search of leaked text.

Zip entries are decompressed (Python's zipfile); an entry that is itself a zip is opened in
turn; an RSMF file (a MIME message) is parsed with the standard library's email package and its
parts decoded (base64), its rsmf.zip opened; every PDF is read twice, independently: pypdf's text
extraction of every page, and every stream object inflated with zlib (the raw content streams,
whatever pypdf makes of them). A string is searched as UTF-8, UTF-16 (BE and LE) and, for the
PDFs' text, after whitespace is collapsed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any

from pypdf import PdfReader
from pypdf.generic import StreamObject

_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)


def inflated(raw: bytes) -> bytes | None:
    """A raw PDF stream inflated with zlib (after ASCII85 when it is so encoded), or None."""
    for data in (raw, _a85(raw)):
        if data is None:
            continue
        try:
            return zlib.decompressobj().decompress(data)
        except zlib.error:
            continue
    return None


def _a85(raw: bytes) -> bytes | None:
    text = raw.strip()
    if not text.endswith(b"~>"):
        return None
    try:
        return base64.a85decode(text.removeprefix(b"<~").removesuffix(b"~>"))
    except ValueError:
        return None


def blobs(name: str, data: bytes, depth: int = 0) -> Iterator[tuple[str, bytes]]:
    """``(where, bytes)`` of ``data`` and of everything inside it."""
    yield name, data
    if depth > 4:
        return
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as inner:
            for info in inner.infolist():
                yield from blobs(f"{name}!{info.filename}", inner.read(info), depth + 1)
    if name.endswith(".rsmf") or b"MIME-Version" in data[:2000]:
        message = email.message_from_bytes(data, policy=email.policy.default)
        for index, part in enumerate(message.walk()):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                yield from blobs(f"{name}#part{index}:{part.get_filename() or ''}", payload, depth + 1)
    if data[:5] == b"%PDF-":
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() for page in reader.pages)
        yield f"{name}(pypdf text)", text.encode("utf-8")
        yield f"{name}(pypdf text, spaces collapsed)", re.sub(r"\s+", "", text).encode("utf-8")
        for number, raw in enumerate(_STREAM.findall(data)):
            yield f"{name}(raw stream {number})", raw
            found = inflated(raw)
            if found is not None:
                yield f"{name}(inflated stream {number})", found
        for number, page in enumerate(reader.pages):
            contents = page["/Contents"].get_object()
            parts = contents if isinstance(contents, list) else [contents]
            decoded = b"".join(_stream_data(part) for part in parts)
            yield f"{name}(pypdf page {number} content)", decoded


def _stream_data(part: Any) -> bytes:
    """A content stream's decoded bytes (pypdf applies its filters)."""
    stream = part.get_object()
    assert isinstance(stream, StreamObject)
    return stream.get_data()


def zip_blobs(path: str) -> list[tuple[str, bytes]]:
    with open(path, "rb") as handle:
        return list(blobs("zip", handle.read()))


def encodings(text: str) -> list[bytes]:
    return [text.encode("utf-8"), text.encode("utf-16-be"), text.encode("utf-16-le")]


def found_in(all_blobs: list[tuple[str, bytes]], text: str) -> list[str]:
    """Where ``text`` is, in any of its encodings, case-insensitively for ASCII."""
    wanted = [e.lower() for e in encodings(text)]
    return [name for name, data in all_blobs if any(w in data.lower() for w in wanted)]
