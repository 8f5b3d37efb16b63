"""Extract functions that misbehave on purpose, run by the pool's workers in the pool tests.

Module level, so a ``spawn`` worker imports them by name. The file's name says what to do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from extraction.extract import extract_file
from extraction.result import Extraction, ExtractionLimits


def misbehaving_extract(path: Path, *, name: str, content_type: str, limits: ExtractionLimits) -> Extraction:
    if name == "sleep":
        time.sleep(3600)
    if name == "allocate":
        hoard = []
        for _ in range(4 * limits.memory_bytes // (16 << 20)):
            hoard.append(bytearray(16 << 20))  # four times the limit, 16 MiB at a time
        raise AssertionError(f"allocated {len(hoard) * 16} MiB past the memory limit")
    if name.startswith("child:"):  # starts a program that outlives nothing, writes its pid, waits
        child = subprocess.Popen(["sleep", "3600"])
        Path(name.removeprefix("child:")).write_text(str(child.pid))
        time.sleep(3600)
    if name.startswith("scratch:"):  # leaves a temporary file, writes where, waits
        handle, scratch_file = tempfile.mkstemp(prefix="tess_")
        os.close(handle)
        Path(name.removeprefix("scratch:")).write_text(scratch_file)
        time.sleep(3600)
    if name == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if name == "raise":
        raise RuntimeError("a bug in the extractor")
    return extract_file(path, name=name, content_type=content_type, limits=limits)
