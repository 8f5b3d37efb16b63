"""The filesystem file store: write-once, content-addressed, refusing what is not expected.
(The behaviour every store shares is in the store contract suite; these are the filesystem's own.)"""

from __future__ import annotations

import errno
import hashlib
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.file_store import DigestMismatch, FileMissing, FileStoreError, FileTooLarge
from archive.fs_file_store import FsFileStore


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_bytes_are_stored_under_their_hash_read_only_and_once(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    data = b"quarterly numbers\n" * 1000
    first = store.put([data[:100], data[100:]], expected_sha256=sha(data))
    assert (first.sha256, first.size, first.created) == (sha(data), len(data), True)
    path = tmp_path / sha(data)[:2] / sha(data)[2:4] / sha(data)
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    again = store.put([data])
    assert again.created is False
    assert list(store.iter_sha256()) == [sha(data)]
    assert not any((tmp_path / ".incoming").iterdir())


def test_wrong_bytes_or_too_many_store_nothing(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    with pytest.raises(DigestMismatch, match="not the"):
        store.put([b"these bytes"], expected_sha256=sha(b"other bytes"))
    with pytest.raises(FileTooLarge, match="10 bytes"):
        store.put([b"12345", b"678901"], max_bytes=10)
    assert list(store.iter_sha256()) == []
    assert not any((tmp_path / ".incoming").iterdir())


def test_a_stream_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)

    def broken() -> Iterator[bytes]:
        yield b"first half"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.put(broken())
    assert list(store.iter_sha256()) == []
    assert not any((tmp_path / ".incoming").iterdir())


def test_a_malformed_hash_never_names_a_path(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.open("../../etc/passwd")
    with pytest.raises(ValueError, match="not a SHA-256"):
        store.put([b"x"], expected_sha256="A" * 64)


def test_check_finds_missing_and_altered_files(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    kept = store.put([b"kept"]).sha256
    altered = store.put([b"altered"]).sha256
    path = store.path_of(altered)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    assert store.check(kept).state == "ok"
    assert store.check(altered).state == "altered"
    assert store.check(sha(b"never stored")).state == "missing"
    with pytest.raises(FileMissing):
        store.open(sha(b"never stored"))


def test_delete_is_idempotent_and_the_store_pickles(tmp_path: Path) -> None:
    store = FsFileStore(tmp_path)
    stored = store.put([b"to be disposed"]).sha256
    copy = pickle.loads(pickle.dumps(store))  # noqa: S301 (our own bytes: adapters are pickled into workers)
    copy.delete(stored)
    copy.delete(stored)
    assert not store.exists(stored)


def _failing(error: int) -> Any:
    def fail(*_args: Any, **_options: Any) -> None:
        raise OSError(error, os.strerror(error))

    return fail


@pytest.mark.parametrize("call", ["fsync", "replace", "chmod"])
def test_a_full_disk_or_an_io_error_while_storing_is_a_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """ENOSPC or EIO from the disk is the store's problem (FileStoreError: a 503 to a producer),
    not a bare OSError; nothing is left under the hash."""
    store = FsFileStore(tmp_path)
    monkeypatch.setattr(os, call, _failing(errno.ENOSPC))
    with pytest.raises(FileStoreError, match="No space left on device"):
        store.put([b"a file"], expected_sha256=sha(b"a file"))
    monkeypatch.undo()
    assert not store.exists(sha(b"a file"))
    assert list((tmp_path / ".incoming").iterdir()) == []


def test_a_source_that_cannot_be_read_is_not_the_store_failing(tmp_path: Path) -> None:
    def unreadable() -> Iterator[bytes]:
        yield b"the first part"
        raise PermissionError(errno.EACCES, "Permission denied")

    with pytest.raises(PermissionError):
        FsFileStore(tmp_path).put(unreadable())


def test_an_io_error_while_reading_is_a_store_error_and_missing_stays_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FsFileStore(tmp_path)
    kept = store.put([b"kept"]).sha256
    monkeypatch.setattr(Path, "open", _failing(errno.EIO))
    with pytest.raises(FileStoreError, match="Input/output error"):
        store.open(kept)
    with pytest.raises(FileStoreError, match="Input/output error"):
        store.check(kept)
    monkeypatch.setattr(Path, "open", _failing(errno.ENOENT))
    with pytest.raises(FileMissing):
        store.open(kept)
    assert store.check(kept).state == "missing"


def test_a_deletion_the_disk_refuses_is_a_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FsFileStore(tmp_path)
    kept = store.put([b"kept"]).sha256
    monkeypatch.setattr(Path, "unlink", _failing(errno.EROFS))
    with pytest.raises(FileStoreError, match="Read-only file system"):
        store.delete(kept)
