"""A test site with uploaded files (issue 18): a contract whose text was extracted, a scan whose
extraction failed and a file whose bytes never arrived, around one message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.attachments import record_native
from archive.fs_file_store import FsFileStore
from archive.principals import ROLES, create_token
from archive.schema import archive_file_texts
from archivist.migrate import upgrade
from ingest.db import create_db_engine, insert_ignoring_conflicts
from ingest.events import Event, FileTextEvent, parse_event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from tests.attachment_events import T0, file_text, upload
from tests.web.conftest import WebSite

CONTRACT_TEXT = "Terms: <b>bold</b> the supplier ACME Corporation agrees to deliver 400 units by March."
CONTRACT = upload("Contract Q3.pdf", 10, content=b"%PDF contract")
SCAN = upload("scan.png", 20, content=b"\x89PNG scan", content_type="image/png")
MISSING = upload("missing.docx", 30, content=b"never sent")
MESSAGE_ID = "m-files"


def _post(number: int, seconds: int, message_id: str, text: str) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": f"00000000-0000-4000-8000-{number:012d}",
            "type": "post",
            "occurred_at": (T0 + timedelta(seconds=seconds)).isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:alice", "name": "Alice"},
            "message": {"id": message_id, "text": text},
        }
    )


def build_attachment_site(root: Path) -> WebSite:
    files = FsFileStore(root / "files")
    texts = [
        file_text(CONTRACT, CONTRACT_TEXT, files),
        file_text(SCAN, None, files, state="failed", reason="OCR timed out"),
    ]
    posts = [
        _post(18, 0, MESSAGE_ID, "the contract and the scan are attached"),
        _post(19, 60, "m-after", "got them, thanks"),
    ]
    events = [*posts, CONTRACT, SCAN, MISSING, *texts]
    engine = create_db_engine(f"sqlite:///{root / 'archive.sqlite3'}")
    upgrade(engine)
    ArchiveAdapter(engine).write(events)
    with engine.begin() as connection:
        for uploaded in (CONTRACT, SCAN):  # their bytes arrived (the capture path records them)
            record_native(connection, uploaded.file.sha256, uploaded.file.size, "api")
        # The rows the archive derives from file_text events (written here if not derived yet).
        connection.execute(insert_ignoring_conflicts(connection.dialect.name, archive_file_texts), _rows(texts))
    index = TantivyIndexAdapter(root / "index", file_store=files)
    assert list(index.write(events)) == [None] * len(events)
    index.close()
    services = AppServices(engine=engine, index_dir=root / "index", sink=StagingSink(StagingStore(engine)))
    tokens = {role: create_token(engine, role, f"web {role}") for role in ROLES}
    return WebSite(create_app(services), services, tokens)


def _rows(texts: list[FileTextEvent]) -> list[dict[str, object]]:
    return [
        {
            "file_event_id": str(text.extracted.file_event_id),
            "event_id": str(text.event_id),
            "sha256": text.extracted.sha256,
            "state": text.extracted.state,
            "reason": text.extracted.reason,
            "extractor": text.extracted.extractor,
            "extractor_version": text.extracted.extractor_version,
            "text_sha256": text.extracted.text_sha256,
            "text_chars": text.extracted.text_chars,
            "truncated": text.extracted.truncated,
            "extracted_at": datetime.now(UTC),
        }
        for text in texts
    ]
