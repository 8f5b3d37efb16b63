"""Productions of a case through the real export: control numbers continue from one production
to the next, are never reused, are given back by a failed production; the production log over
the API (``GET /cases/{id}/productions``), the export of a search's whole hit set
(``POST /search/export``), the audit trail, and who may do what.

The formats on this branch do not number documents yet (the load file, EDRM, RSMF and PDF
branches make them walk :meth:`ExportContext.documents`), so a small format here does exactly
that and writes each document's control number: the export, the manifest, the jobs and the log
around it are the real ones."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import Principal
from cases.productions import ProductionLog
from exports import service
from exports.base import ExportContext, ExportFiles, ExportFormat, FormatReport
from exports.jobs import ExportJobs
from exports.registry import FORMAT_NAMES, export_format
from exports.service import ExportOrder
from ingest.events import Event
from ingest.irc import read_irc_file
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from search_api.deps import PERMISSIONS
from tests.api_client import api_client, auth
from tests.api_client import tokens as tokens  # a token per role
from tests.exports.test_export_jobs import finished

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
LOGS = ("2009-03-03_10.raw.txt", "2007-09-07.train-a.raw.txt")
GATE = threading.Event()
"""Held shut, the ``waiting`` format does not finish (a production that is still running)."""


class Numbered:
    """Walks the production's documents as every numbering format must, and lists them."""

    name = "numbered"

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        report = FormatReport(self.name)
        with files.create("controls.txt", "text/plain") as out:
            for document in context.documents(self._counted(events, report), report):
                for each in (document, *document.children):
                    out.write(f"{each.control}\n".encode())
                    report.items += 1
        return report

    @staticmethod
    def _counted(events: Iterable[Event], report: FormatReport) -> Iterator[Event]:
        for event in events:
            report.events += 1
            yield event


class Waiting(Numbered):
    name = "waiting"

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        assert GATE.wait(60), "the test never opened the gate"
        return super().write(events, files, context)


class Failing(Numbered):
    name = "failing"

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        raise OSError("disk full")


_TEST_FORMATS: dict[str, Callable[[], ExportFormat]] = {"numbered": Numbered, "waiting": Waiting, "failing": Failing}


@pytest.fixture(autouse=True)
def _test_formats(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr("exports.service.FORMAT_NAMES", (*FORMAT_NAMES, *_TEST_FORMATS))
    monkeypatch.setattr(
        "exports.package.export_format",
        lambda name: _TEST_FORMATS[name]() if name in _TEST_FORMATS else export_format(name),
    )
    GATE.clear()
    yield
    GATE.set()


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    events = [event for name in LOGS for event in read_irc_file(DEMO_LOGS / name)]
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "data" / "index")
    index.write(events)
    index.close()
    with api_client(store, tmp_path / "data" / "index") as test_client:
        yield test_client


def open_case(client: TestClient, token: str, name: str = "Acme v. Widget") -> str:
    created = client.post("/api/v1/cases", json={"name": name, "custodians": ["user:ubuntu"]}, headers=auth(token))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def produce(client: TestClient, token: str, **order: Any) -> dict[str, Any]:
    started = client.post(
        "/api/v1/exports", json={"query": "ubuntu", "formats": ["numbered"], **order}, headers=auth(token)
    )
    assert started.status_code == 202, started.text
    return finished(client, started.json()["id"], token)


def zip_of(client: TestClient, token: str, export_id: str) -> zipfile.ZipFile:
    download = client.get(f"/api/v1/exports/{export_id}/download", headers=auth(token))
    assert download.status_code == 200, download.text
    return zipfile.ZipFile(io.BytesIO(download.content))


def test_two_productions_of_a_case_number_on_from_each_other(client: TestClient, tokens: dict[str, str]) -> None:
    legal = tokens["legal"]
    case = open_case(client, legal)
    first = produce(client, legal, case_id=case, bates_prefix="ACME-", recipients=["Opposing counsel"])
    assert first["status"] == "done", first["error"]
    numbered = first["manifest"]["production"]
    assert (numbered["prefix"], numbered["first_control"]) == ("ACME-", "ACME-0000001")
    with zip_of(client, legal, first["id"]) as archive:
        controls = archive.read("controls.txt").decode().split()
        manifest_sha256 = hashlib.sha256(archive.read("manifest.json")).hexdigest()
    assert controls[0] == "ACME-0000001"
    assert controls[-1] == numbered["last_control"]
    assert len(controls) == numbered["documents"] > 1

    # The second production takes the case's prefix and goes on right after the first's last number.
    second = produce(client, legal, case_id=case, unit="message")
    assert second["status"] == "done", second["error"]
    again = second["manifest"]["production"]
    assert again["prefix"] == "ACME-"
    assert again["unit"] == "message"
    assert again["first_number"] == numbered["last_number"] + 1
    with zip_of(client, legal, second["id"]) as archive:
        assert archive.read("controls.txt").decode().split()[0] == again["first_control"]

    log = client.get(f"/api/v1/cases/{case}/productions", headers=auth(legal))
    assert log.status_code == 200, log.text
    entries = log.json()
    assert [e["export_id"] for e in entries] == [first["id"], second["id"]]
    one = entries[0]
    assert (one["state"], one["first_control"], one["last_control"]) == (
        "done",
        "ACME-0000001",
        numbered["last_control"],
    )
    assert (one["documents"], one["recipients"], one["unit"]) == (len(controls), ["Opposing counsel"], "conversation")
    assert (one["zip_sha256"], one["manifest_sha256"]) == (first["file_sha256"], manifest_sha256)
    assert entries[1]["first_number"] == numbered["last_number"] + 1

    audit = client.get("/api/v1/audit?limit=50", headers=auth(tokens["auditor"])).json()["entries"]
    done = [e["details"] for e in audit if e["action"] == "export_done" and e["details"]["export_id"] == first["id"]]
    assert done[0]["production"]["first_control"] == "ACME-0000001"
    assert done[0]["production"]["last_control"] == numbered["last_control"]
    assert done[0]["production"]["recipients"] == ["Opposing counsel"]
    start = [e["details"] for e in audit if e["action"] == "export_start" and e["details"]["export_id"] == first["id"]]
    assert start[0]["production"]["reserved_from"] == "ACME-0000001"


def test_numbers_a_case_produced_already_are_refused(client: TestClient, tokens: dict[str, str]) -> None:
    legal = tokens["legal"]
    case = open_case(client, legal)
    first = produce(client, legal, case_id=case, bates_prefix="ACME-")
    last = first["manifest"]["production"]["last_number"]
    reused = client.post(
        "/api/v1/exports",
        json={"query": "ubuntu", "formats": ["numbered"], "case_id": case, "bates_start": last},
        headers=auth(legal),
    )
    assert reused.status_code == 409
    assert f"start at {last + 1} or later" in reused.json()["detail"]["message"]
    gap = produce(client, legal, case_id=case, bates_start=last + 1000)
    assert gap["manifest"]["production"]["first_number"] == last + 1000
    assert len(client.get("/api/v1/exports", headers=auth(legal)).json()) == 2, "the refused one made no job"


def test_a_second_production_of_a_case_waits_for_the_first(client: TestClient, tokens: dict[str, str]) -> None:
    legal = tokens["legal"]
    case = open_case(client, legal)
    order = {"query": "ubuntu", "formats": ["waiting"], "case_id": case}
    running = client.post("/api/v1/exports", json=order, headers=auth(legal))
    assert running.status_code == 202
    refused = client.post("/api/v1/exports", json={**order, "formats": ["numbered"]}, headers=auth(legal))
    assert refused.status_code == 409
    assert refused.json()["detail"]["message"].startswith(f"a production of case {case} is running")
    other = open_case(client, legal, "Other matter")
    queued = client.post(
        "/api/v1/exports", json={**order, "case_id": other, "formats": ["numbered"]}, headers=auth(legal)
    )
    assert queued.status_code == 202, "other cases are not held up"
    GATE.set()
    assert finished(client, running.json()["id"], legal)["status"] == "done"
    assert finished(client, queued.json()["id"], legal)["status"] == "done"
    assert produce(client, legal, case_id=case)["status"] == "done"


def test_a_failed_production_gives_its_numbers_back(client: TestClient, tokens: dict[str, str]) -> None:
    legal = tokens["legal"]
    case = open_case(client, legal)
    failed = produce(client, legal, case_id=case, formats=["failing"], bates_prefix="ACME-")
    assert failed["status"] == "failed"
    after = produce(client, legal, case_id=case)
    assert after["manifest"]["production"]["first_control"] == "ACME-0000001"
    log = client.get(f"/api/v1/cases/{case}/productions", headers=auth(legal)).json()
    assert [(e["state"], e["first_control"]) for e in log] == [("failed", None), ("done", "ACME-0000001")]
    assert "disk full" in log[0]["error"]
    audit = client.get("/api/v1/audit?limit=50", headers=auth(tokens["auditor"])).json()["entries"]
    failure = next(e["details"] for e in audit if e["action"] == "export_failed")
    assert failure["production"]["released_from"] == "ACME-0000001"


def test_an_export_without_a_case_keeps_the_export_ids_numbers(client: TestClient, tokens: dict[str, str]) -> None:
    job = produce(client, tokens["legal"], recipients=["Regulator"])
    numbered = job["manifest"]["production"]
    assert numbered["prefix"] == "".join(ch for ch in job["id"] if ch.isalnum())[:8].upper() + "-"
    assert numbered["first_number"] == 1
    assert numbered["recipients"] == ["Regulator"]


def test_the_default_prefix_is_made_of_the_case_id(client: TestClient, tokens: dict[str, str]) -> None:
    case = open_case(client, tokens["legal"])
    job = produce(client, tokens["legal"], case_id=case)
    assert job["manifest"]["production"]["prefix"] == case.replace("-", "")[:8].upper() + "-"


@pytest.mark.parametrize(
    ("order", "says"),
    [
        ({"bates_prefix": "ACME 1"}, "prefix 'ACME 1' must be 1 to 20 letters"),
        ({"bates_prefix": "ACME-"}, "give case_id"),
        ({"bates_start": 0}, "greater than or equal to 1"),
        ({"unit": "page"}, "'conversation', 'message' or 'thread'"),
        ({"recipients": [""]}, "at least 1 character"),
    ],
)
def test_bad_production_orders_are_422_with_a_message(
    client: TestClient, tokens: dict[str, str], order: dict[str, Any], says: str
) -> None:
    refused = client.post(
        "/api/v1/exports", json={"query": "ubuntu", "formats": ["numbered"], **order}, headers=auth(tokens["legal"])
    )
    assert refused.status_code == 422
    assert says in json.dumps(refused.json())


def test_the_whole_hit_set_of_a_search_is_produced_into_a_case(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    legal = tokens["legal"]
    case = open_case(client, legal)
    search = {"query": "ubuntu sent>=2009-03-03", "size": 5, "sort": "relevance", "time_zone": "America/New_York"}
    hits = client.post("/api/v1/search", json=search, headers=auth(legal)).json()
    assert hits["total"] > 5, "more hits than one page"
    started = client.post(
        "/api/v1/search/export",
        json={"search": search, "case_id": case, "formats": ["jsonl", "numbered"], "recipients": ["Regulator"]},
        headers=auth(legal),
    )
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], legal)
    assert job["status"] == "done", job["error"]
    assert job["case_id"] == case
    assert job["query"] == search["query"]
    assert job["manifest"]["time_zone"]["name"] == "America/New_York", "the search's days, the search's hits"
    assert job["manifest"]["counts"]["messages"] == hits["total"]
    backend = TantivySearchBackend(tmp_path / "data" / "index")
    assert hits["total"] == len(list(every_hit(backend, parse_query("ubuntu sent>=2009-03-03"))))
    assert client.get(f"/api/v1/cases/{case}/productions", headers=auth(legal)).json()[0]["recipients"] == ["Regulator"]


def test_a_search_export_refuses_what_the_search_refuses(client: TestClient, tokens: dict[str, str]) -> None:
    legal = auth(tokens["legal"])
    bad = client.post(
        "/api/v1/search/export", json={"search": {"query": "(ubuntu"}, "formats": ["jsonl"]}, headers=legal
    )
    assert bad.status_code == 422
    assert bad.json()["detail"]["position"] is not None
    zone = client.post(
        "/api/v1/search/export",
        json={"search": {"query": "ubuntu", "time_zone": "Mars/Olympus"}, "formats": ["jsonl"]},
        headers=legal,
    )
    assert zone.status_code == 422
    nocase = client.post(
        "/api/v1/search/export",
        json={"search": {"query": "ubuntu"}, "formats": ["jsonl"], "case_id": "nope"},
        headers=legal,
    )
    assert nocase.status_code == 404


def test_production_routes_need_the_export_role(client: TestClient, tokens: dict[str, str]) -> None:
    case = open_case(client, tokens["legal"])
    order = {"search": {"query": "nothing-matches-this"}, "formats": ["numbered"], "case_id": case}
    for role, token in tokens.items():
        allowed = role in PERMISSIONS["export"]
        log = client.get(f"/api/v1/cases/{case}/productions", headers=auth(token))
        assert log.status_code == (200 if allowed else 403), role
        started = client.post("/api/v1/search/export", json=order, headers=auth(token))
        assert started.status_code == (202 if allowed else 403), (role, started.text)
        if allowed:
            assert finished(client, started.json()["id"], token)["status"] == "done"
    assert client.get(f"/api/v1/cases/{case}/productions").status_code == 401
    assert client.post("/api/v1/search/export", json=order).status_code == 401
    assert client.get("/api/v1/cases/nope/productions", headers=auth(tokens["legal"])).status_code == 404


def test_a_production_that_cannot_be_audited_never_runs_and_gives_its_numbers_back(
    client: TestClient, tokens: dict[str, str], store: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = open_case(client, tokens["legal"])
    jobs = ExportJobs(store.engine, tmp_path / "exports", lambda: TantivySearchBackend(tmp_path / "data" / "index"))

    def unrecordable(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("the audit log is unreachable")

    monkeypatch.setattr("exports.service.audit.record", unrecordable)
    order = ExportOrder(query="ubuntu", formats=["numbered"], case_id=case, bates_prefix="ACME-")
    with pytest.raises(OSError, match="unreachable"):
        service.start_export(store.engine, jobs, Principal("t", "test", "legal"), order)
    (abandoned,) = ProductionLog(store.engine).productions(case)
    assert (abandoned.state, abandoned.first_number) == ("failed", None)
    job = jobs.get(abandoned.export_id)
    assert job is not None
    assert job["status"] == "failed"
    monkeypatch.undo()
    _test_formats_again(monkeypatch)
    again = produce(client, tokens["legal"], case_id=case)
    assert again["manifest"]["production"]["first_control"] == "ACME-0000001"
    jobs.shutdown()


def _test_formats_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("exports.service.FORMAT_NAMES", (*FORMAT_NAMES, *_TEST_FORMATS))
    monkeypatch.setattr(
        "exports.package.export_format",
        lambda name: _TEST_FORMATS[name]() if name in _TEST_FORMATS else export_format(name),
    )
