"""The web pages in headless Chromium (Debian's ``/usr/bin/chromium``; nothing downloads a
browser): sign in, search, page, open a conversation, a bad query, a 403, sign out, the
keyboard alone, and a phone-sized screen. Screenshots go to the directory printed at the start
(``ARCHIVIST_SCREENSHOTS`` to choose it). Without Chromium these tests fail, they never skip."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.web.browser import base_url as base_url
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import sign_in
from tests.web.conftest import WebSite


def test_sign_in_search_page_open_a_conversation_and_sign_out(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    page.goto(f"{base_url}/search")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.screenshot(path=screens / "01-sign-in.png", full_page=True)
    page.get_by_label("API token").fill(site.tokens["admin"])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Search")).to_be_visible()  # back where sign-in was asked for

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    expect(page.get_by_text("Archived events")).to_be_visible()
    page.screenshot(path=screens / "02-overview.png", full_page=True)

    page.get_by_role("link", name="Search", exact=True).click()
    page.get_by_label("Query", exact=True).fill("ubuntu")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("hits, showing 1–20")
    assert page.locator(".hit-text b").count() > 0, "the search terms are highlighted"
    expect(page.get_by_role("heading", name="Narrow down")).to_be_visible()
    page.screenshot(path=screens / "03-search.png", full_page=True)

    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("status")).to_contain_text("showing 21–40")
    page.get_by_role("link", name="Previous page").click()
    expect(page.get_by_role("status")).to_contain_text("showing 1–20")

    page.get_by_role("link", name="Conversation around this message").first.click()
    expect(page.get_by_role("heading", name="Messages around the hit")).to_be_visible()
    expect(page.locator("#hit")).to_be_visible()
    expect(page.get_by_role("heading", name="In the room then")).to_be_visible()
    page.screenshot(path=screens / "04-conversation.png", full_page=True)

    page.goto(f"{base_url}/search")
    page.get_by_label("Query", exact=True).fill("(wine OR")
    page.get_by_label("Query", exact=True).press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("ends too early")
    expect(page.get_by_role("alert")).to_contain_text("At character 9")
    page.screenshot(path=screens / "05-bad-query.png", full_page=True)

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("status")).to_contain_text("Chain intact")
    page.screenshot(path=screens / "06-audit.png", full_page=True)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{base_url}/search")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_role_without_audit_rights_sees_no_link_and_gets_403(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log")).to_have_count(0)
    response = page.goto(f"{base_url}/audit")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("alert")).to_contain_text("may not open this page")
    page.screenshot(path=screens / "07-forbidden.png", full_page=True)


def test_the_search_form_works_from_the_keyboard_alone(page: Page, base_url: str, site: WebSite) -> None:
    page.goto(f"{base_url}/login")
    expect(page.get_by_label("API token")).to_be_focused()  # autofocus: typing before it loses keys
    page.keyboard.type(site.tokens["compliance_officer"])  # the token field has the focus
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Search":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "focus is visible"
    page.keyboard.type("grub")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("hit")


def test_a_phone_sized_screen_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    for name, width in (("08-phone-375px", 375), ("09-zoom-200-percent", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        sign_in(page, base_url, site.tokens["admin"])
        page.goto(f"{base_url}/search?q=ubuntu")
        expect(page.get_by_role("status")).to_contain_text("hits")
        page.screenshot(path=screens / f"{name}.png", full_page=False)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.goto(f"{base_url}/conversation?message=msg:irc:2009-03-03_10:40")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        context.close()


def test_add_a_wall_and_see_a_check_blocked(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["security_admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    expect(page.get_by_role("heading", name="Ethical walls")).to_be_visible()
    page.get_by_label("Wall name").fill("Deal team | Research")
    page.get_by_label("Side A group ids").fill("user:erin")
    page.get_by_label("Side B group ids").fill("user:frank")
    page.get_by_label("Mode").select_option("block")
    page.get_by_label("room_join").uncheck()
    page.get_by_role("button", name="Add wall").click()
    expect(page.get_by_role("status")).to_contain_text("Wall Deal team | Research added")
    expect(page.get_by_role("cell", name="im, room_post, file_share")).to_be_visible()

    page.get_by_label("Action", exact=True).select_option("im")
    page.get_by_label("Actor (user id)").fill("user:erin")
    page.get_by_label("Targets (user ids)").fill("user:frank")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.locator("#check-result")).to_contain_text("Blocked (mode block)")
    expect(page.get_by_role("heading", name="Walls that matched")).to_be_visible()
    expect(page.get_by_text("Deal team | Research (")).to_be_visible()
    page.screenshot(path=screens / "10-policies-blocked-check.png", full_page=True)


def test_open_a_case_place_a_hold_export_and_download(
    page: Page, base_url: str, site: WebSite, screens: Path, tmp_path: Path
) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    page.get_by_label("Case name").fill("Browser matter")
    page.get_by_label("Custodians (user ids)").fill("user:alice")
    page.get_by_label("Rooms (room ids)").fill("room:ubuntu")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("heading", name="Case: Browser matter")).to_be_visible()

    page.get_by_label("Reason for the hold").fill("preservation letter received")
    page.get_by_role("button", name="Place hold").click()
    expect(page.get_by_role("cell", name="preservation letter received", exact=True)).to_be_visible()
    expect(page.get_by_label("Reason to release")).to_be_visible()

    page.get_by_label("Export query (every hit is exported)").fill("wine")
    page.get_by_label("jsonl").check()
    page.get_by_role("button", name="Start export").click()
    deadline = time.monotonic() + 60
    while page.get_by_role("link", name="Download").count() == 0:
        assert time.monotonic() < deadline, "the export never finished"
        expect(page.locator("td.status-failed")).to_have_count(0)
        time.sleep(0.3)
        page.reload()
    expect(page.locator("td.status-done")).to_be_visible()
    page.screenshot(path=screens / "11-case-hold-export.png", full_page=True)
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download").click()
    saved = tmp_path / "export.zip"
    waiting.value.save_as(saved)
    assert saved.read_bytes()[:2] == b"PK"
