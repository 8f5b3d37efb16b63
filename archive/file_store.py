"""Where the bytes of uploaded files (natives) and of their extracted texts are kept.

A :class:`FileStore` is content-addressed: a file is named by the SHA-256 of its bytes, so the
same bytes are stored once, a reader can always check what it got, and nothing is ever
overwritten with different bytes. Writes are write-once: :meth:`FileStore.put` streams the
bytes to a temporary name while hashing them, refuses them when the hash or the size is not
what the caller expected, and only then makes them visible under their hash, read-only (the
filesystem store: fsync, rename, ``chmod 0444``; the S3 store: Object Lock in compliance mode
where the bucket has it). Implementations: :mod:`archive.fs_file_store` (the embedded default,
``data/files/ab/cd/<sha256>``) and :mod:`archive.s3_file_store` (S3-compatible servers).

Stores are picklable (adapters in worker processes receive them): a store opens its clients
lazily, after unpickling.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    created: bool
    """False when the store already held these bytes (nothing was written)."""


@dataclass(frozen=True)
class FileCheck:
    """What re-hashing one stored file found (``archivist verify --files``)."""

    sha256: str
    state: Literal["ok", "missing", "altered"]
    detail: str = ""


class FileStoreError(RuntimeError):
    """A problem with the file store itself (unreachable, misconfigured): not the caller's bytes."""


class FileRefused(ValueError):
    """The bytes offered are not the bytes expected (size limit, SHA-256): nothing was stored."""


class FileTooLarge(FileRefused):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit:,} bytes")
        self.limit = limit


class DigestMismatch(FileRefused):
    def __init__(self, expected: str, actual: str, size: int) -> None:
        super().__init__(f"the bytes received ({size:,}) have SHA-256 {actual}, not the {expected} expected")
        self.expected = expected
        self.actual = actual


class FileMissing(LookupError):
    def __init__(self, sha256: str) -> None:
        super().__init__(f"no stored file has SHA-256 {sha256}")
        self.sha256 = sha256


class FileRetained(FileStoreError):
    """The store refuses to delete bytes still under its own retention (S3 Object Lock)."""


@runtime_checkable
class FileStore(Protocol):
    name: str
    """``filesystem`` or ``s3``: shown by ``archivist status``."""

    def put(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
        retain_until: datetime | None = None,
    ) -> StoredFile:
        """Store the bytes ``chunks`` yields, streamed (never held whole), or raise
        :class:`FileRefused` having stored nothing. ``retain_until``: a lock date the store
        enforces itself where it can (S3 Object Lock); the filesystem store ignores it."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes, for reading (a context manager); :class:`FileMissing` if absent."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes (retention): absent bytes are not an error; :class:`FileRetained`
        when the store's own lock forbids it."""
        ...

    def check(self, sha256: str) -> FileCheck:
        """Re-hash the stored bytes against their name."""
        ...

    def iter_sha256(self) -> Iterator[str]:
        """Every stored file's hash (order unspecified)."""
        ...
