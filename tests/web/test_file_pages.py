"""``/files/{id}`` and ``/files/{id}/text`` (issue 18): an uploaded file and its extracted text
through the session, audited like the API's downloads."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from archive import attachments
from archive.app_schema import audit_log
from archive.fs_file_store import FsFileStore
from archive.schema import archive_file_texts
from ingest.events import parse_event
from tests.web.conftest import WebSite, build_site, sign_in

CONTENT = b"<script>alert(1)</script> minutes"
SHA = hashlib.sha256(CONTENT).hexdigest()
STORED = "3d7c1f20-8a4b-4c5d-9e6f-0a1b2c3d4e5f"
PENDING = "3d7c1f20-8a4b-4c5d-9e6f-0a1b2c3d4e60"
TEXT = "Minutes: <b>not markup</b> & Grüße"
ALTERED = "3d7c1f20-8a4b-4c5d-9e6f-0a1b2c3d4e61"
SEALED = b"the sealed budget"


def upload(event_id: str, name: str, content: bytes) -> Any:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": event_id,
            "type": "file_upload",
            "occurred_at": "2026-11-22T09:00:00+00:00",
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:ann", "name": "ann"},
            "file": {"name": name, "size": len(content), "sha256": hashlib.sha256(content).hexdigest()},
        }
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    built = build_site(
        tmp_path_factory.mktemp("files"),
        [
            upload(STORED, "minutes.html", CONTENT),
            upload(PENDING, "later.pdf", b"not yet"),
            upload(ALTERED, "budget.txt", SEALED),
        ],
    )
    store = built.services.files()
    sealed = store.put([SEALED])
    assert isinstance(store, FsFileStore)
    path = store.path_of(sealed.sha256)  # altered after it was stored
    path.chmod(0o644)
    path.write_bytes(b"the forged budget")
    stored = store.put([CONTENT])
    text = store.put([TEXT.encode()])
    with built.services.engine.begin() as connection:
        attachments.record_native(connection, stored.sha256, stored.size, "api")
        attachments.record_native(connection, sealed.sha256, sealed.size, "api")
        connection.execute(
            insert(archive_file_texts).values(
                file_event_id=STORED,
                event_id=str(uuid.uuid4()),
                sha256=SHA,
                state="extracted",
                reason=None,
                extractor="html",
                extractor_version="1",
                text_sha256=text.sha256,
                text_chars=len(TEXT),
                truncated=False,
                extracted_at=datetime.now(UTC),
            )
        )
    return built


@pytest.fixture
def client(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as test_client:
        yield test_client


def audited(site: WebSite, action: str) -> list[dict[str, Any]]:
    with site.services.engine.connect() as connection:
        documents = connection.scalars(select(audit_log.c.document).where(audit_log.c.action == action)).all()
    return [json.loads(document) for document in documents]


def test_a_file_is_downloaded_through_the_session_and_audited(site: WebSite, client: TestClient) -> None:
    sign_in(client, site.tokens["legal"])
    before = len(audited(site, "file_download"))
    response = client.get(f"/files/{STORED}")
    assert response.status_code == 200, response.text
    assert response.content == CONTENT
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"].startswith('attachment; filename="minutes.html"')
    assert response.headers["x-content-type-options"] == "nosniff"
    entries = audited(site, "file_download")[before:]
    assert [(e["details"]["file_event_id"], e["details"]["sha256"], e["role"]) for e in entries] == [
        (STORED, SHA, "legal")
    ]


def test_the_text_page_shows_the_text_escaped_and_is_audited(site: WebSite, client: TestClient) -> None:
    sign_in(client, site.tokens["compliance_officer"])
    before = len(audited(site, "file_text"))
    page = client.get(f"/files/{STORED}/text")
    assert page.status_code == 200, page.text
    assert "Minutes: &lt;b&gt;not markup&lt;/b&gt; &amp; Grüße" in page.text
    assert "html 1" in page.text
    assert len(audited(site, "file_text")) == before + 1


def test_pending_unknown_and_forbidden(site: WebSite, client: TestClient) -> None:
    sign_in(client, site.tokens["legal"])
    pending = client.get(f"/files/{PENDING}")
    assert pending.status_code == 409
    assert "not arrived" in pending.text
    no_text = client.get(f"/files/{PENDING}/text")
    assert no_text.status_code == 409
    assert client.get(f"/files/{uuid.uuid4()}").status_code == 404
    with TestClient(site.app, follow_redirects=False) as other:
        sign_in(other, site.tokens["ingest"])
        assert other.get(f"/files/{STORED}").status_code == 403
        assert other.get(f"/files/{STORED}/text").status_code == 403


def test_without_a_session_the_pages_lead_to_sign_in(client: TestClient) -> None:
    answer = client.get(f"/files/{STORED}")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=")


def test_an_altered_file_is_refused_with_what_to_run(site: WebSite, client: TestClient) -> None:
    sign_in(client, site.tokens["legal"])
    before = len(audited(site, "file_download_refused"))
    page = client.get(f"/files/{ALTERED}")
    assert page.status_code == 409
    assert "File does not match the archive" in page.text
    assert b"the forged budget" not in page.content
    assert "no longer match the archived SHA-256" in page.text
    assert "archivist verify --files" in page.text
    assert len(audited(site, "file_download_refused")) == before + 1
