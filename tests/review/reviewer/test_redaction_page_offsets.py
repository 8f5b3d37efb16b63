"""Reviewer's findings on the redaction page (issue 20): the span the browser fills in must be
the span of the archived text, whatever its line breaks. The HTML parser drops a newline right
after ``<pre>`` and turns CR LF into LF, so offsets counted on the page's text are short of the
archived text's: the span lands before the selected words and leaves their end unredacted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, expect

from adapters.archive import ArchiveAdapter
from archive.principals import ROLES, create_token
from archivist.migrate import upgrade
from cases import service
from cases.model import CaseSpec
from ingest.db import create_db_engine
from ingest.events import Event, parse_event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices
from tests.cases.helpers import OPERATOR
from tests.review.redaction.test_redaction_page import _select
from tests.web.browser import browser as browser
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite

DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
SECRET = "SECRETZULU99"
LEADING = f"\nthe code is {SECRET} today"
CRLF = f"first line\r\nsecond line\r\nthe code is {SECRET} today"
# Astral characters: JavaScript counts two UTF-16 code units each, Python (the archive) one.
ASTRAL = f"\U0001f642 smile \U0001d11e\U0001f680 the code is {SECRET} today \U0001f642"


def _events() -> list[Event]:
    return [
        parse_event(
            {
                "schema_version": 1,
                "event_id": str(uuid.uuid4()),
                "type": "post",
                "occurred_at": (DAY + timedelta(seconds=index)).isoformat(),
                "room": {"id": "room:offsets", "name": "#offsets", "kind": "room"},
                "actor": {"id": "user:ann", "name": "Ann Archer", "internal": True},
                "message": {"id": message_id, "text": text},
            }
        )
        for index, (message_id, text) in enumerate((("lead", LEADING), ("crlf", CRLF), ("astral", ASTRAL)))
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    root = tmp_path_factory.mktemp("reviewer-offsets")
    engine = create_db_engine(f"sqlite:///{root / 'archive.sqlite3'}")
    upgrade(engine)
    ArchiveAdapter(engine).write(_events())
    services = AppServices(engine=engine, index_dir=root / "index", sink=StagingSink(StagingStore(engine)))
    tokens = {role: create_token(engine, role, f"web {role}") for role in ROLES}
    return WebSite(create_app(services), services, tokens)


@pytest.fixture(scope="module")
def base_url(site: WebSite) -> Iterator[str]:
    yield from serving(site.app)


@pytest.mark.parametrize(
    ("message_id", "text"),
    [("lead", LEADING), ("crlf", CRLF), ("astral", ASTRAL)],
    ids=["leading-newline", "crlf", "astral"],
)
def test_selected_span_is_the_archived_texts_span(
    browser: Browser, base_url: str, site: WebSite, message_id: str, text: str
) -> None:
    case_id = service.open_case(site.services.engine, OPERATOR, CaseSpec(name=f"Offsets {message_id}")).id
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, base_url, site.tokens["legal"])
        page.goto(f"{base_url}/cases/{case_id}/redact?message_id={message_id}")
        _select(page, 1, SECRET)
        start = text.index(SECRET)
        expect(page.get_by_label("Start")).to_have_value(str(start), timeout=2000)
        expect(page.get_by_label("End")).to_have_value(str(start + len(SECRET)), timeout=2000)
    finally:
        context.close()
