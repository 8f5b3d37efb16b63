"""``archivist verify --files``: re-hash the bytes the archive says it keeps.

Every native ``archive_natives`` lists and every extracted text ``archive_file_texts`` names
(or a random sample of them) is read back from the file store and hashed: a file whose bytes
are gone is ``missing`` (its row outlived its bytes), one whose bytes no longer hash to its name
is ``altered``. Each is reported with the archived events that refer to it. Objects in the store
that no row names are listed too, for information (an upload that stopped between storing the
bytes and recording them, or bytes kept after their events were disposed of).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy import Engine

from archive.attachments import FileReference, all_natives, referring_events, text_blobs
from archive.file_store import FileCheck, FileStore


@dataclass
class FilesReport:
    listed: int
    """How many files the archive says the store holds."""
    checked: list[FileCheck] = field(default_factory=list)
    references: dict[str, list[FileReference]] = field(default_factory=dict)
    """For each bad file, the archived events that refer to it."""
    unlisted: list[str] = field(default_factory=list)
    """Objects in the store that no row names (informational)."""

    @property
    def bad(self) -> list[FileCheck]:
        return [check for check in self.checked if check.state != "ok"]

    def count(self, state: str) -> int:
        return sum(1 for check in self.checked if check.state == state)


def verify_files(engine: Engine, store: FileStore, sample: int | None = None) -> FilesReport:
    """Re-hash every listed file, or ``sample`` of them picked at random. Raises
    :class:`archive.file_store.FileStoreError` when the store cannot be read at all."""
    with engine.connect() as connection:
        listed = {row.sha256 for row in all_natives(connection)} | text_blobs(connection)
    names = sorted(listed)
    chosen = names if sample is None or sample >= len(names) else sorted(random.sample(names, sample))
    report = FilesReport(listed=len(names))
    report.checked = [store.check(sha256) for sha256 in chosen]
    if report.bad:
        with engine.connect() as connection:
            report.references = referring_events(connection, [check.sha256 for check in report.bad])
    report.unlisted = sorted(set(store.iter_sha256()) - listed)
    return report
