"""The attachments of the archive: which natives are stored, which uploads still wait for their
bytes, and the text extracted from each uploaded file (tables in :mod:`archive.schema`).

Every reader and writer of ``archive_natives``, ``archive_file_texts`` and
``archive_extraction_jobs`` goes through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, exists, func, or_, select, update

from archive.schema import archive_extraction_jobs, archive_file_texts, archive_files, archive_natives
from ingest.db import among, insert_ignoring_conflicts
from ingest.events import FileTextEvent

ReceivedVia = Literal["api", "publish", "fetch", "import", "extract"]
"""How the bytes came: ``extract`` is an extracted text the extraction worker stored."""
_CHUNK = 500


@dataclass(frozen=True)
class FileText:
    """The text extracted from one uploaded file (a row of ``archive_file_texts``)."""

    file_event_id: str
    event_id: str
    sha256: str
    state: str
    reason: str | None
    extractor: str
    extractor_version: str
    text_sha256: str | None
    text_chars: int
    truncated: bool
    extracted_at: datetime


def record_native(connection: Connection, sha256: str, size: int, received_via: ReceivedVia) -> bool:
    """Note that the store now holds ``sha256`` (after :meth:`FileStore.put` returned): True
    when this is news, False when it was already recorded."""
    row = {"sha256": sha256, "size": size, "stored_at": datetime.now(UTC), "received_via": received_via}
    statement = insert_ignoring_conflicts(connection.dialect.name, archive_natives)
    return connection.execute(statement, [row]).rowcount > 0


def forget_native(connection: Connection, sha256: str) -> None:
    connection.execute(archive_natives.delete().where(archive_natives.c.sha256 == sha256))


def stored_natives(connection: Connection, sha256s: Iterable[str]) -> set[str]:
    """Which of ``sha256s`` the store holds."""
    wanted = sorted(set(sha256s))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        found.update(connection.scalars(select(archive_natives.c.sha256).where(archive_natives.c.sha256.in_(chunk))))
    return found


def pending_count(connection: Connection) -> int:
    """Uploaded files whose bytes have not arrived (``archivist status``)."""
    stored = exists().where(archive_natives.c.sha256 == archive_files.c.sha256)
    query = select(func.count()).select_from(archive_files).where(archive_files.c.direction == "upload", ~stored)
    return int(connection.scalar(query) or 0)


def references(connection: Connection, sha256: str) -> int:
    """How many archived file events (and extracted texts) still refer to these bytes: content
    is shared, so bytes may be deleted only when this is 0."""
    files = connection.scalar(select(func.count()).select_from(archive_files).where(archive_files.c.sha256 == sha256))
    texts = connection.scalar(
        select(func.count()).select_from(archive_file_texts).where(archive_file_texts.c.text_sha256 == sha256)
    )
    return int(files or 0) + int(texts or 0)


def texts_for(connection: Connection, file_event_ids: Sequence[str]) -> dict[str, FileText]:
    """The extracted text of each of ``file_event_ids`` that has one, by file event id."""
    found: dict[str, FileText] = {}
    wanted = sorted(set(file_event_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = connection.execute(select(archive_file_texts).where(archive_file_texts.c.file_event_id.in_(chunk)))
        for row in rows:
            found[row.file_event_id] = FileText(
                file_event_id=row.file_event_id,
                event_id=row.event_id,
                sha256=row.sha256,
                state=row.state,
                reason=row.reason,
                extractor=row.extractor,
                extractor_version=row.extractor_version,
                text_sha256=row.text_sha256,
                text_chars=int(row.text_chars),
                truncated=bool(row.truncated),
                extracted_at=row.extracted_at,
            )
    return found


def record_file_texts(connection: Connection, events: Sequence[FileTextEvent]) -> None:
    """One ``archive_file_texts`` row per ``file_text`` event (derived in the append
    transaction); a re-delivered event, or a second text for the same upload, keeps the first."""
    rows = [
        {
            "file_event_id": str(event.extracted.file_event_id),
            "event_id": str(event.event_id),
            "sha256": event.extracted.sha256,
            "state": event.extracted.state,
            "reason": event.extracted.reason,
            "extractor": event.extracted.extractor,
            "extractor_version": event.extracted.extractor_version,
            "text_sha256": event.extracted.text_sha256,
            "text_chars": event.extracted.text_chars,
            "truncated": event.extracted.truncated,
            "extracted_at": event.occurred_at,
        }
        for event in events
    ]
    if rows:
        connection.execute(insert_ignoring_conflicts(connection.dialect.name, archive_file_texts), rows)


def file_text_counts(connection: Connection) -> dict[str, int]:
    """Extracted texts by state (extracted, empty, unsupported, failed), for ``archivist status``."""
    texts = archive_file_texts.c
    counts = {state: 0 for state in ("extracted", "empty", "unsupported", "failed")}
    for state, count in connection.execute(select(texts.state, func.count()).group_by(texts.state)):
        counts[state] = int(count)
    return counts


# The extraction adapter's progress (``adapters.extraction_adapter``, ``adapters.extraction_worker``).

JobState = Literal["waiting", "queued", "running", "done"]
JOB_STATES: tuple[JobState, ...] = ("waiting", "queued", "running", "done")
_jobs = archive_extraction_jobs.c


@dataclass(frozen=True)
class ExtractionJob:
    """A claimed (``running``) job, with what its upload's ``archive_files`` row says."""

    file_event_id: str
    sha256: str
    attempts: int
    """Claims so far, this one included."""
    name: str
    content_type: str


@dataclass(frozen=True)
class WaitingUpload:
    """An upload whose bytes have not arrived, with the url its event gave."""

    file_event_id: str
    sha256: str
    name: str
    size: int
    content_type: str
    url: str


def add_extraction_jobs(connection: Connection, uploads: Sequence[tuple[str, str]], now: datetime) -> None:
    """A job for each ``(file_event_id, sha256)`` that has none yet: ``queued`` when the store
    holds the bytes, else ``waiting``. A known upload keeps its job as it is (re-delivery)."""
    if not uploads:
        return
    stored = stored_natives(connection, (sha256 for _, sha256 in uploads))
    rows = [
        {
            "file_event_id": file_event_id,
            "sha256": sha256,
            "state": "queued" if sha256 in stored else "waiting",
            "attempts": 0,
            "updated_at": now,
        }
        for file_event_id, sha256 in dict(uploads).items()
    ]
    connection.execute(insert_ignoring_conflicts(connection.dialect.name, archive_extraction_jobs), rows)


def queue_arrived(connection: Connection, now: datetime) -> int:
    """``waiting`` jobs whose bytes the store now holds become ``queued`` (their fetch attempts
    forgotten: ``attempts`` then counts extractions); returns how many."""
    arrived = exists().where(archive_natives.c.sha256 == _jobs.sha256)
    result = connection.execute(
        update(archive_extraction_jobs)
        .where(_jobs.state == "waiting", arrived)
        .values(state="queued", attempts=0, updated_at=now)
    )
    return int(result.rowcount or 0)


def waiting_with_url(connection: Connection, *, not_tried_since: datetime, limit: int) -> list[WaitingUpload]:
    """``waiting`` jobs whose upload names a url, never fetched or not since ``not_tried_since``
    (oldest first); :func:`note_fetch_tried` records a try (in ``attempts``)."""
    files = archive_files.c
    query = (
        select(_jobs.file_event_id, _jobs.sha256, files.name, files.size, files.content_type, files.url)
        .join(archive_files, files.event_id == _jobs.file_event_id)
        .where(
            _jobs.state == "waiting",
            files.url.is_not(None),
            or_(_jobs.attempts == 0, _jobs.updated_at < not_tried_since),
        )
        .order_by(_jobs.updated_at)
        .limit(limit)
    )
    return [
        WaitingUpload(row.file_event_id, row.sha256, row.name, int(row.size), row.content_type, row.url)
        for row in connection.execute(query)
    ]


def note_fetch_tried(connection: Connection, file_event_id: str, now: datetime) -> None:
    connection.execute(
        update(archive_extraction_jobs)
        .where(_jobs.file_event_id == file_event_id, _jobs.state == "waiting")
        .values(attempts=_jobs.attempts + 1, updated_at=now)
    )


def claim_extraction_jobs(
    connection: Connection, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[ExtractionJob]:
    """Lease up to ``limit`` jobs (``queued``, or ``running`` under a lease that expired: its
    worker died) whose upload is archived, counting the attempt. ``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, so workers never wait for each other; SQLite's write lock serialises claims."""
    files = archive_files.c
    claimable = or_(_jobs.state == "queued", (_jobs.state == "running") & (_jobs.lease_until < now))
    query = (
        select(_jobs.file_event_id, _jobs.sha256, _jobs.attempts, files.name, files.content_type)
        .join(archive_files, files.event_id == _jobs.file_event_id)
        .where(claimable)
        .order_by(_jobs.updated_at, _jobs.file_event_id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=archive_extraction_jobs)
    found = connection.execute(query).all()
    if not found:
        return []
    ids = [row.file_event_id for row in found]
    connection.execute(
        update(archive_extraction_jobs)
        .where(among(_jobs.file_event_id, ids, connection.dialect.name))
        .values(
            state="running", lease_owner=owner, lease_until=lease_until, attempts=_jobs.attempts + 1, updated_at=now
        )
    )
    return [
        ExtractionJob(row.file_event_id, row.sha256, int(row.attempts) + 1, row.name, row.content_type) for row in found
    ]


def finish_extraction_job(connection: Connection, file_event_id: str, *, owner: str, now: datetime) -> bool:
    """Mark a job ``done`` if ``owner`` still holds its lease (True); False when the lease
    expired and another worker took it (the caller then records nothing)."""
    result = connection.execute(
        update(archive_extraction_jobs)
        .where(_jobs.file_event_id == file_event_id, _jobs.state == "running", _jobs.lease_owner == owner)
        .values(state="done", lease_owner=None, lease_until=None, updated_at=now)
    )
    return bool(result.rowcount)


def release_extraction_job(
    connection: Connection, file_event_id: str, *, owner: str, now: datetime, count_attempt: bool = True
) -> None:
    """Put a job ``owner`` leased back in the queue: after a failed attempt (counted), or
    untried because its worker is stopping (``count_attempt=False``)."""
    attempts = _jobs.attempts if count_attempt else _jobs.attempts - 1
    connection.execute(
        update(archive_extraction_jobs)
        .where(_jobs.file_event_id == file_event_id, _jobs.state == "running", _jobs.lease_owner == owner)
        .values(state="queued", lease_owner=None, lease_until=None, attempts=attempts, updated_at=now)
    )


def extraction_job_counts(connection: Connection) -> dict[str, int]:
    """Jobs by state (waiting, queued, running, done), for ``archivist status``."""
    counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
    for state, count in connection.execute(select(_jobs.state, func.count()).group_by(_jobs.state)):
        counts[state] = int(count)
    return counts


def extraction_pending(connection: Connection) -> int:
    """Jobs a worker can take or has taken (``queued``, ``running``) whose upload is archived:
    what ``archivist extract --until-empty`` waits for."""
    archived = exists().where(archive_files.c.event_id == _jobs.file_event_id)
    query = (
        select(func.count())
        .select_from(archive_extraction_jobs)
        .where(_jobs.state.in_(("queued", "running")), archived)
    )
    return int(connection.scalar(query) or 0)


def forget_extraction_jobs(connection: Connection, file_event_ids: Sequence[str]) -> None:
    """The jobs of disposed uploads (their text, if any, goes with its own event)."""
    connection.execute(
        archive_extraction_jobs.delete().where(among(_jobs.file_event_id, file_event_ids, connection.dialect.name))
    )
