"""``archivist directory import`` on the embedded default (SQLite under the data directory)."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from typer.testing import CliRunner

from archive.audit import entries
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from policies.model import Segment, WallSpec
from policies.store import PolicyStore

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def policy_store() -> PolicyStore:
    return PolicyStore(wiring.staging_store(get_settings()).engine)


def example_files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "directory-users.csv", tmp_path / "directory-groups.csv"]
    for path in paths:
        shutil.copy(EXAMPLES / path.name, path)
    return paths


def test_import_prints_counts_and_is_audited_with_file_hashes(tmp_path: Path) -> None:
    paths = example_files(tmp_path)
    result = runner.invoke(app, ["directory", "import", *map(str, paths)])
    assert result.exit_code == 0, result.output
    assert "users: 4 created, 0 updated, 0 unchanged, 0 removed" in result.output
    assert "groups: 4 created, 0 updated, 0 unchanged, 0 removed" in result.output
    store = policy_store()
    research = store.get_group("group:research")
    assert research is not None
    assert research.subgroups == ("group:equity-research",)
    assert research.members == ("user:alice",)
    (entry,) = [e for e in entries(store.engine) if e["action"] == "directory_import"]
    assert entry["role"] == "admin"
    assert entry["details"]["users_created"] == 4
    assert entry["details"]["files"] == [
        {"name": p.name, "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in paths
    ]

    again = runner.invoke(app, ["directory", "import", *map(str, paths)])
    assert "users: 0 created, 0 updated, 4 unchanged, 0 removed" in again.output


def test_replace_with_dry_run_counts_removals_and_changes_nothing(tmp_path: Path) -> None:
    paths = example_files(tmp_path)
    runner.invoke(app, ["directory", "import", *map(str, paths)])
    fewer = tmp_path / "fewer.csv"
    fewer.write_text("id,email\nuser:alice,alice@example.com\n", encoding="utf-8")
    revision = policy_store().revision()
    result = runner.invoke(app, ["directory", "import", str(fewer), "--replace", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "users: 0 created, 1 updated, 0 unchanged, 3 removed" in result.output
    assert "groups: 0 created, 0 updated, 0 unchanged, 4 removed" in result.output
    assert "dry run: nothing was changed" in result.output
    assert policy_store().revision() == revision
    assert len(policy_store().users()) == 4
    # Only the first import is audited: a dry run changes nothing.
    imports = [e for e in entries(policy_store().engine) if e["action"] == "directory_import"]
    assert [e["details"]["replace"] for e in imports] == [False]

    result = runner.invoke(app, ["directory", "import", str(fewer), "--replace"])
    assert result.exit_code == 0, result.output
    assert [u.id for u in policy_store().users()] == ["user:alice"]
    assert policy_store().groups() == []


def test_bad_files_fail_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "people.csv"
    bad.write_text("id,email\nuser:a,alice\nuser:b,bob@example.com\nuser:a,\n", encoding="utf-8")
    result = runner.invoke(app, ["directory", "import", str(bad)])
    assert result.exit_code == 2
    assert "people.csv, line 2: email 'alice' is not an e-mail address" in result.output
    assert "Traceback" not in result.output
    assert policy_store().users() == []

    missing = runner.invoke(app, ["directory", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert "cannot read" in missing.output


def test_a_conflict_with_the_walls_is_refused(tmp_path: Path) -> None:
    paths = example_files(tmp_path)
    runner.invoke(app, ["directory", "import", *map(str, paths)])
    policy_store().create_wall(
        WallSpec(
            name="research / banking",
            side_a=(Segment(kind="group", id="group:research"),),
            side_b=(Segment(kind="group", id="group:banking"),),
        ),
        "wall-1",
    )
    only_research = tmp_path / "research.csv"
    only_research.write_text("id,groups\nuser:alice,group:research\n", encoding="utf-8")
    result = runner.invoke(app, ["directory", "import", str(only_research), "--replace"])
    assert result.exit_code == 2
    assert "nothing imported: cannot remove group:banking" in " ".join(result.output.split())
    assert policy_store().get_group("group:banking") is not None
