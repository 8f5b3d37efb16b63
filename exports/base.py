"""What every export format shares: its input, where it writes, and what it reports.

A format reads archived events (the ``ingest.events`` models, exactly as archived, edits and
deletions included) in export order: grouped by room, in occurrence order within a room (see
:func:`export_order`). It writes one or more files through an :class:`ExportFiles`, which
streams each file into the export (a zip) while hashing it, so memory stays flat whatever the
size. The export job adds ``manifest.json`` (every file with its SHA-256) and the chain of
custody around what the formats wrote.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol

from ingest.events import Event


@dataclass(frozen=True)
class ExportContext:
    """Who asked for what: printed on cover pages and put in file headers."""

    export_id: str
    created_at: datetime
    requested_by: str
    query: str
    case_name: str | None = None
    custodians: tuple[str, ...] = ()


@dataclass
class WrittenFile:
    path: str
    """Path inside the export (forward slashes, no leading slash)."""
    size: int = 0
    sha256: str = ""
    media_type: str = "application/octet-stream"


class ExportFiles(Protocol):
    """Where a format writes its files."""

    @contextmanager
    def create(self, path: str, media_type: str) -> Iterator[IO[bytes]]:
        """A binary stream for one new file of the export; it is complete when the block ends."""
        ...


@dataclass
class FormatReport:
    """What one format wrote."""

    format: str
    events: int = 0
    """Events read."""
    items: int = 0
    """What the format counts as its unit: messages, documents, conversations, rows."""
    files: list[WrittenFile] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    """Things a reviewer must know (an attachment the archive never received, ...)."""


class ExportFormat(Protocol):
    name: str
    """The format's id in the API and the CLI (``csv``, ``pdf``, ``rsmf``, ...)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        """Write ``events`` (in :func:`export_order`) as this format."""
        ...


def export_order(event: Event) -> tuple[str, datetime, str]:
    """Room, then time, then event id: the order formats receive events in."""
    return (event.room.id, event.occurred_at, str(event.event_id))


class HashingWriter(io.RawIOBase):
    """A write-only binary stream that counts and hashes what passes through to ``inner``
    (wrap it in ``io.TextIOWrapper`` for text; it is a real ``io`` stream)."""

    def __init__(self, inner: IO[bytes]) -> None:
        super().__init__()
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = bytes(data)
        self.digest.update(chunk)
        self.size += len(chunk)
        self.inner.write(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self.size


class ZipExportFiles:
    """Streams each file into a zip archive (deflated, zip64 for big files), hashing it."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.written: list[WrittenFile] = []
        self._paths: set[str] = set()

    @contextmanager
    def create(self, path: str, media_type: str) -> Iterator[IO[bytes]]:
        _check_path(path, self._paths)
        self._paths.add(path)
        with self.archive.open(path, "w", force_zip64=True) as inner:
            hashing = HashingWriter(inner)
            yield hashing  # type: ignore[misc]
        self.written.append(WrittenFile(path, hashing.size, hashing.digest.hexdigest(), media_type))


class MemoryExportFiles:
    """Keeps every file in memory (for tests and small previews)."""

    def __init__(self) -> None:
        self.contents: dict[str, bytes] = {}
        self.written: list[WrittenFile] = []

    @contextmanager
    def create(self, path: str, media_type: str) -> Iterator[IO[bytes]]:
        _check_path(path, set(self.contents))
        buffer = io.BytesIO()
        hashing = HashingWriter(buffer)
        yield hashing  # type: ignore[misc]
        self.contents[path] = buffer.getvalue()
        self.written.append(WrittenFile(path, hashing.size, hashing.digest.hexdigest(), media_type))


def _check_path(path: str, taken: set[str]) -> None:
    parts = path.split("/")
    if not path or path.startswith("/") or "\\" in path or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"export file path {path!r} must be relative, with no empty, '.' or '..' parts")
    if path in taken:
        raise ValueError(f"export file {path!r} was written twice")
