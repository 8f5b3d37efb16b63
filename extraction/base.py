"""What the per-type extractors share: their context and the one way they refuse a file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from extraction.result import Extraction, ExtractionLimits, ExtractionState


class Refused(Exception):
    """The file cannot be read for a known reason (encrypted, a bomb, over a bound)."""

    def __init__(self, state: ExtractionState, reason: str) -> None:
        super().__init__(reason)
        self.state: ExtractionState = state
        self.reason = reason


MemberExtractor = Callable[[bytes, str], Extraction]
"""Extracts a member of a container (a zip member, an e-mail attachment): bytes and name."""


@dataclass
class Context:
    limits: ExtractionLimits
    depth: int
    """0 for the file itself, 1 inside a container: containers found there are listed, not opened."""
    extract_member: MemberExtractor
    notes: list[str] = field(default_factory=list)
    """Why part of the text is missing (a cut, members not opened); becomes the reason."""
    truncated: bool = False


Extractor = Callable[[BinaryIO, Context], Iterator[str]]
"""Yields the text of a file in pieces; the caller stops reading at ``max_text_chars``."""


def bounded_read(stream: BinaryIO, limit: int, what: str) -> bytes:
    """All of ``stream``, refused as a bomb when it holds more than ``limit`` bytes."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise Refused("failed", f"{what} is larger than the bound of {limit:,} bytes")
    return data
