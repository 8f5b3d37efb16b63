"""Every request body has a size limit (413 with the number, also when the body is streamed
without a Content-Length), larger only for event batches; and the API checks the token before
it reads a byte of the body: no token, or a bad one, is 401 whatever the body is."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import Message

from archive.principals import create_token
from archivist import wiring
from archivist.settings import Settings
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from search_api.request_limits import BodyLimits
from tests.api_client import auth
from tests.web.conftest import csrf_of, sign_in

LIMITS = BodyLimits(default=2_000, larger={"/api/v1/events": 50_000})


def asgi_post(app: FastAPI, path: str, headers: dict[str, str], chunks: int, size: int = 1_000) -> tuple[int, int]:
    """POST a body of ``chunks`` chunks straight through the ASGI interface (no Content-Length,
    as a chunked upload arrives): the status, and how many chunks the app pulled."""
    pulled = 0
    status = 0

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * size, "more_body": pulled < chunks}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, pulled


@pytest.fixture
def services(sqlite_store: StagingStore, tmp_path: Path) -> AppServices:
    return AppServices(engine=sqlite_store.engine, index_dir=tmp_path / "index", sink=StagingSink(sqlite_store))


@pytest.fixture
def client(services: AppServices) -> Iterator[TestClient]:
    with TestClient(create_app(services, limits=LIMITS), follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def token(services: AppServices) -> str:
    return create_token(services.engine, "admin", "test admin")


def test_the_defaults_are_10_mib_and_64_mib_for_event_batches() -> None:
    settings = Settings()
    assert settings.max_request_bytes == 10 * 1024 * 1024
    assert settings.max_event_batch_bytes == 64 * 1024 * 1024
    limits = BodyLimits()
    assert limits.limit_of("/api/v1/search") == settings.max_request_bytes
    assert limits.limit_of("/login") == settings.max_request_bytes
    assert limits.limit_of("/api/v1/events") == settings.max_event_batch_bytes


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer arch_not_a_token"}, {"Authorization": "Basic x"}])
@pytest.mark.parametrize("body", [b"{not json", b"[" * 10_000, b" " * 100_000])
def test_no_token_is_401_whatever_the_body(client: TestClient, headers: dict[str, str], body: bytes) -> None:
    for path in ("/api/v1/search", "/api/v1/events", "/api/v1/policy/walls"):
        answer = client.post(path, content=body, headers={"Content-Type": "application/json", **headers})
        assert answer.status_code == 401, (path, answer.text)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert "token" in answer.json()["detail"]["message"]


def test_no_token_is_401_before_a_streamed_body_is_read(services: AppServices) -> None:
    app = create_app(services, limits=LIMITS)
    for headers in ({}, {"Authorization": "Bearer arch_not_a_token"}):
        status, pulled = asgi_post(app, "/api/v1/events", headers | {"Content-Type": "application/json"}, 1_000)
        assert status == 401
        assert pulled == 0, f"the server read {pulled} chunks of an unauthenticated body"


def test_a_body_over_the_limit_is_413_with_the_limit(client: TestClient, token: str) -> None:
    answer = client.post("/api/v1/search", content=b" " * 2_001, headers=auth(token))
    assert answer.status_code == 413
    assert answer.json() == {"detail": {"message": "the request body is larger than 2000 bytes, this route's limit"}}
    at_limit = client.post("/api/v1/search", content=b" " * 1_990 + b'"x"', headers=auth(token))
    assert at_limit.status_code == 422, "at the limit the body is read (and refused as JSON, not for its size)"


def test_a_streamed_body_without_content_length_is_cut_off_at_the_limit(
    services: AppServices, client: TestClient, token: str
) -> None:
    chunks = (b" " * 1_000 for _ in range(100))
    answer = client.post("/api/v1/search", content=chunks, headers=auth(token) | {"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert "larger than 2000 bytes" in answer.json()["detail"]["message"]
    status, pulled = asgi_post(create_app(services, limits=LIMITS), "/api/v1/search", auth(token), 1_000)
    assert status == 413
    assert pulled == 3, "the third chunk passed the 2,000 byte limit: nothing after it was read"


def test_event_batches_have_the_larger_limit(client: TestClient, token: str) -> None:
    batch = json.dumps([{"text": "x" * 10_000}]).encode()
    answer = client.post("/api/v1/events", content=batch, headers=auth(token) | {"Content-Type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["rejected"][0]["index"] == 0, "read, and refused as an event, not for its size"
    too_big = client.post("/api/v1/events", content=b" " * 50_001, headers=auth(token))
    assert too_big.status_code == 413
    assert "larger than 50000 bytes" in too_big.json()["detail"]["message"]


def test_a_web_form_over_the_limit_is_a_413_page(client: TestClient, token: str) -> None:
    sign_in(client, token)
    csrf = csrf_of(client.get("/cases").text)
    answer = client.post(
        "/cases",
        content=f"csrf={csrf}&name=" + "x" * 3_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "larger than 2000 bytes" in answer.text


def test_the_served_app_takes_its_limits_from_the_settings() -> None:
    settings = Settings(max_request_bytes=4_096, max_event_batch_bytes=8_192)
    app = wiring.api_app(settings)
    token = create_token(wiring.staging_store(settings).engine, "admin", "test admin")
    with TestClient(app) as client:
        answer = client.post("/api/v1/search", content=b" " * 5_000, headers=auth(token))
        assert answer.status_code == 413
        assert "larger than 4096 bytes" in answer.json()["detail"]["message"]
        events = client.post("/api/v1/events", content=b" " * 9_000, headers=auth(token))
        assert "larger than 8192 bytes" in events.json()["detail"]["message"]


def test_the_files_route_reads_up_to_max_file_bytes_not_max_request_bytes() -> None:
    """POST /api/v1/files takes bodies larger than any other route (ARCHIVIST_MAX_FILE_BYTES),
    and only up to that."""
    settings = Settings(max_request_bytes=4_096, max_file_bytes=16_384)
    assert BodyLimits().limit_of("/api/v1/files") == Settings().max_file_bytes
    app = wiring.api_app(settings)
    token = create_token(wiring.staging_store(settings).engine, "admin", "test admin")
    fits = b"f" * 10_000
    over = b"o" * 20_000
    with TestClient(app) as client:
        stored = client.post(
            "/api/v1/files", params={"sha256": sha256(fits).hexdigest()}, content=fits, headers=auth(token)
        )
        assert stored.status_code == 201, stored.text
        refused = client.post(
            "/api/v1/files", params={"sha256": sha256(over).hexdigest()}, content=over, headers=auth(token)
        )
        assert refused.status_code == 413
    with wiring.file_store(settings).open(sha256(fits).hexdigest()) as kept:
        assert kept.read() == fits
    assert not wiring.file_store(settings).exists(sha256(over).hexdigest())
