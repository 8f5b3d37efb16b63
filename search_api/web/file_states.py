"""What the pages say of an uploaded file: where to download it and how far its text got.

Read from the archive (:mod:`archive.attachments`): whether the store holds the file's bytes
(``archive_natives``) and the text extracted from it (``archive_file_texts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine

from archive.attachments import FileText, stored_natives, texts_for
from ingest.db import read_only


def file_link(file_event_id: str) -> str:
    """Where a file is downloaded through the session (audited as ``file_download``)."""
    return f"/files/{file_event_id}"


def state_label(stored: bool, text: FileText | None) -> str:
    """``bytes pending``, ``text pending``, ``text extracted (extractor version)`` or ``no text: why``."""
    if text is not None:
        if text.state == "extracted":
            cut = ", truncated" if text.truncated else ""
            return f"text extracted ({text.extractor} {text.extractor_version}{cut})"
        return f"no text: {text.reason or text.state}"
    return "text pending" if stored else "bytes pending"


def upload_states(engine: Engine, uploads: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The state label of each upload, given as (file event id, sha256), by event id."""
    if not uploads:
        return {}
    with read_only(engine) as connection:
        stored = stored_natives(connection, [sha256 for _event_id, sha256 in uploads])
        texts = texts_for(connection, [event_id for event_id, _sha256 in uploads])
    return {event_id: state_label(sha256 in stored, texts.get(event_id)) for event_id, sha256 in uploads}


def with_file_states(engine: Engine, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` (events as pages list them, with ``type``, ``event_id`` and ``file``), each
    upload given its ``file_link`` and ``file_state``."""
    uploads = [
        (str(item["event_id"]), str(item.get("file", {}).get("sha256", "")))
        for item in items
        if item.get("type") == "file_upload" and item.get("event_id")
    ]
    states = upload_states(engine, uploads)
    for item in items:
        event_id = str(item.get("event_id") or "")
        if event_id in states:
            item["file_link"] = file_link(event_id)
            item["file_state"] = states[event_id]
    return items
