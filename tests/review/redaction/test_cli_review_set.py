"""``archivist export --case C --review-set S --tag T``: a review set's production from the
command line, and its refusals as one clear line with a non-zero exit."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from cases.model import CaseSpec
from cases.store import CaseStore
from ingest.staging import StagingStore
from tests.review.redaction.test_production_redaction import EVENTS
from tests.review.redaction.test_redactions_api import _review_set

runner = CliRunner()


@pytest.fixture
def case_and_set() -> tuple[str, str]:
    get_settings.cache_clear()
    engine = wiring.staging_store(get_settings()).engine
    ArchiveAdapter(engine).write(EVENTS)
    case_id = CaseStore(engine).create_case(CaseSpec(name="Acme v. Widget"), "legal").id
    return case_id, _review_set(StagingStore(engine), case_id)


def test_a_review_set_is_produced_from_the_command_line(case_and_set: tuple[str, str]) -> None:
    case_id, set_id = case_and_set
    done = runner.invoke(
        app, ["export", "--format", "jsonl", "--case", case_id, "--review-set", set_id, "--tag", "responsive"]
    )
    assert done.exit_code == 0, done.output
    (zip_path,) = (get_settings().data_dir / "exports").glob("*.zip")
    with zipfile.ZipFile(Path(zip_path)) as archive:
        documents = [json.loads(line) for line in archive.read("documents.jsonl").decode().splitlines()]
        assert [d["message_id"] for d in documents] == ["m0", "m1"]
        assert "privilege_log.csv" in archive.namelist()
        events = archive.read("events.jsonl").decode()
    assert "PRIVSECRET42" not in events
    assert "Withheld: Attorney-Client" in events


def test_an_unknown_review_set_or_tag_is_refused(case_and_set: tuple[str, str]) -> None:
    case_id, set_id = case_and_set
    unknown = runner.invoke(app, ["export", "--format", "jsonl", "--case", case_id, "--review-set", "nope"])
    assert unknown.exit_code == 2
    assert "no review set 'nope'" in unknown.output
    tag = runner.invoke(app, ["export", "-f", "jsonl", "--case", case_id, "--review-set", set_id, "--tag", "hot"])
    assert tag.exit_code == 2
    assert "no tag 'hot'" in tag.output
    neither = runner.invoke(app, ["export", "--format", "jsonl", "--case", case_id])
    assert neither.exit_code != 0
