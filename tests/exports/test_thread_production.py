"""A production in the thread unit, end to end (issue 20): the archive's thread links reach the
formats through the export context, loaded once per room for the selection."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import create_token
from exports.package import ExportRequest, build_export
from exports.registry import FORMAT_NAMES
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from tests.api_client import api_client, auth
from tests.exports.test_export_jobs import finished
from tests.exports.test_rsmf import SCHEMA, read_back
from tests.threads.chat import NamedParent, deliver, say


def test_a_thread_production_reads_the_archived_links(sqlite_store: StagingStore, tmp_path: Path) -> None:
    slack = [
        say(1, "deploy tonight?", room="room:slack", message_id="s1"),
        say(2, "lunch?", room="room:slack", message_id="s2"),
        say(3, "yes, after 8", room="room:slack", message_id="s3", reply_to="s1"),
    ]
    irc = [say(4, "anyone?", message_id="i1"), say(5, "re i1 me", message_id="i2", actor="user:bob", name="bob")]
    deliver(sqlite_store.engine, slack)
    deliver(sqlite_store.engine, irc, NamedParent(window=5))
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(slack + irc)
    index.close()
    request = ExportRequest(
        export_id="t",
        query="sent>=2000-01-01",
        formats=("jsonl", "rsmf"),
        requested_by="t",
        role="legal",
        unit="thread",
    )
    result = build_export(sqlite_store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "t.zip")
    assert result.manifest["production"]["unit"] == "thread"
    with zipfile.ZipFile(tmp_path / "t.zip") as package:
        documents = [json.loads(line) for line in package.read("documents.jsonl").decode().splitlines()]
        names = sorted(name for name in package.namelist() if name.endswith(".rsmf"))
        manifests = [read_back(name, package.read(name)).manifest for name in names]
    assert [(d["room"]["id"], d["thread_id"]) for d in documents] == [
        ("room:irc", "i1"),
        ("room:slack", "s1"),
        ("room:slack", "s2"),
    ]
    irc_threads = documents[0]["threads"]
    assert irc_threads[1] == {"message_id": "i2", "thread_id": "i1", "parent_id": "i1", "source": "model"}
    validator = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)
    parents: dict[str, Any] = {}
    for manifest in manifests:
        validator.validate(manifest)
        parents |= {e["id"]: e.get("parent") for e in manifest["events"] if e["type"] == "message"}
    assert parents == {"i1": None, "i2": "i1", "s1": None, "s3": "s1", "s2": None}


def test_the_api_takes_the_thread_unit_and_refuses_an_unknown_one(store: StagingStore, tmp_path: Path) -> None:
    events = [
        say(1, "deploy tonight?", room="room:slack", message_id="s1"),
        say(2, "yes", room="room:slack", message_id="s2", reply_to="s1"),
    ]
    deliver(store.engine, events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    token = create_token(store.engine, "legal", "t")
    with api_client(store, tmp_path / "index") as client:
        order = {"query": "sent>=2000-01-01", "formats": ["jsonl"], "unit": "thread"}
        started = client.post("/api/v1/exports", json=order, headers=auth(token))
        assert started.status_code == 202, started.text
        job = finished(client, started.json()["id"], token)
        assert job["status"] == "done", job
        download = client.get(f"/api/v1/exports/{job['id']}/download", headers=auth(token))
        with zipfile.ZipFile(io.BytesIO(download.content)) as package:
            (document,) = [json.loads(line) for line in package.read("documents.jsonl").decode().splitlines()]
        assert (document["kind"], document["thread_id"]) == ("thread", "s1")
        refused = client.post("/api/v1/exports", json=order | {"unit": "page"}, headers=auth(token))
        assert refused.status_code == 422
        assert "thread" in refused.text


def test_every_format_writes_a_thread_production(sqlite_store: StagingStore, tmp_path: Path) -> None:
    events = [
        say(1, "deploy tonight?", room="room:slack", message_id="s1"),
        say(2, "lunch?", room="room:slack", message_id="s2"),
        say(3, "yes", room="room:slack", message_id="s3", reply_to="s1"),
        say(4, "yes (edited)", room="room:slack", message_id="s3", kind="edit"),
    ]
    deliver(sqlite_store.engine, events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    request = ExportRequest(
        export_id="all", query="sent>=2000-01-01", formats=FORMAT_NAMES, requested_by="t", role="legal", unit="thread"
    )
    result = build_export(sqlite_store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "a.zip")
    production = result.manifest["production"]
    assert (production["unit"], production["documents"]) == ("thread", 2)
    with zipfile.ZipFile(tmp_path / "a.zip") as package:
        load_file = package.read("edrm.xml").decode() if "edrm.xml" in package.namelist() else ""
    assert "one document per thread" in load_file
