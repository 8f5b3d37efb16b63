"""``/api/v1/files`` (issue 18): producers hand over the bytes of uploaded files, streamed and
checked against the SHA-256 their event names; readers download natives and extracted texts,
each download audited."""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import threading
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from adapters.archive import ArchiveAdapter
from archive import attachments
from archive.app_schema import audit_log
from archive.fs_file_store import FsFileStore
from archive.principals import ROLES, create_token
from archive.schema import archive_file_texts, archive_natives
from ingest.events import Event, parse_event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api import file_services
from search_api.app import create_app
from search_api.deps import AppServices
from search_api.request_limits import BodyLimits
from tests.api_client import auth

CONTENT = b"%PDF-1.4 quarterly numbers\n" * 100
CONTENT_SHA = hashlib.sha256(CONTENT).hexdigest()
UPLOAD_ID = str(uuid.UUID("0b6f1a52-7f55-4c1b-9d0e-6c5a1f0e9a01"))
PENDING_ID = str(uuid.UUID("0b6f1a52-7f55-4c1b-9d0e-6c5a1f0e9a02"))
OTHER = b"never uploaded"


def upload(event_id: str, content: bytes, name: str = "Q3 report.pdf") -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": event_id,
            "type": "file_upload",
            "occurred_at": "2026-11-22T09:00:00+00:00",
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:ann", "name": "ann"},
            "file": {
                "name": name,
                "size": len(content),
                "sha256": hashlib.sha256(content).hexdigest(),
                "content_type": "application/pdf",
            },
        }
    )


@pytest.fixture
def files(tmp_path: Path) -> FsFileStore:
    return FsFileStore(tmp_path / "files")


def services_over(store: StagingStore, files: FsFileStore, tmp_path: Path, max_file_bytes: int) -> AppServices:
    return AppServices(
        engine=store.engine,
        index_dir=tmp_path / "index",
        sink=StagingSink(store),
        file_store=files,
        max_file_bytes=max_file_bytes,
    )


@pytest.fixture
def app(store: StagingStore, files: FsFileStore, tmp_path: Path) -> FastAPI:
    ArchiveAdapter(store.engine).write([upload(UPLOAD_ID, CONTENT), upload(PENDING_ID, OTHER, "other.bin")])
    return create_app(services_over(store, files, tmp_path, 64 * 1024))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tokens(store: StagingStore) -> dict[str, str]:
    return {role: create_token(store.engine, role, f"test {role}") for role in ROLES}


def audited(store: StagingStore, action: str) -> list[dict[str, Any]]:
    with store.engine.connect() as connection:
        documents = connection.scalars(
            select(audit_log.c.document).where(audit_log.c.action == action).order_by(audit_log.c.seq)
        ).all()
    return [json.loads(document) for document in documents]


def test_bytes_handed_over_complete_their_upload_and_are_stored_once(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    headers = auth(tokens["ingest"])
    first = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json() == {"sha256": CONTENT_SHA, "size": len(CONTENT), "created": True, "pending_uploads": 1}
    again = client.post(f"/api/v1/files?sha256={CONTENT_SHA.upper()}", content=CONTENT, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == {"sha256": CONTENT_SHA, "size": len(CONTENT), "created": False, "pending_uploads": 0}
    with files.open(CONTENT_SHA) as stored:
        assert stored.read() == CONTENT
    with store.engine.connect() as connection:
        assert attachments.stored_natives(connection, [CONTENT_SHA]) == {CONTENT_SHA}
        assert connection.scalar(select(archive_natives.c.received_via)) == "api"
        assert attachments.pending_count(connection) == 1  # other.bin still waits


def test_bytes_may_come_before_their_event(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    early = b"the event comes later"
    sha = hashlib.sha256(early).hexdigest()
    response = client.post(f"/api/v1/files?sha256={sha}", content=early, headers=auth(tokens["ingest"]))
    assert response.status_code == 201, response.text
    assert response.json()["pending_uploads"] == 0
    ArchiveAdapter(store.engine).write([upload(str(uuid.uuid4()), early, "later.txt")])
    with store.engine.connect() as connection:
        assert attachments.pending_count(connection) == 2  # the fixture's two: the new upload is complete


def test_bytes_handed_over_again_call_off_a_deletion_retention_marked(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    """Retention marked these bytes for deletion (their last reference was disposed of) and has
    not deleted them yet; they are sent again ahead of a new event: wanted again, not deleted."""
    early = b"sent again before the new event"
    sha = hashlib.sha256(early).hexdigest()
    assert client.post(f"/api/v1/files?sha256={sha}", content=early, headers=auth(tokens["ingest"])).status_code == 201
    with store.engine.begin() as connection:
        assert attachments.mark_natives_deleting(connection, [sha], stored_before=datetime.now(UTC)) == {sha}
    again = client.post(f"/api/v1/files?sha256={sha}", content=early, headers=auth(tokens["ingest"]))
    assert again.status_code == 200, again.text
    with store.engine.begin() as connection:
        native = attachments.lock_native(connection, sha)
    assert native is not None
    assert native.deleting is False
    assert files.exists(sha)


def test_bytes_other_than_the_named_ones_are_refused_with_both_hashes(
    client: TestClient, tokens: dict[str, str], files: FsFileStore
) -> None:
    response = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=OTHER, headers=auth(tokens["ingest"]))
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail["expected_sha256"] == CONTENT_SHA
    assert detail["actual_sha256"] == hashlib.sha256(OTHER).hexdigest()
    assert list(files.iter_sha256()) == []


@pytest.mark.parametrize("sha", ["abc", "g" * 64, CONTENT_SHA + "0", "../" * 21 + "a"])
def test_a_malformed_sha256_is_refused(client: TestClient, tokens: dict[str, str], sha: str) -> None:
    response = client.post("/api/v1/files", params={"sha256": sha}, content=CONTENT, headers=auth(tokens["ingest"]))
    assert response.status_code == 422, response.text
    assert "SHA-256" in response.json()["detail"]["message"]


def test_a_file_over_the_limit_is_refused_whether_declared_or_streamed(
    client: TestClient, tokens: dict[str, str], files: FsFileStore
) -> None:
    large = b"x" * (64 * 1024 + 1)
    sha = hashlib.sha256(large).hexdigest()
    declared = client.post(f"/api/v1/files?sha256={sha}", content=large, headers=auth(tokens["ingest"]))
    assert declared.status_code == 413, declared.text
    assert "limit" in declared.json()["detail"]["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length
        yield large[:40_000]
        yield large[40_000:]

    streamed = client.post(f"/api/v1/files?sha256={sha}", content=chunked(), headers=auth(tokens["ingest"]))
    assert streamed.status_code == 413, streamed.text
    assert list(files.iter_sha256()) == []


def test_only_ingest_roles_may_hand_over_bytes(client: TestClient, tokens: dict[str, str]) -> None:
    for role in ("legal", "auditor", "compliance_officer"):
        response = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens[role]))
        assert response.status_code == 403, (role, response.text)
    assert client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT).status_code == 401


def test_an_unavailable_store_is_a_503(store: StagingStore, tmp_path: Path, tokens: dict[str, str]) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    app = create_app(services_over(store, FsFileStore(blocked), tmp_path, 1024 * 1024))
    with TestClient(app) as client:
        response = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    assert response.status_code == 503, response.text
    assert "file store" in response.json()["detail"]["message"]


def test_a_full_disk_is_a_503_not_a_500(
    client: TestClient, tokens: dict[str, str], files: FsFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: Any, **_options: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    response = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    assert response.status_code == 503, response.text
    assert "No space left on device" in response.json()["detail"]["message"]
    monkeypatch.undo()
    assert not files.exists(CONTENT_SHA)


def test_uploads_beyond_the_concurrent_bound_are_a_503_and_never_take_the_thread_pool(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_services, "_uploads", threading.BoundedSemaphore(1))
    assert file_services._uploads.acquire(blocking=False)  # one upload in progress, the bound
    busy = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    assert busy.status_code == 503, busy.text
    assert "try again" in busy.json()["detail"]["message"]
    file_services._uploads.release()
    done = client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    assert done.status_code == 201, done.text


def test_a_download_streams_the_native_as_an_attachment_and_is_audited(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    response = client.get(f"/api/v1/files/{UPLOAD_ID}", headers=auth(tokens["legal"]))
    assert response.status_code == 200, response.text
    assert response.content == CONTENT
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"] == f'"{CONTENT_SHA}"'
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Q3 report.pdf\"; filename*=UTF-8''Q3%20report.pdf"
    )
    [entry] = audited(store, "file_download")
    assert entry["details"]["file_event_id"] == UPLOAD_ID
    assert entry["details"]["sha256"] == CONTENT_SHA
    assert entry["role"] == "legal"
    assert entry["actor"].startswith("test legal")


def test_a_download_sends_the_stored_size_whatever_the_event_declared(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    payload = json.loads(upload(str(uuid.uuid4()), CONTENT).model_dump_json())
    payload["file"]["size"] = 7  # what its producer declared
    declared = parse_event(payload)
    ArchiveAdapter(store.engine).write([declared])
    client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    response = client.get(f"/api/v1/files/{declared.event_id}", headers=auth(tokens["legal"]))
    assert response.status_code == 200, response.text
    assert response.headers["content-length"] == str(len(CONTENT))
    assert response.content == CONTENT


def test_downloads_refused_unknown_pending_or_to_roles_that_may_not_read(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    unknown = client.get(f"/api/v1/files/{uuid.uuid4()}", headers=auth(tokens["legal"]))
    assert unknown.status_code == 404, unknown.text
    pending = client.get(f"/api/v1/files/{PENDING_ID}", headers=auth(tokens["legal"]))
    assert pending.status_code == 409, pending.text
    assert pending.json()["detail"]["state"] == "pending"
    assert "not arrived" in pending.json()["detail"]["message"]
    for role in ("ingest", "auditor", "security_admin"):
        denied = client.get(f"/api/v1/files/{UPLOAD_ID}", headers=auth(tokens[role]))
        assert denied.status_code == 403, (role, denied.text)
        assert client.get(f"/api/v1/files/{UPLOAD_ID}/text", headers=auth(tokens[role])).status_code == 403
    assert audited(store, "file_download") == []
    assert len(audited(store, "refused")) == 6


def _extracted(store: StagingStore, files: FsFileStore, text: str | None, state: str = "extracted") -> None:
    stored = files.put([text.encode()]) if text is not None else None
    with store.engine.begin() as connection:
        connection.execute(
            insert(archive_file_texts).values(
                file_event_id=UPLOAD_ID,
                event_id=str(uuid.uuid4()),
                sha256=CONTENT_SHA,
                state=state,
                reason=None if state == "extracted" else "encrypted PDF",
                extractor="pdf",
                extractor_version="1.0",
                text_sha256=stored.sha256 if stored else None,
                text_chars=len(text or ""),
                truncated=False,
                extracted_at=datetime.now(UTC),
            )
        )


def test_the_extracted_text_with_its_state_audited(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    waiting = client.get(f"/api/v1/files/{UPLOAD_ID}/text", headers=auth(tokens["compliance_officer"]))
    assert waiting.status_code == 409, waiting.text
    assert waiting.json()["detail"]["state"] == "pending"  # its bytes have not arrived
    client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    queued = client.get(f"/api/v1/files/{UPLOAD_ID}/text", headers=auth(tokens["compliance_officer"]))
    assert queued.status_code == 409
    assert queued.json()["detail"]["state"] == "queued"
    _extracted(store, files, "Quarterly numbers: 17 millions – Grüße")
    response = client.get(f"/api/v1/files/{UPLOAD_ID}/text", headers=auth(tokens["compliance_officer"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "Quarterly numbers: 17 millions – Grüße"
    assert (body["state"], body["extractor"], body["sha256"]) == ("extracted", "pdf", CONTENT_SHA)
    [entry] = audited(store, "file_text")
    assert entry["details"]["file_event_id"] == UPLOAD_ID


def test_a_failed_extraction_is_answered_with_its_reason(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    _extracted(store, files, None, "failed")
    response = client.get(f"/api/v1/files/{UPLOAD_ID}/text", headers=auth(tokens["legal"]))
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["reason"], response.json()["text"]) == (
        "failed",
        "encrypted PDF",
        "",
    )


FIFTY_MB = 50 * 1024 * 1024
CHUNK = 1024 * 1024


def generated_chunks() -> Iterator[bytes]:
    """50 MB made a chunk at a time (each chunk differs), never whole."""
    for index in range(FIFTY_MB // CHUNK):
        yield hashlib.sha256(str(index).encode()).digest() * (CHUNK // 32)


def over_asgi(app: FastAPI, token: str, sha: str, messages: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST ``messages`` (ASGI receive messages) to ``/api/v1/files``, driving the app directly
    (the test client reads a body whole before sending it): what the app sent back."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/files",
        "raw_path": b"/api/v1/files",
        "query_string": f"sha256={sha}".encode(),
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "root_path": "",
        "app": app,
    }
    anyio.run(app, scope, receive, send)  # type: ignore[arg-type]  # an ASGI app, typed by Starlette
    return sent


def test_a_large_file_is_streamed_to_the_store_without_being_held_whole(
    sqlite_store: StagingStore, files: FsFileStore, tmp_path: Path
) -> None:
    """50 MB arrive in 1 MB messages, and the peak of memory allocated meanwhile stays far
    below the file's size."""
    digest = hashlib.sha256()
    for chunk in generated_chunks():
        digest.update(chunk)
    sha = digest.hexdigest()
    token = create_token(sqlite_store.engine, "ingest", "streamer")
    app = create_app(services_over(sqlite_store, files, tmp_path, 64 * 1024 * 1024), BodyLimits())
    body = ({"type": "http.request", "body": chunk, "more_body": True} for chunk in generated_chunks())
    ending = iter([{"type": "http.request", "body": b"", "more_body": False}])
    tracemalloc.start()
    try:
        sent = over_asgi(app, token, sha, itertools.chain(body, ending))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sent[0]["status"] == 201, sent
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["size"] == FIFTY_MB
    assert files.check(sha).state == "ok"
    assert peak < 12 * CHUNK, f"peak {peak:,} bytes allocated while receiving {FIFTY_MB:,}"


def test_a_client_that_goes_away_mid_file_leaves_nothing_behind(
    sqlite_store: StagingStore, files: FsFileStore, tmp_path: Path
) -> None:
    token = create_token(sqlite_store.engine, "ingest", "leaver")
    app = create_app(services_over(sqlite_store, files, tmp_path, 64 * 1024 * 1024))
    half = iter([{"type": "http.request", "body": CONTENT[:1000], "more_body": True}])  # then http.disconnect
    sent = over_asgi(app, token, CONTENT_SHA, half)
    assert sent[0]["status"] == 400, sent
    assert list(files.iter_sha256()) == []
    assert list((files.root / ".incoming").iterdir()) == []
    with sqlite_store.engine.connect() as connection:
        assert attachments.stored_natives(connection, [CONTENT_SHA]) == set()


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("report.pdf", "report.pdf", "report.pdf"),
        ('evil"\r\nSet-Cookie: a=b.pdf', "evil_Set-Cookie: a=b.pdf", "evil%22Set-Cookie%3A%20a%3Db.pdf"),
        ("../../etc/passwd", "passwd", "passwd"),
        ("C:\\Users\\ann\\Grüße 😀.txt", "Gru_e _.txt", "Gr%C3%BC%C3%9Fe%20%F0%9F%98%80.txt"),
        ("\x00\x07", "file", "file"),
    ],
)
def test_a_download_names_its_file_safely(name: str, fallback: str, encoded: str) -> None:
    header = file_services.content_disposition(name)
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    assert not {"\r", "\n"} & set(header)


# --- review findings: altered bytes are never served as the archived file; ids that are no UUID;
# --- the text of a download event.


def _alter(files: FsFileStore, sha: str, data: bytes) -> None:
    path = files.path_of(sha)
    path.chmod(0o644)
    path.write_bytes(data)


def test_an_altered_native_is_refused_not_served_as_the_archived_one(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    assert client.post(
        f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"])
    ).is_success
    altered = b"X" * len(CONTENT)  # same length, other bytes
    _alter(files, CONTENT_SHA, altered)
    answer = client.get(f"/api/v1/files/{UPLOAD_ID}", headers=auth(tokens["legal"]))
    assert answer.status_code == 409, (answer.status_code, answer.headers.get("etag"), answer.content[:40])
    detail = answer.json()["detail"]
    assert detail["state"] == "altered"
    assert "archivist verify --files" in detail["message"]
    assert audited(store, "file_download") == []
    [refusal] = audited(store, "file_download_refused")
    assert refusal["details"]["file_event_id"] == UPLOAD_ID
    assert refusal["details"]["actual_sha256"] == hashlib.sha256(altered).hexdigest()
    assert refusal["role"] == "legal"


def asgi_get(app: FastAPI, token: str, path: str) -> tuple[list[dict[str, Any]], BaseException | None]:
    """GET ``path`` driving the app directly: what it sent, and what it raised (a streamed answer
    that cannot complete ends with an error, so the server drops the connection)."""
    sent: list[dict[str, Any]] = []
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])

    async def receive() -> dict[str, Any]:
        request = next(requests, None)
        if request is None:  # the client stays: a streamed answer waits on this until it ends
            await anyio.sleep_forever()
        return request or {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"host", b"test")],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "root_path": "",
        "app": app,
    }
    try:
        anyio.run(app, scope, receive, send)  # type: ignore[arg-type]  # an ASGI app, typed by Starlette
    except Exception as error:
        return sent, error
    return sent, None


def test_a_large_altered_native_ends_its_stream_abnormally_and_is_audited(
    app: FastAPI, client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore, monkeypatch: Any
) -> None:
    """Too large to be checked before it is sent: hashed as it streams, the last chunk held back
    until the hash is known, so a client never receives the whole of altered bytes."""
    monkeypatch.setattr(file_services, "VERIFIED_BEFORE_SENDING", 1000)
    monkeypatch.setattr(file_services, "READ_CHUNK", 512)
    assert client.post(
        f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"])
    ).is_success
    sound, error = asgi_get(app, tokens["legal"], f"/api/v1/files/{UPLOAD_ID}")
    assert error is None
    assert sound[0]["status"] == 200
    assert b"".join(m.get("body", b"") for m in sound[1:]) == CONTENT
    assert sound[-1].get("more_body", False) is False
    altered = CONTENT[:-1] + b"X"
    _alter(files, CONTENT_SHA, altered)
    sent, error = asgi_get(app, tokens["legal"], f"/api/v1/files/{UPLOAD_ID}")
    assert isinstance(error, file_services.StoredBytesAltered), error
    assert sent[0]["status"] == 200  # its headers were sent: only the end can be refused
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert len(body) < len(CONTENT)
    assert all(m.get("more_body", True) for m in sent[1:])  # never a clean end
    [refusal] = audited(store, "file_download_refused")
    assert refusal["details"]["actual_sha256"] == hashlib.sha256(altered).hexdigest()
    assert len(audited(store, "file_download")) == 2  # both downloads began


def test_an_altered_text_is_refused(
    client: TestClient, tokens: dict[str, str], store: StagingStore, files: FsFileStore
) -> None:
    client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    text = "Quarterly numbers: 17 millions"
    _extracted(store, files, text)
    _alter(files, hashlib.sha256(text.encode()).hexdigest(), b"Quarterly numbers: 99 millions")
    answer = client.get(f"/api/v1/files/{UPLOAD_ID}/text", headers=auth(tokens["legal"]))
    assert answer.status_code == 409, answer.text
    assert answer.json()["detail"]["state"] == "altered"
    assert "archivist verify --files" in answer.json()["detail"]["message"]
    assert audited(store, "file_text") == []
    assert len(audited(store, "file_text_refused")) == 1


@pytest.mark.parametrize("file_id", ["%00", "abc", "%00/text", "abc/text", "0b6f1a52-7f55-4c1b-9d0e-6c5a1f0e9a0%00"])
def test_a_file_id_that_is_no_uuid_is_a_404(client: TestClient, tokens: dict[str, str], file_id: str) -> None:
    answer = client.get(f"/api/v1/files/{file_id}", headers=auth(tokens["legal"]))
    assert answer.status_code == 404, (answer.status_code, answer.text[:300])
    assert "no archived file event" in answer.json()["detail"]["message"]


def test_a_download_event_has_no_text_of_its_own_and_names_its_upload(
    client: TestClient, tokens: dict[str, str], store: StagingStore
) -> None:
    payload = json.loads(upload(str(uuid.uuid4()), CONTENT).model_dump_json())
    payload["type"] = "file_download"
    payload.pop("recipients", None)
    downloaded = parse_event(payload)
    ArchiveAdapter(store.engine).write([downloaded])
    client.post(f"/api/v1/files?sha256={CONTENT_SHA}", content=CONTENT, headers=auth(tokens["ingest"]))
    answer = client.get(f"/api/v1/files/{downloaded.event_id}/text", headers=auth(tokens["legal"]))
    assert answer.status_code == 404, answer.text
    message = answer.json()["detail"]["message"]
    assert "download" in message
    assert UPLOAD_ID in message
