"""The bytes of uploaded files over HTTP, shared by the API (``/api/v1/files``) and the pages
(``/files``): receiving a native streamed (checked against the SHA-256 its event names), and
downloading a native or its extracted text, each download audited (``file_download``,
``file_text``) before a byte of it leaves.

Receiving: the body is streamed from the event loop into :meth:`FileStore.put`, which runs in a
worker thread and pulls one chunk at a time (``anyio.from_thread``), so a file is never held
whole in memory and the store hashes it as it arrives. The bytes are recorded
(``archive_natives``) only after the store has them durably.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import threading
import unicodedata
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote

import anyio
import anyio.from_thread
import anyio.to_thread
from sqlalchemy import Connection, Engine

from archive import attachments
from archive.file_store import DigestMismatch, FileMissing, FileStore, FileStoreError, FileTooLarge
from archive.principals import Principal
from search_api import read_audit
from search_api.refusals import Refused

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MAX_CONCURRENT_UPLOADS = 8
"""Files received at once by one process: each holds a worker thread while its body arrives, so
slow uploads may never take the whole thread pool the other routes run in; one more is a 503."""
_uploads = threading.BoundedSemaphore(MAX_CONCURRENT_UPLOADS)
READ_CHUNK = 1 << 20
VERIFIED_BEFORE_SENDING = 8 << 20
"""Natives up to this size are read and hashed whole before a byte is sent, so altered bytes are
a clear refusal (409); larger ones are hashed while they stream (:meth:`Download.chunks`)."""
FILE_DOWNLOAD = "file_download"
FILE_TEXT = "file_text"
REFUSED = "_refused"
"""Suffix of the audit action of a download refused because the stored bytes are not the sealed
ones (``file_download_refused``, ``file_text_refused``)."""
VERIFY_HINT = "run archivist verify --files"
log = logging.getLogger("archivist.api")


@dataclass(frozen=True)
class Received:
    sha256: str
    size: int
    created: bool
    """True when the store did not hold these bytes before."""
    pending_uploads: int
    """The archived ``file_upload`` events these bytes complete (0 when they were recorded before)."""


class ContentMismatch(Refused):
    """422: the bytes received do not have the SHA-256 the caller named."""

    def __init__(self, error: DigestMismatch) -> None:
        super().__init__(422, str(error))
        self.expected = error.expected
        self.actual = error.actual

    def detail(self) -> dict[str, Any]:
        return {"message": self.message, "expected_sha256": self.expected, "actual_sha256": self.actual}


class StoredBytesAltered(RuntimeError):
    """The stored bytes of a native being streamed turned out not to be the sealed ones: raised
    before its last chunk is sent, so the connection ends without a complete answer."""


class NotReady(Refused):
    """409: the file is archived but what was asked for is not there yet (``state`` says why)."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(409, message)
        self.state = state

    def detail(self) -> dict[str, Any]:
        return {"message": self.message, "state": self.state}


def checked_sha256(value: str) -> str:
    """The SHA-256 a caller named, in lower case; :class:`Refused` 422 unless 64 hex digits."""
    lowered = value.strip().lower()
    if not SHA256.match(lowered):
        raise Refused(422, f"sha256: not a SHA-256 (64 hex digits): {value[:80]!r}")
    return lowered


def too_large(limit: int) -> Refused:
    return Refused(413, f"the file is larger than {limit:,} bytes, the limit (ARCHIVIST_MAX_FILE_BYTES)")


async def receive(
    engine: Engine,
    store: FileStore,
    chunks: AsyncIterator[bytes],
    *,
    sha256: str,
    max_bytes: int,
    declared_length: int | None,
) -> Received:
    """Stream ``chunks`` into ``store`` as the bytes named ``sha256``, then record them.

    Durable first: the store has the bytes (fsynced, renamed) before ``archive_natives`` says
    so, and that row is committed before the answer. Refused (nothing stored): over
    ``max_bytes`` (413, at once when ``declared_length`` says so), another SHA-256 (422); the
    store unavailable: 503."""
    if declared_length is not None and declared_length > max_bytes:
        raise too_large(max_bytes)

    async def next_chunk() -> bytes | None:
        return await anext(chunks, None)

    def pulled() -> Iterator[bytes]:
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            if chunk:
                yield chunk

    def store_and_record() -> Received:
        with engine.begin() as connection:  # calls off (or waits out) a retention deleting these bytes
            attachments.receiving_native(connection, sha256)
        stored = store.put(pulled(), expected_sha256=sha256, max_bytes=max_bytes)
        with engine.begin() as connection:
            news = attachments.record_native(connection, stored.sha256, stored.size, "api")
            completed = attachments.uploads_of(connection, stored.sha256) if news else 0
        return Received(stored.sha256, stored.size, stored.created, completed)

    if not _uploads.acquire(blocking=False):
        raise Refused(503, f"{MAX_CONCURRENT_UPLOADS} files are being received already: try again shortly")
    try:
        return await anyio.to_thread.run_sync(store_and_record)
    except FileTooLarge:
        raise too_large(max_bytes) from None
    except DigestMismatch as error:
        raise ContentMismatch(error) from None
    except FileStoreError as error:
        raise Refused(503, f"the file store is unavailable: {error}") from None
    finally:
        _uploads.release()


def altered(event: attachments.FileEvent, what: str, actual: str) -> NotReady:
    """409: the stored bytes are not the ones the archive sealed (state ``altered``)."""
    return NotReady(
        f"the stored bytes of {what} no longer match the archived SHA-256 (they have {actual}): they are not "
        f"served as the archived file; {VERIFY_HINT}",
        "altered",
    )


@dataclass(frozen=True)
class Download:
    """A native ready to stream: the open file (closed by :meth:`chunks`) and its headers.

    Bytes not checked yet (a large native) are hashed as they are sent, the last chunk held back
    until the hash is known: when it is not the sealed one the refusal is audited and
    :class:`StoredBytesAltered` raised, so the answer never completes."""

    event: attachments.FileEvent
    stream: BinaryIO
    size: int
    """The stored bytes' (the event's own ``size`` is only what its producer declared)."""
    verified: bool = False
    """The bytes were hashed before (a small native): sent as they are."""
    engine: Engine | None = None
    caller: Principal | None = None

    def chunks(self) -> Iterator[bytes]:
        with self.stream:
            if self.verified:
                while chunk := self.stream.read(READ_CHUNK):
                    yield chunk
                return
            digest = hashlib.sha256()
            sent = 0
            held = b""
            while chunk := self.stream.read(READ_CHUNK):
                digest.update(chunk)
                sent += len(chunk)
                if sent > self.size:
                    break
                if held:
                    yield held
                held = chunk
            actual = digest.hexdigest()
            if actual != self.event.sha256 or sent != self.size:
                self._refuse(actual)
            if held:
                yield held

    def _refuse(self, actual: str) -> None:
        details = _audited(self.event) | {"actual_sha256": actual, "sent": "incomplete"}
        log.error(
            "download of %s ended: the stored bytes of %s have SHA-256 %s, not the archived %s (%s)",
            self.event.event_id, self.event.name, actual, self.event.sha256, VERIFY_HINT,
        )  # fmt: skip
        if self.engine is not None and self.caller is not None:
            read_audit.record(self.engine, self.caller, FILE_DOWNLOAD + REFUSED, details)
        raise StoredBytesAltered(f"the stored bytes of {self.event.sha256} are not the archived ones")

    def headers(self) -> dict[str, str]:
        return {
            "Content-Disposition": content_disposition(self.event.name),
            "Content-Length": str(self.size),
            "ETag": f'"{self.event.sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }


def _file_event(engine: Engine, file_event_id: str) -> attachments.FileEvent:
    try:
        key = str(uuid.UUID(file_event_id))  # event ids are UUIDs: anything else names none
    except ValueError:
        key = None
    with engine.connect() as connection:
        found = attachments.file_event(connection, key) if key is not None else None
    if found is None:
        raise Refused(404, f"no archived file event {file_event_id[:200]!r}")
    return found


def _read_checked(
    engine: Engine,
    caller: Principal,
    action: str,
    event: attachments.FileEvent,
    stream: BinaryIO,
    sha256: str,
    size: int | None = None,
) -> bytes:
    """``stream`` read whole and closed, when its SHA-256 is ``sha256``; else the refusal is
    audited (``<action>_refused``) and answered 409 (:func:`altered`). With the ``size`` the
    archive recorded, no more than one byte past it is read (a longer file is not the one)."""
    with stream:
        data = stream.read() if size is None else stream.read(size + 1)
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        what = f"{event.name!r}" if action == FILE_DOWNLOAD else f"the text of {event.name!r}"
        details = _audited(event) | {"checked_sha256": sha256, "actual_sha256": actual, "read_bytes": len(data)}
        log.error("%s of %s refused: the stored bytes have SHA-256 %s, not %s", action, event.event_id, actual, sha256)
        read_audit.record(engine, caller, action + REFUSED, details)
        raise altered(event, what, actual)
    return data


def download(engine: Engine, store: FileStore, caller: Principal, file_event_id: str) -> Download:
    """The native of ``file_event_id``, opened, its download audited (``file_download``) before
    it is answered: 404 no such file event, 409 its bytes have not arrived (``pending``) or are
    not the sealed ones (``altered``, audited as ``file_download_refused``; checked here up to
    :data:`VERIFIED_BEFORE_SENDING`, larger ones while they stream), 503 the store cannot give
    them."""
    event = _file_event(engine, file_event_id)
    with engine.connect() as connection:
        size = attachments.native_size(connection, event.sha256)
    if size is None:
        raise NotReady(
            f"the bytes of {event.name!r} (SHA-256 {event.sha256}) have not arrived yet: the file is pending",
            "pending",
        )
    try:
        stream = store.open(event.sha256)
        if size <= VERIFIED_BEFORE_SENDING:
            stream = io.BytesIO(_read_checked(engine, caller, FILE_DOWNLOAD, event, stream, event.sha256, size))
    except FileMissing:
        raise Refused(503, f"the file store does not hold {event.sha256} (run archivist verify --files)") from None
    except FileStoreError as error:
        raise Refused(503, f"the file store is unavailable: {error}") from None
    try:
        read_audit.record(engine, caller, FILE_DOWNLOAD, _audited(event))
    except BaseException:
        stream.close()
        raise
    return Download(event, stream, size, size <= VERIFIED_BEFORE_SENDING, engine, caller)


@dataclass(frozen=True)
class ExtractedText:
    file_event_id: str
    name: str
    sha256: str
    state: str
    reason: str | None
    extractor: str
    extractor_version: str
    text: str
    text_chars: int
    truncated: bool


def extracted_text(engine: Engine, store: FileStore, caller: Principal, file_event_id: str) -> ExtractedText:
    """The text extracted from ``file_event_id``'s native, audited (``file_text``): 404 no such
    file event, 409 not extracted yet (``state``: the extraction's progress, or ``pending``
    when the bytes have not arrived)."""
    event = _file_event(engine, file_event_id)
    with engine.connect() as connection:
        if event.direction == "download":
            raise Refused(404, _no_text_of_a_download(connection, event))
        found = attachments.texts_for(connection, [event.event_id]).get(event.event_id)
        if found is None:
            raise NotReady(f"the text of {event.name!r} has not been extracted yet", _progress(connection, event))
    text = ""
    if found.text_sha256 is not None:
        try:
            stream = store.open(found.text_sha256)
            text = _read_checked(engine, caller, FILE_TEXT, event, stream, found.text_sha256).decode("utf-8")
        except FileMissing:
            raise Refused(503, f"the file store does not hold the text {found.text_sha256}") from None
        except FileStoreError as error:
            raise Refused(503, f"the file store is unavailable: {error}") from None
    read_audit.record(
        engine, caller, FILE_TEXT, _audited(event) | {"text_sha256": found.text_sha256, "state": found.state}
    )
    return ExtractedText(
        file_event_id=event.event_id,
        name=event.name,
        sha256=event.sha256,
        state=found.state,
        reason=found.reason,
        extractor=found.extractor,
        extractor_version=found.extractor_version,
        text=text,
        text_chars=found.text_chars,
        truncated=found.truncated,
    )


def _no_text_of_a_download(connection: Connection, event: attachments.FileEvent) -> str:
    """Why a ``file_download`` event has no text: texts are extracted from uploads; the uploads
    of the same bytes, when the archive has them."""
    references = attachments.referring_events(connection, [event.sha256]).get(event.sha256, [])
    uploads = [reference.event_id for reference in references if reference.kind == "upload"][:5]
    if not uploads:
        return (
            f"{event.name!r} is a file_download event: downloads have no extracted text, and no archived upload "
            f"has its bytes (SHA-256 {event.sha256})"
        )
    return (
        f"{event.name!r} is a file_download event: downloads have no extracted text; see the upload "
        f"{', '.join(uploads)} (GET /api/v1/files/{uploads[0]}/text)"
    )


def _progress(connection: Connection, event: attachments.FileEvent) -> str:
    """Why a file has no text yet: ``pending`` (its bytes have not arrived), ``queued``,
    ``running``, or ``done`` (extracted, its text not archived yet)."""
    if not attachments.stored_natives(connection, [event.sha256]):
        return "pending"
    state = attachments.extraction_state(connection, event.event_id)
    return "queued" if state in (None, "waiting") else state


def _audited(event: attachments.FileEvent) -> dict[str, Any]:
    return {"file_event_id": event.event_id, "sha256": event.sha256, "name": event.name, "size": event.size}


_UNSAFE_FALLBACK = re.compile(r'[^\x20-\x7e]|["\\%/;]')


def content_disposition(name: str) -> str:
    """``attachment`` with the file's name (RFC 6266): an ASCII fallback ``filename`` (quotes,
    backslashes, separators and anything unprintable replaced) and the exact name as
    ``filename*`` (RFC 5987, UTF-8, percent-encoded), so no name can add or break a header."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C")  # controls, CR, LF
    base = base.strip().strip(".") or "file"
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", base) if not unicodedata.combining(ch))
    fallback = _UNSAFE_FALLBACK.sub("_", folded).strip() or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(base, safe='')}"
