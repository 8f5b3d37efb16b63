"""``archivist supervision backtest``: a draft from a file or a saved policy, text or JSON; bad
input is a clear message and a non-zero exit, never a traceback. With the real lexicon engine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from archive.app_schema import audit_log
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from supervision.policy_store import create_policy
from tests.supervision.detect.test_backtest import DAY1, SPEC, event

runner = CliRunner()


def archived() -> None:
    engine = wiring.staging_store(get_settings()).engine
    events = [event(0, "post", "we guarantee it", DAY1), event(1, "post", "hello", DAY1 + timedelta(hours=1))]
    assert ArchiveAdapter(engine).write(events) == [None, None]


def test_a_draft_from_a_file_as_json_and_as_text(tmp_path: Path) -> None:
    archived()
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(SPEC.model_dump_json())
    result = runner.invoke(
        app,
        [
            "supervision",
            "backtest",
            "--policy-file",
            str(spec_file),
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-02",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["in_scope"], report["matched"], report["items"]) == (2, 1, 1)
    assert report["samples"][0]["matches"][0]["start"] == 3
    text = runner.invoke(
        app, ["supervision", "backtest", "--policy-file", str(spec_file), "--from", "2026-11-02", "--to", "2026-11-03"]
    )
    assert text.exit_code == 0, text.output
    assert "2 posts in scope, 1 matched, 0 drawn; 1 items" in text.output
    assert "guarantee (Guarantees): 1 items, 1 hits" in text.output
    engine = wiring.staging_store(get_settings()).engine
    with engine.connect() as connection:
        assert "supervision_backtest" in set(connection.execute(select(audit_log.c.action)).scalars())


def test_a_saved_policy() -> None:
    archived()
    engine = wiring.staging_store(get_settings()).engine
    with engine.begin() as connection:
        policy = create_policy(connection, SPEC, "officer", "", datetime.now(UTC))
    result = runner.invoke(
        app,
        [
            "supervision",
            "backtest",
            "--policy",
            policy.id,
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-02T12:00:00Z",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["matched"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--policy", "nope"], "no supervision policy nope"),
        ([], "give one of --policy-file"),
        (["--policy", "x", "--policy-file", "y"], "give one of --policy-file"),
        (["--policy-file", "{missing}"], "cannot read"),
        (["--policy-file", "{bad_json}"], "is not JSON"),
        (["--policy-file", "{bad_spec}"], "is not a valid policy: sampling_percent"),
        (["--policy-file", "{broken}"], "cannot be compiled"),
    ],
)
def test_bad_input_is_a_clear_message(tmp_path: Path, arguments: list[str], message: str) -> None:
    files = {
        "missing": tmp_path / "missing.json",
        "bad_json": tmp_path / "bad.json",
        "bad_spec": tmp_path / "spec.json",
        "broken": tmp_path / "broken.json",
    }
    files["bad_json"].write_text("{not json")
    files["bad_spec"].write_text(json.dumps({"name": "x", "sampling_percent": 150}))
    files["broken"].write_text(
        json.dumps({"name": "x", "lexicon": [{"id": "b", "kind": "regex", "expression": "(unclosed"}]})
    )
    shown = [a.format(**{k: str(v) for k, v in files.items()}) for a in arguments]
    result = runner.invoke(app, ["supervision", "backtest", *shown, "--from", "2026-11-02", "--to", "2026-11-03"])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("yesterday", "2026-11-03", "--from: 'yesterday' is not a date"),
        ("2026-11-02", "2026-11-02T10:00:00", "has no zone"),
        ("2026-11-03", "2026-11-01", "must end after it starts"),
    ],
)
def test_bad_dates(start: str, end: str, message: str) -> None:
    result = runner.invoke(app, ["supervision", "backtest", "--policy", "x", "--from", start, "--to", end])
    assert result.exit_code == 2, result.output
    assert message in result.output
