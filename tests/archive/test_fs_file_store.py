"""The filesystem file store: write-once, content-addressed, refusing what is not expected.
(The behaviour every store shares is in the store contract suite; these are the filesystem's own.)"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.file_store import DigestMismatch, FileMissing, FileTooLarge
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
