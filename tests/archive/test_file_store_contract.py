"""What every :class:`archive.file_store.FileStore` promises, held against each store: the
filesystem store and the S3 store against a real S3-compatible server (versitygw, started by
scripts/services.sh; these tests fail, never skip, when it is down), on a bucket without Object
Lock and on one with it (versioned). Then what only the S3 store does: Object Lock in
compliance mode."""

from __future__ import annotations

import hashlib
import pickle
import stat
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.file_store import (
    DigestMismatch,
    FileMissing,
    FileRetained,
    FileStore,
    FileStoreError,
    FileTooLarge,
)
from archive.fs_file_store import FsFileStore
from archive.s3_file_store import S3FileStore
from tests.services import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3_URL, s3_buckets, s3_client

MIB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def s3_store(bucket: str, **options: object) -> S3FileStore:
    return S3FileStore(
        bucket,
        prefix="natives/",
        endpoint_url=S3_URL,
        region=S3_REGION,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key=S3_SECRET_KEY,
        part_size=5 * MIB,
        **options,  # type: ignore[arg-type]
    )


@dataclass
class Subject:
    store: FileStore
    alter: Callable[[str, bytes], None]
    """Overwrite the stored bytes of a hash out of band (what a tamperer would do)."""


def _filesystem(tmp_path: Path) -> Subject:
    store = FsFileStore(tmp_path / "files")

    def alter(sha256: str, data: bytes) -> None:
        path = store.path_of(sha256)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)
        path.write_bytes(data)

    return Subject(store, alter)


Bucket = Callable[..., str]
"""Makes a bucket of the test's own: ``fresh_s3_bucket(object_lock=True)``."""


@pytest.fixture
def fresh_s3_bucket() -> Iterator[Bucket]:
    """Buckets of the test's own, emptied and dropped afterwards (what no lock keeps)."""
    with s3_buckets() as make:
        yield lambda *, object_lock: make(object_lock)


def _s3(fresh_s3_bucket: Bucket, object_lock: bool) -> Subject:
    bucket = fresh_s3_bucket(object_lock=object_lock)
    store = s3_store(bucket)

    def alter(sha256: str, data: bytes) -> None:
        # With Object Lock (and so versioning) this adds a newer version: the locked original
        # stays, but a reader gets the new bytes, and check must say so.
        s3_client().put_object(Bucket=bucket, Key=store.key_of(sha256), Body=data)

    return Subject(store, alter)


@pytest.fixture(params=["filesystem", "s3", "s3-object-lock-bucket"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Subject:
    if request.param == "filesystem":
        return _filesystem(tmp_path)
    return _s3(request.getfixturevalue("fresh_s3_bucket"), object_lock=request.param == "s3-object-lock-bucket")


def test_bytes_are_stored_under_their_hash_and_once(subject: Subject) -> None:
    store = subject.store
    data = b"quarterly numbers\n" * 1000
    first = store.put([data[:100], data[100:]], expected_sha256=sha(data))
    assert (first.sha256, first.size, first.created) == (sha(data), len(data), True)
    again = store.put([data])
    assert (again.sha256, again.size, again.created) == (sha(data), len(data), False)
    also = store.put([data], expected_sha256=sha(data))
    assert also.created is False
    assert list(store.iter_sha256()) == [sha(data)]
    with store.open(sha(data)) as stored:
        assert stored.read() == data
    assert store.exists(sha(data))


def test_an_empty_file_is_a_file(subject: Subject) -> None:
    stored = subject.store.put([], expected_sha256=sha(b""))
    assert (stored.size, stored.created) == (0, True)
    with subject.store.open(sha(b"")) as read:
        assert read.read() == b""


def test_wrong_bytes_or_too_many_store_nothing(subject: Subject) -> None:
    store = subject.store
    with pytest.raises(DigestMismatch, match="not the"):
        store.put([b"these bytes"], expected_sha256=sha(b"other bytes"))
    with pytest.raises(FileTooLarge, match="10 bytes"):
        store.put([b"12345", b"678901"], max_bytes=10)
    with pytest.raises(FileTooLarge):
        store.put([b"12345", b"678901"], expected_sha256=sha(b"12345678901"), max_bytes=10)
    assert list(store.iter_sha256()) == []
    assert not store.exists(sha(b"these bytes"))
    assert not store.exists(sha(b"other bytes"))


def test_bytes_already_stored_are_still_checked_against_what_was_expected(subject: Subject) -> None:
    store = subject.store
    store.put([b"kept"])
    with pytest.raises(DigestMismatch):
        store.put([b"not kept"], expected_sha256=sha(b"kept"))
    with pytest.raises(FileTooLarge):
        store.put([b"kept"], expected_sha256=sha(b"kept"), max_bytes=2)
    with store.open(sha(b"kept")) as stored:
        assert stored.read() == b"kept"


def test_a_large_file_is_streamed_in_parts_never_held_whole(subject: Subject) -> None:
    store = subject.store
    size = 40 * MIB
    digest = hashlib.sha256()
    for index in range(size // MIB):
        digest.update(bytes([index]) * MIB)

    def chunks() -> Iterator[bytes]:
        for index in range(size // MIB):
            yield bytes([index]) * MIB

    assert not store.exists(digest.hexdigest())  # the S3 client is made (and its models loaded) first
    tracemalloc.start()
    try:
        stored = store.put(chunks(), expected_sha256=digest.hexdigest())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (stored.size, stored.created) == (size, True)
    # S3: one 5 MiB part being gathered and one being sent; the filesystem: one chunk.
    assert peak < 16 * MIB, f"put held {peak:,} bytes at once for a {size:,}-byte file"
    assert store.check(digest.hexdigest()).state == "ok"
    with store.open(digest.hexdigest()) as read:
        assert read.read(MIB) == bytes([0]) * MIB


def test_a_large_wrong_file_leaves_nothing_behind(subject: Subject) -> None:
    store = subject.store
    chunks = [bytes([n]) * MIB for n in range(12)]
    with pytest.raises(DigestMismatch):
        store.put(iter(chunks), expected_sha256=sha(b"something else"))
    with pytest.raises(FileTooLarge):
        store.put(iter(chunks), max_bytes=11 * MIB)
    assert list(store.iter_sha256()) == []
    if isinstance(store, S3FileStore):  # no unfinished multipart upload is left either
        uploads = s3_client().list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        assert uploads == []


def test_a_stream_that_fails_midway_leaves_nothing(subject: Subject) -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * (6 * MIB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        subject.store.put(broken(), expected_sha256=sha(b"whatever"))
    with pytest.raises(ConnectionResetError):
        subject.store.put(broken())
    assert list(subject.store.iter_sha256()) == []


def test_missing_bytes(subject: Subject) -> None:
    absent = sha(b"never stored")
    assert not subject.store.exists(absent)
    with pytest.raises(FileMissing):
        subject.store.open(absent)
    check = subject.store.check(absent)
    assert (check.sha256, check.state) == (absent, "missing")


def test_delete_is_idempotent_and_only_deletes_those_bytes(subject: Subject) -> None:
    store = subject.store
    store.put([b"one"])
    store.put([b"two"])
    store.delete(sha(b"one"))
    store.delete(sha(b"one"))
    store.delete(sha(b"never stored"))
    assert not store.exists(sha(b"one"))
    assert store.check(sha(b"one")).state == "missing"
    assert list(store.iter_sha256()) == [sha(b"two")]
    assert store.put([b"one"]).created is True  # deleted bytes can be stored again


def test_check_finds_ok_and_altered_bytes(subject: Subject) -> None:
    store = subject.store
    store.put([b"evidence"])
    assert store.check(sha(b"evidence")).state == "ok"
    subject.alter(sha(b"evidence"), b"forgery")
    check = store.check(sha(b"evidence"))
    assert (check.state, check.sha256) == ("altered", sha(b"evidence"))
    assert sha(b"forgery") in check.detail


def test_a_store_survives_pickling_after_use(subject: Subject) -> None:
    store = subject.store
    store.put([b"before"])
    copy = pickle.loads(pickle.dumps(store))  # noqa: S301 (our own bytes)
    with copy.open(sha(b"before")) as stored:
        assert stored.read() == b"before"
    assert copy.put([b"after"]).created is True
    assert store.exists(sha(b"after"))


def test_a_malformed_hash_is_refused(subject: Subject) -> None:
    for bad in ("../../etc/passwd", "A" * 64, "ab"):
        with pytest.raises(ValueError, match="not a SHA-256"):
            subject.store.exists(bad)
    with pytest.raises(ValueError, match="not a SHA-256"):
        subject.store.put([b"x"], expected_sha256="../x")


# --- the S3 store's own: Object Lock, and a store that cannot be reached -----------------------


def test_object_lock_in_compliance_mode_refuses_deletion_before_the_date(fresh_s3_bucket: Bucket) -> None:
    bucket = fresh_s3_bucket(object_lock=True)
    store = s3_store(bucket)
    until = datetime.now(UTC) + timedelta(days=1)
    store.put([b"locked evidence"], retain_until=until)
    key = store.key_of(sha(b"locked evidence"))
    retention = s3_client().get_object_retention(Bucket=bucket, Key=key)["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    assert abs(retention["RetainUntilDate"] - until) < timedelta(seconds=1)
    with pytest.raises(FileRetained, match="compliance"):
        store.delete(sha(b"locked evidence"))
    assert store.check(sha(b"locked evidence")).state == "ok"


def test_a_large_upload_is_locked_too(fresh_s3_bucket: Bucket) -> None:
    bucket = fresh_s3_bucket(object_lock=True)
    store = s3_store(bucket)
    data = b"L" * (6 * MIB)  # two parts
    store.put([data[i : i + MIB] for i in range(0, len(data), MIB)], retain_until=datetime.now(UTC) + timedelta(days=1))
    retention = s3_client().get_object_retention(Bucket=bucket, Key=store.key_of(sha(data)))["Retention"]
    assert retention["Mode"] == "COMPLIANCE"
    with pytest.raises(FileRetained):
        store.delete(sha(data))


def test_the_default_lock_period_applies_and_a_lock_is_extended_never_shortened(fresh_s3_bucket: Bucket) -> None:
    bucket = fresh_s3_bucket(object_lock=True)
    store = s3_store(bucket, retain_days=2)
    store.put([b"default lock"])
    key = store.key_of(sha(b"default lock"))
    first = s3_client().get_object_retention(Bucket=bucket, Key=key)["Retention"]["RetainUntilDate"]
    assert timedelta(days=1, hours=23) < first - datetime.now(UTC) <= timedelta(days=2)
    later = datetime.now(UTC) + timedelta(days=5)
    assert store.put([b"default lock"], retain_until=later).created is False
    extended = s3_client().get_object_retention(Bucket=bucket, Key=key)["Retention"]["RetainUntilDate"]
    assert abs(extended - later) < timedelta(seconds=1)
    store.put([b"default lock"], retain_until=datetime.now(UTC) + timedelta(days=1))
    kept = s3_client().get_object_retention(Bucket=bucket, Key=key)["Retention"]["RetainUntilDate"]
    assert kept == extended


def test_a_bucket_without_object_lock_stores_unlocked_and_can_delete(fresh_s3_bucket: Bucket) -> None:
    store = s3_store(fresh_s3_bucket(object_lock=False), retain_days=30)
    assert store.object_lock is False
    store.put([b"unlockable"], retain_until=datetime.now(UTC) + timedelta(days=1))
    store.delete(sha(b"unlockable"))
    assert not store.exists(sha(b"unlockable"))


def test_a_locked_object_overwritten_out_of_band_keeps_its_original_check_sees_it(fresh_s3_bucket: Bucket) -> None:
    bucket = fresh_s3_bucket(object_lock=True)
    store = s3_store(bucket)
    store.put([b"original"], retain_until=datetime.now(UTC) + timedelta(days=1))
    key = store.key_of(sha(b"original"))
    s3_client().put_object(Bucket=bucket, Key=key, Body=b"overwrite")
    assert store.check(sha(b"original")).state == "altered"
    versions = s3_client().list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert len(versions) == 2  # the locked original is still there, under its version
    with pytest.raises(FileRetained, match="until"):
        store.delete(sha(b"original"))
    # the forgery (not locked) went; the locked original is what a reader gets again
    assert store.check(sha(b"original")).state == "ok"


def test_unreachable_or_misconfigured_stores_say_what_is_wrong(fresh_s3_bucket: Bucket) -> None:
    unreachable = S3FileStore("bucket", endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b")
    with pytest.raises(FileStoreError, match=r"127\.0\.0\.1:9"):
        unreachable.exists(sha(b"x"))
    missing = s3_store("no-such-bucket-archivist")
    with pytest.raises(FileStoreError, match="no-such-bucket-archivist"):
        missing.put([b"x"])
    wrong_key = S3FileStore(
        fresh_s3_bucket(object_lock=False),
        endpoint_url=S3_URL,
        region=S3_REGION,
        access_key_id=S3_ACCESS_KEY,
        secret_access_key="not the secret",
    )
    with pytest.raises(FileStoreError, match=r"SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId|403"):
        wrong_key.exists(sha(b"x"))
    assert "not the secret" not in repr(wrong_key)


def test_altered_bytes_are_repaired_by_storing_the_right_bytes_again(subject: Subject) -> None:
    """Stored bytes that no longer hash to their name are not "already stored": handing over
    the right bytes again replaces them (as a new version on S3), whether or not the caller
    names the SHA-256, and whether the alteration kept the size or not."""
    store = subject.store
    for original, forgery, expected in (
        (b"the signed contract", b"the forged contract", True),  # same size
        (b"the board minutes", b"shorter", False),
    ):
        store.put([original])
        subject.alter(sha(original), forgery)
        assert store.check(sha(original)).state == "altered"
        again = store.put([original], expected_sha256=sha(original) if expected else None)
        assert (again.sha256, again.size, again.created) == (sha(original), len(original), True)
        assert store.check(sha(original)).state == "ok"
        with store.open(sha(original)) as read:
            assert read.read() == original
        assert store.put([original]).created is False  # intact now: nothing written
