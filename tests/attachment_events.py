"""File uploads and the ``file_text`` events describing them, with the text put in a file store
(what the extraction pipeline makes; here built directly, for the search tests)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from archive.file_store import FileStore
from ingest.events import FileTextEvent, FileUploadEvent, parse_event

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TEXT_NAMESPACE = uuid.UUID("6f2b8d4e-6c1a-4f7e-9d51-2a7b0c3e9f18")


def upload(
    name: str,
    seconds: float = 0,
    *,
    content: bytes | None = None,
    content_type: str = "application/pdf",
    room: str = "desk",
    actor: str = "alice",
    event_id: str | None = None,
) -> FileUploadEvent:
    data = content if content is not None else name.encode()
    payload: dict[str, Any] = {
        "schema_version": 1,
        "event_id": event_id or str(uuid.uuid4()),
        "type": "file_upload",
        "occurred_at": (T0 + timedelta(seconds=seconds)).isoformat(),
        "room": {"id": f"room:{room}", "name": f"#{room}", "kind": "room"},
        "actor": {"id": f"user:{actor}", "name": actor.title()},
        "file": {
            "name": name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": content_type,
        },
    }
    event = parse_event(payload)
    assert isinstance(event, FileUploadEvent)
    return event


def file_text(
    of: FileUploadEvent,
    text: str | None,
    store: FileStore | None,
    *,
    seconds: float = 30,
    state: str = "extracted",
    reason: str | None = None,
    extractor_version: str = "1.0",
) -> FileTextEvent:
    """The ``file_text`` of ``of`` with ``text`` (put in ``store`` unless it is None; None text:
    nothing was extracted)."""
    text_sha256 = None
    if text is not None:
        data = text.encode("utf-8")
        text_sha256 = hashlib.sha256(data).hexdigest()
        if store is not None:
            store.put([data], expected_sha256=text_sha256)
    payload: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(TEXT_NAMESPACE, str(of.event_id))),
        "type": "file_text",
        "occurred_at": (of.occurred_at + timedelta(seconds=seconds)).isoformat(),
        "room": of.room.model_dump(),
        "actor": of.actor.model_dump(),
        "extracted": {
            "file_event_id": str(of.event_id),
            "sha256": of.file.sha256,
            "state": state,
            "reason": reason,
            "extractor": "pdf",
            "extractor_version": extractor_version,
            "text_sha256": text_sha256,
            "text_chars": len(text or ""),
            "truncated": False,
        },
    }
    event = parse_event(payload)
    assert isinstance(event, FileTextEvent)
    return event
