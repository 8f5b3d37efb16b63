"""``archivist reindex`` rebuilds the text of attachments from the archived ``file_text`` events and
the file store (issue 18)."""

from __future__ import annotations

from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from search.query_parser import parse_query
from search.tantivy_backend import all_hits
from tests.attachment_events import file_text, upload

runner = CliRunner()


def test_reindex_rebuilds_attachment_text() -> None:
    get_settings.cache_clear()
    settings = get_settings()
    engine = wiring.staging_store(settings).engine
    uploaded = upload("contract.pdf")
    text = file_text(uploaded, "ACME agrees to deliver", wiring.file_store(settings))
    assert list(ArchiveAdapter(engine).write([uploaded, text])) == [None, None]

    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "1 documents" in result.output
    hits = all_hits(settings.data_dir / "index", parse_query("attachment:ACME"))
    assert [hit.message_id for hit in hits] == [f"file:{uploaded.event_id}"]
