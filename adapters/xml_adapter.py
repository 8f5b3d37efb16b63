"""The ``xml`` adapter: one Lync Persistent Chat compliance XML file per batch.

Files are written atomically (temporary file, fsync, rename, fsync of the directory) and
named ``pchat-<first event>-<last event>-<batch id>.xml`` with UTC times, so they sort by
time; the batch id is a hash of the ids of the events in the file.

Exactly once per event: a ledger beside the files (:mod:`adapters.file_ledger`) records which
file each event went into, so an event re-delivered in any batch (after a processor was killed
between writing a file and recording the outcome, its lease expired and the events were claimed
again with newer ones) is not written a second time; only the delivery's new events make a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from adapters.base import AdapterContext, DeliveryResult, Failure, all_succeeded
from adapters.file_ledger import FileLedger
from formats.lync_xml import in_format, render
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


def write_once(
    ledger: FileLedger,
    batch: Sequence[Event],
    chosen: Sequence[Event],
    file_name: Callable[[Sequence[Event]], str],
    render: Callable[[Sequence[Event]], bytes | None],
) -> list[DeliveryResult]:
    """A file adapter's whole delivery: the events of ``chosen`` that are in no file yet are
    rendered (``render`` may answer ``None``: nothing worth a file) and written atomically as one
    file of the ledger's directory, recorded in the ledger first. Every event of ``batch``
    succeeds, or each fails with the reason."""
    try:
        with ledger.session() as session:
            fresh = session.unwritten(chosen)
            content = render(fresh) if fresh else None
            if content is not None:
                name = file_name(fresh)
                session.reserve(fresh, name)
                write_atomically(ledger.directory / name, content)
                session.mark_written(name)
    except (OSError, sqlite3.Error) as error:
        detail = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        reason = f"cannot write to {ledger.directory}: {detail}"
        log.warning("%s", reason)
        return [Failure(reason)] * len(batch)
    return all_succeeded(batch)


def write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` so that readers see either nothing or the whole file.

    The temporary name does not end in ``.xml``: a pickup that takes ``*.xml`` (and a writer
    killed before its rename leaves the temporary behind) must never see a partial file."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=f"{path.suffix}.partial")
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
        self.ledger = FileLedger(output_dir)

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        chosen = [e for e in batch if in_format(e)]
        if not chosen:
            return all_succeeded(batch)
        return write_once(self.ledger, batch, chosen, batch_file_name, render)

    def close(self) -> None:
        self.ledger.close()


def create(context: AdapterContext) -> LyncXmlAdapter:
    return LyncXmlAdapter(Path(context.options.get("xml_dir") or context.data_dir / "xml"))
