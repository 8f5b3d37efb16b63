"""The attachments of the archive: which natives are stored, which uploads still wait for their
bytes, and the text extracted from each uploaded file (tables in :mod:`archive.schema`).

Every reader and writer of ``archive_natives`` and ``archive_file_texts`` goes through here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Connection, delete, exists, func, select

from archive.schema import archive_extraction_jobs, archive_file_texts, archive_files, archive_natives
from ingest.db import among, insert_ignoring_conflicts
from ingest.events import ExtractedText

ReceivedVia = Literal["api", "publish", "fetch", "import"]
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
    when this is news, False when it was already recorded."""
    row = {"sha256": sha256, "size": size, "stored_at": datetime.now(UTC), "received_via": received_via}
    statement = insert_ignoring_conflicts(connection.dialect.name, archive_natives)
    # RETURNING, not rowcount: the PostgreSQL driver reports no rowcount here (-1).
    return connection.execute(statement.returning(archive_natives.c.sha256), row).first() is not None


def record_file_text(connection: Connection, event_id: str, extracted: ExtractedText, extracted_at: datetime) -> bool:
    """Keep the text extracted from one upload (a ``file_text`` event, ``event_id``, deriving
    ``archive_file_texts``): True when new, False when that upload's text was already kept."""
    row = {
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
    statement = insert_ignoring_conflicts(connection.dialect.name, archive_file_texts)
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
