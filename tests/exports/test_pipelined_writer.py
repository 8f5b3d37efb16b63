"""The export's zip writer: files hashed and deflated on a thread of their own, the same bytes
as a plain write, and failures surfaced to the format, never lost or hung on."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from typing import IO, cast

import pytest

from exports.base import PipelinedWriter, ZipExportFiles


def zip_files() -> tuple[io.BytesIO, zipfile.ZipFile, ZipExportFiles]:
    buffer = io.BytesIO()
    archive = zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1)
    return buffer, archive, ZipExportFiles(archive)


def writer_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "export-writer")


def test_a_big_file_written_in_pieces_is_deflated_on_a_thread_with_the_same_bytes_and_hash() -> None:
    buffer, archive, files = zip_files()
    pieces = [f"row {i},ünïcode,{'x' * (i % 97)}\n".encode() for i in range(60_000)]
    seen_thread = False
    with files.create("big.csv", "text/csv") as stream:
        for piece in pieces:
            stream.write(piece)
            seen_thread = seen_thread or writer_threads() > 0
        assert stream.tell() == sum(len(p) for p in pieces)
    archive.close()
    content = b"".join(pieces)
    assert seen_thread, "a file of several chunks is written by the writer thread"
    assert writer_threads() == 0, "the thread ends with the file"
    [written] = files.written
    assert (written.size, written.sha256) == (len(content), hashlib.sha256(content).hexdigest())
    with zipfile.ZipFile(buffer) as reread:
        assert reread.read("big.csv") == content
        assert reread.getinfo("big.csv").compress_type == zipfile.ZIP_DEFLATED


def test_a_small_file_is_written_without_a_thread_and_compressed_content_is_stored() -> None:
    buffer, archive, files = zip_files()
    with files.create("a.rsmf", "message/rfc822", compressed=True) as stream:
        stream.write(bytearray(b"already compressed"))
        assert writer_threads() == 0
    archive.close()
    with zipfile.ZipFile(buffer) as reread:
        assert reread.read("a.rsmf") == b"already compressed"
        assert reread.getinfo("a.rsmf").compress_type == zipfile.ZIP_STORED
    assert files.written[0].sha256 == hashlib.sha256(b"already compressed").hexdigest()


class FailingSink(io.RawIOBase):
    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.received = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self.received += len(data)
        if self.received > self.fail_after:
            raise OSError(28, "No space left on device")
        return len(data)


def write_a_lot(stream: PipelinedWriter) -> None:
    for _ in range(10_000):
        stream.write(b"y" * 1000)
    stream.finish()


def test_a_failure_on_the_thread_reaches_the_writer_and_ends_the_thread() -> None:
    stream = PipelinedWriter(cast(IO[bytes], FailingSink(fail_after=100_000)), chunk=16_384, depth=2)
    with pytest.raises(OSError, match="No space left"):
        write_a_lot(stream)
    assert writer_threads() == 0


def format_that_fails(files: ZipExportFiles) -> None:
    with files.create("x.jsonl", "application/x-ndjson") as stream:
        for _ in range(50):
            stream.write(b"z" * 100_000)
        raise ValueError("bad event")


def test_an_exception_in_the_format_abandons_the_file_without_hanging() -> None:
    _buffer, archive, files = zip_files()
    with pytest.raises(ValueError, match="bad event"):
        format_that_fails(files)
    assert writer_threads() == 0
    assert files.written == []
    archive.close()
