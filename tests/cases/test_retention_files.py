"""Retention and legal holds over the bytes of uploaded files: a disposed upload takes its
extracted text with it, and bytes leave the file store only when no remaining event refers to
them (content is shared: the same bytes may belong to a held upload). A store that fails to
delete is reported and retried by the next run, never forgotten."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.attachments import pending_count, record_native
from archive.file_folder import hash_folder, store_from_folder
from archive.file_store import FileCheck, FileStoreError, StoredFile
from archive.fs_file_store import FsFileStore
from archive.s3_file_store import S3FileStore
from archive.schema import archive_dispositions, archive_extraction_jobs, archive_natives
from cases.holds import search_resolver
from cases.model import CaseSpec, HoldScope, HoldSpec, RetentionPolicySpec
from cases.retention import run_retention
from cases.store import CaseStore, RetentionStore
from ingest.events import Event
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from tests.cases.helpers import NOW, OPERATOR, at, event
from tests.services import S3_ACCESS_KEY, S3_REGION, S3_SECRET_KEY, S3_URL, s3_buckets

ROOM = "room:deals"
SHARED = b"%PDF-1.7 the term sheet\n"
TEXT = b"the term sheet"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def upload(actor: str, days_ago: float, data: bytes, name: str = "terms.pdf", room: str = ROOM) -> Event:
    return event(
        "file_upload",
        actor,
        room,
        at(days_ago),
        file={"name": name, "size": len(data), "sha256": sha(data), "content_type": "application/pdf"},
    )


def file_text(of: Event, days_ago: float, text: bytes) -> Event:
    assert of.type == "file_upload"
    return event(
        "file_text",
        of.actor.id,
        ROOM,
        at(days_ago),
        extracted={
            "file_event_id": str(of.event_id),
            "sha256": of.file.sha256,
            "state": "extracted",
            "extractor": "pdf",
            "extractor_version": "1",
            "text_sha256": sha(text),
            "text_chars": len(text),
        },
    )


def archive(engine: Engine, events: list[Event]) -> None:
    assert all(result is None for result in ArchiveAdapter(engine).write(events))


def stored(engine: Engine, store: FsFileStore, data: bytes) -> None:
    store.put([data])
    with engine.begin() as connection:
        record_native(connection, sha(data), len(data), "api")


def natives(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(archive_natives.c.sha256)).scalars())


def disposed(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(select(archive_dispositions.c.event_id)).scalars())


def keep_30_days(engine: Engine) -> None:
    RetentionStore(engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=30), "test")


def hold_custodian(engine: Engine, custodian: str) -> None:
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="ACME v. Us"), "legal")
    cases.place_hold(case.id, HoldSpec(reason="litigation", scope=HoldScope(custodians=(custodian,))), "legal")


def run(engine: Engine, store: object, **options: object) -> object:
    return run_retention(engine, OPERATOR, now=NOW, file_store=store, **options)  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path) -> FsFileStore:
    return FsFileStore(tmp_path / "files")


def test_bytes_a_held_upload_shares_are_kept(store: StagingStore, files: FsFileStore) -> None:
    engine = store.engine
    held = upload("user:alice", 100, SHARED)
    gone = upload("user:bob", 100, SHARED, room="room:lunch")  # alice is not in that room
    archive(engine, [held, gone])
    stored(engine, files, SHARED)
    keep_30_days(engine)
    hold_custodian(engine, "user:alice")

    report = run(engine, files)

    assert disposed(engine) == {str(gone.event_id)}
    assert files.exists(sha(SHARED))
    assert natives(engine) == {sha(SHARED)}
    assert report.counts()["files_deleted"] == 0  # type: ignore[attr-defined]


def test_bytes_no_event_refers_to_any_more_are_deleted_with_their_text(store: StagingStore, files: FsFileStore) -> None:
    engine = store.engine
    first = upload("user:alice", 100, SHARED)
    second = upload("user:bob", 90, SHARED)
    # extracted long after the upload: the text is disposed with its file, whatever its own age
    text = file_text(first, 2, TEXT)
    other = upload("user:bob", 1, b"recent bytes")
    archive(engine, [first, second, text, other])
    for data in (SHARED, TEXT, b"recent bytes"):
        stored(engine, files, data)
    with engine.begin() as connection:
        connection.execute(
            insert(archive_extraction_jobs),
            [
                {
                    "file_event_id": str(e.event_id),
                    "sha256": sha(data),
                    "state": "done",
                    "updated_at": datetime.now(UTC),
                }
                for e, data in ((first, SHARED), (second, SHARED), (other, b"recent bytes"))
            ],
        )
    keep_30_days(engine)

    report = run(engine, files)

    assert disposed(engine) == {str(first.event_id), str(second.event_id), str(text.event_id)}
    assert not files.exists(sha(SHARED))
    assert not files.exists(sha(TEXT))
    assert files.exists(sha(b"recent bytes"))
    assert natives(engine) == {sha(b"recent bytes")}
    with engine.connect() as connection:
        jobs = set(connection.execute(select(archive_extraction_jobs.c.file_event_id)).scalars())
    assert jobs == {str(other.event_id)}
    counts = report.counts()  # type: ignore[attr-defined]
    assert (counts["files_deleted"], counts["files_pending"]) == (2, [])
    runs = RetentionStore(engine).runs()
    assert runs[0].counts["files_deleted"] == 2


def test_a_text_follows_its_upload_and_is_not_disposed_while_the_upload_is_kept(
    store: StagingStore, files: FsFileStore
) -> None:
    engine = store.engine
    recent = upload("user:alice", 1, SHARED)
    text = file_text(recent, 1, TEXT)
    held = upload("user:carol", 100, b"held bytes")
    held_text = file_text(held, 99, TEXT + b" (held)")
    archive(engine, [recent, held, held_text, text])
    for data in (SHARED, TEXT, b"held bytes", TEXT + b" (held)"):
        stored(engine, files, data)
    RetentionStore(engine).create_policy(RetentionPolicySpec(scope_kind="default", keep_days=30), "test")
    hold_custodian(engine, "user:carol")
    run(engine, files)
    assert disposed(engine) == set()
    assert all(files.exists(sha(data)) for data in (SHARED, TEXT, b"held bytes", TEXT + b" (held)"))


def test_a_dry_run_deletes_no_bytes(store: StagingStore, files: FsFileStore) -> None:
    engine = store.engine
    archive(engine, [upload("user:bob", 100, SHARED)])
    stored(engine, files, SHARED)
    keep_30_days(engine)
    run(engine, files, dry_run=True)
    assert files.exists(sha(SHARED))
    assert natives(engine) == {sha(SHARED)}


class FailingStore:
    """The filesystem store whose deletions fail while ``down`` (an S3 outage, say)."""

    name = "filesystem"

    def __init__(self, inner: FsFileStore) -> None:
        self.inner = inner
        self.down = True

    def delete(self, sha256: str) -> None:
        if self.down:
            raise FileStoreError("the S3 file store s3://natives/: cannot delete: endpoint unreachable")
        self.inner.delete(sha256)

    def put(self, chunks: Iterable[bytes], **options: object) -> StoredFile:
        return self.inner.put(chunks, **options)  # type: ignore[arg-type]

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def check(self, sha256: str) -> FileCheck:
        return self.inner.check(sha256)

    def iter_sha256(self) -> Iterator[str]:
        return self.inner.iter_sha256()


def test_a_failed_deletion_is_reported_kept_on_record_and_retried_by_the_next_run(
    store: StagingStore, files: FsFileStore
) -> None:
    engine = store.engine
    gone = upload("user:bob", 100, SHARED)
    archive(engine, [gone])
    stored(engine, files, SHARED)
    keep_30_days(engine)
    failing = FailingStore(files)

    report = run(engine, failing)

    assert disposed(engine) == {str(gone.event_id)}  # the events are disposed all the same
    counts = report.counts()  # type: ignore[attr-defined]
    assert counts["files_pending"] == [sha(SHARED)]
    assert "endpoint unreachable" in counts["file_errors"][sha(SHARED)]
    assert files.exists(sha(SHARED))
    assert natives(engine) == {sha(SHARED)}  # the record of bytes that still exist is kept
    first_run = RetentionStore(engine).runs()[0]
    assert first_run.counts["files_pending"] == [sha(SHARED)]

    failing.down = False
    again = run(engine, failing)

    assert again.counts()["files_deleted"] == 1  # type: ignore[attr-defined]
    assert not files.exists(sha(SHARED))
    assert natives(engine) == set()
    assert run(engine, failing).counts()["files_deleted"] == 0  # type: ignore[attr-defined]


def test_a_run_that_stops_after_disposing_leaves_its_deletions_for_the_next(
    store: StagingStore, files: FsFileStore
) -> None:
    """Killed between the disposal's commit and the store deletion: the chunk's transaction
    noted the bytes to delete in the run's record, so the next run deletes them."""
    engine = store.engine
    archive(engine, [upload("user:bob", 100, SHARED)])
    stored(engine, files, SHARED)
    keep_30_days(engine)

    class Killed(BaseException):
        pass

    class KilledStore(FailingStore):
        def delete(self, sha256: str) -> None:
            raise Killed

    with pytest.raises(Killed):
        run(engine, KilledStore(files))
    assert files.exists(sha(SHARED))
    noted = RetentionStore(engine).runs()[0].counts
    assert noted["files_pending"] == [sha(SHARED)]

    run(engine, files)
    assert not files.exists(sha(SHARED))
    assert natives(engine) == set()


def test_bytes_sent_again_after_a_failed_deletion_are_not_deleted_by_a_later_run(
    store: StagingStore, files: FsFileStore
) -> None:
    """Bytes may come before their event. A run that failed to delete some bytes leaves them
    pending for the next; when the same bytes are handed over again meanwhile (a 201 or 200),
    they are wanted again: no later run deletes them, and their upload finds them."""
    engine = store.engine
    archive(engine, [upload("user:bob", 100, SHARED)])
    stored(engine, files, SHARED)
    keep_30_days(engine)
    failing = FailingStore(files)
    assert run(engine, failing).counts()["files_pending"] == [sha(SHARED)]  # type: ignore[attr-defined]
    failing.down = False
    stored(engine, files, SHARED)  # the same bytes again, ahead of a new event

    counts = run(engine, failing).counts()  # type: ignore[attr-defined]
    archive(engine, [upload("user:bob", 0, SHARED)])

    assert (counts["files_deleted"], counts["files_pending"]) == (0, [])
    assert files.exists(sha(SHARED))
    assert natives(engine) == {sha(SHARED)}
    with engine.connect() as connection:
        assert pending_count(connection) == 0
    assert run(engine, failing).counts()["files_deleted"] == 0  # type: ignore[attr-defined]
    assert files.exists(sha(SHARED))


def _meanwhile(engine: Engine, action: Callable[[], None]) -> threading.Thread | None:
    """Do ``action`` while retention deletes bytes, in a thread: archiving an upload updates the
    row retention holds (PostgreSQL's row lock; SQLite's write lock), so it waits for the deletion."""
    thread = threading.Thread(target=action)
    thread.start()
    return thread


def test_an_upload_archived_while_its_bytes_are_deleted_waits_for_them_again(
    store: StagingStore, files: FsFileStore
) -> None:
    """An upload of the same bytes archived between retention's last look at their references
    and their deletion: the bytes go, and so does their record, so the upload is pending (its
    bytes are asked for again) instead of the archive saying it holds bytes it lost."""
    engine = store.engine
    archive(engine, [upload("user:bob", 100, SHARED)])
    stored(engine, files, SHARED)
    keep_30_days(engine)
    racing: list[threading.Thread | None] = []

    class Racing(FsFileStore):
        def delete(self, sha256: str) -> None:
            racing.append(_meanwhile(engine, lambda: archive(engine, [upload("user:carol", 0, SHARED)])))
            super().delete(sha256)

    run(engine, Racing(files.root))
    for thread in racing:
        if thread is not None:
            thread.join()

    assert racing, "the bytes were not deleted"
    assert natives(engine) == set()
    assert not files.exists(sha(SHARED))
    with engine.connect() as connection:
        assert pending_count(connection) == 1


def test_bytes_handed_over_while_retention_deletes_them_are_stored_again(
    store: StagingStore, files: FsFileStore, tmp_path: Path
) -> None:
    """``publish --files`` of the bytes retention is deleting waits for the deletion, then
    stores them again: they end up both stored and recorded."""
    engine = store.engine
    archive(engine, [upload("user:bob", 100, SHARED)])
    stored(engine, files, SHARED)
    keep_30_days(engine)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "terms.pdf").write_bytes(SHARED)
    threads: list[threading.Thread] = []

    def publish() -> None:
        store_from_folder(engine, files, hash_folder(folder), [sha(SHARED)], received_via="publish", max_bytes=1 << 20)

    class Racing(FsFileStore):
        def delete(self, sha256: str) -> None:
            threads.append(threading.Thread(target=publish))
            threads[-1].start()
            super().delete(sha256)

    run(engine, Racing(files.root))
    for thread in threads:
        thread.join()

    assert len(threads) == 1
    assert files.exists(sha(SHARED))
    assert natives(engine) == {sha(SHARED)}


def test_bytes_under_an_s3_compliance_lock_stay_pending_until_it_expires(store: StagingStore) -> None:
    engine = store.engine
    archive(engine, [upload("user:bob", 100, SHARED)])
    with s3_buckets() as make:
        s3 = S3FileStore(
            make(True),
            endpoint_url=S3_URL,
            region=S3_REGION,
            access_key_id=S3_ACCESS_KEY,
            secret_access_key=S3_SECRET_KEY,
        )
        s3.put([SHARED], retain_until=datetime.now(UTC) + timedelta(days=1))
        with engine.begin() as connection:
            record_native(connection, sha(SHARED), len(SHARED), "api")
        keep_30_days(engine)

        counts = run(engine, s3).counts()  # type: ignore[attr-defined]

        assert counts["files_pending"] == [sha(SHARED)]
        assert "FileRetained" in counts["file_errors"][sha(SHARED)]
        assert s3.check(sha(SHARED)).state == "ok"
        assert natives(engine) == {sha(SHARED)}


def test_a_query_hold_on_words_inside_an_attachment_keeps_the_upload_its_text_and_their_bytes(
    store: StagingStore, files: FsFileStore, tmp_path: Path
) -> None:
    """The hold's query finds the words in the attachment's extracted text (the index holds it
    on the upload's document), so the upload is held, its text follows it, and neither's bytes
    leave the store; an unrelated upload of the same age is disposed of with its text."""
    engine = store.engine
    contract = b"%PDF-1.7 the Meridian indemnity clause"
    other = b"%PDF-1.7 lunch menu"
    contract_text, other_text = b"the Meridian indemnity clause", b"lunch menu"
    kept = upload("user:alice", 100, contract, name="contract.pdf")
    gone = upload("user:alice", 100, other, name="menu.pdf")
    texts = [file_text(kept, 99, contract_text), file_text(gone, 99, other_text)]
    for data in (contract, other, contract_text, other_text):
        stored(engine, files, data)
    archive(engine, [kept, gone, *texts])
    index = TantivyIndexAdapter(tmp_path / "index", file_store=files)
    assert all(result is None for result in index.write([kept, gone, *texts]))
    index.close()
    keep_30_days(engine)
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="Meridian"), "legal")
    cases.place_hold(case.id, HoldSpec(reason="indemnity dispute", scope=HoldScope(query="indemnity")), "legal")
    run(engine, files, resolve=search_resolver(engine, TantivySearchBackend(tmp_path / "index")))
    assert disposed(engine) == {str(gone.event_id), str(texts[1].event_id)}
    assert files.exists(sha(contract))
    assert files.exists(sha(contract_text))
    assert not files.exists(sha(other))
    assert not files.exists(sha(other_text))
