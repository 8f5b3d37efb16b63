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
import queue
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from ingest.events import Event, event_to_json


@dataclass(frozen=True)
class ExportContext:
    """Who asked for what: printed on cover pages and put in file headers."""

    export_id: str
    created_at: datetime
    requested_by: str
    query: str
    case_name: str | None = None
    case_number: str | None = None
    """The case's number as printed (the case id: cases have no separate matter number)."""
    custodians: tuple[str, ...] = ()
    archived_json: Callable[[Event], str] = event_to_json
    """An event's JSON as the archive holds it (what JSONL writes and CSV hashes): the export
    reads it back with each event (:class:`exports.selection.ArchivedJson`), so it need not be
    serialised again."""
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    """The zone times are shown in and conversation-days are cut in (``formats.time_zones``);
    a format whose standard fixes UTC keeps UTC there and says so in :attr:`FormatReport.times`."""


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
    def create(self, path: str, media_type: str, *, compressed: bool = False) -> Iterator[IO[bytes]]:
        """A binary stream for one new file of the export; it is complete when the block ends.

        ``compressed``: the content is compressed already (an RSMF file carries a zip), so the
        export stores it as it is instead of deflating it a second time for little gain."""
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
    times: str = ""
    """How this format writes times (the manifest's ``time_zone.formats``): in the export's
    zone, or in UTC because its standard says so, and where the sender's own offset is."""


@runtime_checkable
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


class PipelinedWriter(io.RawIOBase):
    """A write-only stream whose bytes are hashed, compressed and written by a thread of its own.

    zlib and hashlib release the GIL on large buffers, so deflating a file into the zip runs on
    the other core while the format builds the next rows. Writes are gathered into chunks of
    ``chunk`` bytes; at most ``depth`` chunks wait, so memory stays bounded. The thread starts
    with the first full chunk: a smaller file (an RSMF file, an EDRM text) is written by the
    caller when it ends, with no thread at all. :meth:`finish` writes the rest and raises what
    the thread met; :meth:`abandon` drops the rest."""

    def __init__(self, inner: IO[bytes], *, chunk: int = 1 << 18, depth: int = 4) -> None:
        super().__init__()
        self.hashing = HashingWriter(inner)
        self.size = 0
        self._chunk = chunk
        self._pending = bytearray()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._error is not None:
            self._stop()
            raise self._error
        before = len(self._pending)
        self._pending += data
        written = len(self._pending) - before
        self.size += written
        if len(self._pending) >= self._chunk:
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="export-writer", daemon=True)
                self._thread.start()
            self._queue.put(bytes(self._pending))
            self._pending.clear()
        return written

    def tell(self) -> int:
        return self.size

    def finish(self) -> None:
        if self._thread is None:
            self.hashing.write(self._pending)
        elif self._pending:
            self._queue.put(bytes(self._pending))
        self._pending.clear()
        self._stop()
        if self._error is not None:
            raise self._error

    def abandon(self) -> None:
        self._pending.clear()
        self._error = self._error or RuntimeError("abandoned")
        self._stop()

    def _stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _drain(self) -> None:
        # Keeps taking chunks after a failure (dropping them), so that a writer blocked on a
        # full queue is never left waiting.
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self.hashing.write(chunk)
                except BaseException as error:  # handed to the writer on its next call
                    self._error = error


class ZipExportFiles:
    """Streams each file into a zip archive (deflated, zip64 for big files), hashing it; the
    compression runs on a thread of its own (:class:`PipelinedWriter`)."""

    def __init__(self, archive: zipfile.ZipFile) -> None:
        self.archive = archive
        self.written: list[WrittenFile] = []
        self._paths: set[str] = set()

    @contextmanager
    def create(self, path: str, media_type: str, *, compressed: bool = False) -> Iterator[IO[bytes]]:
        _check_path(path, self._paths)
        self._paths.add(path)
        entry: str | zipfile.ZipInfo = path
        if compressed:
            entry = zipfile.ZipInfo(path, date_time=time.localtime(time.time())[:6])
            entry.compress_type = zipfile.ZIP_STORED
        with self.archive.open(entry, "w", force_zip64=True) as inner:
            stream = PipelinedWriter(inner)
            try:
                yield stream  # type: ignore[misc]
            except BaseException:
                stream.abandon()
                raise
            stream.finish()
        self.written.append(WrittenFile(path, stream.size, stream.hashing.digest.hexdigest(), media_type))


class MemoryExportFiles:
    """Keeps every file in memory (for tests and small previews)."""

    def __init__(self) -> None:
        self.contents: dict[str, bytes] = {}
        self.written: list[WrittenFile] = []

    @contextmanager
    def create(self, path: str, media_type: str, *, compressed: bool = False) -> Iterator[IO[bytes]]:
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
