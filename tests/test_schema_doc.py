import json
from pathlib import Path

from typer.testing import CliRunner

from archivist.cli import app
from ingest.events import event_json_schema

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "event-schema.json"


def test_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_DOC.read_text(encoding="utf-8"))
    assert committed == event_json_schema(), "run: archivist schema > docs/event-schema.json"


def test_schema_command_prints_the_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    printed = json.loads(result.stdout)
    assert printed == event_json_schema()
    assert set(printed["discriminator"]["mapping"]) >= {"post", "join", "policy_decision"}
