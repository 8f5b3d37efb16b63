"""Issue 18's proof: a real ``archivist process`` (archive and extract adapters, the extraction
pool's worker processes) is SIGKILLed while it extracts, then started again. Nothing is lost and
nothing is extracted twice: every upload ends with exactly one ``file_text`` event in the archive,
one ``archive_file_texts`` row and its text once in the index, and a file whose text was
recorded before the kill is not extracted again.

The extraction is made slow in a controlled way: the pool runs :func:`gated_extract`, which waits
at a gate per file (the real extractor reads the file once the gate opens); the test kills the
processor while two files wait at their gates and a third has gone through."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from archive.attachments import extraction_job_counts, record_native, texts_for
from archive.fs_file_store import FsFileStore
from archive.schema import archive_events, archive_extraction_jobs, archive_file_texts
from ingest.events import FileTextEvent, file_text_event_id, parse_event_json
from ingest.staging import StagingStore, to_row
from search.tantivy_schema import ATTACHMENT, open_index
from tests.adapters.test_extraction_pipeline import upload
from tests.factories import post
from tests.faults.gated_extraction import GATE_DIR, markers
from tests.processes import archivist_env, wait_until

REPOSITORY = Path(__file__).resolve().parents[2]

# `archivist process`, its pool built with the gated extraction (the composition root's one seam).
_PROCESS = textwrap.dedent(
    """
    import sys
    from archivist import wiring
    from archivist.cli import main
    from extraction.pool import ExtractionPool
    from tests.faults.gated_extraction import gated_extract

    def gated_pool(settings):
        return ExtractionPool(settings.extract_workers, wiring.extraction_limits(settings), extract=gated_extract)

    wiring.extraction_pool = gated_pool
    sys.argv = ["archivist", *sys.argv[1:]]
    main()
    """
)


def start_process(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _PROCESS, "process", *args],
        env=env,
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def archived_texts(store: StagingStore) -> Counter[str]:
    """``file_text`` events in the archive, per upload."""
    with store.engine.connect() as connection:
        payloads = connection.execute(
            select(archive_events.c.payload).where(archive_events.c.event_type == "file_text")
        ).scalars()
        found = [parse_event_json(payload) for payload in payloads]
    return Counter(str(e.extracted.file_event_id) for e in found if isinstance(e, FileTextEvent))


def job_rows(store: StagingStore) -> dict[str, tuple[str, int]]:
    jobs = archive_extraction_jobs.c
    with store.engine.connect() as connection:
        rows = connection.execute(select(jobs.file_event_id, jobs.state, jobs.attempts))
        return {row.file_event_id: (row.state, int(row.attempts)) for row in rows}


def test_a_processor_killed_while_extracting_loses_nothing_and_extracts_nothing_twice(
    store: StagingStore, tmp_path: Path
) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    files = FsFileStore(tmp_path / "data" / "files")
    words = {"fast.txt": "alpha", "slow-1.txt": "bravo", "slow-2.txt": "charlie"}
    contents = {name: f"the text of {name}, {word}: {'ä€😀' * 3}".encode() for name, word in words.items()}
    uploads = {name: upload(index, data, name=name) for index, (name, data) in enumerate(contents.items())}
    for data in contents.values():
        stored = files.put([data])
        with store.engine.begin() as connection:
            record_native(connection, stored.sha256, stored.size, "publish")
    store.stage([to_row(event) for event in [post(1), *uploads.values(), post(2)]])
    (gates / "open-fast.txt").touch()
    env = archivist_env(
        database_url=store.engine.url.render_as_string(hide_password=False),
        adapters="archive,index,extract",
        data_dir=str(tmp_path / "data"),
        process_interval="0.1",
        lease_seconds="3",  # a batch the killed processor had claimed is claimed again soon
        extract_workers="2",
    )
    env[GATE_DIR] = str(gates)
    fast_id = str(uploads["fast.txt"].event_id)

    first = start_process(env)
    try:
        wait_until(
            lambda: (
                len(markers(gates, "started", "slow-1.txt")) == 1
                and len(markers(gates, "started", "slow-2.txt")) == 1
                and job_rows(store).get(fast_id, ("", 0))[0] == "done"
            ),
            timeout=120,
            what="the fast file's text recorded and both slow files extracting",
        )
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()

    # Killed mid-extraction: the slow files' jobs are leased to a process that is gone. (Its
    # pool's worker processes, orphaned, may still finish reading a file once the gates open:
    # they have nobody to answer, and the restarted processor's own workers do the work.)
    killed = {pid for name in contents for pid in markers(gates, "started", name)}
    assert {name: len(markers(gates, "finished", name)) for name in contents} == {
        "fast.txt": 1,
        "slow-1.txt": 0,
        "slow-2.txt": 0,
    }
    jobs = job_rows(store)
    assert sorted(state for state, _ in jobs.values()) == ["done", "running", "running"]
    assert archived_texts(store)[str(uploads["slow-1.txt"].event_id)] == 0
    # Time passes: the dead processor's leases run out.
    with store.engine.begin() as connection:
        connection.execute(
            update(archive_extraction_jobs)
            .where(archive_extraction_jobs.c.state == "running")
            .values(lease_until=datetime.now(UTC) - timedelta(seconds=1))
        )
    (gates / "open-all").touch()

    second = start_process(env, "--until-empty")
    try:
        stdout, stderr = second.communicate(timeout=180)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    assert second.returncode == 0, stderr
    assert "staging now holds 0 (+0 parked)" in stdout

    # Nothing lost, nothing twice: one text per upload, the fast one never extracted again.
    assert archived_texts(store) == Counter({str(event.event_id): 1 for event in uploads.values()})
    restarted = {name: [pid for pid in markers(gates, "finished", name) if pid not in killed] for name in contents}
    assert {name: len(pids) for name, pids in restarted.items()} == {"fast.txt": 0, "slow-1.txt": 1, "slow-2.txt": 1}
    assert StagingStore(store.engine).event_ids() == set()
    jobs = job_rows(store)
    assert jobs[fast_id] == ("done", 1)
    assert {jobs[str(uploads[name].event_id)] for name in ("slow-1.txt", "slow-2.txt")} == {("done", 2)}
    with store.engine.connect() as connection:
        assert extraction_job_counts(connection)["done"] == 3
        assert len(connection.execute(select(archive_file_texts.c.file_event_id)).all()) == 3
        texts = texts_for(connection, [str(event.event_id) for event in uploads.values()])
    # The index (in its own worker process) holds each text once, in its upload's document.
    index = open_index(tmp_path / "data" / "index")
    index.reload()
    searcher = index.searcher()
    for word in words.values():
        assert len(searcher.search(index.parse_query(word, [ATTACHMENT]), 10).hits) == 1, word
    for name, event in uploads.items():
        text = texts[str(event.event_id)]
        assert text.event_id == str(file_text_event_id(event.event_id))
        assert (text.state, text.text_sha256) == ("extracted", hashlib.sha256(contents[name]).hexdigest())
        with files.open(hashlib.sha256(contents[name]).hexdigest()) as native:
            assert native.read() == contents[name]
