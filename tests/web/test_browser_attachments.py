"""A hit in an attachment in headless Chromium (Debian's ``/usr/bin/chromium``, see
tests/web/browser.py): the search page shows the file under its entry, the excerpt with the
matched word highlighted, and the link to the file; the conversation shows each file's state.
Without Chromium these tests fail, they never skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.attachment_site import CONTRACT, MESSAGE_ID, build_attachment_site
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_attachment_site(tmp_path_factory.mktemp("attachments-browser"))


@pytest.fixture(scope="module")
def base_url(site: WebSite) -> Iterator[str]:
    yield from serving(site.app)


def test_search_shows_the_attachment_excerpt_and_its_link(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    page.goto(f"{base_url}/search?q=attachment%3AACME")
    attachment = page.locator(".hits .attachment")
    expect(attachment).to_have_count(1)
    link = attachment.get_by_role("link", name="Contract Q3.pdf")
    expect(link).to_have_attribute("href", f"/files/{CONTRACT.event_id}")
    expect(attachment.locator(".excerpt b")).to_have_text("ACME")
    expect(attachment.locator(".excerpt")).to_contain_text("<b>bold</b> the supplier")  # shown as text
    expect(attachment).to_contain_text("text extracted (pdf 1.0)")
    page.screenshot(path=screens / "40-search-attachment.png", full_page=False)

    page.goto(f"{base_url}/conversation?message={MESSAGE_ID}")
    files = page.locator("ul.facts-list").first
    expect(files.get_by_role("link", name="Contract Q3.pdf")).to_have_attribute("href", f"/files/{CONTRACT.event_id}")
    expect(files).to_contain_text("no text: OCR timed out")
    expect(files).to_contain_text("bytes pending")
    page.screenshot(path=screens / "41-conversation-files.png", full_page=False)
