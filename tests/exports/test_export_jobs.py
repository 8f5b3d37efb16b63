"""Export jobs through the API and on their own: the sealed zip, its manifest, the audit trail."""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import time
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator, ValidationError
from pypdf import PdfReader
from sqlalchemy import select, update

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.schema import archive_events
from cases.productions import process_owner
from exports.base import ExportContext, ExportFiles, FormatReport, Loss
from exports.jobs import ExportJobs, JobSpec
from exports.package import ExportRequest, build_export
from exports.registry import FORMAT_NAMES
from exports.schema import export_jobs
from ingest.events import Event, PostEvent, parse_event_json
from ingest.irc import read_irc_file
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from search_api.deps import PERMISSIONS
from tests.api_client import api_client, auth
from tests.api_client import tokens as tokens  # a token per role

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
LOGS = ("2009-03-03_10.raw.txt", "2007-09-07.train-a.raw.txt")  # the second has joins and leaves


@pytest.fixture
def archived(store: StagingStore, tmp_path: Path) -> StagingStore:
    events = [event for name in LOGS for event in read_irc_file(DEMO_LOGS / name)]
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "data" / "index")
    index.write(events)
    index.close()
    return store


@pytest.fixture
def client(archived: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with api_client(archived, tmp_path / "data" / "index") as test_client:
        yield test_client


def finished(client: TestClient, export_id: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/exports/{export_id}", headers=auth(token)).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not finish")


def test_an_export_is_a_sealed_zip_of_every_hit_and_is_audited(
    client: TestClient, tokens: dict[str, str], tmp_path: Path
) -> None:
    legal = tokens["legal"]
    started = client.post("/api/v1/exports", json={"query": "ubuntu", "formats": ["jsonl"]}, headers=auth(legal))
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], legal)
    assert job["status"] == "done", job["error"]
    download = client.get(f"/api/v1/exports/{job['id']}/download", headers=auth(legal))
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == job["file_sha256"]

    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        custody = json.loads(archive.read("chain_of_custody.json"))
        for entry in manifest["files"]:
            assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
        assert custody["manifest_sha256"] == hashlib.sha256(archive.read("manifest.json")).hexdigest()
        events = [parse_event_json(line) for line in archive.read("events.jsonl").decode().splitlines()]
    backend = TantivySearchBackend(tmp_path / "data" / "index")
    expected = {hit.message_id for hit in every_hit(backend, parse_query("ubuntu"))}
    exported_posts = {e.message.id for e in events if isinstance(e, PostEvent)}
    assert exported_posts == expected, "every hit, not the top k"
    assert manifest["counts"]["messages"] == len(expected)
    assert manifest["query"] == "ubuntu"
    assert manifest["archive_head"]["chain_hash"]
    assert any(e.type == "join" for e in events), "the room-day's joins come with the messages"

    entries = client.get("/api/v1/audit?limit=50", headers=auth(tokens["auditor"])).json()["entries"]
    actions = {e["action"]: e["details"] for e in entries}
    assert actions["export_start"]["export_id"] == job["id"]
    assert actions["export_done"]["sha256"] == job["file_sha256"]
    assert actions["export_done"]["counts"]["messages"] == len(expected)
    assert actions["export_download"]["export_id"] == job["id"]


def test_export_routes_need_the_export_role(client: TestClient, tokens: dict[str, str]) -> None:
    for role, token in tokens.items():
        response = client.get("/api/v1/exports", headers=auth(token))
        assert response.status_code == (200 if role in PERMISSIONS["export"] else 403), role
    assert client.post("/api/v1/exports", json={"query": "x", "formats": ["jsonl"]}).status_code == 401


def test_bad_orders_are_refused_before_any_job(client: TestClient, tokens: dict[str, str]) -> None:
    legal = auth(tokens["legal"])
    bad_query = client.post("/api/v1/exports", json={"query": "(ubuntu", "formats": ["jsonl"]}, headers=legal)
    assert bad_query.status_code == 422
    assert bad_query.json()["detail"]["position"] is not None
    unknown = client.post("/api/v1/exports", json={"query": "ubuntu", "formats": ["docx"]}, headers=legal)
    assert unknown.status_code == 422
    assert "docx" in unknown.json()["detail"]["message"]
    assert client.get("/api/v1/exports", headers=legal).json() == []
    assert client.get("/api/v1/exports/nope", headers=legal).status_code == 404


class Exploding:
    name = "exploding"

    def write(self, events: Iterable[Event], files: ExportFiles, context: ExportContext) -> FormatReport:
        with files.create("half.txt", "text/plain") as out:
            for count, _event in enumerate(events):
                out.write(b"x")
                if count == 10:
                    raise OSError("disk full")
        return FormatReport(self.name)


def test_a_failed_export_leaves_no_file(
    archived: StagingStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("exports.package.export_format", lambda _name: Exploding())
    destination = tmp_path / "out" / "x.zip"
    request = ExportRequest(export_id="x", query="ubuntu", formats=("exploding",), requested_by="t", role="legal")
    with pytest.raises(OSError, match="disk full"):
        build_export(archived.engine, TantivySearchBackend(tmp_path / "data" / "index"), request, destination)
    assert list(destination.parent.iterdir()) == []


def test_jobs_left_running_by_a_stopped_server_are_marked_failed(archived: StagingStore, tmp_path: Path) -> None:
    backend = TantivySearchBackend(tmp_path / "data" / "index")
    jobs = ExportJobs(archived.engine, tmp_path / "exports", lambda: backend)
    job = jobs.record(JobSpec(query="ubuntu", formats=("jsonl",), requested_by="t", role="legal"))
    with archived.engine.begin() as connection:
        # Running in a process that has stopped: an earlier process of this host and pid.
        earlier = process_owner().rsplit(":", 1)[0] + ":" + "0" * 32
        connection.execute(
            update(export_jobs).where(export_jobs.c.id == job["id"]).values(status="running", owner=earlier)
        )
    jobs.shutdown()
    restarted = ExportJobs(archived.engine, tmp_path / "exports", lambda: backend)
    after = restarted.get(job["id"])
    assert after is not None
    assert after["status"] == "failed"
    assert "interrupted" in after["error"]
    restarted.shutdown()


def test_a_job_reports_progress_while_it_reads_thousands_of_events(archived: StagingStore, tmp_path: Path) -> None:
    """Progress is committed every 1,000 events from another connection while the export reads
    the archive: on SQLite the read must not hold the write lock (it once did, and the job
    failed with "database is locked" after a minute)."""
    backend = TantivySearchBackend(tmp_path / "data" / "index")
    jobs = ExportJobs(archived.engine, tmp_path / "exports", lambda: backend)
    started = time.monotonic()
    job = jobs.run_now(JobSpec(query="sent>=2000-01-01", formats=("jsonl",), requested_by="t", role="legal"))
    jobs.shutdown()
    assert job["status"] == "done", job["error"]
    assert job["events_done"] > 2000
    assert time.monotonic() - started < 30


def test_jsonl_lines_and_csv_hashes_are_the_archived_bytes(archived: StagingStore, tmp_path: Path) -> None:
    with archived.engine.connect() as connection:
        stored = {
            row.event_id: row.payload
            for row in connection.execute(select(archive_events.c.event_id, archive_events.c.payload))
        }
    request = ExportRequest(export_id="bytes", query="ubuntu", formats=("jsonl", "csv"), requested_by="t", role="legal")
    result = build_export(
        archived.engine, TantivySearchBackend(tmp_path / "data" / "index"), request, tmp_path / "bytes.zip"
    )
    with zipfile.ZipFile(result.path) as package:
        lines = package.read("events.jsonl").decode().splitlines()
        rows = list(csv.DictReader(io.StringIO(package.read("messages.csv").decode("utf-8-sig"))))
        listed = {entry["path"]: entry["sha256"] for entry in json.loads(package.read("manifest.json"))["files"]}
        texts = {row["TEXTPATH"]: package.read(row["TEXTPATH"]) for row in rows if row["TEXTPATH"]}
        sums = package.read("messages_text.sha256")
    assert lines
    assert all(line == stored[json.loads(line)["event_id"]] for line in lines)
    assert len(rows) == len(lines)
    assert all(row["EVENT_SHA256"] == hashlib.sha256(stored[row["EVENT_ID"]].encode()).hexdigest() for row in rows)
    # Issue 17: each message's exact text is a file of the package (TEXTPATH), listed with its
    # SHA-256 in messages_text.sha256, which the manifest lists (not each of 100,000 files).
    messages = [(row, json.loads(stored[row["EVENT_ID"]])) for row in rows if row["TYPE"] in ("post", "edit")]
    assert messages
    for row, event in messages:
        if event["message"]["text"]:
            assert texts[row["TEXTPATH"]] == event["message"]["text"].encode()
    assert listed["messages_text.sha256"] == hashlib.sha256(sums).hexdigest()
    summed = {line[66:]: line[:64] for line in sums.decode().splitlines()}  # "<sha256>  <path>"
    assert summed == {path: hashlib.sha256(data).hexdigest() for path, data in texts.items()}
    assert not [path for path in listed if path.startswith("messages_text/")]
    _valid_manifest(result.manifest)


MANIFEST_SCHEMA = Path(__file__).resolve().parents[2] / "exports" / "schemas" / "manifest.schema.json"


def _valid_manifest(manifest: dict[str, Any]) -> None:
    schema = json.loads(MANIFEST_SCHEMA.read_text())
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(manifest)


def test_an_export_started_for_a_case_carries_its_name_number_and_custodians(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """Issue 17, finding 9: the manifest said ``"case": {"name": null, "custodians": []}`` and
    the PDF cover "Case —" for an export started for a case."""
    legal = auth(tokens["legal"])
    opened = client.post(
        "/api/v1/cases", json={"name": "Doe v. Example Bank", "custodians": ["user:ikonia"]}, headers=legal
    )
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    hold = {"reason": "preserve", "scope": {"custodians": ["user:Seper", "user:ikonia"]}}
    assert client.post(f"/api/v1/cases/{case_id}/holds", json=hold, headers=legal).status_code == 201
    order = {"query": "ubuntu", "formats": ["jsonl", "pdf"], "case_id": case_id}
    started = client.post("/api/v1/exports", json=order, headers=legal)
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], tokens["legal"])
    assert job["status"] == "done", job["error"]
    case = {
        "id": case_id,
        "number": case_id,
        "name": "Doe v. Example Bank",
        "custodians": ["user:ikonia", "user:Seper"],
    }
    assert job["manifest"]["case"] == case
    download = client.get(f"/api/v1/exports/{job['id']}/download", headers=legal)
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        cover = PdfReader(io.BytesIO(archive.read("report.pdf"))).pages[0].extract_text()
    assert manifest["case"] == case
    _valid_manifest(manifest)
    lines = [line.strip() for line in cover.splitlines()]
    fields = dict(itertools.pairwise(lines))  # pypdf gives a label's value on the next line
    assert fields["Case"] == "Doe v. Example Bank", cover
    assert fields["Case number"] == case_id, cover
    # Custodians as "display name (id)" when they took part (issue 19), else their id.
    custodians = fields["Custodians"].split("; ")
    assert [c.removesuffix(")").rpartition("(")[2] or c for c in custodians] == ["user:ikonia", "user:Seper"], cover


def test_an_export_without_a_case_says_so_in_its_manifest(client: TestClient, tokens: dict[str, str]) -> None:
    legal = auth(tokens["legal"])
    started = client.post("/api/v1/exports", json={"query": "ubuntu", "formats": ["jsonl"]}, headers=legal)
    job = finished(client, started.json()["id"], tokens["legal"])
    assert job["status"] == "done", job["error"]
    assert job["manifest"]["case"] == {"id": None, "number": None, "name": None, "custodians": []}
    _valid_manifest(job["manifest"])


def test_progress_counts_each_event_once_however_many_formats(client: TestClient, tokens: dict[str, str]) -> None:
    """Issue 17, finding 10: "819 of 819 events" for 117 events in 7 formats."""
    legal = auth(tokens["legal"])
    order = {"query": "ubuntu", "formats": list(FORMAT_NAMES)}
    started = client.post("/api/v1/exports", json=order, headers=legal)
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], tokens["legal"])
    assert job["status"] == "done", job["error"]
    events = job["manifest"]["counts"]["events"]
    assert events > 0
    assert all(entry["events"] == events for entry in job["manifest"]["formats"])
    assert (job["events_done"], job["events_total"]) == (events, events)


def test_progress_is_reported_in_events_and_never_passes_the_total(archived: StagingStore, tmp_path: Path) -> None:
    """Every report a build makes: done never goes back, never passes the event count, and the
    event count is told as soon as the first format has read every event."""
    backend = TantivySearchBackend(tmp_path / "data" / "index")
    reports: list[tuple[int, int | None]] = []
    request = ExportRequest(
        export_id="p", query="sent>=2000-01-01", formats=("jsonl", "csv"), requested_by="t", role="legal"
    )
    result = build_export(
        archived.engine,
        backend,
        request,
        tmp_path / "p.zip",
        progress=lambda done, total: reports.append((done, total)),
    )
    events = result.manifest["counts"]["events"]
    assert events > 2000
    assert reports[-1] == (events, events)
    dones = [done for done, _total in reports]
    assert dones == sorted(dones)
    assert max(dones) == events
    assert {total for _done, total in reports} <= {None, events}
    assert any(total == events and done < events for done, total in reports), "the total is known before the end"


def test_the_manifest_schema_refuses_a_case_without_its_details(client: TestClient, tokens: dict[str, str]) -> None:
    """The schema is no blank cheque: a case id without its name or number, or a case missing
    from the manifest, does not validate."""
    legal = auth(tokens["legal"])
    started = client.post("/api/v1/exports", json={"query": "ubuntu", "formats": ["jsonl"]}, headers=legal)
    manifest = finished(client, started.json()["id"], tokens["legal"])["manifest"]
    _valid_manifest(manifest)
    bad_cases = [
        {"id": "c1", "number": None, "name": None, "custodians": []},
        {"id": None, "number": None, "name": None, "custodians": ["user:x"]},
        {"id": "c1", "name": "Matter", "custodians": []},
    ]
    for case in bad_cases:
        with pytest.raises(ValidationError):
            _valid_manifest({**manifest, "case": case})
    with pytest.raises(ValidationError):
        _valid_manifest({key: value for key, value in manifest.items() if key != "case"})


def test_the_manifest_lists_each_formats_losses_and_its_schema_describes_them(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """Issue 17: what a format cannot carry is a structured loss of ``formats[]`` (format,
    field, count, unit, why, where the exact value is, sample events), held to the schema."""
    legal = auth(tokens["legal"])
    order = {"query": "sent>=2000-01-01", "formats": ["jsonl", "lync"]}
    started = client.post("/api/v1/exports", json=order, headers=legal)
    manifest = finished(client, started.json()["id"], tokens["legal"])["manifest"]
    _valid_manifest(manifest)
    jsonl, lync = manifest["formats"]
    assert jsonl["losses"] == lync["losses"] == []  # these IRC logs hold nothing either cannot carry
    # A loss as a format reports it (the round-trip tests, tests/exports/test_round_trip.py, make
    # the formats report real ones) is what the schema describes.
    loss = Loss("lync", "Lync XML: edit events", 3, "no element", "events.jsonl", ("e1", "e2"))
    good = loss.as_json()
    _valid_manifest({**manifest, "formats": [jsonl, {**lync, "losses": [good]}]})
    for bad in ({**good, "count": 0}, {**good, "unit": "pages"}, {k: v for k, v in good.items() if k != "why"}):
        with pytest.raises(ValidationError):
            _valid_manifest({**manifest, "formats": [jsonl, {**lync, "losses": [bad]}]})
    with pytest.raises(ValidationError):
        _valid_manifest({**manifest, "formats": [{k: v for k, v in jsonl.items() if k != "losses"}, lync]})


def test_an_export_says_its_time_zone_and_an_unknown_zone_is_refused(
    client: TestClient, tokens: dict[str, str], archived: StagingStore, tmp_path: Path
) -> None:
    """Issue 17, finding 4: the manifest names the zone and how each format writes times."""
    legal = auth(tokens["legal"])
    order = {"query": "ubuntu", "formats": ["jsonl", "csv", "actiance"], "time_zone": "Asia/Tokyo"}
    started = client.post("/api/v1/exports", json=order, headers=legal)
    assert started.status_code == 202, started.text
    job = finished(client, started.json()["id"], tokens["legal"])
    assert job["status"] == "done", job["error"]
    zone = job["manifest"]["time_zone"]
    assert zone["name"] == "Asia/Tokyo"
    assert zone["conversation_days"] == "cut at midnight Asia/Tokyo"
    assert set(zone["formats"]) == {"jsonl", "csv", "actiance"}
    assert zone["formats"]["actiance"].startswith("UTC")
    _valid_manifest(job["manifest"])
    bad = client.post("/api/v1/exports", json=order | {"time_zone": "Asia/Tokio"}, headers=legal)
    assert bad.status_code == 422
    assert "Asia/Tokyo" in bad.text  # the closest name is suggested
    default = client.post("/api/v1/exports", json={"query": "ubuntu", "formats": ["jsonl"]}, headers=legal)
    assert finished(client, default.json()["id"], tokens["legal"])["manifest"]["time_zone"]["name"] == "UTC"
    request = ExportRequest(
        export_id="z", query="ubuntu", formats=("jsonl",), requested_by="t", role="legal", time_zone="Mars/Olympus"
    )
    with pytest.raises(ValueError, match="unknown time zone"):
        build_export(archived.engine, TantivySearchBackend(tmp_path / "data" / "index"), request, tmp_path / "z.zip")
    assert not (tmp_path / "z.zip").exists()


def test_an_export_for_a_case_takes_the_cases_time_zone_unless_the_order_names_one(
    client: TestClient, tokens: dict[str, str]
) -> None:
    legal = auth(tokens["legal"])
    opened = client.post("/api/v1/cases", json={"name": "Desk", "time_zone": "America/New_York"}, headers=legal)
    assert opened.status_code == 201, opened.text
    case_id = opened.json()["id"]
    zones = []
    for extra in ({}, {"time_zone": "Europe/London"}):
        order = {"query": "ubuntu", "formats": ["csv"], "case_id": case_id, **extra}
        started = client.post("/api/v1/exports", json=order, headers=legal)
        assert started.status_code == 202, started.text
        job = finished(client, started.json()["id"], tokens["legal"])
        assert job["status"] == "done", job["error"]
        zones.append(job["manifest"]["time_zone"]["name"])
    assert zones == ["America/New_York", "Europe/London"]
