"""The ``extract`` adapter: a text-extraction job for each uploaded file, nothing more.

It writes inside the processor's transaction (:class:`~adapters.base.WritesInStagingTransaction`),
beside the archive, so it costs no commit of its own, and it only inserts one row per
``file_upload`` (``archive_extraction_jobs``: ``queued`` when the file store holds the bytes,
else ``waiting``); every other event succeeds at once. The extraction itself happens later, off
the batch cycle, in :mod:`adapters.extraction_worker`: a slow OCR never delays archiving. A
re-delivered upload keeps the job it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from adapters.base import AdapterContext, DeliveryResult, all_succeeded
from archive.attachments import add_extraction_jobs
from ingest.events import Event, FileUploadEvent


class ExtractionAdapter:
    name = "extract"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        with self.engine.begin() as connection:
            return self.write_in(connection, batch, ())

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        uploads = [(str(event.event_id), event.file.sha256) for event in batch if isinstance(event, FileUploadEvent)]
        if uploads:
            add_extraction_jobs(connection, uploads, datetime.now(UTC))
        return all_succeeded(batch)

    def close(self) -> None:
        """The engine belongs to the caller."""


def create(context: AdapterContext) -> ExtractionAdapter:
    return ExtractionAdapter(context.engine)
