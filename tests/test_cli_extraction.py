"""``archivist process`` runs the extraction worker beside its batches when ``extract`` is among
the adapters (the default), ``archivist extract`` runs it alone, ``archivist status`` counts jobs
and texts; the real extraction pool reads the files."""

from __future__ import annotations

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archive.attachments import record_native, texts_for
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.events import Event, event_to_json
from tests.adapters.test_extraction_pipeline import upload
from tests.processes import archivist_env, start_archivist, wait_until

runner = CliRunner()


def publish(tmp_path: Path, *events: Event) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(event_to_json(event) + "\n" for event in events))
    result = runner.invoke(app, ["publish", str(path)])
    assert result.exit_code == 0, result.output


def keep_bytes(data: bytes) -> None:
    settings = get_settings()
    stored = wiring.file_store(settings).put([data])
    with wiring.staging_store(settings).engine.begin() as connection:
        record_native(connection, stored.sha256, stored.size, "publish")


def status() -> dict[str, int]:
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    figures: dict[str, int] = json.loads(result.stdout)
    return figures


def test_process_extracts_the_uploads_text_with_the_default_adapters(tmp_path: Path) -> None:
    data = "Minutes of the desk meeting: hedge the €uro exposure".encode()
    event = upload(1, data, name="minutes.txt")
    keep_bytes(data)
    publish(tmp_path, event)
    result = runner.invoke(app, ["process", "--until-empty"])
    assert result.exit_code == 0, result.output
    # the upload and its text
    assert "with archive, index, xml, extract, threads, supervision: 2 delivered everywhere" in result.output
    with wiring.staging_store(get_settings()).engine.connect() as connection:
        text = texts_for(connection, [str(event.event_id)])[str(event.event_id)]
    assert (text.state, text.text_chars) == ("extracted", len(data.decode()))
    assert text.text_sha256 is not None
    with wiring.file_store(get_settings()).open(text.text_sha256) as stored:
        assert stored.read().decode() == data.decode()
    figures = status()
    assert (figures["extraction_done"], figures["texts_extracted"], figures["staged"]) == (1, 1, 0)


def test_extract_alone_does_the_work_process_left_waiting(tmp_path: Path) -> None:
    data = b"bytes that came after the event"
    event = upload(2, data, name="late.txt")
    publish(tmp_path, event)
    assert runner.invoke(app, ["process", "--until-empty"]).exit_code == 0
    assert status()["extraction_waiting"] == 1
    keep_bytes(data)
    result = runner.invoke(app, ["extract", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "extracted 1 files" in result.output
    figures = status()
    assert (figures["extraction_done"], figures["staged"], figures["texts_extracted"]) == (1, 1, 0)
    assert runner.invoke(app, ["process", "--until-empty"]).exit_code == 0
    assert status()["texts_extracted"] == 1
    human = runner.invoke(app, ["status"])
    assert "Text extraction" in human.output
    assert "extraction done" in human.output


def test_a_running_processor_extracts_beside_its_batches_and_stops_on_sigterm(tmp_path: Path) -> None:
    data = "Trade confirmation, ref 4471: 300 × EUR/USD".encode()
    event = upload(3, data, name="confirmation.txt")
    keep_bytes(data)
    settings = get_settings()
    engine = wiring.staging_store(settings).engine
    env = archivist_env(
        database_url=settings.resolved_database_url, data_dir=str(settings.data_dir), process_interval="0.1"
    )
    processor = start_archivist(["process"], env)
    try:
        publish(tmp_path, event)  # while it runs: archived, extracted, its text archived

        def text_archived() -> bool:
            with engine.connect() as connection:
                return str(event.event_id) in texts_for(connection, [str(event.event_id)])

        wait_until(text_archived, timeout=120, what="the upload's text to be archived")
        processor.send_signal(signal.SIGTERM)
        stdout, stderr = processor.communicate(timeout=60)
    finally:
        if processor.poll() is None:
            processor.kill()
            processor.wait()
    assert processor.returncode == 0, stderr
    assert "with archive, index, xml, extract, threads, supervision: 2 delivered everywhere" in stdout
    assert "Traceback" not in stderr


def test_process_fetches_a_waiting_upload_from_its_url_when_fetching_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"served by the chat server's file endpoint"

    class Files(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("ARCHIVIST_FETCH_URLS", "true")
        monkeypatch.setenv("ARCHIVIST_FETCH_ALLOWED_HOSTS", "127.0.0.1")
        get_settings.cache_clear()
        event = upload(4, data, name="fetched.txt", url=f"http://127.0.0.1:{server.server_port}/files/4")
        publish(tmp_path, event)
        result = runner.invoke(app, ["process", "--until-empty"])
        assert result.exit_code == 0, result.output
    finally:
        server.shutdown()
        server.server_close()
    figures = status()
    assert (figures["pending_files"], figures["extraction_done"], figures["texts_extracted"]) == (0, 1, 1)
    with wiring.staging_store(get_settings()).engine.connect() as connection:
        text = texts_for(connection, [str(event.event_id)])[str(event.event_id)]
    assert text.text_chars == len(data)
