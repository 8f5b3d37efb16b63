"""Issue 17, finding 1: the search API and page say which version of a message matched and when
it was the message's text, and keep showing the current (or deleted) text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import create_token
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from tests.search_api.test_versions import ORIGINAL, SECOND_EDIT, index_built_before_versions, the_story
from tests.web.conftest import sign_in


def _client(tmp_path: Path) -> tuple[TestClient, str]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    upgrade(engine)
    writer = TantivyIndexAdapter(tmp_path / "index")
    writer.write(the_story())
    writer.close()
    services = AppServices(engine=engine, index_dir=tmp_path / "index", sink=StagingSink(StagingStore(engine)))
    return TestClient(create_app(services), follow_redirects=False), create_token(engine, "legal", "versions")


def test_the_api_says_which_version_matched_and_when(tmp_path: Path) -> None:
    client, token = _client(tmp_path)
    with client:
        answer = client.post(
            "/api/v1/search",
            json={"query": '"buy 10,000 shares"'},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 200, answer.text
    [hit] = answer.json()["hits"]
    assert (hit["message_id"], hit["text"], hit["deleted"]) == ("m1", SECOND_EDIT, True)
    [version] = hit["matched_versions"]
    expected: dict[str, Any] = {
        "number": 0,
        "label": "original",
        "text": ORIGINAL,
        "valid_from": "2026-11-22T09:00:00Z",
        "valid_until": "2026-11-22T09:01:00Z",
        "current": False,
        "deleted": False,
    }
    assert version == expected


def test_the_search_page_lists_the_matched_versions(tmp_path: Path) -> None:
    client, token = _client(tmp_path)
    with client:
        sign_in(client, token)
        page = client.get("/search", params={"q": "ACME OR tomorrow"})
    assert page.status_code == 200, page.text
    main = str(page.text).split("<main", 1)[1]
    shown = main.split('<div class="versions">')[0]
    assert '<div class="hit-text">never mind, see you <b>tomorrow</b></div>' in shown, "the current text"
    versions = main.split('<div class="versions">', 1)[1].split("</div>", 1)[0]
    assert "<strong>original</strong>" in versions
    assert "2026-11-22 09:00:00 UTC until 2026-11-22 09:01:00 UTC" in versions
    assert ORIGINAL in versions
    assert "<strong>edit 2, the deleted text</strong>" in versions
    assert "until 2026-11-22 09:03:00 UTC" in versions


def test_anindex_built_before_versions_is_a_503_that_says_to_reindex(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    upgrade(engine)
    index_built_before_versions(tmp_path / "index")
    services = AppServices(engine=engine, index_dir=tmp_path / "index", sink=StagingSink(StagingStore(engine)))
    token = create_token(engine, "legal", "old index")
    with TestClient(create_app(services), follow_redirects=False) as client:
        answer = client.post("/api/v1/search", json={"query": "ACME"}, headers={"Authorization": f"Bearer {token}"})
        sign_in(client, token)
        page = client.get("/search", params={"q": "ACME"})
    assert answer.status_code == 503
    assert "archivist reindex" in answer.json()["detail"]["message"]
    assert page.status_code == 503
    assert "archivist reindex" in page.text
