"""An extraction that waits at a gate, for kill tests: the function the extraction pool's worker
processes run (picklable: module level), reading the file with the real extractor once its gate
opens. It leaves a marker when it starts and one when it finishes, in ``$EXTRACTION_GATE_DIR``:
a file's gate is open when ``open-<name>`` or ``open-all`` exists there."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from extraction.extract import extract_file
from extraction.result import Extraction, ExtractionLimits

GATE_DIR = "EXTRACTION_GATE_DIR"


def gated_extract(path: Path, *, name: str, content_type: str, limits: ExtractionLimits) -> Extraction:
    gates = Path(os.environ[GATE_DIR])
    mark = f"{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    (gates / f"started-{mark}").touch()
    parent = os.getppid()
    while not (gates / f"open-{name}").exists() and not (gates / "open-all").exists():
        if os.getppid() != parent:
            os._exit(0)  # the process that started this worker was killed: so is this extraction
        time.sleep(0.05)
    result = extract_file(path, name=name, content_type=content_type, limits=limits)
    (gates / f"finished-{mark}").touch()
    return result


def markers(gates: Path, kind: str, name: str) -> list[int]:
    """The worker processes (pids) whose extraction of ``name`` has ``kind`` (started, finished)."""
    return [int(path.name.removeprefix(f"{kind}-{name}.").split(".")[0]) for path in gates.glob(f"{kind}-{name}.*")]
