"""The ``archive`` adapter: hands each batch to the archive of record (:mod:`archive.record`).

Appends happen inside the processor's transaction (:meth:`ArchiveAdapter.write_in`), so an event
is deleted from staging only together with its archive row.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from adapters.base import AdapterContext, DeliveryResult, Failure, all_succeeded
from archive.record import append_events
from ingest.events import Event

log = logging.getLogger(__name__)


class ArchiveAdapter:
    name = "archive"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        """Append the batch in one transaction: all of it is archived, or none of it."""
        try:
            with self.engine.begin() as connection:
                appended = append_events(connection, batch)
        except SQLAlchemyError as error:
            reason = f"archive write failed: {error.__class__.__name__}: {getattr(error, 'orig', error)}"
            log.warning("%s", reason)
            return [Failure(reason)] * len(batch)
        log.debug("archived %d new events of %d", appended, len(batch))
        return all_succeeded(batch)

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        """Append the batch inside the caller's transaction (the processor's record of it),
        storing the staged JSON as it is."""
        appended = append_events(connection, batch, payloads)
        log.debug("archived %d new events of %d", appended, len(batch))
        return all_succeeded(batch)

    def close(self) -> None:
        """The engine belongs to the caller."""


def create(context: AdapterContext) -> ArchiveAdapter:
    return ArchiveAdapter(context.engine)
