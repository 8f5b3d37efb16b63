"""The embedded file store: natives on the local filesystem, content-addressed.

``<root>/ab/cd/<sha256>``: two levels of fan-out keep directories small. A file is written to a
temporary name in the root (``.incoming/``), hashed as it streams, fsynced, checked, renamed
into place (rename is atomic on one filesystem), made read-only (0444), and its directory is
fsynced, so a crash leaves either no file or the whole file under its name, never a partial one
under a real hash. Bytes already stored intact are not written again; stored bytes that no
longer hash to their name (altered on disk) are replaced by the right bytes when these are put
again, so handing them over repairs the store. An interrupted upload leaves at most a temporary
file, which the next :meth:`FsFileStore.put` of the same process ignores and
:meth:`FsFileStore.sweep_incoming` removes.

The disk failing (full, read-only, an I/O error, a permission) is :class:`FileStoreError`, never a
bare ``OSError``; absent bytes are :class:`FileMissing`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from archive.file_store import DigestMismatch, FileCheck, FileMissing, FileStoreError, FileTooLarge, StoredFile

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_INCOMING = ".incoming"
_READ_CHUNK = 1 << 20
log = logging.getLogger(__name__)


class FsFileStore:
    name = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_of(self, sha256: str) -> Path:
        """Where ``sha256`` is (or would be) stored; a hash that is not 64 hex digits is refused
        (it would otherwise name a path outside the store)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 (64 lowercase hex digits): {sha256[:80]!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
        retain_until: datetime | None = None,
    ) -> StoredFile:
        if expected_sha256 is not None:
            self.path_of(expected_sha256)  # refuses a malformed hash before reading a byte
        incoming = self.root / _INCOMING
        try:
            incoming.mkdir(parents=True, exist_ok=True)
            handle, temporary_name = tempfile.mkstemp(dir=incoming)
        except OSError as error:
            raise FileStoreError(f"the file store at {self.root} cannot be written: {error}") from error
        temporary = Path(temporary_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:  # the source's own errors are the caller's, not the store's
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise FileTooLarge(max_bytes)
                    digest.update(chunk)
                    with self._disk("cannot be written"):
                        out.write(chunk)
                with self._disk("cannot be written"):
                    out.flush()
                    os.fsync(out.fileno())
            sha256 = digest.hexdigest()
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise DigestMismatch(expected_sha256, sha256, size)
            target = self.path_of(sha256)
            with self._disk("cannot be written"):
                if self._intact(target, sha256, size):
                    return StoredFile(sha256, size, created=False)
                if target.exists():
                    log.warning(
                        "the stored bytes of %s no longer hash to their name: replaced by the right ones", sha256
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(temporary, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                os.replace(temporary, target)
                _fsync_directory(target.parent)
            return StoredFile(sha256, size, created=True)
        finally:
            temporary.unlink(missing_ok=True)

    def _intact(self, target: Path, sha256: str, size: int) -> bool:
        """Whether ``target`` holds exactly the bytes ``sha256`` (size first, then re-hashed)."""
        try:
            if target.stat().st_size != size:
                return False
            with target.open("rb") as stored:
                hasher = hashlib.sha256()
                while chunk := stored.read(_READ_CHUNK):
                    hasher.update(chunk)
        except FileNotFoundError:
            return False
        return hasher.hexdigest() == sha256

    @contextmanager
    def _disk(self, what: str) -> Iterator[None]:
        """The disk failing (full, read-only, I/O error) is the store's error."""
        try:
            yield
        except FileNotFoundError:
            raise
        except OSError as error:
            raise FileStoreError(f"the file store at {self.root} {what}: {error}") from error

    def open(self, sha256: str) -> BinaryIO:
        path = self.path_of(sha256)
        try:
            with self._disk("cannot be read"):
                return path.open("rb")
        except FileNotFoundError:
            raise FileMissing(sha256) from None

    def exists(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def local_path(self, sha256: str) -> Path:
        """The stored file itself (extraction workers read it in place); :class:`FileMissing` if absent."""
        path = self.path_of(sha256)
        if not path.is_file():
            raise FileMissing(sha256)
        return path

    def delete(self, sha256: str) -> None:
        path = self.path_of(sha256)
        try:
            with self._disk(f"cannot delete {sha256}"):
                path.unlink()
                _fsync_directory(path.parent)
        except FileNotFoundError:
            return

    def check(self, sha256: str) -> FileCheck:
        try:
            with self.open(sha256) as stored:
                hasher = hashlib.sha256()
                with self._disk(f"cannot read {sha256}"):
                    while chunk := stored.read(_READ_CHUNK):
                        hasher.update(chunk)
                digest = hasher.hexdigest()
        except FileMissing:
            return FileCheck(sha256, "missing", "not in the file store")
        if digest != sha256:
            return FileCheck(sha256, "altered", f"the stored bytes now hash to {digest}")
        return FileCheck(sha256, "ok")

    def iter_sha256(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for first in sorted(self.root.iterdir()):
            if first.name == _INCOMING or not first.is_dir():
                continue
            for second in sorted(first.iterdir()):
                for stored in sorted(second.iterdir()):
                    if _SHA256.match(stored.name):
                        yield stored.name

    def sweep_incoming(self) -> int:
        """Remove temporary files left by interrupted uploads (no other upload may be running)."""
        incoming = self.root / _INCOMING
        removed = 0
        for leftover in incoming.iterdir() if incoming.is_dir() else ():
            leftover.unlink(missing_ok=True)
            removed += 1
        return removed


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
