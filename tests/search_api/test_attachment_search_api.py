"""``POST /api/v1/search`` over attachment text (issue 18): a hit on an uploaded file carries the
file and an excerpt of its text with the matched words highlighted, safely escaped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.fs_file_store import FsFileStore
from ingest.events import Event, parse_event
from ingest.staging import StagingStore
from tests.api_client import api_client, auth
from tests.api_client import tokens as tokens  # a token per role
from tests.attachment_events import T0, file_text, upload

HOSTILE = "Terms: <script>alert(1)</script> the supplier ACME Corporation agrees to deliver 400 units."


def post(number: int, text: str) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": f"00000000-0000-4000-8000-{number:012d}",
            "type": "post",
            "occurred_at": T0.isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:alice", "name": "Alice"},
            "message": {"id": f"m{number}", "text": text},
        }
    )


CONTRACT = upload("Contract Q3.pdf", 10, content=b"%PDF contract")
SCAN = upload("scan.png", 20, content=b"\x89PNG", content_type="image/png")


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    files = FsFileStore(tmp_path / "files")
    events = [
        post(1, "see the attached contract"),
        CONTRACT,
        file_text(CONTRACT, HOSTILE, files),
        SCAN,
        file_text(SCAN, None, files, state="failed", reason="OCR timed out"),
    ]
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "index", file_store=files)
    assert list(index.write(events)) == [None] * len(events)
    index.close()
    with api_client(store, tmp_path / "index") as test_client:
        yield test_client


def search(client: TestClient, token: str, query: str) -> dict[str, Any]:
    response = client.post("/api/v1/search", json={"query": query, "size": 100}, headers=auth(token))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_hit_in_attachment_text_carries_the_file_and_a_highlighted_excerpt(
    client: TestClient, tokens: dict[str, str]
) -> None:
    [hit] = search(client, tokens["legal"], "acme")["hits"]
    assert (hit["type"], hit["message_id"], hit["event_id"]) == (
        "file_upload",
        f"file:{CONTRACT.event_id}",
        str(CONTRACT.event_id),
    )
    file = hit["attachment"]
    assert (file["file_event_id"], file["name"], file["size"], file["sha256"]) == (
        str(CONTRACT.event_id),
        "Contract Q3.pdf",
        len(b"%PDF contract"),
        CONTRACT.file.sha256,
    )
    assert (file["file_type"], file["content_type"], file["extraction"], file["extractor"]) == (
        "pdf",
        "application/pdf",
        "extracted",
        "pdf",
    )
    assert file["link"] == f"/files/{CONTRACT.event_id}"
    assert "<b>ACME</b>" in file["excerpt"]
    assert "&lt;script&gt;" in file["excerpt"]
    assert "<script>" not in file["excerpt"]


def test_file_operators(client: TestClient, tokens: dict[str, str]) -> None:
    def ids(query: str) -> list[str]:
        return sorted(hit["message_id"] for hit in search(client, tokens["legal"], query)["hits"])

    contract, scan = f"file:{CONTRACT.event_id}", f"file:{SCAN.event_id}"
    assert ids("contract") == sorted(["m1", contract])  # the message, the file's name and text
    assert ids("attachment:contract") == []
    assert ids("attachment:(supplier OR nothing)") == [contract]
    assert ids('attachment:"400 units"') == [contract]
    assert ids("file:contract") == [contract]
    assert ids("file:sca*") == [scan]
    assert ids("filetype:png") == [scan]
    assert ids("has:file") == sorted([contract, scan])
    [failed] = search(client, tokens["legal"], "filetype:png")["hits"]
    assert (failed["attachment"]["extraction"], failed["attachment"]["reason"]) == ("failed", "OCR timed out")
    assert failed["attachment"]["excerpt"] is None


def test_a_malformed_file_operator_is_a_422_naming_it(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/api/v1/search", json={"query": "attachment: x"}, headers=auth(tokens["legal"]))
    assert response.status_code == 422
    assert "attachment: searches only the text of uploaded files" in response.text
