"""ARCHIVIST_LOG_FORMAT=json: one JSON object per line (time in ISO 8601 UTC, level, logger,
message, exception), for every command, uvicorn's own lines included; text stays the default."""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archivist.logs import JsonLineFormatter, configure_logging
from ingest.producer import write_jsonl
from ingest.topology import Topology
from tests.factories import posts
from tests.processes import archivist_env, run_archivist, start_archivist, wait_until
from tests.services import AMQP_URL


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "no log lines at all"
    parsed = []
    for line in lines:
        record = json.loads(line)  # every line is one whole JSON object
        assert isinstance(record, dict)
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert datetime.fromisoformat(record["time"]).utcoffset() == UTC.utcoffset(None)
        parsed.append(record)
    return parsed


def test_a_json_line_has_the_fields_and_the_exception() -> None:
    stream = io.StringIO()
    handler = configure_logging(logging.INFO, "json", stream)
    log = logging.getLogger("archivist.test")
    try:
        log.info("staged %d events", 3)
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            log.exception("batch failed")
        log.warning("with extra", extra={"batch": 7})
        logging.getLogger("archivist.quiet").debug("not at INFO")
    finally:
        configure_logging(logging.WARNING, "text", io.StringIO())
    assert isinstance(handler.formatter, JsonLineFormatter)
    first, second, third = _json_lines(stream.getvalue())
    assert list(first)[:4] == ["time", "level", "logger", "message"]
    assert first["time"].endswith("+00:00")
    assert {k: first[k] for k in ("level", "logger", "message")} == {
        "level": "INFO",
        "logger": "archivist.test",
        "message": "staged 3 events",
    }
    assert "exception" not in first
    assert second["level"] == "ERROR"
    assert second["message"] == "batch failed"
    assert second["exception"].startswith("Traceback (most recent call last):")
    assert second["exception"].endswith("ValueError: bad\nthing")
    assert third["batch"] == 7


def test_text_is_the_default(tmp_path: Path) -> None:
    result = run_archivist(["-v", "process", "--until-empty"], archivist_env(data_dir=str(tmp_path / "data")))
    assert result.returncode == 0, result.stderr
    assert " INFO " in result.stderr
    assert not result.stderr.lstrip().startswith("{")


def test_process_and_demo_log_json_lines(tmp_path: Path) -> None:
    env = archivist_env(data_dir=str(tmp_path / "data"), log_format="json")
    processed = run_archivist(["-v", "process", "--until-empty"], env)
    assert processed.returncode == 0, processed.stderr
    assert _json_lines(processed.stderr)
    demo = run_archivist(["-v", "demo", "--synthetic-events", "0", "--no-serve"], env)
    assert demo.returncode == 0, demo.stderr
    assert {"archivist.processor", "alembic.runtime.migration"} & {r["logger"] for r in _json_lines(demo.stderr)}


@pytest.mark.integration
def test_consume_logs_json_lines(tmp_path: Path, topology: Topology) -> None:
    path = tmp_path / "events.jsonl"
    write_jsonl(posts(5), path)
    env = archivist_env(broker_url=AMQP_URL, topology=topology, data_dir=str(tmp_path / "data"), log_format="json")
    assert run_archivist(["publish", str(path)], env).returncode == 0
    consumed = run_archivist(["-v", "consume", "--until-idle", "--idle-seconds", "0.5"], env)
    assert consumed.returncode == 0, consumed.stderr
    assert "5 staged" in consumed.stdout
    assert _json_lines(consumed.stderr)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_logs_uvicorn_start_up_and_access_lines_as_json(tmp_path: Path) -> None:
    port = _free_port()
    env = archivist_env(data_dir=str(tmp_path / "data"), log_format="json")
    server = start_archivist(["serve", "--port", str(port)], env)
    try:

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    return bool(response.status == 200)
            except OSError:
                assert server.poll() is None, "serve exited"
                return False

        wait_until(answers, timeout=60, what="the API to answer")
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=30)
    records = _json_lines(err)
    messages = [(r["logger"], r["message"]) for r in records]
    assert any(logger == "uvicorn.error" and "Uvicorn running on" in message for logger, message in messages)
    assert any(logger == "uvicorn.access" and "GET /healthz" in message for logger, message in messages)
    assert not any("color_message" in r for r in records)


def test_an_unknown_log_format_is_a_settings_error() -> None:
    result = run_archivist(["status"], archivist_env(log_format="yaml"))
    assert result.returncode == 2
    assert "ARCHIVIST_LOG_FORMAT (log_format): Input should be 'text' or 'json'" in result.stderr
    assert "Traceback" not in result.stderr
