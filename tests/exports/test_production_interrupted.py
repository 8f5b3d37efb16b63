"""an export run on the spot (``archivist export --case``, ExportJobs with
sweep=False) that is interrupted (Ctrl-C: KeyboardInterrupt) must not leave its case's
production log 'running' for ever: every later production of the case is refused with 409 until
some API server happens to restart."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from archive.principals import Principal
from cases.model import CaseSpec
from cases.productions import ProductionLog
from cases.store import CaseStore
from exports import service
from exports.base import ExportContext, ExportFiles, FormatReport
from exports.jobs import ExportJobs
from exports.registry import FORMAT_NAMES
from exports.service import ExportOrder
from ingest.events import Event
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend


class Interrupted:
    name = "interrupted"

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        raise KeyboardInterrupt  # the operator pressed Ctrl-C


def test_an_interrupted_cli_production_gives_its_numbers_back(
    store: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exports.service.FORMAT_NAMES", (*FORMAT_NAMES, "interrupted"))
    monkeypatch.setattr("exports.package.export_format", lambda name: Interrupted())
    case = CaseStore(store.engine).create_case(CaseSpec(name="Interrupted"), "legal")
    (tmp_path / "index").mkdir()
    jobs = ExportJobs(store.engine, tmp_path / "exports", lambda: TantivySearchBackend(tmp_path / "index"), sweep=False)
    order = ExportOrder(query="ubuntu", formats=["interrupted"], case_id=case.id)
    with pytest.raises(KeyboardInterrupt):
        service.start_export(store.engine, jobs, Principal("t", "test", "legal"), order, wait=True)
    jobs.shutdown()
    (production,) = ProductionLog(store.engine).productions(case.id)
    assert production.state == "failed", f"left {production.state}: the case cannot be produced again"
