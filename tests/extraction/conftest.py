from __future__ import annotations

import pytest

from bench.attachment_corpus import Corpus, build
from extraction.result import ExtractionLimits

BOMB_MEGABYTES = 24
LIMITS = ExtractionLimits(seconds=60, memory_bytes=1 << 30, max_archive_bytes=16 << 20)
"""Bounds small enough that the test corpus's 24 MiB zip bombs pass them."""


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The attachment corpus, written once per test session (OCR images included)."""
    return build(tmp_path_factory.mktemp("attachments"), bomb_megabytes=BOMB_MEGABYTES)
