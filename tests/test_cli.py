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
    assert json.loads(result.stdout) == {
        "queue_depth": None,
        "dead_letters": None,
        "staged": 7,
        "parked": 0,
        "stored_files": 0,
        "pending_files": 0,
        "file_store": "filesystem",
        "extraction_waiting": 0,
        "extraction_queued": 0,
        "extraction_running": 0,
        "extraction_done": 0,
        "texts_extracted": 0,
        "texts_empty": 0,
        "texts_unsupported": 0,
        "texts_failed": 0,
    }


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


# --- issue 15: producers report every line they do not accept, and never crash ----------------------


def test_publish_names_lines_whose_validation_raised_and_stages_the_rest(tmp_path: Path) -> None:
    """Item 1: OverflowError and TypeError inside validation used to end publish in a traceback."""
    path = tmp_path / "hostile.jsonl"
    lines = [
        post_payload(1),
        post_payload(2) | {"occurred_at": "0001-01-01T00:00:00+00:01"},
        post_payload(3) | {"schema_version": [1]},
        post_payload(4) | {"occurred_at": "9999-12-31T23:59:59-23:59"},
        post_payload(5) | {"schema_version": {"a": 1}},
        post_payload(6, text="nul \x00 here"),
        post_payload(7),
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["publish", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "2 events accepted, 5 rejected" in result.output
    for number in (2, 4):
        assert f"rejected hostile.jsonl:{number}: post.occurred_at: " in result.output
    assert "rejected hostile.jsonl:3: unknown schema_version a list" in result.output
    assert "rejected hostile.jsonl:5: unknown schema_version an object" in result.output
    assert "rejected hostile.jsonl:6: post.message.text: contains U+0000 (NUL)" in result.output
    assert staged() == 2


def test_publish_reports_a_conflict_by_line_and_never_as_accepted(tmp_path: Path) -> None:
    """Item 15: the first version is kept; the identical event again stays a duplicate."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(json.dumps(post_payload(1, text="what was said")) + "\n", encoding="utf-8")
    assert runner.invoke(app, ["publish", str(first)]).exit_code == 0
    second.write_text(
        "\n".join(json.dumps(p) for p in [post_payload(1, text="what was said"), post_payload(1, text="rewritten")]),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["publish", str(second)])
    assert result.exit_code == 1
    assert "publish: 1 events accepted, 0 rejected, 1 conflicts" in result.output
    assert f"conflict second.jsonl:2: conflict: event_id {post_payload(1)['event_id']} is staged already" in (
        result.output
    )
    assert staged() == 1


def test_publish_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    """Item 17: "expected value at line 1 column 1" for a file saved by a Windows editor."""
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(post_payload(1)).encode() + b"\r\n")
    result = runner.invoke(app, ["publish", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 events accepted, 0 rejected" in result.output


@pytest.mark.parametrize("command", [["publish"], ["import", "irc"]])
def test_a_directory_given_as_a_file_is_called_a_directory(tmp_path: Path, command: list[str]) -> None:
    """Item 17: it was reported as "no such file"."""
    folder = tmp_path / "2005-02-08.raw.txt"
    folder.mkdir()
    result = runner.invoke(app, [*command, str(folder)])
    assert result.exit_code == 2
    assert "is a directory, not a file" in result.output
    assert "no such file" not in result.output


def test_publish_rejects_an_overlong_line_by_number_and_goes_on(tmp_path: Path) -> None:
    """Item 14: a 1 GB line without a newline took 2.2 GB of memory (here 3 MiB, read in chunks)."""
    path = tmp_path / "long.jsonl"
    with path.open("wb") as out:
        out.write(json.dumps(post_payload(1)).encode() + b"\n" + b"x" * (3 << 20) + b"\n")
        out.write(json.dumps(post_payload(2)).encode())
    result = runner.invoke(app, ["publish", str(path)])
    assert result.exit_code == 1
    assert "rejected long.jsonl:2: the line is 3,145,728 bytes long; the limit is 1,048,576" in result.output
    assert staged() == 2


def test_import_irc_of_a_file_of_one_gigantic_line_is_an_error(tmp_path: Path) -> None:
    """Item 14: it exited 0 with "0 accepted, 0 rejected"."""
    path = tmp_path / "2005-02-08.raw.txt"
    path.write_bytes(b"x" * (3 << 20))
    result = runner.invoke(app, ["import", "irc", str(path)])
    assert result.exit_code == 1
    assert "rejected 2005-02-08.raw.txt:1: the line is 3,145,728 bytes long" in result.output


def test_import_irc_of_a_file_with_nothing_to_import_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "2005-02-08.raw.txt"
    path.write_text("this is not\nan IRC log\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "irc", str(path)])
    assert result.exit_code == 1
    assert "rejected 2005-02-08.raw.txt: nothing to import (2 lines of no known kind)" in result.output
    assert "skipped 2 lines of 2005-02-08.raw.txt of no known kind" in result.output


def test_import_irc_reports_skipped_lines_and_refuses_impossible_times(tmp_path: Path) -> None:
    """Item 14: unparsable lines were skipped silently; [25:99] was taken for a time."""
    path = tmp_path / "2005-02-08.raw.txt"
    path.write_text("[10:00] <a> hello\nnoise\n[25:99] <b> when?\n[10:01] <a> bye\nmore noise\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "irc", str(path)])
    assert result.exit_code == 1
    assert "import irc: 2 events accepted, 1 rejected" in result.output
    assert "rejected 2005-02-08.raw.txt:3: [25:99] is not a time of day" in result.output
    assert "skipped 2 lines of 2005-02-08.raw.txt of no known kind" in result.output
    assert "lines 2, 5" in result.output
    assert staged() == 2


def test_import_irc_twice_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "2005-02-08.raw.txt"
    path.write_text("[10:00] <a> hello\n=== b [~b@h]  has joined #ubuntu\n[10:01] <b> hi\n", encoding="utf-8")
    assert runner.invoke(app, ["import", "irc", str(path)]).exit_code == 0
    again = runner.invoke(app, ["import", "irc", str(path)])
    assert again.exit_code == 0, again.output
    assert "3 events accepted, 0 rejected" in again.output
    assert staged() == 3
