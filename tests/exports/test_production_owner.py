"""A server starting sweeps only the productions it can know are dead: not a CLI production still running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update

from cases.model import CaseSpec
from cases.productions import ProductionLog, process_owner
from cases.schema import case_productions
from cases.store import CaseStore
from exports.jobs import ExportJobs
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend


def test_a_server_starting_leaves_a_running_cli_production_alone(store: StagingStore, tmp_path: Path) -> None:
    """``archivist export --case`` runs beside a server; the server (re)starting while it runs
    sweeps every running production of every case, the CLI's too: its numbers are given to the
    next production while the CLI is still writing them, and the CLI's export then fails."""
    log, export_id = _running_production(store, "Beside a server")
    (tmp_path / "index").mkdir()
    server = ExportJobs(store.engine, tmp_path / "exports", lambda: TantivySearchBackend(tmp_path / "index"))
    server.shutdown()
    found = log.get(export_id)
    assert found is not None
    assert found.state == "running", "the server released a production it does not run"


def _running_production(store: StagingStore, name: str) -> tuple[ProductionLog, str]:
    case = CaseStore(store.engine).create_case(CaseSpec(name=name), "legal")
    log = ProductionLog(store.engine)
    reserved = log.reserve(
        export_id=f"export-of-{name}",
        case_id=case.id,
        prefix="ACME-",
        start=None,
        unit="conversation",
        time_zone="UTC",
        recipients=[],
        query="ubuntu",
        formats=["csv"],
        requested_by="operator",
    )
    assert reserved.owner == process_owner()
    return log, reserved.export_id


def test_a_server_starting_releases_the_productions_whose_process_is_gone(store: StagingStore, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    host, _, token = process_owner().split(":")
    owners = {
        "none": None,  # written before owners were
        "dead": f"{host}:{int(dead.stdout)}:{token}",  # a process of this host that has ended
        "restarted": f"{host}:{os.getpid()}:{'0' * 32}",  # this pid, an earlier process
        "elsewhere": f"{host}.other:{os.getpid()}:{token}",  # another host: not known to be gone
    }
    made = {name: _running_production(store, name) for name in owners}
    with store.engine.begin() as connection:
        for name, owner in owners.items():
            connection.execute(
                update(case_productions).where(case_productions.c.export_id == made[name][1]).values(owner=owner)
            )
    (tmp_path / "index").mkdir()
    ExportJobs(store.engine, tmp_path / "exports", lambda: TantivySearchBackend(tmp_path / "index")).shutdown()
    states = {name: log.get(export_id).state for name, (log, export_id) in made.items()}  # type: ignore[union-attr]
    assert states == {"none": "failed", "dead": "failed", "restarted": "failed", "elsewhere": "running"}
