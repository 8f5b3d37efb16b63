"""Extracting one file's text in this process: detect its type from its bytes, run the library
that reads it, cut the text at ``max_text_chars``.

:func:`extract_file` never raises for a file's content: whatever goes wrong (a corrupt file, an
encrypted one, a bomb, a library's own bug, running out of memory) becomes an
:class:`Extraction` with state ``failed`` or ``unsupported`` and the reason. It sets no time or
memory limit itself: :class:`extraction.pool.ExtractionPool` runs it in worker processes that
have them.
"""

from __future__ import annotations

import functools
import io
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

from extraction.base import Context, Extractor, Refused
from extraction.containers import eml_text, zip_text
from extraction.detect import FileKind, detect
from extraction.documents import docx_text, odf_text, ole2_text, pdf_text, pptx_text, rtf_text, xlsx_text
from extraction.markup import html_text, plain_text
from extraction.ocr import image_text, tesseract_version
from extraction.result import Extraction, ExtractionLimits

SOFT_TIME_SHARE = 0.8
"""Of ``limits.seconds``: when reading stops with what it has, before the pool kills the worker."""


@dataclass(frozen=True)
class ExtractorSpec:
    name: str
    """The library (or program) named in the result."""
    function: Extractor
    distribution: str | None
    """The installed distribution whose version is recorded; None for the standard library."""


EXTRACTORS: dict[FileKind, ExtractorSpec] = {
    "pdf": ExtractorSpec("pypdf", pdf_text, "pypdf"),
    "docx": ExtractorSpec("python-docx", docx_text, "python-docx"),
    "xlsx": ExtractorSpec("openpyxl", xlsx_text, "openpyxl"),
    "pptx": ExtractorSpec("python-pptx", pptx_text, "python-pptx"),
    "odf": ExtractorSpec("lxml", odf_text, "lxml"),
    "rtf": ExtractorSpec("striprtf", rtf_text, "striprtf"),
    "html": ExtractorSpec("lxml", html_text, "lxml"),
    "text": ExtractorSpec("charset-normalizer", plain_text, "charset-normalizer"),
    "eml": ExtractorSpec("email", eml_text, None),
    "zip": ExtractorSpec("zipfile", zip_text, None),
    "image": ExtractorSpec("tesseract", image_text, None),
    "ole2": ExtractorSpec("extraction.detect", ole2_text, "archivist"),
}
DETECTOR = ExtractorSpec("extraction.detect", plain_text, "archivist")


@functools.cache
def extractor_version(spec: ExtractorSpec) -> str:
    if spec.name == "tesseract":
        return tesseract_version()
    if spec.distribution is None:
        return f"python {platform.python_version()}"
    try:
        return metadata.version(spec.distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def _result(spec: ExtractorSpec, kind: str, **fields: object) -> Extraction:
    return Extraction(
        extractor=spec.name,
        extractor_version=extractor_version(spec),
        file_type=kind,
        **fields,  # type: ignore[arg-type]
    )


def _clean(text: str) -> str:
    """Text that encodes to UTF-8 (no lone surrogates) and holds no NUL."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def extract_stream(
    stream: BinaryIO,
    *,
    name: str,
    content_type: str,
    limits: ExtractionLimits,
    depth: int = 0,
    deadline: float | None = None,
) -> Extraction:
    """The text of the file in ``stream`` (seekable); ``depth`` 1 inside a container.

    Reading stops at ``deadline`` (``time.monotonic()``; by default ``SOFT_TIME_SHARE`` of
    ``limits.seconds`` from now) with the text read so far, cut: a long PDF gives its first
    pages rather than nothing when the pool's hard limit would kill the worker.
    """
    if deadline is None:
        deadline = time.monotonic() + limits.seconds * SOFT_TIME_SHARE
    try:
        kind = detect(stream, name=name, content_type=content_type)
    except (OSError, ValueError) as exc:
        return _result(DETECTOR, "unknown", state="failed", text="", reason=f"cannot read the file: {exc}")
    if kind == "unknown":
        return _result(DETECTOR, kind, state="unsupported", text="", reason="binary data of an unknown type")
    spec = EXTRACTORS[kind]
    if kind == "zip" and depth > 0:
        return _result(spec, kind, state="unsupported", text="", reason="archive inside an archive: not opened")

    def member(data: bytes, member_name: str) -> Extraction:
        return extract_stream(
            io.BytesIO(data), name=member_name, content_type="", limits=limits, depth=depth + 1, deadline=deadline
        )

    context = Context(limits=limits, depth=depth, extract_member=member)
    pieces: list[str] = []
    room = limits.max_text_chars
    try:
        pieces_of = iter(spec.function(stream, context))
        try:
            for piece in pieces_of:
                if len(piece) > room:
                    pieces.append(piece[:room])
                    context.truncated = True
                    context.notes.append(f"text cut at {limits.max_text_chars:,} characters")
                    break
                pieces.append(piece)
                room -= len(piece)
                if time.monotonic() > deadline:
                    context.truncated = True
                    context.notes.append(
                        f"reading stopped at the soft time limit ({SOFT_TIME_SHARE:.0%} of {limits.seconds:g} s)"
                    )
                    break
        finally:
            close = getattr(pieces_of, "close", None)
            if close is not None:
                close()  # a generator's finally blocks (open files, workbooks) run now
    except Refused as refusal:
        return _result(spec, kind, state=refusal.state, text="", reason=refusal.reason)
    except MemoryError:
        pieces.clear()
        return _result(
            spec, kind, state="failed", text="", reason=f"out of memory (limit {limits.memory_bytes:,} bytes)"
        )
    except RecursionError:
        return _result(spec, kind, state="failed", text="", reason="too deeply nested")
    except Exception as exc:  # a corrupt file: every library raises its own errors
        message = f"{type(exc).__name__}: {exc}"[:500]
        return _result(spec, kind, state="failed", text="", reason=f"corrupt or unreadable {kind}: {message}")
    text = _clean("".join(pieces)).strip()
    reason = "; ".join(context.notes) or None
    if not text:
        return _result(spec, kind, state="empty", text="", reason=reason, truncated=context.truncated)
    return _result(spec, kind, state="extracted", text=text, reason=reason, truncated=context.truncated)


def warm_up() -> None:
    """Imports every extractor's library and asks tesseract its version: a worker does it once."""
    import charset_normalizer  # noqa: F401
    import docx  # noqa: F401
    import lxml.html  # noqa: F401
    import openpyxl  # noqa: F401
    import PIL.Image  # noqa: F401
    import pptx  # noqa: F401
    import pypdf  # noqa: F401
    import pytesseract  # type: ignore[import-untyped]  # noqa: F401
    import striprtf.striprtf  # noqa: F401

    for spec in EXTRACTORS.values():
        extractor_version(spec)


def extract_file(path: Path, *, name: str, content_type: str, limits: ExtractionLimits) -> Extraction:
    """The text of the file at ``path``, in this process and without time or memory limits.

    The same library calls the pool's workers make: the bench compares the two.
    """
    try:
        with open(path, "rb") as stream:
            return extract_stream(stream, name=name, content_type=content_type, limits=limits)
    except OSError as exc:
        return _result(DETECTOR, "unknown", state="failed", text="", reason=f"cannot read the file: {exc}")
