"""The export's zip writer: files hashed and deflated on a thread of their own, the same bytes
as a plain write, and failures surfaced to the format, never lost or hung on."""

from __future__ import annotations

import hashlib
import io
import subprocess
import threading
import zipfile
from pathlib import Path
from typing import IO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exports.base import ExportZip, MemoryExportFiles, PipelinedWriter, ZipExportFiles, _plain_path, spool


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


def test_unlisted_files_between_streamed_ones_make_a_valid_zip(tmp_path: Path) -> None:
    """The DAT's text files are appended in one write each (ExportZip.write_stored), between
    files streamed and deflated: unzip tests every entry, each reads back exactly, and only the
    streamed files are listed (the format lists the others in a checksum file of its own)."""
    path = tmp_path / "export.zip"
    big = "ü" * 5000
    texts = {f"texts/{i}.txt": f"{i} þ® \x14 \r\n 🚀 {big if i % 50 == 0 else ''}".encode() for i in range(300)}
    with ExportZip(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        files = ZipExportFiles(archive)
        with files.create("first.csv", "text/csv") as out:
            out.write(b"a,b\r\n" * 100_000)
        for name, data in texts.items():
            files.write_unlisted(name, data)
        with files.create("last.json", "application/json") as out:
            out.write(b"{}")
        with pytest.raises(ValueError, match="written twice"):
            files.write_unlisted("texts/1.txt", b"again")
    tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert [f.path for f in files.written] == ["first.csv", "last.json"]
    with zipfile.ZipFile(path) as reread:
        assert reread.testzip() is None
        assert {name: reread.read(name) for name in texts} == texts
        assert reread.read("first.csv") == b"a,b\r\n" * 100_000
        stored = {info.filename: info.compress_type for info in reread.infolist()}
    assert stored["texts/1.txt"] == zipfile.ZIP_STORED
    assert stored["texts/0.txt"] == zipfile.ZIP_DEFLATED  # 4 KiB or more is deflated


def test_spooled_files_are_deflated_while_unlisted_ones_are_written_and_read_back_exactly(tmp_path: Path) -> None:
    """The CSV format's load files are spooled (exports.base.spool) while its text files go into
    the zip: deflated on the writer thread as they are written, appended on commit, in commit
    order, with the size and SHA-256 of their bytes; unzip tests every entry."""
    path = tmp_path / "export.zip"
    rows = [f"{i},ünïcode þ® 🚀,{'x' * (i % 89)}\r\n".encode() for i in range(80_000)]
    with ExportZip(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        files = ZipExportFiles(archive)
        with spool(files, "a.csv", "text/csv") as first, spool(files, "b.dat", "application/octet-stream") as second:
            seen_thread = False
            for i, row in enumerate(rows):
                first.write(row)
                second.write(row[::-1])
                if i % 400 == 0:
                    files.write_unlisted(f"texts/{i}.txt", row)
                seen_thread = seen_thread or writer_threads() > 0
            with pytest.raises(ValueError, match="written twice"):
                files.write_unlisted("a.csv", b"clash")
            written = [first.commit(), second.commit()]
        assert writer_threads() == 0
    assert seen_thread, "spooled files are deflated by the writer thread"
    tested = subprocess.run(["unzip", "-tq", str(path)], capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    content = {"a.csv": b"".join(rows), "b.dat": b"".join(row[::-1] for row in rows)}
    assert files.written == written
    assert [(f.path, f.size, f.sha256) for f in written] == [
        (name, len(data), hashlib.sha256(data).hexdigest()) for name, data in content.items()
    ]
    with zipfile.ZipFile(path) as reread:
        assert reread.testzip() is None
        assert reread.namelist()[-2:] == ["a.csv", "b.dat"]
        assert {name: reread.read(name) for name in content} == content
        assert {info.filename: info.compress_type for info in reread.infolist()}["b.dat"] == zipfile.ZIP_DEFLATED
        assert reread.read("texts/400.txt") == rows[400]


def spool_and_fail(files: ZipExportFiles) -> None:
    with spool(files, "a.csv", "text/csv") as spooled:
        for _ in range(40):
            spooled.write(b"z" * 100_000)
        raise ValueError("bad event")


def test_a_spooled_file_not_committed_is_dropped_and_its_thread_ended(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with ExportZip(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        files = ZipExportFiles(archive)
        with pytest.raises(ValueError, match="bad event"):
            spool_and_fail(files)
        assert writer_threads() == 0
        assert files.written == []
    with zipfile.ZipFile(path) as reread:
        assert reread.namelist() == []


def test_spooled_files_elsewhere_are_copied_in_on_commit() -> None:
    """Into memory (or a zip that is not an ExportZip), a spool is a temporary file copied in
    through create() on commit: the same bytes."""
    memory = MemoryExportFiles()
    _buffer, archive, files = zip_files()
    for target in (memory, files):
        with spool(target, "a.csv", "text/csv") as spooled:
            spooled.write(b"a,b\r\n" * 70_000)
            target.write_unlisted("t/1.txt", b"one")
            written = spooled.commit()
        assert written.sha256 == hashlib.sha256(b"a,b\r\n" * 70_000).hexdigest()
        assert [f.path for f in target.written] == ["a.csv"]
    assert memory.contents["a.csv"] == b"a,b\r\n" * 70_000
    archive.close()


@pytest.mark.parametrize("data", [b"", b"{}", "ünïcode þ® 🚀 \r\n".encode() * 3000])
def test_a_small_file_deflated_in_one_go_is_the_zip_writestr_writes(data: bytes) -> None:
    """RSMF's inner zip appends its manifest with ExportZip.write_deflated_bytes and its
    placeholders with write_stored: the same bytes as zipfile's writestr (header rewritten after
    the data), so the .rsmf files are unchanged; the DAT's text files are stored the same way."""
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("rsmf_manifest.json", data)
        stamp = archive.getinfo("rsmf_manifest.json").date_time
        for name in ("attachments/a.placeholder.txt", "texts/ünï 🚀.txt"):
            entry = zipfile.ZipInfo(name, date_time=stamp)
            entry.compress_type = zipfile.ZIP_STORED
            entry.external_attr = 0o600 << 16
            archive.writestr(entry, data[:500])
    direct = io.BytesIO()
    with ExportZip(direct, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.write_deflated_bytes("rsmf_manifest.json", data, stamp)
        archive.write_stored("attachments/a.placeholder.txt", data[:500], stamp)
        archive.write_stored("texts/ünï 🚀.txt", data[:500], stamp)
    assert direct.getvalue() == plain.getvalue()


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet="/.\\a", max_size=8))
def test_a_path_is_plain_exactly_when_every_part_is(path: str) -> None:
    """The C-scanned path check (one per DAT text file) is the rule written part by part."""
    parts = path.split("/")
    rule = bool(path) and not path.startswith("/") and "\\" not in path and not any(p in ("", ".", "..") for p in parts)
    assert _plain_path(path) == rule
