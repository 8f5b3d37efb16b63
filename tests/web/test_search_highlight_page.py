"""Issue 15, bug 5: what a message stores reaches the search page as text, whichever backend
highlighted it; only our own <b> markers are markup."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from adapters.index_adapter import TantivyIndexAdapter
from archive.principals import create_token
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.events import parse_event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search.backends import ElasticsearchSearchBackend, SearchBackend
from search_api.app import create_app
from search_api.deps import AppServices
from tests.factories import post_payload
from tests.web.conftest import sign_in

HOSTILE = (
    'tagged <meta http-equiv="refresh" content="0;url=https://evil.example/"> <script>alert(1)</script> <b>bold</b>'
)


class _RawMarkupElasticsearch:
    """A cluster answering as one asked without ``encoder: html`` did: the stored text raw."""

    def search(self, **_request: Any) -> dict[str, Any]:
        source = {
            "message_id": "m1",
            "event_id": "e1",
            "room_id": "room:desk",
            "sender_id": "user:ana",
            "sent": "2024-03-07T10:00:00+00:00",
            "text": HOSTILE,
        }
        highlight = HOSTILE.replace("tagged", "<b>tagged</b>", 1)
        return {
            "hits": {
                "total": {"value": 1, "relation": "eq"},
                "hits": [{"_source": source, "highlight": {"text": [highlight]}}],
            }
        }


def _page(tmp_path: Path, backend: SearchBackend | None) -> str:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'archive.sqlite3'}")
    upgrade(engine)
    writer = TantivyIndexAdapter(tmp_path / "index")
    writer.write([parse_event(post_payload(1, run="hostile", text=HOSTILE))])
    writer.close()
    services = AppServices(
        engine=engine, index_dir=tmp_path / "index", sink=StagingSink(StagingStore(engine)), backend=backend
    )
    with TestClient(create_app(services), follow_redirects=False) as client:
        sign_in(client, create_token(engine, "legal", "hostile page"))
        page = client.get("/search", params={"q": "tagged"})
    assert page.status_code == 200, page.text
    return str(page.text).split("<main", 1)[1]


def _hit_text(main: str) -> str:
    found = re.search(r'<div class="hit-text">(.*?)</div>', main, re.DOTALL)
    assert found is not None, "the page shows the hit"
    return found.group(1)


@pytest.mark.parametrize("backend", ["tantivy", "elasticsearch"])
def test_stored_markup_is_shown_as_text_on_the_search_page(tmp_path: Path, backend: str) -> None:
    main = _page(
        tmp_path, ElasticsearchSearchBackend(_RawMarkupElasticsearch()) if backend == "elasticsearch" else None
    )
    assert "<meta" not in main
    assert "<script>" not in main
    shown = _hit_text(main)
    assert re.findall(r"<[^>]*>", shown.replace("<b>", "").replace("</b>", "")) == [], "no tag but our markers"
    assert shown.startswith("<b>tagged</b> &lt;meta http-equiv=&quot;refresh&quot;")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown


def test_a_tag_the_message_holds_is_text_even_when_it_is_our_marker(tmp_path: Path) -> None:
    """Tantivy escapes the text, so the message's own <b> is text; Elasticsearch does so too
    with ``encoder: html`` (checked in tests/search_api/test_es_query.py)."""
    shown = _hit_text(_page(tmp_path, None))
    assert "<b>bold" not in shown
    assert "&lt;b&gt;bold" in shown
