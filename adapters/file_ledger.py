"""Which events a file-writing adapter has written, so that each is written exactly once.

The processor delivers at least once: a processor killed after an adapter wrote its file but
before the outcome was recorded leaves its lease to expire, and the events are claimed again,
possibly together with newer ones, as a different batch. A file named after its batch would then
repeat them. So each file-writing adapter (``xml``, ``actiance``) keeps a ledger beside its files,
in the hidden folder ``.archivist/`` of its directory (``ledger.sqlite3``: event id -> the file it
went into), and writes only the events of a delivery that are not already in a file.

The protocol, under an exclusive lock (``.archivist/ledger.lock``, ``flock``: released by the
kernel when its holder dies, so a killed writer never blocks the next):

1. an event is already written when its ledger file is marked written, or exists (a writer
   killed after its rename and before the mark);
2. the rest are recorded as going into the new file, durably (SQLite, synchronous=FULL), then
3. the file is written atomically (temporary file, fsync, rename, fsync of the directory), then
4. the file is marked written.

A writer killed between 2 and 3 leaves a reserved file that does not exist: its events are
written again by the next delivery, into that delivery's file. Marking (4) means a file a
vendor's pickup later moves away still counts as written. Several processes may share a
directory: the lock serialises their writes.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ingest.events import Event

LEDGER_DIR = ".archivist"
LEDGER_NAME = "ledger.sqlite3"
LOCK_NAME = "ledger.lock"
_CHUNK = 500
_LOOKUP = (
    "SELECT events.event_id, files.name, files.written FROM events JOIN files ON files.id = events.file_id "
    "WHERE events.event_id IN"
)
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
    "written INTEGER NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS events (event_id BLOB PRIMARY KEY, file_id INTEGER NOT NULL) WITHOUT ROWID",
)


class LedgerSession:
    """The ledger while its lock is held (see :meth:`FileLedger.session`)."""

    def __init__(self, directory: Path, connection: sqlite3.Connection) -> None:
        self.directory = directory
        self.connection = connection

    def unwritten(self, events: Sequence[Event]) -> list[Event]:
        """``events`` that are in no file yet, in their order."""
        written: set[bytes] = set()
        exists: dict[str, bool] = {}
        ids = [event.event_id.bytes for event in events]
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            query = f"{_LOOKUP} ({','.join('?' * len(chunk))})"
            rows = self.connection.execute(query, chunk).fetchall()
            for event_id, name, marked in rows:
                if name not in exists:
                    exists[name] = bool(marked) or (self.directory / name).exists()
                if exists[name]:
                    written.add(event_id)
        return [event for event in events if event.event_id.bytes not in written]

    def reserve(self, events: Sequence[Event], name: str) -> None:
        """Record, durably, that ``events`` go into the file ``name`` (before it is written)."""
        with self.connection:
            self.connection.execute("INSERT OR IGNORE INTO files (name) VALUES (?)", [name])
            (file_id,) = self.connection.execute("SELECT id FROM files WHERE name = ?", [name]).fetchone()
            self.connection.executemany(
                "INSERT OR REPLACE INTO events (event_id, file_id) VALUES (?, ?)",
                [(event.event_id.bytes, file_id) for event in events],
            )

    def mark_written(self, name: str) -> None:
        with self.connection:
            self.connection.execute("UPDATE files SET written = 1 WHERE name = ?", [name])


class FileLedger:
    """The ledger of one output directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.home = directory / LEDGER_DIR
        self._connection: sqlite3.Connection | None = None

    @contextmanager
    def session(self) -> Iterator[LedgerSession]:
        """The ledger, with the directory's lock held until the block ends (raises ``OSError`` or
        ``sqlite3.Error`` when the directory or the ledger cannot be used)."""
        self.home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield LedgerSession(self.directory, self._connect())
        finally:
            os.close(descriptor)  # releases the lock

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.home / LEDGER_NAME, check_same_thread=False, timeout=60)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            with connection:
                for statement in _SCHEMA:
                    connection.execute(statement)
            self._connection = connection
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
