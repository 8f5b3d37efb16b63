"""``archivist verify --files`` re-hashes the stored natives and names each missing or altered
one with the events that refer to it; ``archivist status`` counts stored and pending files.
Against the filesystem store and the S3 store (the real test server)."""

from __future__ import annotations

import hashlib
import json
import stat
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from archive.attachments import record_native
from archive.file_store import FileStore
from archive.fs_file_store import FsFileStore
from archive.s3_file_store import S3FileStore
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.events import Event, parse_event
from tests.services import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3_URL, s3_buckets, s3_client

runner = CliRunner()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(name: str, data: bytes) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "file_upload",
            "occurred_at": datetime(2026, 5, 1, tzinfo=UTC).isoformat(),
            "room": {"id": "room:deals", "name": "#deals", "kind": "room"},
            "actor": {"id": "user:alice", "name": "Alice"},
            "file": {"name": name, "size": len(data), "sha256": sha(data)},
        }
    )


Alter = Callable[[FileStore, str, bytes], None]


def _alter_file(store: FileStore, sha256: str, data: bytes) -> None:
    assert isinstance(store, FsFileStore)
    path = store.path_of(sha256)
    path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    path.write_bytes(data)


def _alter_object(store: FileStore, sha256: str, data: bytes) -> None:
    assert isinstance(store, S3FileStore)
    s3_client().put_object(Bucket=store.bucket, Key=store.key_of(sha256), Body=data)


@pytest.fixture(params=["filesystem", "s3"])
def alter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Alter]:
    if request.param != "s3":
        yield _alter_file
        return
    with s3_buckets() as make:
        monkeypatch.setenv("ARCHIVIST_FILE_STORE", "s3")
        monkeypatch.setenv("ARCHIVIST_S3_BUCKET", make(True))
        monkeypatch.setenv("ARCHIVIST_S3_ENDPOINT_URL", S3_URL)
        monkeypatch.setenv("ARCHIVIST_S3_REGION", S3_REGION)
        monkeypatch.setenv("ARCHIVIST_S3_ACCESS_KEY_ID", S3_ACCESS_KEY)
        monkeypatch.setenv("ARCHIVIST_S3_SECRET_ACCESS_KEY", S3_SECRET_KEY)
        get_settings.cache_clear()
        yield _alter_object


def archive_with_bytes(events: list[Event], stored: list[bytes]) -> FileStore:
    settings = get_settings()
    engine = wiring.staging_store(settings).engine
    assert all(result is None for result in ArchiveAdapter(engine).write(events))
    store = wiring.file_store(settings)
    for data in stored:
        store.put([data])
        with engine.begin() as connection:
            record_native(connection, sha(data), len(data), "api")
    return store


def test_verify_files_names_each_missing_or_altered_file_and_the_events_that_refer_to_it(alter: Alter) -> None:
    good, altered, missing = b"intact bytes", b"original bytes", b"bytes that vanish"
    events = [upload("good.txt", good), upload("deal.pdf", altered), upload("copy of deal.pdf", altered)]
    events += [upload("gone.xlsx", missing), upload("pending.doc", b"never arrived")]
    store = archive_with_bytes(events, [good, altered, missing])
    store.put([b"stray bytes no row names"])
    alter(store, sha(altered), b"forged bytes")
    store.delete(sha(missing))  # out of band (not locked: no retention date was given)

    result = runner.invoke(app, ["verify", "--files"])

    assert result.exit_code == 1, result.output
    assert "archive chain intact" in result.output
    assert f"file {sha(altered)} ALTERED" in result.output
    assert "'deal.pdf'" in result.output
    assert "'copy of deal.pdf'" in result.output
    assert str(events[1].event_id) in result.output
    assert f"file {sha(missing)} MISSING" in result.output
    assert "gone.xlsx" in result.output
    assert f"file {sha(good)}" not in result.output
    assert "3 stored files re-hashed: 1 intact, 1 missing, 1 altered" in result.output
    assert f"1 object in the store that no row refers to: {sha(b'stray bytes no row names')}" in result.output
    assert "Traceback" not in result.output


def test_verify_files_is_clean_on_intact_files_and_samples_when_asked(alter: Alter) -> None:
    stored = [f"file {n}".encode() for n in range(5)]
    archive_with_bytes([upload(f"{n}.txt", data) for n, data in enumerate(stored)], stored)
    full = runner.invoke(app, ["verify", "--files"])
    assert full.exit_code == 0, full.output
    assert "5 stored files re-hashed: 5 intact" in full.output
    sampled = runner.invoke(app, ["verify", "--files", "--sample", "2"])
    assert sampled.exit_code == 0, sampled.output
    assert "2 of 5 stored files re-hashed (a random sample): 2 intact" in sampled.output
    bad = runner.invoke(app, ["verify", "--files", "--sample", "0"])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output


def test_verify_without_files_does_what_it_did(alter: Alter) -> None:
    archive_with_bytes([upload("a.txt", b"a")], [b"a"])
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "stored files" not in result.output


def test_an_unreachable_store_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    archive_with_bytes([upload("a.txt", b"a")], [b"a"])
    monkeypatch.setenv("ARCHIVIST_FILE_STORE", "s3")
    monkeypatch.setenv("ARCHIVIST_S3_BUCKET", "natives")
    monkeypatch.setenv("ARCHIVIST_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ARCHIVIST_S3_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("ARCHIVIST_S3_SECRET_ACCESS_KEY", "b")
    get_settings.cache_clear()
    result = runner.invoke(app, ["verify", "--files"])
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_status_counts_stored_and_pending_files() -> None:
    archive_with_bytes([upload("here.txt", b"here"), upload("later.txt", b"later")], [b"here"])
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["stored_files"], figures["pending_files"], figures["file_store"]) == (1, 1, "filesystem")
    table = runner.invoke(app, ["status"])
    assert "pending files" in table.output


def test_a_store_that_cannot_be_read_is_a_clear_error_not_a_traceback() -> None:
    store = archive_with_bytes([upload("a.txt", b"a")], [b"a"])
    assert isinstance(store, FsFileStore)
    path = store.path_of(sha(b"a"))
    path.unlink()
    path.mkdir()  # something that is not a file where the file was
    result = runner.invoke(app, ["verify", "--files"])
    assert result.exit_code == 1
    assert "stored files NOT verified" in result.output
    assert "Traceback" not in result.output
