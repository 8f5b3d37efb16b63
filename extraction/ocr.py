"""Images through OCR: Pillow reads the header (a decompression bomb is refused before a pixel is
decoded), Debian's ``tesseract`` reads the text through pytesseract.

The languages are ``ExtractionLimits.ocr_languages`` (tesseract's ``-l``); scripts/services.sh
installs their packs.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Iterator
from typing import BinaryIO

from extraction.base import Context, Refused


@functools.cache
def tesseract_version() -> str:
    import pytesseract  # type: ignore[import-untyped]

    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError):
        return "not installed"


def _check_pixels(width: int, height: int, limit: int) -> None:
    if width * height > limit:
        raise Refused(
            "failed",
            f"decompression bomb: {width:,} x {height:,} = {width * height:,} pixels, over the bound of {limit:,}",
        )


def image_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    import pytesseract
    from PIL import Image, ImageSequence, UnidentifiedImageError

    limits = context.limits
    # One tesseract thread per worker: the pool's processes are the parallelism.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            bound = limits.max_image_pixels
            raise Refused("failed", f"decompression bomb: over the bound of {bound:,} pixels ({exc})") from exc
        except UnidentifiedImageError as exc:
            raise Refused("failed", f"corrupt or unknown image: {exc}") from exc
        _check_pixels(image.width, image.height, limits.max_image_pixels)
        if tesseract_version() == "not installed":
            raise Refused("unsupported", "OCR needs tesseract, which is not installed (scripts/services.sh)")
        for pages, frame in enumerate(ImageSequence.Iterator(image)):
            if pages == limits.max_ocr_pages:
                context.truncated = True
                context.notes.append(f"OCR stopped after {pages} pages (max_ocr_pages)")
                break
            _check_pixels(frame.width, frame.height, limits.max_image_pixels)
            page = frame.convert("RGB") if frame.mode not in ("1", "L", "RGB") else frame
            try:
                text = pytesseract.image_to_string(page, lang=limits.ocr_languages)
            except pytesseract.TesseractError as exc:
                if "alloc" in str(exc):  # leptonica's "malloc fail": the worker's RLIMIT_AS holds tesseract too
                    raise Refused(
                        "failed", f"out of memory in tesseract (limit {limits.memory_bytes:,} bytes)"
                    ) from exc
                raise Refused("failed", f"tesseract failed: {exc}"[:500]) from exc
            yield text.strip() + "\n"
            if image.format == "GIF":
                break  # an animation's frames repeat its text
