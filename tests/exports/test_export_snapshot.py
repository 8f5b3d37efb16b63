"""Every format of one production must hold the same events under the same
control numbers, even while the archive keeps receiving events (a live archive: edits, read
receipts and joins keep arriving while an export runs)."""

from __future__ import annotations

import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.record import Disposal, dispose_events
from exports.csv_dat import DAT_FILE
from exports.documents import Numbering
from exports.jsonl import DOCUMENTS_FILE, EVENTS_FILE
from exports.package import ExportInterrupted, ExportRequest, build_export
from ingest.events import Event, ReadEvent, parse_event
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from tests.exports.conftest import event_payload
from tests.exports.test_csv_dat import parse_dat


def _late_read(events: list[Event]) -> Event:
    post = next(e for e in events if e.type == "post" and e.room.id == "room:trading")
    payload = event_payload(900, "read", read={"message_id": post.message.id})
    payload["event_id"] = str(uuid.uuid4())
    payload["occurred_at"] = (post.occurred_at + timedelta(hours=3)).isoformat()
    late = parse_event(payload)
    assert isinstance(late, ReadEvent)
    return late


def test_formats_of_one_production_hold_the_same_events_when_the_archive_grows_mid_export(
    sqlite_store: StagingStore, tmp_path: Path, varied_events: list[Event]
) -> None:
    late = _late_read(varied_events)
    archive = ArchiveAdapter(sqlite_store.engine)
    archive.write(varied_events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(varied_events)
    index.close()
    fired: list[int] = []

    def progress(_done: int, total: int | None) -> None:
        # The first format has read every event: an event arrives in the archive now, as it
        # does in a live archive (a read receipt of a produced message).
        if total is not None and not fired:
            fired.append(total)
            archive.write([late])

    request = ExportRequest(
        "race", "sent>=2000-01-01", ("jsonl", "csv"), "counsel", "legal", numbering=Numbering("ACME-", 1)
    )
    result = build_export(
        sqlite_store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "p.zip", progress=progress
    )
    assert fired
    with zipfile.ZipFile(result.path) as package:
        jsonl_ids = {json.loads(line)["event_id"] for line in package.read(EVENTS_FILE).decode().splitlines()}
        doc_ids = {
            event_id
            for line in package.read(DOCUMENTS_FILE).decode().splitlines()
            for event_id in json.loads(line)["event_ids"]
        }
        table = parse_dat(package.read(DAT_FILE))
    rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    dat_ids = {i for r in rows if r["DOC_TYPE"] != "attachment" for i in r["EVENT_IDS"].split("; ")}
    assert jsonl_ids == doc_ids
    # The DAT (written second) must hold the events documents.jsonl gives its control numbers.
    assert dat_ids == doc_ids, f"only in the DAT: {sorted(dat_ids - doc_ids)}"
    assert result.manifest["counts"]["events"] == len(dat_ids)


def test_a_disposition_while_the_export_runs_fails_it_rather_than_ship_formats_that_differ(
    sqlite_store: StagingStore, tmp_path: Path, varied_events: list[Event]
) -> None:
    ArchiveAdapter(sqlite_store.engine).write(varied_events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(varied_events)
    index.close()
    join = next(e for e in varied_events if e.type == "join")

    def progress(_done: int, total: int | None) -> None:
        if total is not None:
            with sqlite_store.engine.begin() as connection:
                dispose_events(connection, [Disposal(str(join.event_id), "room:trading")], "run", datetime.now(UTC))

    request = ExportRequest("gone", "sent>=2000-01-01", ("jsonl", "csv"), "counsel", "legal")
    destination = tmp_path / "gone.zip"
    with pytest.raises(ExportInterrupted, match="disposed of by retention while the export ran"):
        build_export(
            sqlite_store.engine, TantivySearchBackend(tmp_path / "index"), request, destination, progress=progress
        )
    assert not destination.exists()
