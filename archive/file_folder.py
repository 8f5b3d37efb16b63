"""Natives handed over as a folder of files (``archivist publish --files DIR``, importers).

Every regular file under the folder is hashed (streamed), so the files are matched to the
``file_upload`` events by content, whatever they are named. A symbolic link that leads out of
the folder, or that leads nowhere, and a file that cannot be read are problems the caller
reports; other kinds of entries (sockets, pipes, devices) are skipped, and never opened (a pipe
would block). Files are opened without following a link (``O_NOFOLLOW``) and checked to be
regular once open, so a file swapped for a link after the walk is not read either.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from archive import attachments
from archive.file_store import FileStore, StoredFile

_READ_CHUNK = 1 << 20


@dataclass
class Folder:
    """What a folder holds, by content."""

    root: Path
    by_sha256: dict[str, Path] = field(default_factory=dict)
    """The first file found with each content."""
    problems: list[str] = field(default_factory=list)
    """Links leading out of the folder or nowhere, files that cannot be read: one line each."""
    skipped: list[Path] = field(default_factory=list)
    """Entries that are not regular files (sockets, pipes, devices)."""


def hash_folder(root: Path) -> Folder:
    """Hash every regular file under ``root`` (recursively). Links inside the folder are not
    followed (what they lead to is hashed where it is)."""
    folder = Folder(root)
    real_root = root.resolve()
    for directory, subdirectories, names in os.walk(root, followlinks=False):
        for name in sorted([*names, *(d for d in subdirectories if (Path(directory) / d).is_symlink())]):
            path = Path(directory) / name
            try:
                info = path.lstat()
            except OSError as error:
                folder.problems.append(f"{path}: cannot be read ({error.strerror or error})")
                continue
            if stat.S_ISLNK(info.st_mode):
                target = path.resolve()
                if not target.is_relative_to(real_root):
                    folder.problems.append(f"{path}: a symbolic link leading out of {root} (to {target})")
                elif not target.exists():
                    folder.problems.append(f"{path}: a symbolic link leading nowhere")
                continue
            if not stat.S_ISREG(info.st_mode):
                folder.skipped.append(path)
                continue
            try:
                digest = _sha256_of(path)
            except OSError as error:
                folder.problems.append(f"{path}: cannot be read ({error.strerror or error})")
                continue
            folder.by_sha256.setdefault(digest, path)
    return folder


def read_chunks(path: Path) -> Iterator[bytes]:
    """The bytes of the regular file ``path``, streamed; never through a link."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        while chunk := stream.read(_READ_CHUNK):
            yield chunk


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    for chunk in read_chunks(path):
        digest.update(chunk)
    return digest.hexdigest()


def store_from_folder(
    engine: Engine,
    store: FileStore,
    folder: Folder,
    wanted: Iterable[str],
    *,
    received_via: attachments.ReceivedVia,
    max_bytes: int,
) -> list[StoredFile]:
    """Put the files of ``folder`` whose SHA-256 is ``wanted`` in ``store`` and record each
    (durable in the store first, then ``archive_natives``). Raises the store's
    :class:`~archive.file_store.FileRefused` (a file changed since it was hashed, or is over
    ``max_bytes``) or ``OSError`` (it can no longer be read), having stored the ones before."""
    stored: list[StoredFile] = []
    for sha256 in sorted(set(wanted) & folder.by_sha256.keys()):
        with engine.begin() as connection:  # calls off (or waits out) a retention deleting these bytes
            attachments.receiving_native(connection, sha256)
        put = store.put(read_chunks(folder.by_sha256[sha256]), expected_sha256=sha256, max_bytes=max_bytes)
        with engine.begin() as connection:
            attachments.record_native(connection, put.sha256, put.size, received_via)
        stored.append(put)
    return stored
