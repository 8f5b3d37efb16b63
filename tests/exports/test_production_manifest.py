"""A built export's zip entries are dated, and its manifest carries the production's range."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from jsonschema import Draft202012Validator

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from exports.documents import Numbering
from exports.package import ExportRequest, build_export
from ingest.events import Event
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend

ROOT = Path(__file__).resolve().parents[2]
STARTED = datetime(2026, 12, 1, 14, 30, 10, tzinfo=UTC)


def _export(store: StagingStore, tmp_path: Path, events: list[Event], request: ExportRequest) -> dict[str, object]:
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    result = build_export(
        store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "p.zip", now=lambda: STARTED
    )
    with zipfile.ZipFile(result.path) as package:
        dates = {entry.date_time for entry in package.infolist()}
    assert dates == {(2026, 12, 1, 14, 30, 10)}  # no 1980-01-01 entry
    return result.manifest


def test_every_zip_entry_carries_the_export_start_and_the_manifest_its_range(
    sqlite_store: StagingStore, tmp_path: Path, varied_events: list[Event]
) -> None:
    request = ExportRequest(
        "p1",
        "sent>=2000-01-01",
        ("jsonl", "csv"),
        "counsel",
        "legal",
        numbering=Numbering("ACME-", 101),
        recipients=("Opposing counsel LLP",),
    )
    manifest = _export(sqlite_store, tmp_path, varied_events, request)
    schema = json.loads((ROOT / "exports" / "schemas" / "manifest.schema.json").read_text())
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(manifest)
    production = manifest["production"]
    assert isinstance(production, dict)
    assert production["unit"] == "conversation"
    assert production["prefix"] == "ACME-"
    assert production["recipients"] == ["Opposing counsel LLP"]
    assert production["start"] == 101
