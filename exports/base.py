"""What every export format shares: its input, where it writes, and what it reports.

A format reads archived events (the ``ingest.events`` models, exactly as archived, edits and
deletions included) in export order: grouped by room, in occurrence order within a room (see
:func:`export_order`). It writes one or more files through an :class:`ExportFiles`, which
streams each file into the export (a zip) while hashing it, so memory stays flat whatever the
size. The export job adds ``manifest.json`` (every file with its SHA-256) and the chain of
custody around what the formats wrote.
"""

from __future__ import annotations

import functools
import hashlib
import io
import queue
import shutil
import struct
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from exports.documents import (
    Document,
    DocumentCount,
    DocumentUnit,
    Numbering,
    RoomThreads,
    default_numbering,
    documents,
    no_threads,
)
from ingest.events import EditEvent, Event, PostEvent, event_to_json

if TYPE_CHECKING:
    from exports.natives import ExportAttachments


def _no_attachments() -> ExportAttachments:
    from exports.natives import ExportAttachments  # here: exports.natives imports this module

    return ExportAttachments()


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
    attachments: ExportAttachments = field(default_factory=_no_attachments)
    """The uploaded files' natives and extracted texts (:mod:`exports.natives`); by default none
    (no file store): each format then names every upload's native as a loss."""
    unit: DocumentUnit = "conversation"
    """What one document of the production is (:mod:`exports.documents`)."""
    numbering: Numbering | None = None
    """The production's control numbers; None: the export id's (:func:`default_numbering`)."""
    recipients: tuple[str, ...] = ()
    """Whom the production is for (the production log and the cover say it)."""
    threads: RoomThreads = no_threads
    """The thread of each message of a room (:mod:`archive.threads`, loaded once per room for the
    selection: :class:`exports.thread_links.SelectionThreads`): the thread unit's documents,
    RSMF's ``parent``, JSONL's thread fields."""
    archive_head: dict[str, Any] | None = None
    """The archive's newest chain link when the export began (``seq``, ``chain_hash``,
    ``archived_at``: :func:`archive.record.chain_head`), for the PDF's custody page; None when
    not known (a format written outside :func:`exports.package.build_export`)."""

    @property
    def control_numbers(self) -> Numbering:
        return self.numbering or default_numbering(self.export_id)

    def documents(self, events: Iterable[Event], report: FormatReport) -> Iterator[Document]:
        """The production's documents of ``events`` (parents, each with its attachments), the
        same numbers in every format; ``report.documents`` counts them as they are yielded."""
        return documents(
            events,
            unit=self.unit,
            numbering=self.control_numbers,
            zone=self.time_zone,
            custodians=self.custodians,
            count=report.documents,
            threads=self.threads,
        )


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

    def write_unlisted(self, path: str, data: bytes, *, compressed: bool = False) -> None:
        """One small file of the export written whole, and *not* listed in :attr:`written`
        (so not in ``manifest.json``): the format lists it, with its SHA-256, in a checksum file
        of its own (the DAT's ``TEXTPATH`` files, one per message: listing 100,000 of them in the
        manifest, each through a streaming zip entry, cost more than the rest of the export)."""
        ...


@dataclass
class Loss:
    """Something a format could not carry exactly: which field or element, in how many events,
    why, and where the exact value is kept. The manifest lists every loss of every format
    (``formats[].losses``), so nothing is altered or dropped silently."""

    format: str
    field: str
    """The column, element or attribute, with the file it is in (``messages.dat: TEXT``)."""
    count: int
    """How many ``unit`` are affected."""
    why: str
    exact_value_in: str
    """Where the exact value is: another file of this export, or the archived event."""
    events: tuple[str, ...] = ()
    """A few of the event ids affected (at most five)."""
    unit: str = "events"
    """What ``count`` counts: ``events`` (a row is an event), ``messages``, ``texts``, ``characters``,
    ``files`` or ``documents``."""

    def as_json(self) -> dict[str, object]:
        return {
            "format": self.format,
            "field": self.field,
            "count": self.count,
            "unit": self.unit,
            "why": self.why,
            "exact_value_in": self.exact_value_in,
            "events": list(self.events),
        }


class LossTally:
    """One kind of loss counted over a whole export, per field: said once per field (as a
    :class:`Loss`, with a few example event ids), not once per event."""

    def __init__(
        self,
        format: str,
        why: str,
        exact_value_in: str,
        *,
        exact_by_field: dict[str, str] | None = None,
        unit: str = "events",
    ) -> None:
        self.format = format
        self.unit = unit
        self.why = why
        self.exact_value_in = exact_value_in
        self.exact_by_field = exact_by_field or {}
        self.counts: dict[str, int] = {}
        self.samples: dict[str, list[str]] = {}

    def add(self, field: str, event_id: str, count: int = 1) -> None:
        self.counts[field] = self.counts.get(field, 0) + count
        samples = self.samples.setdefault(field, [])
        if len(samples) < _SAMPLE_EVENTS and event_id not in samples:
            samples.append(event_id)

    def add_event(self, field: str, event: Event) -> None:
        """:meth:`add` for ``event``, whose id is made a string only while examples are wanted."""
        samples = self.samples.get(field)
        if samples is not None and len(samples) >= _SAMPLE_EVENTS:
            self.counts[field] += 1
        else:
            self.add(field, str(event.event_id))

    def report_to(self, report: FormatReport) -> None:
        for name, count in self.counts.items():
            exact = self.exact_by_field.get(name, self.exact_value_in)
            report.losses.append(Loss(self.format, name, count, self.why, exact, tuple(self.samples[name]), self.unit))


_SAMPLE_EVENTS = 5


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
    losses: list[Loss] = field(default_factory=list)
    """What this format could not carry exactly (:class:`Loss`). Only the PDF says some of them in
    ``warnings`` too, as its cover prints those."""
    documents: DocumentCount = field(default_factory=DocumentCount)
    """The documents the format numbered (:meth:`ExportContext.documents`): every format of a
    production numbers the same ones; the manifest and the production log take the range."""
    times: str = ""
    """How this format writes times (the manifest's ``time_zone.formats``): in the export's
    zone, or in UTC because its standard says so, and where the sender's own offset is."""


@runtime_checkable
class ExportFormat(Protocol):
    """A format. It may also have ``not_carried``, a dict from a field of :data:`FIELD_SET` to why
    the format has no place for it, which :func:`write_format` turns into losses."""

    name: str
    """The format's id in the API and the CLI (``csv``, ``pdf``, ``rsmf``, ...)."""

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        """Write ``events`` (in :func:`export_order`) as this format."""
        ...


FIELD_SET: dict[str, Callable[[Event], bool]] = {
    "message.format": lambda e: isinstance(e, PostEvent | EditEvent) and e.message.format != "text/plain",
    "actor.email": lambda e: e.actor.email is not None,
    "actor.internal": lambda e: not e.actor.internal,
    "source.server": lambda e: e.source is not None and e.source.server is not None,
}
"""The event fields some formats cannot carry, and when an event has one worth saying: a message
in a format other than plain text, an actor's e-mail address, an external actor, the server."""
_FIELD_KEPT_IN = {
    "message.format": "TEXT_FORMAT in messages.csv, and the archived event (events.jsonl)",
    "actor.email": "SENDER_EMAIL (READER_* for a read) in messages.csv, and the archived event (events.jsonl)",
    "actor.internal": "SENDER_INTERNAL (READER_* for a read) in messages.csv, and the archived event (events.jsonl)",
    "source.server": "the archived event (events.jsonl)",
}


def write_format(
    export: ExportFormat, events: Iterable[Event], files: ExportFiles, context: ExportContext
) -> FormatReport:
    """``export.write``, and a loss for each event field the format declares it cannot carry
    (its ``not_carried``: field of :data:`FIELD_SET` -> why) that events of the export have.
    A format without the attribute (one from another distribution) is written as it is."""
    declared: dict[str, str] = getattr(export, "not_carried", {})
    tallies = {name: LossTally(export.name, why, _FIELD_KEPT_IN[name]) for name, why in declared.items()}
    checks = [(FIELD_SET[name], f"event field {name}", tallies[name]) for name in declared]

    def seen(events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            for check, field_name, tally in checks:
                if check(event):
                    tally.add_event(field_name, event)
            yield event

    report = export.write(seen(events) if checks else events, files, context)
    for tally in tallies.values():
        tally.report_to(report)
    return report


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


_UTF8_NAME = 0x800
"""The general purpose flag of a zip entry whose name is UTF-8 (``zipfile`` sets it likewise)."""
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
"""A zip local file header (``zipfile.structFileHeader``), after its signature ``PK\\3\\4``."""
_LOCAL_SIGNATURE = b"PK\003\004"


@functools.lru_cache(maxsize=8)
def _dos_stamp(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    """An entry's MS-DOS time and date, as ``ZipInfo.FileHeader`` computes them."""
    dosdate = (date_time[0] - 1980) << 9 | date_time[1] << 5 | date_time[2]
    dostime = date_time[3] << 11 | date_time[4] << 5 | (date_time[5] // 2)
    return dostime, dosdate


def _stored_header(version: int, flags: int, stamp: tuple[int, int], crc: int, size: int, name: bytes) -> bytes:
    """The local header of a stored entry without extra field: ``ZipInfo.FileHeader(False)``."""
    return (
        _LOCAL_HEADER.pack(
            _LOCAL_SIGNATURE,
            version,
            0,
            flags,
            zipfile.ZIP_STORED,
            stamp[0],
            stamp[1],
            crc,
            size,
            size,
            len(name),
            0,
        )
        + name
    )


class ExportZip(zipfile.ZipFile):
    """The export's zip file: a :class:`zipfile.ZipFile` that can also append a small stored
    file in one write.

    ``writestr`` writes an entry's header, its data, then seeks back to write the header again
    with the size and CRC, and seeks forward: each seek flushes the file's buffer, so every
    entry costs system calls. For the DAT's 100,000 text files that was most of the export's
    time; here the size and CRC are known first, so the header is written once, after the
    previous entry, and the buffer does its work. Uses ``ZipFile``'s own bookkeeping
    (``start_dir``, ``filelist``, ``NameToInfo`` and its write checks), as ``writestr`` does."""

    def write_stored(self, path: str, data: bytes, date_time: tuple[int, int, int, int, int, int]) -> None:
        if self._writing:  # type: ignore[attr-defined]
            raise ValueError("cannot write a stored file while another entry of the zip is open")
        entry = zipfile.ZipInfo(path, date_time)
        entry.compress_type = zipfile.ZIP_STORED
        size = entry.file_size = entry.compress_size = len(data)
        crc = entry.CRC = zlib.crc32(data)
        entry.external_attr = 0o600 << 16
        with self._lock:  # type: ignore[attr-defined]
            entry.header_offset = self.start_dir
            self._writecheck(entry)  # type: ignore[attr-defined]
            self._didModify = True
            if size <= zipfile.ZIP64_LIMIT:
                # ZipInfo.FileHeader(False) of this entry (no extra field), packed directly:
                # one call per file instead of FileHeader's checks (the DAT writes one per message).
                name = path.encode("ascii") if path.isascii() else path.encode()
                flags = 0 if path.isascii() else _UTF8_NAME
                header = _stored_header(entry.extract_version, flags, _dos_stamp(date_time), crc, size, name)
            else:
                header = entry.FileHeader(False)
            assert self.fp is not None
            self.fp.write(header + data)
            self.start_dir += len(header) + size
            self.filelist.append(entry)
            self.NameToInfo[path] = entry

    def write_deflated_bytes(self, path: str, data: bytes, date_time: tuple[int, int, int, int, int, int]) -> None:
        """A small file deflated in one go at the zip's compression level (the bytes ``writestr``
        would deflate), its header written once with the sizes and CRC known."""
        compressor = zlib.compressobj(-1 if self.compresslevel is None else self.compresslevel, zlib.DEFLATED, -15)
        deflated = compressor.compress(data) + compressor.flush()
        self._append_deflated(
            path, date_time, len(data), len(deflated), zlib.crc32(data), lambda out: out.write(deflated)
        )

    def write_deflated(self, path: str, spool: DeflatedSpool, date_time: tuple[int, int, int, int, int, int]) -> None:
        """Append a file deflated already (a :class:`DeflatedSpool`): its header, written once with
        the size and CRC known, then the deflated bytes copied as they are."""

        def copy(out: IO[bytes]) -> None:
            spool.file.seek(0)
            shutil.copyfileobj(spool.file, out, 1 << 20)

        self._append_deflated(path, date_time, spool.size, spool.compressed_size, spool.crc, copy)

    def _append_deflated(
        self,
        path: str,
        date_time: tuple[int, int, int, int, int, int],
        size: int,
        compressed_size: int,
        crc: int,
        write_body: Callable[[IO[bytes]], object],
    ) -> None:
        """One deflated entry: its header with sizes and CRC known, then ``write_body`` writes the
        ``compressed_size`` deflated bytes (zip internals, as :meth:`write_stored`)."""
        if self._writing:  # type: ignore[attr-defined]
            raise ValueError("cannot write a deflated file while another entry of the zip is open")
        entry = zipfile.ZipInfo(path, date_time)
        entry.compress_type = zipfile.ZIP_DEFLATED
        entry.file_size = size
        entry.compress_size = compressed_size
        entry.CRC = crc
        entry.external_attr = 0o600 << 16
        zip64 = entry.file_size > zipfile.ZIP64_LIMIT or entry.compress_size > zipfile.ZIP64_LIMIT
        with self._lock:  # type: ignore[attr-defined]
            entry.header_offset = self.start_dir
            self._writecheck(entry)  # type: ignore[attr-defined]
            self._didModify = True
            header = entry.FileHeader(zip64)
            assert self.fp is not None
            self.fp.write(header)
            write_body(self.fp)
            self.start_dir += len(header) + compressed_size
            self.filelist.append(entry)
            self.NameToInfo[path] = entry


class DeflatedSpool:
    """Raw bytes in, deflated into a temporary file as a zip entry holds them (raw deflate at
    ``level``), with the CRC-32 and size of the raw bytes: a file deflated while other entries
    of the zip are written, appended with :meth:`ExportZip.write_deflated`."""

    def __init__(self, level: int) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by whoever commits or discards it)
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.crc = 0
        self.size = 0
        self.compressed_size = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        self.crc = zlib.crc32(data, self.crc)
        self.size += len(data)
        self._put(self._compressor.compress(data))
        return len(data)

    def finish(self) -> None:
        self._put(self._compressor.flush())

    def _put(self, deflated: bytes) -> None:
        if deflated:
            self.file.write(deflated)
            self.compressed_size += len(deflated)


class SpooledFile:
    """One file of the export written while the format writes others (see :func:`spool`);
    :meth:`commit` puts it into the export and says what was written, :meth:`discard` drops it."""

    def __init__(self, stream: IO[bytes], commit: Callable[[], WrittenFile], discard: Callable[[], None]) -> None:
        self.stream = stream
        self._commit = commit
        self._discard = discard
        self._open = True

    def write(self, data: bytes, /) -> int:
        return self.stream.write(data)

    def commit(self) -> WrittenFile:
        self._open = False
        return self._commit()

    def discard(self) -> None:
        if self._open:
            self._open = False
            self._discard()

    def __enter__(self) -> SpooledFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.discard()  # not committed: dropped


def spool(files: ExportFiles, path: str, media_type: str) -> SpooledFile:
    """A file of the export that can be written while ``files`` takes others (``write_unlisted``),
    committed later. Into a zip (:class:`ZipExportFiles` over an :class:`ExportZip`) it is deflated
    as it is written, on a thread of its own (:class:`PipelinedWriter`), so the deflating runs
    on the other core while the format works; elsewhere it is kept in a temporary file and
    copied in through ``files.create`` when committed."""
    if isinstance(files, ZipExportFiles):
        return files.spool(path, media_type)
    return _raw_spool(files, path, media_type)


def _raw_spool(files: ExportFiles, path: str, media_type: str) -> SpooledFile:
    raw = tempfile.TemporaryFile()  # noqa: SIM115 (closed on commit or discard)

    def commit() -> WrittenFile:
        raw.seek(0)
        with files.create(path, media_type) as out:
            hashing = HashingWriter(out)
            shutil.copyfileobj(raw, hashing, 1 << 20)
        raw.close()
        return WrittenFile(path, hashing.size, hashing.digest.hexdigest(), media_type)

    return SpooledFile(raw, commit, raw.close)


class ChecksumListed:
    """Files of one format each written whole and unlisted (:meth:`ExportFiles.write_unlisted`),
    each named with its SHA-256 in a checksum list of the format's own (``<hex>  <path>`` lines,
    which ``sha256sum -c`` checks), which the manifest lists (:meth:`commit`). A production of
    100,000 documents, a file or two each, keeps a manifest (and the job record that holds it) of
    a few entries: listed one by one they cost more memory than the rest of the export."""

    def __init__(self, files: ExportFiles, path: str) -> None:
        self.files = files
        self._list = spool(files, path, "text/plain; charset=utf-8")

    def add(self, path: str, data: bytes, *, compressed: bool = False) -> str:
        """Write ``data`` as ``path`` (``compressed``: stored as it is); its SHA-256."""
        self.files.write_unlisted(path, data, compressed=compressed)
        digest = hashlib.sha256(data).hexdigest()
        self._list.write(f"{digest}  {path}\n".encode())
        return digest

    def commit(self) -> WrittenFile:
        return self._list.commit()

    def discard(self) -> None:
        self._list.discard()


class ZipExportFiles:
    """Streams each file into a zip archive (deflated, zip64 for big files), hashing it; the
    compression runs on a thread of its own (:class:`PipelinedWriter`)."""

    def __init__(self, archive: zipfile.ZipFile, created_at: datetime | None = None) -> None:
        self.archive = archive
        self.written: list[WrittenFile] = []
        self._paths: set[str] = set()
        # Every entry is dated with the export's start, in UTC (a zip date has no zone): without a
        # date, zipfile dates streamed entries 1980-01-01.
        moment = (created_at or datetime.now(UTC)).astimezone(UTC)
        self._now = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
        if self._now[0] < 1980:
            self._now = (1980, 1, 1, 0, 0, 0)

    @contextmanager
    def create(self, path: str, media_type: str, *, compressed: bool = False) -> Iterator[IO[bytes]]:
        _check_path(path, self._paths)
        self._paths.add(path)
        entry = zipfile.ZipInfo(path, date_time=self._now)
        if compressed:
            entry.compress_type = zipfile.ZIP_STORED
        else:
            entry.compress_type = self.archive.compression
            entry._compresslevel = self.archive.compresslevel  # type: ignore[attr-defined]  # as ZipFile.open sets it
        with self.archive.open(entry, "w", force_zip64=True) as inner:
            stream = PipelinedWriter(inner)
            try:
                yield stream  # type: ignore[misc]
            except BaseException:
                stream.abandon()
                raise
            stream.finish()
        self.written.append(WrittenFile(path, stream.size, stream.hashing.digest.hexdigest(), media_type))

    def spool(self, path: str, media_type: str) -> SpooledFile:
        """See :func:`spool`: deflated on a thread of its own as it is written (when the zip is an
        :class:`ExportZip` that deflates), appended to the zip on commit."""
        archive = self.archive
        if not (isinstance(archive, ExportZip) and archive.compression == zipfile.ZIP_DEFLATED):
            return _raw_spool(self, path, media_type)
        _check_path(path, self._paths)
        self._paths.add(path)
        deflated = DeflatedSpool(-1 if archive.compresslevel is None else archive.compresslevel)
        stream = PipelinedWriter(deflated)  # type: ignore[arg-type]

        def commit() -> WrittenFile:
            stream.finish()
            deflated.finish()
            archive.write_deflated(path, deflated, self._now)
            deflated.file.close()
            written = WrittenFile(path, stream.size, stream.hashing.digest.hexdigest(), media_type)
            self.written.append(written)
            return written

        def discard() -> None:
            stream.abandon()
            deflated.file.close()

        return SpooledFile(stream, commit, discard)  # type: ignore[arg-type]

    def write_unlisted(self, path: str, data: bytes, *, compressed: bool = False) -> None:
        # Written at once (writestr knows the size, so no streaming writer, thread or header
        # rewrite); stored below _DEFLATE_FROM bytes, where deflating gains next to nothing and
        # costs a compressor per file, and when compressed already (a PDF's streams). Paths are
        # checked like any other, the set of them kept.
        _check_path(path, self._paths)
        self._paths.add(path)
        if len(data) >= _DEFLATE_FROM and not compressed:
            self.archive.writestr(zipfile.ZipInfo(path, self._now), data, zipfile.ZIP_DEFLATED, 1)
        elif isinstance(self.archive, ExportZip):
            self.archive.write_stored(path, data, self._now)
        else:
            self.archive.writestr(zipfile.ZipInfo(path, self._now), data, zipfile.ZIP_STORED)


_DEFLATE_FROM = 4096
"""Unlisted files this size or larger are deflated; smaller ones stored."""


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

    def write_unlisted(self, path: str, data: bytes, *, compressed: bool = False) -> None:
        _check_path(path, self.contents.keys())
        self.contents[path] = data


def _plain_path(path: str) -> bool:
    """Relative, no backslash, no empty, ``.`` or ``..`` part. Scanned in C first (a part is
    empty only at a leading or trailing ``/`` or in ``//``; ``.`` and ``..`` only after ``/.``):
    the DAT's text files check one path per message."""
    if path and "\\" not in path and "//" not in path and path[0] != "/" and path[-1] != "/" and "/." not in "/" + path:
        return True
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and "\\" not in path
        and all(part not in ("", ".", "..") for part in parts)
    )


def _check_path(path: str, taken: AbstractSet[str]) -> None:
    if not _plain_path(path):
        raise ValueError(f"export file path {path!r} must be relative, with no empty, '.' or '..' parts")
    if path in taken:
        raise ValueError(f"export file {path!r} was written twice")
