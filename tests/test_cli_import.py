"""``archivist import FORMAT FILE...``: one command for every importer of ``archivist.importers``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from ingest.events import event_to_json
from ingest.irc import read_irc_items
from ingest.producer import Located, Rejected
from ingest.staging import staged_events
from tests.factories import post
from tests.processes import archivist_env, run_archivist

DEMO_LOGS = Path(__file__).resolve().parents[1] / "archivist" / "demo_data" / "ubuntu-irc"

runner = CliRunner()


class LinesImporter:
    """An importer as a third party would ship one: text files, a post a line. A blank line is
    skipped (and noted), a line starting with ``!`` rejected."""

    name = "lines"
    reads = "Text files, a post a line."
    description = "Import text files: a post a line."

    def __init__(self) -> None:
        self.blank = 0

    def check(self, path: Path) -> None:
        if path.suffix != ".txt":
            raise ValueError(f"{path.name}: not a .txt file")

    def items(self, paths: Iterable[Path]) -> Iterator[Located | Rejected]:
        for path in paths:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                where = f"{path.name}:{number}"
                if not line.strip():
                    self.blank += 1
                elif line.startswith("!"):
                    yield Rejected(where, "a line may not start with !")
                else:
                    yield Located(post(number, run=path.name, text=line), where)

    def notes(self) -> list[str]:
        return [f"skipped {self.blank} blank lines"] if self.blank else []


@pytest.fixture
def lines_importer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LinesImporter registered as an installed distribution registers one: an entry point in
    ``archivist.importers``, nothing else."""
    site = tmp_path / "site"
    metadata = site / "archivist_lines_importer-1.0.dist-info"
    metadata.mkdir(parents=True)
    (metadata / "METADATA").write_text("Metadata-Version: 2.1\nName: archivist-lines-importer\nVersion: 1.0\n")
    (metadata / "entry_points.txt").write_text(f"[archivist.importers]\nlines = {__name__}:LinesImporter\n")
    monkeypatch.syspath_prepend(str(site))


def staged_payloads() -> dict[str, str]:
    engine = wiring.staging_store(get_settings()).engine
    with engine.connect() as connection:
        rows = connection.execute(select(staged_events.c.event_id, staged_events.c.payload))
        return {event_id: payload for event_id, payload in rows}


def test_import_irc_stages_the_events_the_irc_reader_makes_of_the_demo_logs() -> None:
    """The generic command with the IRC plug-in stages what the IRC command always staged: the
    events ``read_irc_items`` makes of the logs, with their JSON."""
    logs = sorted(DEMO_LOGS.glob("*.raw.txt"))
    result = runner.invoke(app, ["import", "irc", *map(str, logs)])
    assert result.exit_code == 0, result.output
    expected = {
        str(item.event.event_id): event_to_json(item.event)
        for log in logs
        for item in read_irc_items(log)
        if isinstance(item, Located)
    }
    assert f"import irc: {len(expected)} events accepted, 0 rejected" in result.output
    assert staged_payloads() == expected


def test_an_unknown_importer_is_a_clear_error_with_a_suggestion(tmp_path: Path) -> None:
    log = tmp_path / "2005-02-08.raw.txt"
    log.write_text("[10:00] <a> hello\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "ircc", str(log)])
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    assert "unknown importer 'ircc' (did you mean 'irc'?); known importers: irc" in result.output
    assert staged_payloads() == {}


def test_an_unknown_importer_from_the_console_script_shows_no_traceback(tmp_path: Path) -> None:
    completed = run_archivist(
        ["import", "slack", str(tmp_path / "export.json")], archivist_env(data_dir=str(tmp_path / "data"))
    )
    assert completed.returncode == 2
    assert "error: unknown importer 'slack'" in completed.stderr
    assert "known importers: irc" in completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout


def test_a_registered_importer_is_a_subcommand_of_import(lines_importer: None, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("first post\n\nsecond post\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "lines", str(path)])
    assert result.exit_code == 0, result.output
    assert "import lines: 2 events accepted, 0 rejected" in result.output
    assert "skipped 1 blank lines" in result.output
    assert set(staged_payloads()) == {str(post(1, run="notes.txt").event_id), str(post(3, run="notes.txt").event_id)}


def test_a_registered_importer_is_listed_with_its_help(lines_importer: None) -> None:
    listing = runner.invoke(app, ["import", "--help"])
    assert listing.exit_code == 0, listing.output
    assert "irc" in listing.output
    assert "Import text files: a post a line." in listing.output
    own = runner.invoke(app, ["import", "lines", "--help"])
    assert own.exit_code == 0, own.output
    assert "Text files, a post a line." in own.output


def test_a_registered_importer_rejects_by_line_and_exits_1(lines_importer: None, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("a post\n!not one\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "lines", str(path)])
    assert result.exit_code == 1
    assert "rejected notes.txt:2: a line may not start with !" in result.output
    assert "import lines: 1 events accepted, 1 rejected" in result.output


def test_every_file_is_checked_before_any_is_read(lines_importer: None, tmp_path: Path) -> None:
    good = tmp_path / "notes.txt"
    good.write_text("a post\n", encoding="utf-8")
    bad = tmp_path / "notes.md"
    bad.write_text("a post\n", encoding="utf-8")
    result = runner.invoke(app, ["import", "lines", str(good), str(bad)])
    assert result.exit_code == 2
    assert "notes.md: not a .txt file" in result.output
    assert staged_payloads() == {}
