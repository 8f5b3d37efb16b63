"""A review set written straight into the tables (the review part builds sets; these tests do
not depend on it): a case, a set, archived messages and attachment texts, review documents."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert

from archive.file_store import FileStore
from archive.schema import archive_file_texts, archive_messages
from cases.model import CaseSpec
from cases.store import CaseStore
from review.schema import review_documents, review_sets

WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make_set(engine: Engine, unit: str = "message") -> tuple[str, str]:
    """A case and an empty review set in it: (case id, set id)."""
    case = CaseStore(engine).create_case(CaseSpec(name="ACME v. Us"), "test")
    set_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            insert(review_sets).values(
                id=set_id,
                case_id=case.id,
                name="first pass",
                unit=unit,
                time_zone="UTC",
                created_by="test",
                created_at=WHEN,
            )
        )
    return case.id, set_id


def _document(
    set_id: str, position: int, key: str, kind: str, message_ids: list[str], summary: str
) -> dict[str, object]:
    at = WHEN + timedelta(minutes=position)
    return {
        "review_set_id": set_id,
        "doc_key": key,
        "position": position,
        "kind": kind,
        "room_id": "room:deals",
        "first_at": at,
        "last_at": at,
        "message_ids": message_ids,
        "senders": ["user:alice"],
        "summary": summary[:200],
        "added_by": "test",
        "added_at": WHEN,
        "source": {"how": "hand"},
    }


def add_messages(engine: Engine, set_id: str, texts: Sequence[str | None], start: int = 0) -> list[str]:
    """One archived message and one message document per text (None: a message without text);
    the documents' keys in order."""
    keys = []
    with engine.begin() as connection:
        for offset, text in enumerate(texts):
            position = start + offset
            message_id = f"m{position}-{uuid.uuid4().hex[:6]}"
            connection.execute(
                insert(archive_messages).values(
                    message_id=message_id,
                    room_id="room:deals",
                    actor_id="user:alice",
                    posted_at=WHEN + timedelta(minutes=position),
                    text=text,
                    versions=1,
                    deleted=False,
                )
            )
            key = f"message:{message_id}"
            connection.execute(
                insert(review_documents).values(_document(set_id, position, key, "message", [message_id], text or ""))
            )
            keys.append(key)
    return keys


def add_conversation(engine: Engine, set_id: str, texts: Sequence[str], position: int, day: str) -> str:
    """A conversation slice of one message per text."""
    ids = []
    with engine.begin() as connection:
        for offset, text in enumerate(texts):
            message_id = f"c{position}-{offset}-{uuid.uuid4().hex[:6]}"
            ids.append(message_id)
            connection.execute(
                insert(archive_messages).values(
                    message_id=message_id,
                    room_id="room:deals",
                    actor_id=f"user:{offset}",
                    posted_at=WHEN + timedelta(minutes=position, seconds=offset),
                    text=text,
                    versions=1,
                    deleted=False,
                )
            )
        key = f"conversation:room:deals:{day}"
        connection.execute(insert(review_documents).values(_document(set_id, position, key, "conversation", ids, day)))
    return key


def add_attachment(engine: Engine, files: FileStore, set_id: str, text: str | None, position: int) -> str:
    """An attachment document whose upload has ``text`` extracted (None: no text)."""
    upload = str(uuid.uuid4())
    with engine.begin() as connection:
        if text is not None:
            stored = files.put([text.encode("utf-8")])
            connection.execute(
                insert(archive_file_texts).values(
                    file_event_id=upload,
                    event_id=str(uuid.uuid4()),
                    sha256=hashlib.sha256(b"native" + upload.encode()).hexdigest(),
                    state="done",
                    extractor="text",
                    extractor_version="1",
                    text_sha256=stored.sha256,
                    text_chars=len(text),
                    truncated=False,
                    extracted_at=WHEN,
                )
            )
        key = f"attachment:{upload}"
        connection.execute(insert(review_documents).values(_document(set_id, position, key, "attachment", [], "file")))
    return key
