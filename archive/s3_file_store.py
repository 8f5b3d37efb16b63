"""The production file store: natives on an S3-compatible server, content-addressed.

Keys are ``<prefix>ab/cd/<sha256>``. :meth:`S3FileStore.put` streams: when the caller names the
SHA-256 it expects (every upload of a ``file_upload``'s bytes does), the bytes go straight to
their key as a multipart upload, hashed part by part, and the upload is completed only once the
whole stream hashed to that SHA-256 within the size limit; otherwise it is aborted, and a
multipart upload that was never completed is invisible (no object, no version). Without an
expected hash the bytes are first spooled to a local temporary file while hashing (their key is
not known before the end), then uploaded the same way. Small files (under one part) are one
``PutObject`` with the server checking their SHA-256 (``ChecksumSHA256``). At most one part
(:data:`PART_SIZE`) is held in memory.

Object Lock: when the bucket has Object Lock enabled (``GetObjectLockConfiguration``, asked once
per process), each object is written in COMPLIANCE mode until ``retain_until`` (or the store's
default, ``ARCHIVIST_S3_RETAIN_DAYS``); the same bytes put again with a later date extend the
lock. Bytes already stored are re-read and re-hashed before a put of the same bytes skips them:
an object that no longer hashes to its key is written again (a new current version), so handing
over the right bytes repairs it. Nobody, not even the bucket's owner, can delete or shorten a compliance lock, so
:meth:`S3FileStore.delete` of a locked object raises :class:`FileRetained`. On a bucket without
Object Lock the objects are written without a lock: the archive's retention and legal holds
still decide when bytes are deleted, but the bucket does not enforce write-once itself.

Object Lock needs versioning, so an object "overwritten" out of band keeps its old version:
:meth:`check` reads the current version (an overwrite shows as ``altered``) and :meth:`delete`
removes every version of the key (and delete markers), so the bytes are really gone.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, BinaryIO, cast

from archive.file_store import (
    DigestMismatch,
    FileCheck,
    FileMissing,
    FileRetained,
    FileStoreError,
    FileTooLarge,
    StoredFile,
)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
PART_SIZE = 8 * 1024 * 1024
"""Bytes per multipart part (S3's minimum is 5 MiB, except for the last part)."""
_READ_CHUNK = 1 << 20
_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_LOCKED_CODES = {"AccessDenied", "ObjectLocked", "InvalidRequest"}
log = logging.getLogger(__name__)


class S3FileStore:
    name = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        retain_days: int | None = None,
        part_size: int = PART_SIZE,
    ) -> None:
        if not bucket:
            raise ValueError("the S3 file store needs a bucket")
        if part_size < 5 * 1024 * 1024:
            raise ValueError("S3 parts are at least 5 MiB")
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else f"{prefix}/"
        self.endpoint_url = endpoint_url
        self.region = region
        self.access_key_id = access_key_id
        self.secret_access_key = secret_access_key
        self.retain_days = retain_days
        self.part_size = part_size
        self._client: Any = None
        self._object_lock: bool | None = None

    # --- pickling: a worker process opens its own client ---------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_client"] = None
        state["_object_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:  # never the secret
        where = self.endpoint_url or "AWS"
        return f"S3FileStore(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint={where!r})"

    @property
    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            self._client = session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self.access_key_id,
                aws_secret_access_key=self.secret_access_key,
                config=Config(
                    connect_timeout=5,
                    read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                    s3={"addressing_style": "path"} if self.endpoint_url else {},
                ),
            )
        return self._client

    # --- the FileStore protocol -----------------------------------------------------------------

    def key_of(self, sha256: str) -> str:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a SHA-256 (64 lowercase hex digits): {sha256[:80]!r}")
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    @property
    def object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled (asked once)."""
        if self._object_lock is None:
            try:
                answer = self._call(self.client.get_object_lock_configuration, Bucket=self.bucket)
            except _ClientProblem as problem:
                if problem.code in {"ObjectLockConfigurationNotFoundError", "NotImplemented"}:
                    self._object_lock = False
                    return False
                raise self._store_error("cannot read the bucket's Object Lock configuration", problem) from None
            enabled = answer.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"
            self._object_lock = enabled
        return self._object_lock

    def put(
        self,
        chunks: Iterable[bytes],
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
        retain_until: datetime | None = None,
    ) -> StoredFile:
        if expected_sha256 is None:
            return self._put_spooled(chunks, max_bytes=max_bytes, retain_until=retain_until)
        key = self.key_of(expected_sha256)  # refuses a malformed hash before reading a byte
        lock = self._lock_arguments(retain_until)
        if self._head(key) is not None:
            state = self.check(expected_sha256).state
            if state == "ok":
                size = _drain_checked(chunks, expected_sha256, max_bytes)
                self._extend_lock(key, lock)
                return StoredFile(expected_sha256, size, created=False)
            if state == "altered":  # the right bytes again repair it (a new, current version)
                log.warning("the stored bytes of %s in %s no longer hash to their name: stored again", key, self.where)
        return self._upload(chunks, key, expected_sha256, max_bytes, lock)

    def open(self, sha256: str) -> BinaryIO:
        try:
            answer = self._call(self.client.get_object, Bucket=self.bucket, Key=self.key_of(sha256))
        except _ClientProblem as problem:
            if problem.code in _MISSING_CODES:
                raise FileMissing(sha256) from None
            raise self._store_error(f"cannot read {sha256}", problem) from None
        return cast(BinaryIO, answer["Body"])

    def exists(self, sha256: str) -> bool:
        return self._head(self.key_of(sha256)) is not None

    def delete(self, sha256: str) -> None:
        key = self.key_of(sha256)
        versions = self._versions(key)
        if not versions:
            try:
                self._call(self.client.delete_object, Bucket=self.bucket, Key=key)
            except _ClientProblem as problem:
                self._raise_delete_problem(sha256, problem, None)
            return
        refused: tuple[str, _ClientProblem] | None = None
        for version_id in versions:  # every version: a locked one does not stop the others going
            arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
            if version_id != "null":
                arguments["VersionId"] = version_id
            try:
                self._call(self.client.delete_object, **arguments)
            except _ClientProblem as problem:
                if problem.code not in _MISSING_CODES and refused is None:
                    refused = (version_id, problem)
        if refused is not None:
            self._raise_delete_problem(sha256, refused[1], refused[0])

    def check(self, sha256: str) -> FileCheck:
        try:
            with self.open(sha256) as stored:
                hasher = hashlib.sha256()
                while chunk := stored.read(_READ_CHUNK):
                    hasher.update(chunk)
                digest = hasher.hexdigest()
        except FileMissing:
            return FileCheck(sha256, "missing", f"not in {self.where}")
        except Exception as error:  # the connection broke while reading
            problem = _ClientProblem.of(error)
            if problem is None:
                raise
            raise self._store_error(f"cannot read {sha256}", problem) from None
        if digest != sha256:
            return FileCheck(sha256, "altered", f"the stored bytes now hash to {digest}")
        return FileCheck(sha256, "ok")

    def iter_sha256(self) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    name = item["Key"][len(self.prefix) :]
                    parts = name.split("/")
                    if (
                        len(parts) == 3
                        and _SHA256.match(parts[2])
                        and name == self.key_of(parts[2])[len(self.prefix) :]
                    ):
                        yield parts[2]
        except Exception as error:
            problem = _ClientProblem.of(error)
            if problem is None:
                raise
            raise self._store_error("cannot list the bucket", problem) from None

    # --- internals ------------------------------------------------------------------------------

    def _lock_arguments(self, retain_until: datetime | None) -> dict[str, Any]:
        if retain_until is None and self.retain_days is not None:
            retain_until = datetime.now(UTC) + timedelta(days=self.retain_days)
        if retain_until is None or not self.object_lock:
            return {}
        if retain_until.tzinfo is None:
            retain_until = retain_until.replace(tzinfo=UTC)
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}

    def _extend_lock(self, key: str, lock: dict[str, Any]) -> None:
        """Bytes stored again with a later retention date: the lock is extended (never shortened)."""
        if not lock:
            return
        wanted: datetime = lock["ObjectLockRetainUntilDate"]
        try:
            current = self._call(self.client.get_object_retention, Bucket=self.bucket, Key=key)
            until = current.get("Retention", {}).get("RetainUntilDate")
        except _ClientProblem:
            until = None
        if until is not None and until >= wanted:
            return
        try:
            self._call(
                self.client.put_object_retention,
                Bucket=self.bucket,
                Key=key,
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": wanted},
            )
        except _ClientProblem as problem:
            raise self._store_error(f"cannot extend the lock of {key}", problem) from None

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self._call(self.client.head_object, Bucket=self.bucket, Key=key))
        except _ClientProblem as problem:
            if problem.code in _MISSING_CODES:
                return None
            raise self._store_error(f"cannot look up {key}", problem) from None

    def _versions(self, key: str) -> list[str]:
        """Every version id (and delete marker) of exactly ``key``; [] when the bucket has none."""
        found: list[str] = []
        try:
            paginator = self.client.get_paginator("list_object_versions")
            for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
                for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    if item["Key"] == key:
                        found.append(str(item.get("VersionId") or "null"))
        except Exception as error:
            problem = _ClientProblem.of(error)
            if problem is None:
                raise
            if problem.code in {"NotImplemented", "MethodNotAllowed"}:
                return []
            raise self._store_error(f"cannot list the versions of {key}", problem) from None
        return found

    def _raise_delete_problem(self, sha256: str, problem: _ClientProblem, version_id: str | None) -> None:
        until = self._retained_until(self.key_of(sha256), version_id) if problem.code in _LOCKED_CODES else None
        if until is not None:
            raise FileRetained(
                f"{sha256} is under an S3 Object Lock in compliance mode until {until.isoformat()} in "
                f"{self.where}: the bucket refuses to delete it before then ({problem.message})"
            )
        raise self._store_error(f"cannot delete {sha256}", problem)

    def _retained_until(self, key: str, version_id: str | None) -> datetime | None:
        """The retention date of a version still under its lock (None: no lock, or it expired)."""
        if not self.object_lock:
            return None
        arguments: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id not in (None, "null"):
            arguments["VersionId"] = version_id
        try:
            retention = self._call(self.client.get_object_retention, **arguments).get("Retention", {})
        except _ClientProblem:
            return None
        until = retention.get("RetainUntilDate")
        return until if isinstance(until, datetime) and until > datetime.now(UTC) else None

    def _upload(
        self, chunks: Iterable[bytes], key: str, expected: str, max_bytes: int | None, lock: dict[str, Any]
    ) -> StoredFile:
        digest = hashlib.sha256()
        size = 0
        pending: list[bytes] = []  # at most one part's worth (plus one chunk) is held
        pending_size = 0
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLarge(max_bytes)
                digest.update(chunk)
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size >= self.part_size:
                    if upload_id is None:
                        started = self._call(self.client.create_multipart_upload, Bucket=self.bucket, Key=key, **lock)
                        upload_id = str(started["UploadId"])
                    body = b"".join(pending)
                    pending.clear()
                    pending_size = 0
                    parts.append(self._part(key, upload_id, len(parts) + 1, body))
                    del body
            actual = digest.hexdigest()
            if actual != expected:
                raise DigestMismatch(expected, actual, size)
            if upload_id is None:
                checksum = base64.b64encode(digest.digest()).decode()
                self._call(
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=key,
                    Body=b"".join(pending),
                    ChecksumSHA256=checksum,
                    **lock,
                )
            else:
                if pending:
                    parts.append(self._part(key, upload_id, len(parts) + 1, b"".join(pending)))
                self._call(
                    self.client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
                upload_id = None
        except _ClientProblem as problem:
            raise self._store_error(f"cannot store {expected}", problem) from None
        finally:
            if upload_id is not None:
                self._abort(key, upload_id)
        return StoredFile(expected, size, created=True)

    def _part(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self._call(
            self.client.upload_part, Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
        )
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def _abort(self, key: str, upload_id: str) -> None:
        try:
            self._call(self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id)
        except _ClientProblem:
            pass  # an unfinished upload is invisible; the bucket's lifecycle rule may clean it up

    def _put_spooled(
        self, chunks: Iterable[bytes], *, max_bytes: int | None, retain_until: datetime | None
    ) -> StoredFile:
        """Spool to a local temporary file while hashing (the key is the hash), then upload."""
        digest = hashlib.sha256()
        size = 0
        with tempfile.TemporaryFile(prefix="archivist-s3-") as spool:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise FileTooLarge(max_bytes)
                digest.update(chunk)
                spool.write(chunk)
            spool.flush()
            os.fsync(spool.fileno())
            spool.seek(0)
            return self.put(
                iter(lambda: spool.read(_READ_CHUNK), b""),
                expected_sha256=digest.hexdigest(),
                retain_until=retain_until,
            )

    def _call(self, operation: Any, **arguments: Any) -> Any:
        try:
            return operation(**arguments)
        except Exception as error:
            problem = _ClientProblem.of(error)
            if problem is None:
                raise
            raise problem from error

    def _store_error(self, what: str, problem: _ClientProblem) -> FileStoreError:
        return FileStoreError(f"the S3 file store {self.where}: {what}: {problem.message}")


class _ClientProblem(Exception):
    """What went wrong talking to S3, with the server's error code when it answered."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @classmethod
    def of(cls, error: BaseException) -> _ClientProblem | None:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(error, _ClientProblem):
            return error
        if isinstance(error, ClientError):
            details = error.response.get("Error", {})
            code = str(details.get("Code") or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            return cls(code, f"{code}: {details.get('Message') or error}")
        if isinstance(error, BotoCoreError):
            return cls("unreachable", str(error))
        return None


def _drain_checked(chunks: Iterable[bytes], expected: str, max_bytes: int | None) -> int:
    """Read bytes the store already holds (nothing is sent), refusing them as :meth:`put` would."""
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise FileTooLarge(max_bytes)
        digest.update(chunk)
    actual = digest.hexdigest()
    if actual != expected:
        raise DigestMismatch(expected, actual, size)
    return size
