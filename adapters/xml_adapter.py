"""The ``xml`` adapter: one Lync Persistent Chat compliance XML file per batch.

Files are written atomically (temporary file, fsync, rename, fsync of the directory) and
named ``pchat-<first event>-<last event>-<batch id>.xml`` with UTC times, so they sort by
time; the batch id is a hash of the batch's event ids, so re-delivering the same batch
rewrites the same file instead of adding a second one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from adapters.base import AdapterContext, DeliveryResult, Failure
from adapters.lync_xml import in_format, render
from ingest.events import Event

log = logging.getLogger(__name__)


def batch_file_name(batch: Sequence[Event], prefix: str = "pchat") -> str:
    """Named by the batch's first and last times and a hash of its ids: files sort by time, and
    a re-delivered batch rewrites its own file instead of adding a second one."""

    def stamp(moment: datetime) -> str:
        return f"{moment.year:04d}{moment:%m%dT%H%M%S}.{moment.microsecond:06d}Z"  # strftime: year 1 is "1"

    ids = "\n".join(sorted(str(e.event_id) for e in batch))
    batch_id = hashlib.sha256(ids.encode()).hexdigest()[:16]
    first = min(e.occurred_at for e in batch)
    last = max(e.occurred_at for e in batch)
    return f"{prefix}-{stamp(first)}-{stamp(last)}-{batch_id}.xml"


def write_batch_file(output_dir: Path, path_name: str, content: bytes, events: int) -> list[DeliveryResult]:
    """``content`` written atomically as one file of ``output_dir``: all ``events`` of the batch
    succeed, or each fails with the reason (a file adapter's whole delivery)."""
    path = output_dir / path_name
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        write_atomically(path, content)
    except OSError as error:
        reason = f"cannot write {path}: {error.strerror or error}"
        log.warning("%s", reason)
        return [Failure(reason)] * events
    return [None] * events


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that readers see either nothing or the whole file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".xml")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class LyncXmlAdapter:
    name = "xml"

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        chosen = [e for e in batch if in_format(e)]
        if not chosen:
            return [None] * len(batch)
        return write_batch_file(self.output_dir, batch_file_name(chosen), render(chosen), len(batch))

    def close(self) -> None:
        """Nothing is held open between batches."""


def create(context: AdapterContext) -> LyncXmlAdapter:
    return LyncXmlAdapter(Path(context.options.get("xml_dir") or context.data_dir / "xml"))
