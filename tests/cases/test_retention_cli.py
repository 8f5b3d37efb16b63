"""``archivist retention``: set policies, dry-run, run (archive, index), and verify after."""

from __future__ import annotations

from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.audit import entries
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from cases.model import CaseSpec, HoldScope, HoldSpec
from cases.store import CaseStore
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from tests.cases.helpers import at, post

runner = CliRunner()
OLD = post("user:bob", "room:deals", at(400), "old deal chatter")
HELD = post("user:bob", "room:legal", at(400), "old legal chatter")
NEW = post("user:bob", "room:deals", at(1), "new deal chatter")


def test_retention_from_the_command_line() -> None:
    settings = get_settings()
    engine = wiring.staging_store(settings).engine
    ArchiveAdapter(engine).write([OLD, HELD, NEW])
    index = TantivyIndexAdapter(settings.data_dir / "index", hold_writer=False)
    index.write([OLD, HELD, NEW])
    index.close()
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="matter"), "legal")
    cases.place_hold(case.id, HoldSpec(reason="dispute", scope=HoldScope(rooms=("room:legal",))), "legal")

    assert runner.invoke(app, ["retention", "policy", "set", "--keep-days", "365"]).exit_code == 0
    assert runner.invoke(app, ["retention", "policy", "set", "--room", "room:x"]).exit_code == 0
    both = runner.invoke(app, ["retention", "policy", "set", "--room", "r", "--group", "g"])
    assert both.exit_code == 2
    assert "not both" in both.output
    unknown = runner.invoke(app, ["retention", "policy", "set", "--group", "group:nobody"])
    assert unknown.exit_code == 2
    assert "no directory group 'group:nobody': create it first" in unknown.output

    dry = runner.invoke(app, ["retention", "run", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would dispose of 1 events, 1 held by legal holds, 1 kept by policy" in dry.output
    real = runner.invoke(app, ["retention", "run"])
    assert real.exit_code == 0, real.output
    assert "disposed of 1 events, 1 held" in real.output

    hits = every_hit(TantivySearchBackend(settings.data_dir / "index"), parse_query("chatter"))
    assert sorted(hit.message_id for hit in hits) == sorted([HELD.message.id, NEW.message.id])
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
    actions = [entry["action"] for entry in entries(engine)]
    assert actions.count("retention_run") == 1
    assert actions.count("retention_policy_set") == 2


def test_a_query_hold_that_cannot_be_resolved_stops_the_run() -> None:
    engine = wiring.staging_store(get_settings()).engine
    ArchiveAdapter(engine).write([OLD])
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="matter"), "legal")
    cases.place_hold(case.id, HoldSpec(reason="dispute", scope=HoldScope(query="deal")), "legal")
    assert runner.invoke(app, ["retention", "policy", "set", "--keep-days", "30"]).exit_code == 0

    result = runner.invoke(app, ["retention", "run"])  # no index was ever written

    assert result.exit_code == 1
    assert "could not be resolved" in result.output
    assert "nothing was disposed" in result.output
