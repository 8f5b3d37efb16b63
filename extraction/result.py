"""What extracting the text of one file gives, and the limits it runs under.

Extraction never raises for a file's content: an encrypted, corrupt, unsupported or hostile
file (a zip bomb, a decompression bomb image, a file that runs out of time or memory) gives an
:class:`Extraction` whose ``state`` and ``reason`` say so, and the caller records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ExtractionState = Literal["extracted", "empty", "unsupported", "failed"]
FailureCause = Literal["file", "worker", "infrastructure"]


@dataclass(frozen=True)
class ExtractionLimits:
    seconds: float = 60.0
    """Wall-clock time for one file in a worker process; the worker is killed after it."""
    memory_bytes: int = 1_073_741_824
    """Address space of a worker process (``RLIMIT_AS``)."""
    max_text_chars: int = 10_000_000
    """Text beyond this is cut (``truncated``, with the reason)."""
    max_archive_bytes: int = 268_435_456
    """Total uncompressed size of an archive's members that are opened (one level deep)."""
    max_archive_members: int = 1_000
    max_image_pixels: int = 50_000_000
    """Larger images are refused before decoding (decompression bombs)."""
    ocr_languages: str = "eng+deu+fra+spa+ita+por+jpn+chi_sim"
    """Tesseract's ``-l``: the language packs scripts/services.sh installs."""
    max_ocr_pages: int = 100
    """Frames of a multi-page image (TIFF) that are read; the rest is cut (``truncated``)."""


@dataclass(frozen=True)
class Extraction:
    state: ExtractionState
    text: str
    extractor: str
    """The library (or program) that read the file: ``pypdf``, ``python-docx``, ``tesseract``..."""
    extractor_version: str
    reason: str | None = None
    truncated: bool = False
    file_type: str = ""
    """What the bytes are (``pdf``, ``docx``, ``zip``, ``image``...), found from the content."""
    cause: FailureCause = "file"
    """What a ``failed`` state is due to: ``file``, the file itself (corrupt, encrypted, over a
    limit that is its own, such as memory); ``worker``, its worker process was killed at the time
    limit or died (the file, or the machine's load: worth another try); ``infrastructure``, no
    worker could be started (nothing to do with the file)."""
