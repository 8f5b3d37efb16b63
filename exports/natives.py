"""The attachments of an export: each uploaded file's native bytes and its extracted text,
copied from the file store (:mod:`archive.file_store`) into the export, checked against the
hash the archive sealed.

An export holds one copy of each native, ``NATIVES/<sha256><.ext>`` (content-addressed: the
same bytes uploaded twice are one file, whichever formats refer to it), and of each extracted
text, ``TEXT/<text sha256>.txt`` (UTF-8, as the extraction stored it). Each goes through the
export's :class:`~exports.base.ExportFiles`, so ``manifest.json`` lists it with its SHA-256,
which for a native is the SHA-256 its ``file_upload`` event sealed. RSMF carries its natives
inside each ``rsmf.zip`` instead (its standard puts attachments there), through
:meth:`ExportAttachments.verified`.

A native is read once from the store while it is hashed into a temporary file (streamed: never
whole in memory), and goes into the export only when its hash is the one sealed. Bytes that
have not arrived (``pending``: no ``archive_natives`` row), that the store has lost
(``missing``) or whose hash differs (``altered``) are never placed: each format says so in the
file's own entry and records a loss (:class:`NativeLosses`), and the export completes. Without
a file store (``store=None``, the export's old behaviour) no native is exported
(``not_exported``) and each upload is a loss likewise.

An extracted text's state is the extraction's (``extracted``, ``empty``, ``unsupported``,
``failed``: :class:`ingest.events.ExtractedText`), ``pending`` when no text was extracted yet,
or ``missing``/``altered``/``not_exported`` as for natives.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import IO, Literal

from sqlalchemy import Engine

from archive.attachments import FileText, stored_natives, texts_for
from archive.file_store import FileMissing, FileStore, FileStoreError
from exports.base import ExportFiles, FormatReport, LossTally
from exports.redaction import AttachmentReview, redact_text, withheld_text
from ingest.events import Event, FileUploadEvent

NATIVES_DIR = "NATIVES"
TEXT_DIR = "TEXT"
TEXT_MEDIA_TYPE = "text/plain; charset=utf-8"
_CHUNK = 1 << 20
_EXTENSION = re.compile(r"^\.[A-Za-z0-9]{1,10}$")

NativeState = Literal["included", "pending", "missing", "altered", "not_exported", "withheld"]
"""What became of a native: in the export, or why not."""

COMPRESSED_EXTENSIONS = frozenset(
    {
        ".png", ".jpg", ".jpeg", ".gif", ".webp", ".heic", ".zip", ".gz", ".tgz", ".bz2", ".xz", ".7z",
        ".rar", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".mp3", ".mp4", ".m4a", ".mov", ".avi",
        ".jar", ".epub",
    }
)  # fmt: skip
"""Types compressed already: stored in the zip as they are, not deflated again for nothing."""


@dataclass(frozen=True)
class Placed:
    """One native or extracted text of an upload, as the export has it."""

    state: str
    """A :data:`NativeState`, or for a text the extraction's state (see the module doc)."""
    path: str | None = None
    """Where it is in the export (``included`` / a text whose bytes were exported), else None."""
    sha256: str | None = None
    """The SHA-256 of the bytes (a text: ``text_sha256``); None when there are none."""
    size: int = 0
    detail: str = ""
    """Why not included, for the file's entry (``altered``: the hash the stored bytes have)."""
    md5: str | None = None
    """The MD5 of the bytes placed (load files carry it beside the SHA-256); None when not read."""

    @property
    def included(self) -> bool:
        return self.path is not None


@dataclass(frozen=True)
class Verified:
    """Bytes read from the store and found to be the sealed ones, in a temporary file (at 0)."""

    file: IO[bytes]
    size: int
    note: str = ""
    """When the upload declared another size than the stored bytes have (they are the sealed
    bytes all the same: the SHA-256 decides), the difference, for the file's entry."""
    md5: str = ""
    """The MD5 of the bytes, computed while they were copied (load files carry it)."""


def native_extension(name: str) -> str:
    """The file name's extension when it is a plain one (``.pdf``), lower-cased; else ``""``."""
    suffix = PurePosixPath(name.replace("\\", "/")).suffix
    return suffix.lower() if _EXTENSION.match(suffix) else ""


def is_compressed(name: str) -> bool:
    return native_extension(name) in COMPRESSED_EXTENSIONS


class ExportAttachments:
    """The natives and extracted texts of one export (one per export: it remembers what it
    placed, so each file is read and written once however many formats refer to it)."""

    def __init__(self, engine: Engine | None = None, store: FileStore | None = None) -> None:
        self.engine = engine
        self.store = store
        self._stored: dict[str, bool] = {}
        self._texts: dict[str, FileText | None] = {}
        self._natives: dict[str, Placed] = {}
        self._text_files: dict[str, Placed] = {}
        self.review = AttachmentReview()
        """The production's redactions and withholding of uploads (:mod:`exports.redaction`):
        a withheld native is never read, a redacted or withheld text is produced redacted."""
        self._reviewed: dict[str, tuple[FileText | None, bytes | None]] = {}

    @property
    def enabled(self) -> bool:
        """Natives can be exported (a file store and the archive's tables)."""
        return self.engine is not None and self.store is not None

    def is_stored(self, sha256: str) -> bool:
        """Whether the archive recorded the bytes as stored (else they are pending)."""
        if self.engine is None:
            return False
        sha256 = self.review.stand_ins.get(sha256, sha256)  # a native not produced: its own bytes
        found = self._stored.get(sha256)
        if found is None:
            with self.engine.connect() as connection:
                found = sha256 in stored_natives(connection, [sha256])
            self._stored[sha256] = found
        return found

    def extraction(self, event: FileUploadEvent) -> FileText | None:
        """The text extracted from ``event``'s file, when there is one yet."""
        if self.engine is None:
            return None
        key = str(event.event_id)
        if self.review.touches(key):
            return self._redacted(event)[0]
        return self._archived_extraction(key)

    def _archived_extraction(self, key: str) -> FileText | None:
        if self.engine is None:
            return None
        if key not in self._texts:
            with self.engine.connect() as connection:
                self._texts[key] = texts_for(connection, [key]).get(key)
        return self._texts[key]

    def _redacted(self, event: FileUploadEvent) -> tuple[FileText | None, bytes | None]:
        """The extraction of a redacted or withheld upload as produced, and the produced text's
        bytes (None when there is no text to produce). The original text is read from the store
        and checked against its sealed hash; when it cannot be read, no text is produced."""
        key = str(event.event_id)
        found = self._reviewed.get(key)
        if found is not None:
            return found
        archived = self._archived_extraction(key)
        withheld = self.review.withheld.get(key)
        produced: str | None = None
        if withheld is not None:
            produced = withheld_text(withheld)
        elif archived is not None and archived.text_sha256 is not None:
            original = self._stored_text(archived.text_sha256)
            if original is not None:
                produced = redact_text(original, self.review.spans.get(key, ()))
        if archived is None and produced is None:
            found = (None, None)
        elif produced is None:
            assert archived is not None
            reason = "redacted: the extracted text could not be read to redact it, so none is produced"
            found = (replace(archived, sha256=event.file.sha256, text_sha256=None, text_chars=0, reason=reason), None)
        else:
            data = produced.encode("utf-8", "surrogatepass")
            digest = hashlib.sha256(data).hexdigest()
            base = archived or FileText(
                key, key, event.file.sha256, "withheld", None, "review", "1", None, 0, False, event.occurred_at
            )
            state = "withheld" if withheld is not None else base.state
            # The native's SHA-256 as the (rewritten) upload gives it: the archived one is not produced.
            found = (
                replace(
                    base,
                    sha256=event.file.sha256,
                    state=state,
                    text_sha256=digest,
                    text_chars=len(produced),
                    truncated=False,
                ),
                data,
            )
        self._reviewed[key] = found
        return found

    def original_text(self, event: FileUploadEvent) -> str | None:
        """The upload's archived extracted text (checked against its sealed hash), or None."""
        archived = self._archived_extraction(str(event.event_id))
        if archived is None or archived.text_sha256 is None:
            return None
        return self._stored_text(archived.text_sha256)

    def _stored_text(self, sha256: str) -> str | None:
        if self.store is None:
            return None
        try:
            with self.store.open(sha256) as source:
                data = source.read()
        except (FileMissing, FileStoreError, OSError):
            return None
        if hashlib.sha256(data).hexdigest() != sha256:
            return None
        return data.decode("utf-8", "surrogatepass")

    @contextmanager
    def verified(self, sha256: str, size: int | None = None) -> Iterator[Verified | Placed]:
        """The stored bytes of ``sha256`` in a temporary file when they are the sealed ones
        (hashed while copied), else a :class:`Placed` saying why not (``missing``, ``altered``);
        the temporary file is removed when the block ends. Only the SHA-256 decides: ``size``,
        what the upload declared, is compared only to note a difference (:attr:`Verified.note`)."""
        if self.store is None:
            yield Placed("not_exported", sha256=sha256)
            return
        if sha256 in self.review.withheld_natives:
            yield Placed("withheld", sha256=sha256, detail=_WITHHELD_DETAIL)
            return
        try:
            source = self.store.open(sha256)
        except FileMissing:
            yield Placed("missing", sha256=sha256, detail="the file store does not hold these bytes")
            return
        except (FileStoreError, OSError) as error:
            yield Placed("missing", sha256=sha256, detail=f"the file store could not be read: {error}")
            return
        with tempfile.TemporaryFile() as copy:
            digest = hashlib.sha256()
            md5 = hashlib.md5(usedforsecurity=False)
            copied = 0
            try:
                with source:
                    while chunk := source.read(_CHUNK):
                        digest.update(chunk)
                        md5.update(chunk)
                        copy.write(chunk)
                        copied += len(chunk)
            except (FileStoreError, OSError) as error:
                yield Placed("missing", sha256=sha256, detail=f"reading the stored bytes failed: {error}")
                return
            actual = digest.hexdigest()
            if actual != sha256:
                detail = f"the stored bytes ({copied:,}) have SHA-256 {actual}, not the {sha256} sealed"
                yield Placed("altered", sha256=sha256, size=copied, detail=detail)
                return
            copy.seek(0)
            yield Verified(copy, copied, size_note(size, copied), md5.hexdigest())

    def native(self, files: ExportFiles, event: FileUploadEvent) -> Placed:
        """``event``'s native in the export (``NATIVES/<sha256><.ext>``, written on first use),
        or why it is not there."""
        info = event.file
        placed = self._natives.get(info.sha256)
        if placed is not None:
            return placed
        if info.sha256 in self.review.withheld_natives:
            placed = Placed("withheld", sha256=info.sha256, size=info.size, detail=_WITHHELD_DETAIL)
        elif not self.enabled:
            placed = Placed("not_exported", sha256=info.sha256, size=info.size, detail="the export has no file store")
        elif not self.is_stored(info.sha256):
            placed = Placed("pending", sha256=info.sha256, size=info.size, detail="the bytes have not arrived")
        else:
            path = f"{NATIVES_DIR}/{info.sha256}{native_extension(info.name)}"
            placed = self._copy(files, info.sha256, info.size, path, info.content_type, is_compressed(info.name))
        self._natives[info.sha256] = placed
        return placed

    def text(self, files: ExportFiles, event: FileUploadEvent) -> Placed:
        """``event``'s extracted text in the export (``TEXT/<text sha256>.txt``), or its state."""
        if not self.enabled:
            return Placed("not_exported", detail="the export has no file store")
        extracted = self.extraction(event)
        if extracted is None:
            return Placed("pending", detail="no text has been extracted from this file yet")
        if extracted.text_sha256 is None:
            return Placed(extracted.state, detail=extracted.reason or "")
        placed = self._text_files.get(extracted.text_sha256)
        produced = self._redacted(event)[1] if self.review.touches(str(event.event_id)) else None
        if placed is None and produced is not None:
            path = f"{TEXT_DIR}/{extracted.text_sha256}.txt"
            with files.create(path, TEXT_MEDIA_TYPE) as out:
                out.write(produced)
            placed = Placed("included", path, extracted.text_sha256, len(produced))
            self._text_files[extracted.text_sha256] = placed
        if placed is None:
            path = f"{TEXT_DIR}/{extracted.text_sha256}.txt"
            placed = self._copy(files, extracted.text_sha256, None, path, TEXT_MEDIA_TYPE, False)
            self._text_files[extracted.text_sha256] = placed
        if placed.included:
            return Placed(extracted.state, placed.path, placed.sha256, placed.size, extracted.reason or "")
        return placed

    def excerpt(self, event: FileUploadEvent, characters: int = 300) -> str | None:
        """The first ``characters`` of the extracted text (None when there is none), read from
        the store without copying the whole text (it may be large)."""
        extracted = self.extraction(event)
        if self.store is None or extracted is None or extracted.text_sha256 is None:
            return None
        if self.review.touches(str(event.event_id)):
            produced = self._redacted(event)[1]
            return None if produced is None else produced.decode("utf-8", "surrogatepass")[:characters]
        try:
            with self.store.open(extracted.text_sha256) as source:
                head = source.read(characters * 4)
        except (FileMissing, FileStoreError, OSError):
            return None
        return head.decode("utf-8", "ignore")[:characters]

    def _copy(
        self, files: ExportFiles, sha256: str, size: int | None, path: str, media_type: str, compressed: bool
    ) -> Placed:
        with self.verified(sha256, size) as found:
            if isinstance(found, Placed):
                return found
            with files.create(path, media_type, compressed=compressed) as out:
                shutil.copyfileobj(found.file, out, _CHUNK)
            return Placed("included", path, sha256, found.size, found.note, found.md5)


def size_note(declared: int | None, stored: int) -> str:
    """The note of a native whose upload declared another size than its stored bytes have, or
    ``""`` (the bytes are the sealed ones: only their SHA-256 decides)."""
    if declared is None or declared == stored:
        return ""
    return (
        f"the upload declared {declared:,} bytes; the stored bytes ({stored:,}) have the sealed SHA-256, "
        "so they are the file (the declared size was wrong)"
    )


_WITHHELD_DETAIL = (
    "withheld: the file's document is withheld, or its text redacted (a binary cannot be redacted safely)"
)

_WHY: dict[str, str] = {
    "withheld": "withheld: privileged, or its extracted text is redacted; a native cannot be redacted safely, "
    "so it is not produced (the privilege log names its document)",
    "pending": "pending: the file's bytes have not reached the archive yet, so there was nothing to place",
    "missing": "missing: the archive recorded the bytes as stored, but the file store does not hold them "
    "(archivist verify --files names them)",
    "altered": "altered: the stored bytes' SHA-256 differs from the one the upload sealed, so they were not placed",
    "not_exported": "no file store: the export ran without one, so natives and extracted texts were not exported",
    "not_carried": "no place: the format cannot hold a file's content; it names the file and its SHA-256",
}
_EXACT: dict[str, str] = {
    "withheld": "the archive's file store (withheld from this production)",
    "pending": "nowhere yet; the archived file_upload event holds the file's name, size and SHA-256",
    "missing": "the archived file_upload event (name, size, SHA-256); the bytes are lost from the file store",
    "altered": "the archived file_upload event (name, size, SHA-256); the stored bytes are not the sealed ones",
    "not_exported": "the archive's file store, under the SHA-256 the archived file_upload event holds",
    "not_carried": "the archive's file store, and NATIVES/ when the export also has csv, edrm or jsonl",
}


class NativeLosses:
    """The natives (and extracted texts) a format could not carry, as losses in ``files``:
    one per field and reason, with a few example events."""

    def __init__(self, format: str) -> None:
        self.format = format
        self._tallies: dict[str, LossTally] = {}
        self._resized: list[str] = []

    def add(self, field: str, placed: Placed, event: FileUploadEvent) -> None:
        """Count ``placed`` when it is not in the export for a reason the export must name
        (a text's own extraction state is in its entry, not a loss); note a native placed whose
        upload declared another size (:func:`size_note`)."""
        if placed.state == "included" and placed.detail and placed.size != event.file.size:
            if str(event.event_id) not in self._resized:
                self._resized.append(str(event.event_id))
            return
        if placed.state not in _WHY:
            return
        tally = self._tallies.get(placed.state)
        if tally is None:
            tally = LossTally(self.format, _WHY[placed.state], _EXACT[placed.state], unit="files")
            self._tallies[placed.state] = tally
        tally.add(field, str(event.event_id))

    def add_text(self, field: str, placed: Placed, event: FileUploadEvent) -> None:
        """Count an extracted text whose stored bytes could not be placed (``missing``,
        ``altered``); a text not extracted (yet) is said in its entry, and no store is said by
        the natives already."""
        if placed.state in ("missing", "altered"):
            self.add(field, placed, event)

    def report_to(self, report: FormatReport) -> None:
        for tally in self._tallies.values():
            tally.report_to(report)
        if self._resized:
            examples = ", ".join(self._resized[:3])
            report.warnings.append(
                f"{len(self._resized):,} natives are placed although their upload declared another size than the "
                f"stored bytes have: their SHA-256 is the sealed one, so they are the files (each entry gives both "
                f"sizes; e.g. events {examples})"
            )


def natives_not_carried(events: Iterable[Event], losses: NativeLosses, field: str) -> Iterator[Event]:
    """``events``, counting each upload's native as a loss of a format that has no place for a
    file's content (Lync, Actiance: they name the file and its SHA-256)."""
    for event in events:
        if isinstance(event, FileUploadEvent):
            losses.add(field, Placed("not_carried", sha256=event.file.sha256), event)
        yield event
