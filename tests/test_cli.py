"""The command line on the embedded default: no broker, SQLite staging under the data directory."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.db import create_db_engine
from ingest.producer import write_jsonl
from ingest.staging import StagingStore
from tests.factories import post_payload, posts
from tests.processes import archivist_env, run_archivist, start_archivist

runner = CliRunner()


def staged() -> int:
    return wiring.staging_store(get_settings()).counts().staged


def test_publish_writes_straight_to_staging_without_a_broker(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_jsonl(posts(120), path)
    result = runner.invoke(app, ["publish", str(path)])
    assert result.exit_code == 0, result.output
    assert "120 events accepted, 0 rejected" in result.output
    assert staged() == 120
    assert runner.invoke(app, ["publish", str(path)]).exit_code == 0
    assert staged() == 120


def test_publish_rejects_bad_lines_by_number_and_exits_non_zero(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join([json.dumps(post_payload(1)), '{"schema_version": 1, "type": "post"}', json.dumps(post_payload(2))]),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["publish", str(path)])
    assert result.exit_code == 1
    assert "mixed.jsonl:2" in result.output
    assert "event_id: Field required" in result.output
    assert staged() == 2


def test_publish_of_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["publish", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "no such file" in result.output
    assert "Traceback" not in result.output


def test_status_json_on_the_embedded_default(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_jsonl(posts(7), path)
    runner.invoke(app, ["publish", str(path)])
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"queue_depth": None, "dead_letters": None, "staged": 7, "parked": 0}


def test_consume_without_a_broker_explains_why_not() -> None:
    result = runner.invoke(app, ["consume"])
    assert result.exit_code == 2
    assert "ARCHIVIST_BROKER_URL" in result.output


def test_invalid_settings_are_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_PREFETCH", "lots")
    get_settings.cache_clear()
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 2
    assert "invalid settings" in result.output
    assert "prefetch" in result.output


def test_unreachable_database_is_a_clear_error() -> None:
    env = archivist_env(database_url="postgresql://nobody@127.0.0.1:1/none")
    result = run_archivist(["status"], env, timeout=60)
    assert result.returncode == 2
    assert "cannot use the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_producer_killed_mid_file_and_run_again_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    events = posts(30_000, run="embedded-kill")
    write_jsonl(events, path)
    database = tmp_path / "staging.sqlite3"
    env = archivist_env(database_url=f"sqlite:///{database}", batch_size="500")

    producer = start_archivist(["publish", str(path)], env)
    assert producer.stdout is not None
    reported = 0
    try:
        while reported < 5_000:
            line = producer.stdout.readline()
            assert line, "the producer ended before it could be killed"
            if line.startswith("accepted "):
                reported = int(line.split()[1])
    finally:
        producer.send_signal(signal.SIGKILL)
        producer.wait(timeout=10)

    store = StagingStore(create_db_engine(f"sqlite:///{database}"))
    after_kill = store.counts().staged
    assert reported <= after_kill < 30_000, "everything reported as accepted survives the kill"
    rerun = run_archivist(["publish", str(path)], env)
    assert rerun.returncode == 0, rerun.stderr
    assert store.counts().staged == 30_000
    assert store.event_ids() == {str(e.event_id) for e in events}
