"""Issue 17, finding 4, in the archive of record: 09:00+09:00 is archived as 00:00Z with the
offset beside it (the payload, which the chain hashes, holds ``occurred_offset``), and an event
sent in UTC is archived with exactly the bytes this archive wrote before offsets were kept."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archive.hashchain import event_payload_hash
from archive.record import verify_archive
from archive.schema import archive_events
from ingest.events import Event, parse_event
from ingest.staging import StagingStore


def _post(sent: str, message_id: str) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": "post",
            "occurred_at": sent,
            "room": {"id": "room:tokyo"},
            "actor": {"id": "user:yuki"},
            "message": {"id": message_id, "text": "おはよう"},
        }
    )


def test_the_senders_offset_is_archived_and_utc_events_keep_their_bytes(store: StagingStore) -> None:
    tokyo = _post("2026-11-22T09:00:00+09:00", "m:tokyo")
    london = _post("2026-11-22T09:00:00Z", "m:london")
    assert ArchiveAdapter(store.engine).write([tokyo, london]) == [None, None]
    with store.engine.connect() as connection:
        rows = {
            row.event_id: row
            for row in connection.execute(
                select(
                    archive_events.c.event_id,
                    archive_events.c.occurred_at,
                    archive_events.c.payload,
                    archive_events.c.payload_hash,
                )
            )
        }
    stored = rows[str(tokyo.event_id)]
    assert stored.occurred_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)  # UTC stays the sort key
    document = json.loads(stored.payload)
    assert document["occurred_at"] == "2026-11-22T00:00:00Z"
    assert document["occurred_offset"] == "+09:00"
    assert stored.payload_hash == event_payload_hash(stored.payload)  # the offset is under the hash
    plain = rows[str(london.event_id)]
    before_offsets = london.model_dump_json(exclude_none=True, exclude={"occurred_offset"})
    assert plain.payload == before_offsets
    assert verify_archive(store.engine).ok
