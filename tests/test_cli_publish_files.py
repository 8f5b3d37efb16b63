"""``archivist publish --files DIR`` (issue 18): the bytes of the uploads being published are
found in DIR by SHA-256 and stored before any event is published."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive import attachments
from archive.schema import archive_natives
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.events import Event, parse_event
from ingest.producer import Located, Rejected, write_jsonl
from tests.factories import posts

runner = CliRunner()


def upload(content: bytes, name: str) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
            "type": "file_upload",
            "occurred_at": "2026-11-22T09:00:00+00:00",
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:ann", "name": "ann"},
            "file": {"name": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()},
        }
    )


def staged() -> int:
    return wiring.staging_store(get_settings()).counts().staged


def natives() -> dict[str, str]:
    with wiring.staging_store(get_settings()).engine.connect() as connection:
        rows = connection.execute(archive_natives.select()).all()
    return {row.sha256: row.received_via for row in rows}


@pytest.fixture
def events(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    write_jsonl([*posts(2), upload(b"report bytes", "report.pdf"), upload(b"absent bytes", "absent.png")], path)
    return path


def test_the_bytes_of_the_uploads_are_stored_and_the_rest_reported(events: Path, tmp_path: Path) -> None:
    folder = tmp_path / "natives"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "whatever-name").write_bytes(b"report bytes")
    (folder / "stray.txt").write_bytes(b"no event names me")
    (folder / "inside-link").symlink_to(folder / "stray.txt")  # a link within the folder: fine
    os.mkfifo(folder / "pipe")  # never opened (reading it would block)
    result = runner.invoke(app, ["publish", str(events), "--files", str(folder)])
    assert result.exit_code == 0, result.output
    report = hashlib.sha256(b"report bytes").hexdigest()
    assert natives() == {report: "publish"}
    with wiring.file_store(get_settings()).open(report) as stored:
        assert stored.read() == b"report bytes"
    assert f"absent.png ({hashlib.sha256(b'absent bytes').hexdigest()}) is not in {folder}" in result.output
    assert f"unreferenced {folder / 'stray.txt'}" in result.output
    assert "files: 1 stored (1 new), 1 uploads pending" in result.output
    assert "1 files no event refers to" in result.output
    assert f"skipped {folder / 'pipe'}: not a regular file" in result.output
    assert staged() == 4
    with wiring.staging_store(get_settings()).engine.connect() as connection:
        assert attachments.stored_natives(connection, [report]) == {report}


def test_a_link_leading_out_of_the_folder_stops_everything(events: Path, tmp_path: Path) -> None:
    folder = tmp_path / "natives"
    folder.mkdir()
    secret = tmp_path / "secret"
    secret.write_bytes(b"report bytes")
    (folder / "escape").symlink_to(secret)
    result = runner.invoke(app, ["publish", str(events), "--files", str(folder)])
    assert result.exit_code == 1, result.output
    assert "a symbolic link leading out of" in result.output
    assert "nothing was published" in result.output
    assert natives() == {}
    assert staged() == 0


def test_an_unreadable_file_stops_everything(events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "natives"
    folder.mkdir()
    locked = folder / "locked"
    locked.write_bytes(b"report bytes")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads any file: refuse this one as the kernel would refuse anyone else
        opened = os.open

        def refusing(path: str | Path, flags: int, *args: int) -> int:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return opened(path, flags, *args)

        monkeypatch.setattr(os, "open", refusing)
    result = runner.invoke(app, ["publish", str(events), "--files", str(folder)])
    assert result.exit_code == 1, result.output
    assert f"{locked}: cannot be read" in result.output
    assert staged() == 0


def test_a_file_over_the_limit_stops_the_publish_before_any_event(
    events: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = b"x" * 4096
    path = tmp_path / "big.jsonl"
    write_jsonl([upload(big, "big.bin"), *posts(3)], path)
    folder = tmp_path / "natives"
    folder.mkdir()
    (folder / "big.bin").write_bytes(big)
    monkeypatch.setenv("ARCHIVIST_MAX_FILE_BYTES", "2048")
    get_settings.cache_clear()
    result = runner.invoke(app, ["publish", str(path), "--files", str(folder)])
    assert result.exit_code == 1, result.output
    assert "larger than the limit" in result.output
    assert staged() == 0


def test_files_must_name_a_folder(events: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["publish", str(events), "--files", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "is not a folder" in result.output
    assert staged() == 0


class UploadsImporter:
    """An importer that can supply files: each line of its list names a file beside it,
    imported as a ``file_upload`` of those bytes."""

    name = "uploads"
    reads = "Lists of file names."
    description = "Import uploads: a file name a line."

    def __init__(self) -> None:
        self.read = 0

    def check(self, path: Path) -> None:
        if path.suffix != ".list":
            raise ValueError(f"{path.name}: not a .list file")

    def items(self, paths: Iterable[Path]) -> Iterator[Located | Rejected]:
        for path in paths:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                self.read += 1
                yield Located(upload((path.parent / "natives" / line).read_bytes(), line), f"{path.name}:{number}")

    def notes(self) -> list[str]:
        return [f"read {self.read} lines"]


@pytest.fixture
def uploads_importer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    metadata = site / "archivist_uploads_importer-1.0.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: archivist-uploads-importer\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text(f"[archivist.importers]\nuploads = {__name__}:UploadsImporter\n")
    monkeypatch.syspath_prepend(str(site))


def test_an_import_hands_over_the_files_too(uploads_importer: None, tmp_path: Path) -> None:
    folder = tmp_path / "natives"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"first file")
    (folder / "b.txt").write_bytes(b"second file")
    listing = tmp_path / "two.list"
    listing.write_text("a.txt\nb.txt\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "uploads", str(listing), "--files", str(folder)])
    assert result.exit_code == 0, result.output
    assert natives() == {hashlib.sha256(content).hexdigest(): "import" for content in (b"first file", b"second file")}
    assert "files: 2 stored (2 new), 0 uploads pending" in result.output
    assert "import uploads: 2 events accepted, 0 rejected" in result.output
    assert "read 2 lines" in result.output  # the notes of the import itself, not of the pass over the files
