"""The ``actiance`` adapter: one Actiance XML file per batch, for a firm's archive vendor.

The document is the one the ``actiance`` export writes (:func:`exports.actiance.render_batch`),
with one ``Conversation`` per room in the batch, from the room's first to its last event in the
batch; presence is inferred from the batch alone (nothing is held between batches).

Files are written atomically (temporary file, fsync, rename, fsync of the directory), as the
``xml`` adapter writes them, and named ``actiance-<first event>-<last event>-<batch id>.xml``
with UTC times, so they sort by time; the batch id is a hash of the file's event ids.

Exactly once per event, as the ``xml`` adapter: a ledger beside the files
(:mod:`adapters.file_ledger`) records which file each event went into, and a re-delivered event,
in whatever batch, is not written again; presence is then inferred from the new events alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from adapters.base import AdapterContext, DeliveryResult, all_succeeded
from adapters.file_ledger import FileLedger
from adapters.xml_adapter import batch_file_name, write_once
from formats.actiance_xml import WITH_ELEMENT, render_batch
from ingest.events import Event


class ActianceAdapter:
    name = "actiance"

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.ledger = FileLedger(output_dir)

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        if not any(isinstance(e, WITH_ELEMENT) for e in batch):
            return all_succeeded(batch)
        return write_once(self.ledger, batch, batch, _file_name, _render)

    def close(self) -> None:
        self.ledger.close()


def _file_name(events: Sequence[Event]) -> str:
    return batch_file_name(events, prefix="actiance")


def _render(events: Sequence[Event]) -> bytes | None:
    """The document of the events not yet written, when one of them has an element."""
    return render_batch(events) if any(isinstance(e, WITH_ELEMENT) for e in events) else None


def create(context: AdapterContext) -> ActianceAdapter:
    return ActianceAdapter(Path(context.options.get("actiance_dir") or context.data_dir / "actiance"))
