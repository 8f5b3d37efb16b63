"""The redaction page (``/cases/{id}/redact``): who may open it, every bad form a 422 with the
reason next to the form, a span added and removed (audited), and in headless Chromium: selecting
words of a version fills in the span in code points, the redaction is then marked; the page on a
phone-sized screen (375 px) and at 200% zoom (640 px of a 1280 px screen) needs no sideways
scrolling. Screenshots go to the directory printed at the start."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from adapters.archive import ArchiveAdapter
from archive.attachments import record_file_text, record_native
from archive.audit import entries
from archive.fs_file_store import FsFileStore
from archive.principals import ROLES, create_token
from archivist.migrate import upgrade
from cases import service
from cases.model import CaseSpec
from ingest.db import create_db_engine
from ingest.events import ExtractedText
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from review.redactions import list_redactions
from search_api.app import create_app
from search_api.deps import AppServices
from tests.cases.helpers import OPERATOR
from tests.review.redaction.test_production_redaction import DAY, EDIT, EVENTS, NOTE, NOTE_BYTES, NOTE_SHA, POST
from tests.web.browser import browser as browser
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite, csrf_of
from tests.web.conftest import sign_in as client_sign_in


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    root = tmp_path_factory.mktemp("redaction-web")
    engine = create_db_engine(f"sqlite:///{root / 'archive.sqlite3'}")
    upgrade(engine)
    ArchiveAdapter(engine).write(EVENTS)
    files = FsFileStore(root / "files")
    files.put([NOTE_BYTES], expected_sha256=NOTE_SHA)
    text_sha = files.put([NOTE.encode()]).sha256
    with engine.begin() as connection:
        record_native(connection, NOTE_SHA, len(NOTE_BYTES), "api")
        extracted = ExtractedText(
            file_event_id=EVENTS[2].event_id,
            sha256=NOTE_SHA,
            state="extracted",
            extractor="test",
            extractor_version="1",
            text_sha256=text_sha,
            text_chars=len(NOTE),
        )
        record_file_text(connection, str(uuid.uuid4()), extracted, DAY)
    services = AppServices(
        engine=engine, index_dir=root / "index", sink=StagingSink(StagingStore(engine)), file_store=files
    )
    tokens = {role: create_token(engine, role, f"web {role}") for role in ROLES}
    return WebSite(create_app(services), services, tokens)


@pytest.fixture(scope="module")
def base_url(site: WebSite) -> Iterator[str]:
    yield from serving(site.app)


def _case(site: WebSite, name: str) -> str:
    return service.open_case(site.services.engine, OPERATOR, CaseSpec(name=name)).id


@pytest.fixture
def client(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as test_client:
        yield test_client


def test_only_legal_and_admin_open_it(client: TestClient, site: WebSite) -> None:
    case_id = _case(site, "Roles")
    assert client.get(f"/cases/{case_id}/redact?message_id=m0").status_code == 303  # to sign in
    for role in ROLES:
        client.cookies.clear()
        client_sign_in(client, site.tokens[role])
        answer = client.get(f"/cases/{case_id}/redact?message_id=m0")
        assert answer.status_code == (200 if role in ("legal", "admin") else 403), role


def test_a_span_added_from_the_form_then_removed(client: TestClient, site: WebSite) -> None:
    case_id = _case(site, "Form")
    client_sign_in(client, site.tokens["legal"])
    page = client.get(f"/cases/{case_id}/redact?message_id=m0")
    assert page.status_code == 200
    assert POST in page.text.replace("&#39;", "'")
    assert "Version 2 · edit" in page.text
    csrf = csrf_of(page.text)
    start = EDIT.index("SECRETBRAVO456")
    form: dict[str, Any] = {"csrf": csrf, "message_id": "m0", "version": "2", "reason": "PII"}
    no_csrf = client.post(f"/cases/{case_id}/redact", data={**form, "csrf": "x", "start": "0", "end": "1"})
    assert no_csrf.status_code == 403
    bad = [
        ({"start": "", "end": "4"}, "start"),
        ({"start": "5", "end": "3"}, "greater than start"),
        ({"start": "0", "end": "9999"}, "ends past the text"),
        ({"start": "0", "end": "4", "other_reason": "<script>"}, "reason"),
    ]
    for extra, says in bad:
        answer = client.post(f"/cases/{case_id}/redact", data={**form, **extra})
        assert answer.status_code == 422, extra
        assert says in answer.text, (extra, says)
        assert 'role="alert"' in answer.text
    added = client.post(f"/cases/{case_id}/redact", data={**form, "start": str(start), "end": str(start + 14)})
    assert added.status_code == 303
    shown = client.get(added.headers["location"])
    assert 'title="Redacted: PII">SECRETBRAVO456</mark>' in shown.text
    (redaction,) = list_redactions(site.services.engine, case_id)
    removed = client.post(f"/cases/{case_id}/redact/{redaction.id}/remove", data={"csrf": csrf})
    assert removed.status_code == 303
    assert list_redactions(site.services.engine, case_id) == []
    again = client.post(f"/cases/{case_id}/redact/{redaction.id}/remove", data={"csrf": csrf})
    assert again.status_code == 409
    actions = [e["action"] for e in entries(site.services.engine)[:10]]
    assert "redaction_add" in actions
    assert "redaction_remove" in actions
    missing = client.get(f"/cases/{case_id}/redact?message_id=nope")
    assert missing.status_code == 404
    assert "no message" in missing.text


def _errors_into(errors: list[str]) -> Callable[[ConsoleMessage], None]:
    def seen(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    return seen


def _select(page: Page, version: int, piece: str) -> None:
    """Select ``piece`` in a version's text the way a mouse would, then release the button."""
    page.evaluate(
        """([version, piece]) => {
            const pre = document.querySelector(`pre.redact-text[data-version="${version}"]`);
            const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
            let node;
            while ((node = walker.nextNode())) {
                const at = node.data.indexOf(piece);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(node, at);
                    range.setEnd(node, at + piece.length);
                    const selection = window.getSelection();
                    selection.removeAllRanges();
                    selection.addRange(range);
                    break;
                }
            }
            document.dispatchEvent(new MouseEvent("mouseup", {bubbles: true}));
        }""",
        [version, piece],
    )


def test_select_words_redact_them_on_a_phone_and_at_200_percent(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    for name, width in (("r01-phone-375px", 375), ("r02-zoom-200-percent", 640)):
        case_id = _case(site, f"Browser {width}")
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", _errors_into(errors))
        sign_in(page, base_url, site.tokens["legal"])
        page.goto(f"{base_url}/cases/{case_id}/redact?message_id=m0")
        expect(page.get_by_role("heading", name="Version 1 · post", exact=False)).to_be_visible()
        _select(page, 1, "SECRETALPHA123")
        start = POST.index("SECRETALPHA123")
        expect(page.get_by_label("Start")).to_have_value(str(start))
        expect(page.get_by_label("End")).to_have_value(str(start + 14))
        expect(page.get_by_role("status").filter(has_text="Selected characters")).to_be_visible()
        expect(page.locator("#redact-selected")).not_to_contain_text("also in version")
        _select(page, 1, "kickoff")  # the edit says it too: the page says so
        expect(page.locator("#redact-selected")).to_contain_text("also in version 2")
        _select(page, 1, "SECRETALPHA123")
        page.get_by_label("Reason", exact=True).select_option("Confidential")
        page.get_by_role("button", name="Redact", exact=True).click()
        expect(page.get_by_text("Redaction added.")).to_be_visible()
        expect(page.locator('mark.redacted[title="Redacted: Confidential"]')).to_have_text("SECRETALPHA123")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=screens / f"{name}.png", full_page=True)
        page.get_by_role("button", name=f"Remove the redaction {start}–{start + 14} of version 1").click()
        expect(page.get_by_text("Redaction removed.")).to_be_visible()
        expect(page.locator("mark.redacted")).to_have_count(0)
        assert not [e for e in errors if "Content Security Policy" in e], errors
        context.close()


def test_an_uploads_text_is_redacted_from_the_page(client: TestClient, site: WebSite) -> None:
    case_id = _case(site, "File")
    client_sign_in(client, site.tokens["legal"])
    upload = str(EVENTS[2].event_id)
    page = client.get(f"/cases/{case_id}/redact?file_event_id={upload}")
    assert "Meeting notes" in page.text
    start = NOTE.index("SECRETCHARLIE789")
    form = {"csrf": csrf_of(page.text), "file_event_id": upload, "start": str(start), "end": str(start + 16)}
    added = client.post(f"/cases/{case_id}/redact", data={**form, "other_reason": "Settlement (Rule 408)"})
    assert added.status_code == 303
    (redaction,) = list_redactions(site.services.engine, case_id)
    assert (redaction.target, redaction.reason) == ("file", "Settlement (Rule 408)")
    overview = client.get(f"/cases/{case_id}/redact")
    assert f'href="/cases/{case_id}/redact?file_event_id={upload}"' in overview.text
    assert "Settlement (Rule 408)" in overview.text
