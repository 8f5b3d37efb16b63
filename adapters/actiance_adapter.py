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

from collections.abc import Sequence
from pathlib import Path

from adapters.base import AdapterContext, DeliveryResult
from adapters.xml_adapter import batch_file_name, write_batch_file
from exports.actiance import WITH_ELEMENT, render_batch
from ingest.events import Event


class ActianceAdapter:
    name = "actiance"

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        if not any(isinstance(e, WITH_ELEMENT) for e in batch):
            return [None] * len(batch)
        name = batch_file_name(batch, prefix="actiance")
        return write_batch_file(self.output_dir, name, render_batch(batch), len(batch))

    def close(self) -> None:
        """Nothing is held open between batches."""


def create(context: AdapterContext) -> ActianceAdapter:
    return ActianceAdapter(Path(context.options.get("actiance_dir") or context.data_dir / "actiance"))
