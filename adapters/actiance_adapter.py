"""The ``actiance`` adapter: one Actiance XML file per batch, for a firm's archive vendor.

The document is the one the ``actiance`` export writes (:func:`exports.actiance.render_batch`),
with one ``Conversation`` per room in the batch, from the room's first to its last event in the
batch; presence is inferred from the batch alone (nothing is held between batches).

Files are written atomically (temporary file, fsync, rename, fsync of the directory), as the
``xml`` adapter writes them, and named ``actiance-<first event>-<last event>-<batch id>.xml``
with UTC times, so they sort by time; the batch id is a hash of the batch's event ids, so two
batches never share a name and re-delivering a batch rewrites its own file instead of adding one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from adapters.base import AdapterContext, DeliveryResult, Failure
from adapters.xml_adapter import write_atomically
from exports.actiance import WITH_ELEMENT, render_batch
from ingest.events import Event

log = logging.getLogger(__name__)


def batch_file_name(batch: Sequence[Event]) -> str:
    def stamp(moment: datetime) -> str:
        return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond:06d}Z"

    ids = "\n".join(sorted(str(e.event_id) for e in batch))
    batch_id = hashlib.sha256(ids.encode()).hexdigest()[:16]
    first = min(e.occurred_at for e in batch)
    last = max(e.occurred_at for e in batch)
    return f"actiance-{stamp(first)}-{stamp(last)}-{batch_id}.xml"


class ActianceAdapter:
    name = "actiance"

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        if not any(isinstance(e, WITH_ELEMENT) for e in batch):
            return [None] * len(batch)
        path = self.output_dir / batch_file_name(batch)
        try:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            write_atomically(path, render_batch(batch))
        except OSError as error:
            reason = f"cannot write {path}: {error.strerror or error}"
            log.warning("%s", reason)
            return [Failure(reason)] * len(batch)
        return [None] * len(batch)

    def close(self) -> None:
        """Nothing is held open between batches."""


def create(context: AdapterContext) -> ActianceAdapter:
    return ActianceAdapter(Path(context.options.get("actiance_dir") or context.data_dir / "actiance"))
