"""``archivist export``: an export (for a case: a production, numbered on from the case's last
one) run on the spot, audited as the command line's operator; bad options are one clear line
and a non-zero exit."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.audit import entries
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from cases.model import CaseSpec
from cases.productions import ProductionLog
from cases.store import CaseStore
from exports.registry import FORMAT_NAMES, export_format
from ingest.irc import read_irc_file
from tests.exports.test_productions import DEMO_LOGS, LOGS, Numbered

runner = CliRunner()


@pytest.fixture
def case_id(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr("exports.service.FORMAT_NAMES", (*FORMAT_NAMES, "numbered"))
    monkeypatch.setattr(
        "exports.package.export_format", lambda name: Numbered() if name == "numbered" else export_format(name)
    )
    get_settings.cache_clear()
    settings = get_settings()
    engine = wiring.staging_store(settings).engine
    events = [event for name in LOGS for event in read_irc_file(DEMO_LOGS / name)]
    ArchiveAdapter(engine).write(events)
    index = TantivyIndexAdapter(settings.data_dir / "index")
    index.write(events)
    index.close()
    return CaseStore(engine).create_case(CaseSpec(name="Acme v. Widget"), "legal").id


def test_two_productions_from_the_command_line_number_on(case_id: str) -> None:
    first = runner.invoke(
        app,
        ["export", "ubuntu", "--format", "numbered", "--case", case_id, "--bates-prefix", "ACME-"]
        + ["--recipient", "Opposing counsel", "--recipient", "Regulator", "--unit", "message"],
    )
    assert first.exit_code == 0, first.output
    assert "ACME-0000001" in first.output
    log = ProductionLog(wiring.staging_store(get_settings()).engine)
    (done,) = log.productions(case_id)
    assert (done.state, done.unit, done.recipients) == ("done", "message", ("Opposing counsel", "Regulator"))
    assert done.last_control is not None
    assert done.last_control in first.output
    zip_path = get_settings().data_dir / "exports" / f"{done.export_id}.zip"
    assert hashlib.sha256(Path(zip_path).read_bytes()).hexdigest() == done.zip_sha256
    assert str(zip_path) in first.output

    second = runner.invoke(app, ["export", "ubuntu", "-f", "numbered", "--case", case_id])
    assert second.exit_code == 0, second.output
    assert done.last_number is not None
    assert log.productions(case_id)[1].first_number == done.last_number + 1
    actions = [entry["action"] for entry in entries(log.engine, limit=10)]
    assert actions[:4] == ["export_done", "export_start", "export_done", "export_start"]
    assert entries(log.engine, limit=2)[1]["actor"].startswith("command line")

    reused = runner.invoke(app, ["export", "ubuntu", "-f", "numbered", "--case", case_id, "--bates-start", "1"])
    assert reused.exit_code == 1
    assert "numbers are never reused" in reused.output
    assert "Traceback" not in reused.output


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--unit", "page"], "unit"),
        (["--bates-prefix", "AC ME"], "prefix 'AC ME' must be 1 to 20 letters"),
        (["--bates-start", "0"], "bates_start"),
        (["--format", "docx"], "unknown format 'docx'"),
        (["--case", "nope"], "no case 'nope'"),
        (["--time-zone", "Mars/Olympus"], "Mars/Olympus"),
    ],
)
def test_bad_options_are_one_line_and_a_non_zero_exit(case_id: str, options: list[str], says: str) -> None:
    args = ["export", "ubuntu", "-f", "numbered", *options]
    if "--bates-prefix" in options or "--bates-start" in options:
        args += ["--case", case_id]
    result = runner.invoke(app, args)
    assert result.exit_code != 0
    assert says in result.output
    assert "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) <= 2, result.output


def test_a_query_the_parser_refuses_is_one_line(case_id: str) -> None:
    result = runner.invoke(app, ["export", "(ubuntu", "-f", "numbered", "--case", case_id])
    assert result.exit_code == 2
    assert "error:" in result.output
    assert ProductionLog(wiring.staging_store(get_settings()).engine).productions(case_id) == []


def test_the_command_line_leaves_a_servers_running_production_alone(case_id: str) -> None:
    engine = wiring.staging_store(get_settings()).engine
    running = ProductionLog(engine).reserve(
        export_id="00000000-0000-0000-0000-000000000001",
        case_id=case_id,
        prefix="ACME-",
        start=None,
        unit="conversation",
        time_zone="UTC",
        recipients=[],
        query="ubuntu",
        formats=["numbered"],
        requested_by="a server's user",
    )
    other = CaseStore(engine).create_case(CaseSpec(name="Other"), "legal").id
    result = runner.invoke(app, ["export", "ubuntu", "-f", "numbered", "--case", other])
    assert result.exit_code == 0, result.output
    assert ProductionLog(engine).get(running.export_id) == running, "still running, its numbers still reserved"
    refused = runner.invoke(app, ["export", "ubuntu", "-f", "numbered", "--case", case_id])
    assert refused.exit_code == 1
    assert f"a production of case {case_id} is running" in refused.output
