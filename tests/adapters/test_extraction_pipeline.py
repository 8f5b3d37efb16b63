"""The ``extract`` adapter and the extraction worker (SQLite and PostgreSQL): a job per upload,
queued when its bytes are stored, extracted off the batch cycle, the text recorded as one
``file_text`` event per upload and derived into ``archive_file_texts``."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from sqlalchemy import func, select

from adapters.archive import ArchiveAdapter
from adapters.base import Adapter
from adapters.extraction_adapter import ExtractionAdapter
from adapters.extraction_worker import ExtractionWorker, WorkerOptions
from adapters.processor import BatchProcessor, ProcessorOptions
from archive.attachments import (
    WaitingUpload,
    claim_extraction_jobs,
    extraction_job_counts,
    file_text_counts,
    record_native,
    release_extraction_job,
    texts_for,
)
from archive.file_store import FileCheck, FileStoreError, StoredFile
from archive.fs_file_store import FsFileStore
from archive.record import Disposal, append_events, dispose_events
from archive.schema import archive_events, archive_extraction_jobs, archive_file_texts
from extraction.result import Extraction
from ingest.events import Event, FileTextEvent, FileUploadEvent, file_text_event_id, parse_event, parse_event_json
from ingest.staging import StagingStore, staged_events, to_row
from tests.factories import post

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def upload(index: int, data: bytes, *, name: str | None = None, url: str | None = None) -> FileUploadEvent:
    event = parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"upload:{index}")),
            "type": "file_upload",
            "occurred_at": (T0 + timedelta(seconds=index)).isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": f"user:u{index}", "name": f"u{index}"},
            "file": {
                "name": name or f"note-{index}.txt",
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "content_type": "text/plain",
                **({"url": url} if url else {}),
            },
        }
    )
    assert isinstance(event, FileUploadEvent)
    return event


class TextExtractor:
    """Reads the file as UTF-8 (the extraction pool's signature); counts its calls per name."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.paths: list[Path] = []

    def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction:
        self.calls[name] += 1
        self.paths.append(path)
        text = path.read_bytes().decode("utf-8")
        return Extraction(state="extracted" if text else "empty", text=text, extractor="test", extractor_version="1.0")


def keep_bytes(store: StagingStore, files: FsFileStore, data: bytes, via: Any = "api") -> None:
    stored = files.put([data])
    with store.engine.begin() as connection:
        record_native(connection, stored.sha256, stored.size, via)


def process(store: StagingStore, events: Sequence[Event] = ()) -> None:
    if events:
        store.stage([to_row(event) for event in events])
    adapters: list[Adapter] = [ArchiveAdapter(store.engine), ExtractionAdapter(store.engine)]
    BatchProcessor(store.engine, adapters, ProcessorOptions(backoff_initial=0.05)).run(interval=0.05, until_empty=True)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def worker(store: StagingStore, files: Any, extractor: Any, *, clock: Any = None, **options: Any) -> ExtractionWorker:
    options = {"interval": 0.05, "backoff_initial": 0.05, **options}
    if clock is None:
        return ExtractionWorker(store.engine, files, extractor, WorkerOptions(**options))
    return ExtractionWorker(store.engine, files, extractor, WorkerOptions(**options), clock=clock)


def job_states(store: StagingStore) -> dict[str, str]:
    jobs = archive_extraction_jobs.c
    with store.engine.connect() as connection:
        return {row.file_event_id: row.state for row in connection.execute(select(jobs.file_event_id, jobs.state))}


def archived_texts(store: StagingStore) -> list[FileTextEvent]:
    with store.engine.connect() as connection:
        payloads = connection.execute(
            select(archive_events.c.payload).where(archive_events.c.event_type == "file_text")
        ).scalars()
        found = [parse_event_json(payload) for payload in payloads]
    return [event for event in found if isinstance(event, FileTextEvent)]


def staged_types(store: StagingStore) -> Counter[str]:
    with store.engine.connect() as connection:
        return Counter(connection.execute(select(staged_events.c.event_type)).scalars())


@pytest.fixture
def files(tmp_path: Path) -> FsFileStore:
    return FsFileStore(tmp_path / "files")


def test_the_text_event_id_is_one_per_upload() -> None:
    first, second = uuid.uuid4(), uuid.uuid4()
    assert file_text_event_id(first) == file_text_event_id(uuid.UUID(str(first)))
    assert file_text_event_id(first) != file_text_event_id(second)
    assert file_text_event_id(first) not in (first, second)


def test_the_adapter_queues_stored_uploads_and_leaves_the_others_waiting(
    store: StagingStore, files: FsFileStore
) -> None:
    stored, pending = upload(1, b"kept bytes"), upload(2, b"not here yet")
    keep_bytes(store, files, b"kept bytes")
    process(store, [post(1), stored, pending])
    assert job_states(store) == {str(stored.event_id): "queued", str(pending.event_id): "waiting"}
    assert staged_types(store) == Counter()  # the post and both uploads delivered to both adapters


def test_a_redelivered_upload_keeps_its_job(store: StagingStore) -> None:
    event = upload(1, b"bytes")
    adapter = ExtractionAdapter(store.engine)
    assert adapter.write([event, post(1)]) == [None, None]
    jobs = archive_extraction_jobs.c
    with store.engine.begin() as connection:
        connection.execute(archive_extraction_jobs.update().values(state="done", attempts=1))
    assert adapter.write([event]) == [None]
    with store.engine.connect() as connection:
        rows = connection.execute(select(jobs.state, jobs.attempts)).all()
    assert [tuple(row) for row in rows] == [("done", 1)]


def test_an_upload_is_extracted_once_and_its_text_archived(store: StagingStore, files: FsFileStore) -> None:
    data = "Quarterly numbers: revenue up 4 %, Ünïcödé kept".encode()
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    extractor = TextExtractor()
    outcome = worker(store, files, extractor).run(until_empty=True)
    assert outcome.done == 1
    assert job_states(store) == {str(event.event_id): "done"}
    assert staged_types(store) == Counter({"file_text": 1})  # staged, not yet archived
    process(store)
    [text] = archived_texts(store)
    assert text.event_id == file_text_event_id(event.event_id)
    assert (text.room, text.actor) == (event.room, event.actor)
    assert text.extracted.file_event_id == event.event_id
    assert text.extracted.sha256 == event.file.sha256
    assert text.extracted.state == "extracted"
    assert text.extracted.text_chars == len(data.decode())
    assert text.extracted.text_sha256 == hashlib.sha256(data).hexdigest()  # the same UTF-8 bytes
    with files.open(text.extracted.text_sha256) as stored:
        assert stored.read() == data
    with store.engine.connect() as connection:
        row = texts_for(connection, [str(event.event_id)])[str(event.event_id)]
        assert (row.event_id, row.state, row.extractor, row.extractor_version) == (
            str(text.event_id),
            "extracted",
            "test",
            "1.0",
        )
        assert file_text_counts(connection)["extracted"] == 1
        assert extraction_job_counts(connection) == {"waiting": 0, "queued": 0, "running": 0, "done": 1}
    assert extractor.calls == Counter({"note-1.txt": 1})
    assert worker(store, files, extractor).run(until_empty=True).done == 0  # nothing twice


def test_bytes_that_arrive_after_the_event_are_extracted_then(store: StagingStore, files: FsFileStore) -> None:
    data = b"arrives late"
    event = upload(1, data)
    process(store, [event])
    extractor = TextExtractor()
    assert worker(store, files, extractor).run(until_empty=True).done == 0
    assert job_states(store) == {str(event.event_id): "waiting"}
    keep_bytes(store, files, data)
    assert worker(store, files, extractor).run(until_empty=True).done == 1
    process(store)
    assert [t.extracted.state for t in archived_texts(store)] == ["extracted"]
    assert job_states(store) == {str(event.event_id): "done"}


def test_a_waiting_upload_with_a_url_is_fetched(store: StagingStore, files: FsFileStore) -> None:
    data = b"fetched from the chat server"
    event = upload(1, data, url="https://chat.example/files/1")
    other = upload(2, b"no url")
    process(store, [event, other])
    asked: list[WaitingUpload] = []

    def fetch(waiting: WaitingUpload) -> bool:
        asked.append(waiting)
        keep_bytes(store, files, data, "fetch")
        return True

    extractor = TextExtractor()
    options = WorkerOptions(interval=0.05)
    assert ExtractionWorker(store.engine, files, extractor, options, fetch=fetch).run(until_empty=True).done == 1
    assert [(w.file_event_id, w.url, w.sha256) for w in asked] == [
        (str(event.event_id), "https://chat.example/files/1", event.file.sha256)
    ]
    assert job_states(store) == {str(event.event_id): "done", str(other.event_id): "waiting"}


def test_an_empty_text_stores_no_blob(store: StagingStore, files: FsFileStore) -> None:
    event = upload(1, b"")
    keep_bytes(store, files, b"")
    process(store, [event])
    before = set(files.iter_sha256())
    worker(store, files, TextExtractor()).run(until_empty=True)
    process(store)
    [text] = archived_texts(store)
    assert (text.extracted.state, text.extracted.text_sha256, text.extracted.text_chars) == ("empty", None, 0)
    assert set(files.iter_sha256()) == before


class Raising(TextExtractor):
    def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction:
        if name.startswith("poison"):
            self.calls[name] += 1
            raise RuntimeError("the extractor broke on this file")
        return super().__call__(path, name=name, content_type=content_type)


def test_an_extractor_that_raises_is_retried_then_recorded_as_failed(store: StagingStore, files: FsFileStore) -> None:
    poison, fine = upload(1, b"poison bytes", name="poison.pdf"), upload(2, b"fine bytes")
    for data in (b"poison bytes", b"fine bytes"):
        keep_bytes(store, files, data)
    process(store, [poison, fine])
    extractor = Raising()
    outcome = worker(store, files, extractor, max_attempts=3).run(until_empty=True)
    assert (outcome.done, outcome.retried) == (2, 2)
    assert extractor.calls == Counter({"poison.pdf": 3, "note-2.txt": 1})
    process(store)
    by_file = {t.extracted.file_event_id: t.extracted for t in archived_texts(store)}
    assert by_file[fine.event_id].state == "extracted"
    assert by_file[poison.event_id].state == "failed"
    assert by_file[poison.event_id].reason == "RuntimeError: the extractor broke on this file (after 3 attempts)"
    assert by_file[poison.event_id].text_sha256 is None


def test_an_extractor_that_hangs_is_abandoned_and_the_loop_goes_on(store: StagingStore, files: FsFileStore) -> None:
    release = threading.Event()

    class Hanging(TextExtractor):
        def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction:
            if name.startswith("hangs"):
                release.wait()
            return super().__call__(path, name=name, content_type=content_type)

    hangs, fine = upload(1, b"hangs", name="hangs.png"), upload(2, b"fine")
    for data in (b"hangs", b"fine"):
        keep_bytes(store, files, data)
    process(store, [hangs, fine])
    try:
        outcome = worker(store, files, Hanging(), workers=2, call_seconds=0.3, max_attempts=1).run(until_empty=True)
    finally:
        release.set()
    assert outcome.done == 2
    process(store)
    by_file = {t.extracted.file_event_id: t.extracted for t in archived_texts(store)}
    assert by_file[fine.event_id].state == "extracted"
    assert by_file[hangs.event_id].state == "failed"
    assert "did not answer within 0.3 s" in (by_file[hangs.event_id].reason or "")


def test_a_job_whose_worker_died_is_claimed_again_after_its_lease(store: StagingStore, files: FsFileStore) -> None:
    data = b"claimed by a worker that died"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        [claimed] = claim_extraction_jobs(
            connection, owner="dead-worker", now=now, lease_until=now + timedelta(seconds=600), limit=5
        )
    assert claimed.attempts == 1
    with store.engine.begin() as connection:  # leased: nobody else takes it meanwhile
        soon = now + timedelta(seconds=599)
        assert claim_extraction_jobs(connection, owner="other", now=soon, lease_until=soon, limit=5) == []
    later = ExtractionWorker(
        store.engine, files, TextExtractor(), WorkerOptions(interval=0.05), clock=lambda: now + timedelta(seconds=601)
    )
    assert later.run(until_empty=True).done == 1
    process(store)
    assert [t.extracted.state for t in archived_texts(store)] == ["extracted"]


def test_a_job_whose_worker_died_every_time_is_finished_as_failed(store: StagingStore, files: FsFileStore) -> None:
    data = b"kills its worker"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    now = datetime.now(UTC)
    for attempt in range(2):
        with store.engine.begin() as connection:
            at = now + timedelta(seconds=10 * attempt)
            claim_extraction_jobs(connection, owner="dies", now=at, lease_until=at + timedelta(seconds=5), limit=5)
    extractor = TextExtractor()
    later = ExtractionWorker(
        store.engine, files, extractor, WorkerOptions(interval=0.05, max_attempts=2), clock=lambda: now + timedelta(60)
    )
    assert later.run(until_empty=True).done == 1
    assert extractor.calls == Counter()  # not tried a third time
    process(store)
    [text] = archived_texts(store)
    assert text.extracted.state == "failed"
    assert "did not finish in 2 attempts" in (text.extracted.reason or "")


def test_a_worker_that_lost_its_lease_records_nothing(store: StagingStore, files: FsFileStore) -> None:
    data = b"taken over"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        [job] = claim_extraction_jobs(connection, owner="slow", now=now, lease_until=now, limit=1)
    with store.engine.begin() as connection:
        claim_extraction_jobs(connection, owner="new", now=now + timedelta(seconds=1), lease_until=now, limit=1)
    slow = worker(store, files, TextExtractor())
    extraction = Extraction(state="extracted", text="late", extractor="test", extractor_version="1")
    assert not slow._finish(job, "slow", extraction).done
    assert staged_types(store) == Counter()
    assert job_states(store) == {str(event.event_id): "running"}


class StreamOnly:
    """A store without ``local_path`` (as S3 is): the worker copies the bytes out."""

    name = "stream-only"

    def __init__(self, inner: FsFileStore) -> None:
        self.inner = inner

    def put(self, chunks: Any, **options: Any) -> StoredFile:
        return self.inner.put(chunks, **options)

    def open(self, sha256: str) -> BinaryIO:
        return self.inner.open(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def delete(self, sha256: str) -> None:
        self.inner.delete(sha256)

    def check(self, sha256: str) -> FileCheck:
        return self.inner.check(sha256)

    def iter_sha256(self) -> Any:
        return self.inner.iter_sha256()


def test_a_store_without_local_files_is_read_through_a_temporary_copy(store: StagingStore, files: FsFileStore) -> None:
    data = b"from object storage"
    event = upload(1, data, name="../../etc/report.txt")
    keep_bytes(store, files, data)
    process(store, [event])
    extractor = TextExtractor()
    assert worker(store, StreamOnly(files), extractor).run(until_empty=True).done == 1
    [path] = extractor.paths
    assert (path.name, path.parent.parent) == ("file.txt", Path(tempfile.gettempdir()))
    assert not path.exists()  # the copy is gone
    process(store)
    assert [t.extracted.text_chars for t in archived_texts(store)] == [len(data)]


def test_the_archive_derives_one_text_row_per_file_text_event(store: StagingStore) -> None:
    event = upload(1, b"bytes")
    file_event_id = str(event.event_id)
    text = parse_event(
        {
            "schema_version": 1,
            "event_id": str(file_text_event_id(event.event_id)),
            "type": "file_text",
            "occurred_at": (T0 + timedelta(minutes=5)).isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:u1", "name": "u1"},
            "extracted": {
                "file_event_id": file_event_id,
                "sha256": event.file.sha256,
                "state": "unsupported",
                "reason": "no extractor for application/x-thing",
                "extractor": "archivist",
                "extractor_version": "1",
            },
        }
    )
    with store.engine.begin() as connection:
        append_events(connection, [event, text])
    with store.engine.begin() as connection:
        append_events(connection, [text])  # re-delivered
    with store.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(archive_file_texts)) == 1
        row = texts_for(connection, [file_event_id])[file_event_id]
    assert (row.state, row.reason, row.text_sha256, row.extracted_at) == (
        "unsupported",
        "no extractor for application/x-thing",
        None,
        T0 + timedelta(minutes=5),
    )


def test_a_job_whose_upload_is_not_archived_is_not_waited_for(store: StagingStore, files: FsFileStore) -> None:
    event = upload(1, b"archived later")
    keep_bytes(store, files, b"archived later")
    ExtractionAdapter(store.engine).write([event])  # the archive's write of it failed, say
    assert job_states(store) == {str(event.event_id): "queued"}
    extractor = TextExtractor()
    assert worker(store, files, extractor).run(until_empty=True).done == 0
    process(store, [event])
    assert worker(store, files, extractor).run(until_empty=True).done == 1


def test_workers_side_by_side_extract_each_upload_once(store: StagingStore, files: FsFileStore) -> None:
    contents = [f"file {index} of the batch".encode() for index in range(12)]
    events = [upload(index, data) for index, data in enumerate(contents)]
    for data in contents:
        keep_bytes(store, files, data)
    process(store, events)
    extractor = TextExtractor()  # shared: counts every call of both workers
    outcomes = []

    def run() -> None:
        outcomes.append(worker(store, files, extractor, workers=3).run(until_empty=True))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(outcome.done for outcome in outcomes) == len(events)
    assert extractor.calls == Counter({event.file.name: 1 for event in events})
    process(store)
    assert Counter(t.extracted.file_event_id for t in archived_texts(store)) == Counter(e.event_id for e in events)


def test_a_worker_stopped_mid_file_gives_the_job_back_without_recording_a_failure(
    store: StagingStore, files: FsFileStore
) -> None:
    event = upload(1, b"interrupted")
    keep_bytes(store, files, b"interrupted")
    process(store, [event])
    started, finish = threading.Event(), threading.Event()

    class ClosedUnderIt(TextExtractor):
        """What the pool answers for a file whose worker process it killed while closing."""

        def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction:
            started.set()
            finish.wait()
            return Extraction(state="failed", text="", extractor="pool", extractor_version="1", reason="worker died")

    stopping = worker(store, files, ClosedUnderIt())
    runner = threading.Thread(target=stopping.run)
    runner.start()
    assert started.wait(timeout=60)
    stopping.stop()
    runner.join()
    finish.set()  # the interrupted call answers after the loop ended
    for thread in threading.enumerate():
        if thread.name.startswith("extract-"):
            thread.join(timeout=60)
    jobs = archive_extraction_jobs.c
    with store.engine.connect() as connection:
        row = connection.execute(select(jobs.state, jobs.attempts, jobs.lease_owner)).one()
    assert tuple(row) == ("queued", 0, None)
    assert staged_types(store) == Counter()
    assert worker(store, files, TextExtractor()).run(until_empty=True).done == 1


@pytest.mark.parametrize("name", ["..", ".", "x" * 300 + ".pdf", "a/b/../../c.tar.gz", "évian.ДОКУМЕНТ"])
def test_any_upload_name_makes_a_safe_temporary_copy(store: StagingStore, files: FsFileStore, name: str) -> None:
    event = upload(1, b"named oddly", name=name)
    keep_bytes(store, files, b"named oddly")
    process(store, [event])
    extractor = TextExtractor()
    assert worker(store, StreamOnly(files), extractor).run(until_empty=True).done == 1
    [path] = extractor.paths
    assert path.parent.parent == Path(tempfile.gettempdir())
    assert path.name.startswith("file")
    assert extractor.calls == Counter({name: 1})


def test_an_upload_disposed_of_during_its_extraction_gets_no_text(store: StagingStore, files: FsFileStore) -> None:
    event = upload(1, b"disposed of meanwhile")
    keep_bytes(store, files, b"disposed of meanwhile")
    process(store, [event])
    now = datetime.now(UTC)
    with store.engine.begin() as connection:
        [job] = claim_extraction_jobs(connection, owner="w", now=now, lease_until=now + timedelta(600), limit=1)
        dispose_events(connection, [Disposal(str(event.event_id), "room:desk")], str(uuid.uuid4()), now)
    before = set(files.iter_sha256())
    extraction = Extraction(state="extracted", text="a text nobody refers to", extractor="t", extractor_version="1")
    assert worker(store, files, TextExtractor())._finish(job, "w", extraction).done
    assert staged_types(store) == Counter()
    assert set(files.iter_sha256()) == before
    assert job_states(store) == {str(event.event_id): "done"}


class Down(StreamOnly):
    """A store that is unreachable (reads and writes) until ``down`` is cleared."""

    down = True

    def put(self, chunks: Any, **options: Any) -> StoredFile:
        if self.down:
            raise FileStoreError("the S3 file store: endpoint unreachable")
        return self.inner.put(chunks, **options)

    def open(self, sha256: str) -> BinaryIO:
        if self.down:
            raise FileStoreError("the S3 file store: endpoint unreachable")
        return self.inner.open(sha256)


def job_row(store: StagingStore) -> tuple[str, int, datetime | None]:
    jobs = archive_extraction_jobs.c
    with store.engine.connect() as connection:
        row = connection.execute(select(jobs.state, jobs.attempts, jobs.lease_until)).one()
    return row.state, int(row.attempts), row.lease_until


def test_a_short_store_outage_does_not_fail_texts_for_good(store: StagingStore, files: FsFileStore) -> None:
    data = b"quarterly numbers"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    outage = Down(files)
    # The store is down: the run puts the job off (not a try of the file) and ends, it does not
    # wait out the outage.
    outcome = worker(store, outage, TextExtractor(), max_attempts=1).run(until_empty=True)
    assert (outcome.done, outcome.retried, outcome.put_off) == (0, 0, 1)
    state, attempts, not_before = job_row(store)
    assert (state, attempts) == ("queued", 0)
    assert not_before is not None
    outage.down = False
    assert worker(store, outage, TextExtractor(), max_attempts=1).run(until_empty=True).done == 1
    process(store)
    assert [(t.extracted.state, t.extracted.reason) for t in archived_texts(store)] == [("extracted", None)]


def test_a_store_that_cannot_keep_the_text_does_not_fail_it_for_good(store: StagingStore, files: FsFileStore) -> None:
    data = b"the text cannot be written"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])

    class ReadOnly(Down):
        def open(self, sha256: str) -> BinaryIO:
            return self.inner.open(sha256)

    readonly = ReadOnly(files)
    for _ in range(3):  # more runs than attempts: none of them counts
        assert worker(store, readonly, TextExtractor(), max_attempts=1).run(until_empty=True).done == 0
    assert job_row(store)[:2] == ("queued", 0)
    readonly.down = False
    assert worker(store, readonly, TextExtractor(), max_attempts=1).run(until_empty=True).done == 1
    process(store)
    assert [t.extracted.state for t in archived_texts(store)] == ["extracted"]


class Answering(TextExtractor):
    """Gives the pool's answers in turn (then reads the file)."""

    def __init__(self, *answers: Extraction) -> None:
        super().__init__()
        self.answers = list(answers)

    def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction:
        if self.answers:
            self.calls[name] += 1
            return self.answers.pop(0)
        return super().__call__(path, name=name, content_type=content_type)


def pool_failed(reason: str, cause: Any) -> Extraction:
    return Extraction(
        state="failed", text="", extractor="extraction.pool", extractor_version="1", reason=reason, cause=cause
    )


def test_a_pool_that_cannot_start_a_worker_does_not_use_up_the_files_attempts(
    store: StagingStore, files: FsFileStore
) -> None:
    data = b"the machine is out of processes"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    not_started = pool_failed("an extraction worker did not start: the worker did not start", "infrastructure")
    extractor = Answering(*[not_started] * 3)
    clock = Clock(datetime.now(UTC))
    for _ in range(3):
        assert worker(store, files, extractor, max_attempts=1, clock=clock).run(until_empty=True).done == 0
        state, attempts, not_before = job_row(store)
        assert (state, attempts) == ("queued", 0)
        assert not_before is not None
        assert not_before > clock.now
        clock.now = not_before
    assert worker(store, files, extractor, max_attempts=1, clock=clock).run(until_empty=True).done == 1
    assert extractor.calls == Counter({"note-1.txt": 4})
    process(store)
    assert [t.extracted.state for t in archived_texts(store)] == ["extracted"]


def test_put_offs_double_up_to_the_maximum(store: StagingStore, files: FsFileStore) -> None:
    data = b"put off again and again"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    outage = Down(files)
    clock = Clock(datetime.now(UTC))
    delays = []
    for _ in range(5):
        options = {"backoff_initial": 10.0, "backoff_maximum": 60.0}
        worker(store, outage, TextExtractor(), clock=clock, **options).run(until_empty=True)
        not_before = job_row(store)[2]
        assert not_before is not None
        delays.append((not_before - clock.now).total_seconds())
        clock.now = not_before
    assert delays == [10.0, 20.0, 40.0, 60.0, 60.0]


def test_a_job_put_off_is_not_claimed_before_its_time(store: StagingStore, files: FsFileStore) -> None:
    event = upload(1, b"later")
    keep_bytes(store, files, b"later")
    process(store, [event])
    now = datetime.now(UTC)
    lease = now + timedelta(seconds=600)
    with store.engine.begin() as connection:
        [job] = claim_extraction_jobs(connection, owner="w", now=now, lease_until=lease, limit=1)
        release_extraction_job(
            connection,
            job.file_event_id,
            owner="w",
            now=now,
            count_attempt=False,
            not_before=now + timedelta(seconds=30),
        )
    with store.engine.begin() as connection:
        soon = now + timedelta(seconds=29)
        assert claim_extraction_jobs(connection, owner="x", now=soon, lease_until=lease, limit=1) == []
        [again] = claim_extraction_jobs(
            connection, owner="x", now=now + timedelta(seconds=30), lease_until=lease, limit=1
        )
    assert (again.attempts, again.put_off_seconds) == (1, 30.0)


def test_a_time_limit_is_tried_once_more_before_it_is_final(store: StagingStore, files: FsFileStore) -> None:
    data = b"slow under load"
    event = upload(1, data)
    keep_bytes(store, files, data)
    process(store, [event])
    timed_out = pool_failed("time limit: no answer within 60 s (the worker was killed)", "worker")
    extractor = Answering(timed_out, timed_out)
    outcome = worker(store, files, extractor, max_attempts=1).run(until_empty=True)
    assert (outcome.done, outcome.retried) == (1, 1)
    assert extractor.calls == Counter({"note-1.txt": 2})
    process(store)
    [text] = archived_texts(store)
    assert (text.extracted.state, text.extracted.reason) == (
        "failed",
        "time limit: no answer within 60 s (the worker was killed) (after 2 attempts)",
    )


def test_a_file_the_extractor_failed_on_is_final_at_once(store: StagingStore, files: FsFileStore) -> None:
    event = upload(1, b"encrypted")
    keep_bytes(store, files, b"encrypted")
    process(store, [event])
    extractor = Answering(pool_failed("encrypted PDF", "file"))
    assert worker(store, files, extractor).run(until_empty=True).done == 1
    process(store)
    assert [(t.extracted.state, t.extracted.reason) for t in archived_texts(store)] == [("failed", "encrypted PDF")]


def test_a_slow_fetch_does_not_hold_up_extraction(store: StagingStore, files: FsFileStore) -> None:
    fetched, other = upload(1, b"behind a slow server", url="https://chat.example/files/1"), upload(2, b"here")
    keep_bytes(store, files, b"here")
    process(store, [fetched, other])
    started, release, returned, extracted = (threading.Event() for _ in range(4))

    def fetch(waiting: WaitingUpload) -> bool:
        started.set()
        release.wait(timeout=60)  # a fetch that drips for as long as the test runs
        returned.set()
        return False

    class Noting(TextExtractor):
        def __call__(self, path: Path, *, name: str, content_type: str) -> Extraction:
            assert started.is_set()
            assert not returned.is_set()
            extracted.set()
            return super().__call__(path, name=name, content_type=content_type)

    extraction = ExtractionWorker(store.engine, files, Noting(), WorkerOptions(interval=0.05), fetch=fetch)
    runner = threading.Thread(target=extraction.run)
    runner.start()
    try:
        assert started.wait(timeout=60)
        assert extracted.wait(timeout=60)
    finally:
        release.set()
        extraction.stop()
        runner.join()
    assert returned.wait(timeout=60)
