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

from sqlalchemy import Connection, and_, delete, exists, func, or_, select, update

from archive.schema import archive_extraction_jobs, archive_file_texts, archive_files, archive_natives
from ingest.db import among, insert_ignoring_conflicts
from ingest.events import ExtractedText, FileTextEvent

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


@dataclass(frozen=True)
class FileEvent:
    """An archived file event (a row of ``archive_files``): what a download names and checks."""

    event_id: str
    direction: str
    room_id: str
    actor_id: str
    name: str
    size: int
    sha256: str
    content_type: str
    occurred_at: datetime


def record_native(connection: Connection, sha256: str, size: int, received_via: ReceivedVia) -> bool:
    """Note that the store now holds ``sha256`` (after :meth:`FileStore.put` returned): True
    when this is news, False when it was already recorded (its ``stored_at`` is then refreshed
    and a deletion retention had marked is called off: the bytes are wanted again)."""
    now = datetime.now(UTC)
    row = {"sha256": sha256, "size": size, "stored_at": now, "received_via": received_via}
    statement = insert_ignoring_conflicts(connection.dialect.name, archive_natives)
    # RETURNING, not rowcount: the PostgreSQL driver reports no rowcount here (-1).
    if connection.execute(statement.returning(archive_natives.c.sha256), row).first() is not None:
        return True
    connection.execute(
        update(archive_natives).where(archive_natives.c.sha256 == sha256).values(stored_at=now, deleting=False)
    )
    return False


def receiving_native(connection: Connection, sha256: str) -> None:
    """Before the bytes ``sha256`` are put in the store: call off a deletion retention marked
    (and refresh ``stored_at``), waiting for a deletion in progress to finish (retention holds
    the row, or SQLite's write lock, while it deletes), so the put that follows writes the bytes
    again if they went. Commit it before the put; :func:`record_native` after it."""
    connection.execute(
        update(archive_natives)
        .where(archive_natives.c.sha256 == sha256)
        .values(stored_at=datetime.now(UTC), deleting=False)
    )


def mark_natives_deleting(connection: Connection, sha256s: Iterable[str], *, stored_before: datetime) -> set[str]:
    """Retention, in the transaction that disposed of references: mark for deletion those of
    ``sha256s`` no archived event refers to any more and that were handed over before
    ``stored_before`` (the run's start: bytes received since may be waiting for their event);
    returns the ones marked."""
    marked: set[str] = set()
    for sha256 in sorted(set(sha256s)):
        if references(connection, sha256):
            continue
        result = connection.execute(
            update(archive_natives)
            .where(archive_natives.c.sha256 == sha256, archive_natives.c.stored_at < stored_before)
            .values(deleting=True)
        )
        if result.rowcount:
            marked.add(sha256)
    return marked


def lock_native(connection: Connection, sha256: str) -> NativeRow | None:
    """The row of ``sha256``, locked until the caller's transaction ends (``FOR UPDATE`` on
    PostgreSQL; SQLite's transactions hold the write lock): :func:`receiving_native` waits."""
    query = select(archive_natives).where(archive_natives.c.sha256 == sha256)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    if row is None:
        return None
    return NativeRow(row.sha256, int(row.size), row.stored_at, row.received_via, bool(row.deleting))


def keep_native(connection: Connection, sha256: str) -> None:
    """Call off the deletion of ``sha256`` (an event refers to the bytes again)."""
    keep_natives(connection, [sha256])


def keep_natives(connection: Connection, sha256s: Iterable[str]) -> None:
    """Call off the deletion of each of ``sha256s`` (events refer to the bytes again), locking
    their rows until the caller's transaction ends (see :func:`lock_native`)."""
    wanted = sorted(set(sha256s))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        connection.execute(update(archive_natives).where(archive_natives.c.sha256.in_(chunk)).values(deleting=False))


def record_file_text(connection: Connection, event_id: str, extracted: ExtractedText, extracted_at: datetime) -> bool:
    """Keep the text extracted from one upload (a ``file_text`` event, ``event_id``, deriving
    ``archive_file_texts``): True when new, False when that upload's text was already kept."""
    statement = insert_ignoring_conflicts(connection.dialect.name, archive_file_texts)
    return connection.execute(statement, [_text_row(event_id, extracted, extracted_at)]).rowcount > 0


def record_file_texts(connection: Connection, events: Sequence[FileTextEvent]) -> None:
    """One ``archive_file_texts`` row per ``file_text`` event (derived in the append
    transaction); a re-delivered event, or a second text for the same upload, keeps the first."""
    rows = [_text_row(str(event.event_id), event.extracted, event.occurred_at) for event in events]
    if rows:
        connection.execute(insert_ignoring_conflicts(connection.dialect.name, archive_file_texts), rows)


def _text_row(event_id: str, extracted: ExtractedText, extracted_at: datetime) -> dict[str, object]:
    return {
        "file_event_id": str(extracted.file_event_id),
        "event_id": event_id,
        "sha256": extracted.sha256,
        "state": extracted.state,
        "reason": extracted.reason,
        "extractor": extracted.extractor,
        "extractor_version": extracted.extractor_version,
        "text_sha256": extracted.text_sha256,
        "text_chars": extracted.text_chars,
        "truncated": extracted.truncated,
        "extracted_at": extracted_at,
    }


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


def native_size(connection: Connection, sha256: str) -> int | None:
    """The size of the stored bytes ``sha256`` (None when they have not arrived): what a
    download sends, whatever size the event declared."""
    size = connection.scalar(select(archive_natives.c.size).where(archive_natives.c.sha256 == sha256))
    return None if size is None else int(size)


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


def file_event(connection: Connection, event_id: str) -> FileEvent | None:
    """The archived ``file_upload`` or ``file_download`` event ``event_id`` (None when there is
    none, or it was disposed of)."""
    columns = archive_files.c
    row = connection.execute(
        select(
            columns.event_id,
            columns.direction,
            columns.room_id,
            columns.actor_id,
            columns.name,
            columns.size,
            columns.sha256,
            columns.content_type,
            columns.occurred_at,
        ).where(columns.event_id == event_id)
    ).first()
    if row is None:
        return None
    return FileEvent(**row._mapping)


def uploads_of(connection: Connection, sha256: str) -> int:
    """How many archived ``file_upload`` events name these bytes (those they complete)."""
    query = (
        select(func.count())
        .select_from(archive_files)
        .where(archive_files.c.sha256 == sha256, archive_files.c.direction == "upload")
    )
    return int(connection.scalar(query) or 0)


def extraction_state(connection: Connection, file_event_id: str) -> str | None:
    """The extraction adapter's progress on one upload (``waiting``, ``queued``, ``running``,
    ``done``), None when it has not seen it."""
    query = select(archive_extraction_jobs.c.state).where(archive_extraction_jobs.c.file_event_id == file_event_id)
    state: str | None = connection.scalar(query)
    return state


def file_sha256s(connection: Connection, event_ids: Sequence[str]) -> set[str]:
    """The bytes the file events among ``event_ids`` refer to (read before they are disposed)."""
    found: set[str] = set()
    wanted = sorted(set(event_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = select(archive_files.c.sha256).where(among(archive_files.c.event_id, chunk, connection.dialect.name))
        found.update(connection.scalars(query))
    return found


def forget_extraction_jobs(connection: Connection, file_event_ids: Sequence[str]) -> None:
    """Drop the extraction progress of disposed uploads."""
    wanted = sorted(set(file_event_ids))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        jobs = archive_extraction_jobs.c
        connection.execute(
            delete(archive_extraction_jobs).where(among(jobs.file_event_id, chunk, connection.dialect.name))
        )


@dataclass(frozen=True)
class NativeRow:
    sha256: str
    size: int
    stored_at: datetime
    received_via: str
    deleting: bool = False
    """A retention run is to delete the bytes (until it has, they are still stored)."""


def all_natives(connection: Connection) -> list[NativeRow]:
    """Every row of ``archive_natives`` (``archivist verify --files``)."""
    rows = connection.execute(select(archive_natives).order_by(archive_natives.c.sha256))
    return [NativeRow(row.sha256, int(row.size), row.stored_at, row.received_via) for row in rows]


def native_count(connection: Connection) -> int:
    return int(connection.scalar(select(func.count()).select_from(archive_natives)) or 0)


@dataclass(frozen=True)
class FileReference:
    """An archived event that refers to some bytes: a file event, or the extracted text of one."""

    event_id: str
    kind: str
    """``upload``, ``download`` or ``text`` (the bytes are the text extracted from ``name``)."""
    name: str


def referring_events(connection: Connection, sha256s: Iterable[str]) -> dict[str, list[FileReference]]:
    """Which archived events refer to each of ``sha256s`` (as their file, or as extracted text)."""
    wanted = sorted(set(sha256s))
    found: dict[str, list[FileReference]] = {sha256: [] for sha256 in wanted}
    files = archive_files.c
    texts = archive_file_texts.c
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        for row in connection.execute(
            select(files.sha256, files.event_id, files.direction, files.name)
            .where(files.sha256.in_(chunk))
            .order_by(files.occurred_at, files.event_id)
        ):
            found[row.sha256].append(FileReference(row.event_id, row.direction, row.name))
        for text in connection.execute(
            select(texts.text_sha256, texts.event_id, files.name)
            .join(archive_files, files.event_id == texts.file_event_id, isouter=True)
            .where(texts.text_sha256.in_(chunk))
        ):
            found[text.text_sha256].append(FileReference(text.event_id, "text", text.name or "?"))
    return found


def text_blobs(connection: Connection) -> set[str]:
    """The extracted texts the file store should hold (``archive_file_texts.text_sha256``)."""
    column = archive_file_texts.c.text_sha256
    return set(connection.scalars(select(column).where(column.is_not(None)).distinct()))


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
    put_off_seconds: float = 0.0
    """How long the job was last put off for (:func:`release_extraction_job`'s ``not_before``),
    0 when it was not: the next put-off doubles it."""


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
    """Lease up to ``limit`` jobs (``queued`` and not put off past ``now``, or ``running`` under a
    lease that expired: its worker died) whose upload is archived, counting the attempt. ``FOR
    UPDATE SKIP LOCKED`` on PostgreSQL, so workers never wait for each other; SQLite's write lock
    serialises claims. A ``queued`` job's ``lease_until`` is the time it was put off to."""
    files = archive_files.c
    ready = or_(_jobs.lease_until.is_(None), _jobs.lease_until <= now)
    claimable = or_((_jobs.state == "queued") & ready, (_jobs.state == "running") & (_jobs.lease_until < now))
    query = (
        select(
            _jobs.file_event_id,
            _jobs.sha256,
            _jobs.attempts,
            _jobs.state,
            _jobs.lease_until,
            _jobs.updated_at,
            files.name,
            files.content_type,
        )
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
        ExtractionJob(
            row.file_event_id,
            row.sha256,
            int(row.attempts) + 1,
            row.name,
            row.content_type,
            put_off_seconds=_put_off_seconds(row.state, row.lease_until, row.updated_at),
        )
        for row in found
    ]


def _put_off_seconds(state: str, not_before: datetime | None, put_off_at: datetime) -> float:
    if state != "queued" or not_before is None:
        return 0.0
    return max(0.0, (not_before - put_off_at).total_seconds())


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
    connection: Connection,
    file_event_id: str,
    *,
    owner: str,
    now: datetime,
    count_attempt: bool = True,
    not_before: datetime | None = None,
    put_off_by: str | None = None,
) -> None:
    """Put a job ``owner`` leased back in the queue: after a failed attempt (counted), or
    untried (``count_attempt=False``: its worker is stopping, or the store, the database or the
    extraction pool failed, which says nothing about the file). With ``not_before``, no worker
    claims it before then (kept in ``lease_until``); ``put_off_by`` names who put it off
    (:func:`extraction_pending` can leave those out)."""
    attempts = _jobs.attempts if count_attempt else _jobs.attempts - 1
    connection.execute(
        update(archive_extraction_jobs)
        .where(_jobs.file_event_id == file_event_id, _jobs.state == "running", _jobs.lease_owner == owner)
        .values(state="queued", lease_owner=put_off_by, lease_until=not_before, attempts=attempts, updated_at=now)
    )


def extraction_job_counts(connection: Connection) -> dict[str, int]:
    """Jobs by state (waiting, queued, running, done), for ``archivist status``."""
    counts: dict[str, int] = dict.fromkeys(JOB_STATES, 0)
    for state, count in connection.execute(select(_jobs.state, func.count()).group_by(_jobs.state)):
        counts[state] = int(count)
    return counts


def extraction_pending(connection: Connection, *, not_put_off_by: str | None = None) -> int:
    """Jobs a worker can take or has taken (``queued``, ``running``) whose upload is archived:
    what ``archivist extract --until-empty`` waits for; with ``not_put_off_by``, without the
    jobs it put off (:func:`release_extraction_job`'s ``put_off_by``)."""
    archived = exists().where(archive_files.c.event_id == _jobs.file_event_id)
    query = (
        select(func.count())
        .select_from(archive_extraction_jobs)
        .where(_jobs.state.in_(("queued", "running")), archived)
    )
    if not_put_off_by is not None:
        query = query.where(
            ~and_(_jobs.state == "queued", _jobs.lease_owner.is_not(None), _jobs.lease_owner == not_put_off_by)
        )
    return int(connection.scalar(query) or 0)
