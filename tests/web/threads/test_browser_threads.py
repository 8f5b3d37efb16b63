"""Threads in the conversation view in headless Chromium (issue 20): colours and indents, the
switch that turns them off (remembered), "only this thread here", the whole thread's page, and
a 375 px screen and 200% zoom without sideways scrolling. Without Chromium these tests fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite


@pytest.fixture(scope="module")
def base_url(thread_site: WebSite) -> Iterator[str]:
    yield from serving(thread_site.app)


def indent(page: Page, message_text: str) -> float:
    item = page.locator("#conversation li", has_text=message_text)
    return float(item.evaluate("e => parseFloat(getComputedStyle(e).marginLeft)"))


def border(page: Page, message_text: str) -> str:
    item = page.locator("#conversation li", has_text=message_text)
    return str(item.evaluate("e => getComputedStyle(e).borderLeftColor"))


def test_threads_show_by_colour_and_indent_and_turn_off(
    page: Page, base_url: str, thread_site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, thread_site.tokens["legal"])
    page.goto(f"{base_url}/conversation?message=s3&n=5")
    toggle = page.get_by_role("button", name="Threads: on")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert indent(page, "deploy tonight?") == 0
    assert indent(page, "yes, after 8") > indent(page, "deploy tonight?")
    assert indent(page, "dashboards") > indent(page, "yes, after 8")
    assert border(page, "deploy tonight?") == border(page, "dashboards") != border(page, "lunch at noon?")
    page.screenshot(path=screens / "threads-on.png", full_page=True)

    toggle.focus()
    page.keyboard.press("Enter")  # from the keyboard
    expect(page.get_by_role("button", name="Threads: off")).to_have_attribute("aria-pressed", "false")
    assert indent(page, "dashboards") == 0
    expect(page.locator("#conversation .thread-meta").first).to_be_hidden()
    page.reload()  # remembered in this browser
    expect(page.get_by_role("button", name="Threads: off")).to_be_visible()
    assert indent(page, "yes, after 8") == 0
    page.get_by_role("button", name="Threads: off").click()
    expect(page.get_by_role("button", name="Threads: on")).to_be_visible()


def test_only_this_thread_and_the_whole_thread_page(page: Page, base_url: str, thread_site: WebSite) -> None:
    sign_in(page, base_url, thread_site.tokens["compliance_officer"])
    page.goto(f"{base_url}/conversation?message=s3&n=5")
    lunch = page.locator("#conversation li", has_text="lunch at noon?")
    lunch.get_by_role("button", name="only this thread here").click()
    expect(page.get_by_role("status").filter(has_text="Showing")).to_contain_text("Showing the 2 messages of thread s2")
    expect(page.locator("#conversation li", has_text="deploy tonight?")).to_be_hidden()
    expect(page.locator("#conversation li", has_text="noon works")).to_be_visible()
    page.get_by_role("button", name="Show every message").click()
    expect(page.locator("#conversation li", has_text="deploy tonight?")).to_be_visible()

    page.locator("#conversation li", has_text="yes, after 8").get_by_role("link", name="show this thread").click()
    expect(page.get_by_role("heading", name="Thread", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="4 messages in this thread")).to_be_visible()
    expect(page.locator("#conversation li[aria-current='true']")).to_contain_text("yes, after 8")


def test_a_phone_sized_screen_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, thread_site: WebSite, screens: Path
) -> None:
    pages = {"conversation": "/conversation?message=s5&n=5", "thread": "/conversation/thread?message=s5"}
    for size, width in (("375px", 375), ("zoom-200", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        phone = context.new_page()
        sign_in(phone, base_url, thread_site.tokens["admin"])
        for name, path in pages.items():
            phone.goto(f"{base_url}{path}")
            expect(phone.get_by_role("heading", level=1)).to_be_visible()
            phone.screenshot(path=screens / f"threads-{name}-{size}.png", full_page=True)
            assert phone.evaluate("document.documentElement.scrollWidth") <= width, (name, size)
        context.close()
