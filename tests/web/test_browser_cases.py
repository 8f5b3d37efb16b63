"""The case and retention pages in headless Chromium (Debian's ``/usr/bin/chromium``; nothing
downloads a browser): save a search and run it, add a note from the keyboard alone, place a
custom-scope hold after a refused query, watch an export finish without reloading, set a
retention policy, and both pages on a phone-sized screen and at 200% zoom. Screenshots go to the
directory printed at the start (``ARCHIVIST_SCREENSHOTS`` to choose it). Without Chromium these
tests fail, they never skip."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from exports.jobs import ExportJobs
from tests.web.browser import base_url as base_url
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import sign_in
from tests.web.conftest import WebSite


def open_case(page: Page, name: str) -> str:
    """Open a case from the cases page; its address."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    page.get_by_label("Case name").fill(name)
    page.get_by_label("Custodians (user ids)").fill("user:ikonia")
    page.get_by_label("Rooms (room ids)").fill("room:ubuntu")
    page.get_by_role("button", name="Open case").click()
    expect(page.get_by_role("heading", name=f"Case: {name}")).to_be_visible()
    return page.url


def test_save_a_search_run_it_and_add_a_note_from_the_keyboard(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    address = open_case(page, "Wine inquiry")

    page.get_by_label("Search name").fill("Wine talk")
    page.get_by_label("Search query", exact=True).fill("wine OR grub")
    page.get_by_role("button", name="Save search").click()
    expect(page.get_by_role("cell", name="Wine talk", exact=True)).to_be_visible()
    expect(page.get_by_role("cell", name="wine OR grub", exact=True)).to_be_visible()

    page.goto(address)
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "note-text":
            break
    assert page.evaluate("document.activeElement.id") == "note-text", "the note box is reached by Tab"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "focus is visible"
    page.keyboard.type("Counsel asked for March 2009.")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Add note"
    page.keyboard.press("Enter")
    notes = page.locator("ol.notes")
    expect(notes).to_contain_text("Counsel asked for March 2009.")
    expect(notes).to_contain_text("web legal")
    expect(notes).to_contain_text("UTC")
    page.screenshot(path=screens / "c01-case-search-and-note.png", full_page=True)

    page.get_by_role("link", name="Run saved search “Wine talk”").click()
    expect(page.get_by_role("heading", name="Search")).to_be_visible()
    expect(page.get_by_label("Query", exact=True)).to_have_value("wine OR grub")
    expect(page.get_by_role("status")).to_contain_text("hits")


def test_a_custom_scope_hold_after_a_refused_query(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    open_case(page, "Custom hold")
    page.get_by_label("Reason for the hold").fill("subpoena 7")
    page.get_by_label("A custom scope").check()
    custom = page.get_by_role("group", name="Custom scope")
    custom.get_by_label("Custodians (user ids)").fill("user:Seper")
    custom.get_by_label("Search query (its hits are kept)").fill('wine "unclosed')
    custom.get_by_label("From (date)").fill("2009-03-01")
    page.get_by_role("button", name="Place hold").click()
    problem = page.locator("#hold-problem")
    expect(problem).to_contain_text("The hold was not placed: a quotation mark is not closed (at character 6)")
    expect(problem).to_have_attribute("role", "alert")
    expect(custom.get_by_label("Custodians (user ids)")).to_have_value("user:Seper")
    expect(page.get_by_label("A custom scope")).to_be_checked()
    page.screenshot(path=screens / "c02-hold-bad-query.png", full_page=True)

    custom.get_by_label("Search query (its hits are kept)").fill('wine "grub menu"')
    page.get_by_role("button", name="Place hold").click()
    expect(
        page.get_by_role("cell", name='custodians user:Seper; query wine "grub menu"; from 2009-03-01 to now')
    ).to_be_visible()
    expect(page.get_by_label("Reason to release")).to_be_visible()
    page.screenshot(path=screens / "c03-hold-custom-scope.png", full_page=True)


def test_export_progress_updates_without_a_reload(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["compliance_officer"])
    open_case(page, "Export watch")
    for name in ("jsonl", "csv", "edrm", "lync", "actiance", "rsmf", "pdf"):
        expect(page.get_by_label(name, exact=True)).to_be_visible()
    page.get_by_label("Export query (every hit is exported)").fill("wine")
    page.get_by_label("jsonl").check()
    page.get_by_label("csv").check()
    page.get_by_role("button", name="Start export").click()
    page.get_by_label("New note").fill("typed while the export runs")
    expect(page.get_by_role("link", name="Download")).to_be_visible(timeout=60_000)
    expect(page.locator("td.status-done")).to_be_visible()
    jobs: ExportJobs = site.app.state.export_jobs
    events = jobs.list(limit=1)[0]["manifest"]["counts"]["events"]
    # each event once, not once per format (issue 17: "819 of 819 events" for 117 events)
    expect(page.locator("td.export-progress")).to_have_text(f"{events} of {events} events")
    expect(page.get_by_label("New note")).to_have_value("typed while the export runs")  # no reload happened
    expect(page.locator("#export-live")).to_contain_text("is done")
    page.screenshot(path=screens / "c04-export-progress.png", full_page=True)
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download").click()
    assert waiting.value.suggested_filename.endswith(".zip")


def test_set_a_retention_policy_and_readers_see_no_form(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Retention").click()
    expect(page.get_by_role("heading", name="Retention", exact=True)).to_be_visible()
    page.get_by_label("A room").check()
    page.get_by_label("Days to keep (after the event occurred)").fill("30")
    page.get_by_role("button", name="Set policy").click()
    expect(page.get_by_role("alert")).to_contain_text("type the id of the room the policy is for")
    page.get_by_label("Room or group id").fill("room:ubuntu")
    page.get_by_role("button", name="Set policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: room:room:ubuntu keeps events 30 days.")
    page.get_by_label("The default").check()
    page.get_by_label("Forever").check()
    page.get_by_label("Days to keep (after the event occurred)").fill("")
    page.get_by_role("button", name="Set policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved: default keeps events forever.")
    expect(page.get_by_role("cell", name="Default (everything else)")).to_be_visible()
    expect(page.get_by_role("cell", name="30 days")).to_be_visible()
    page.screenshot(path=screens / "c05-retention-set.png", full_page=True)

    page.get_by_role("link", name="Change the policy for room:room:ubuntu").click()
    expect(page.get_by_label("Room or group id")).to_have_value("room:ubuntu")
    expect(page.get_by_label("Days to keep (after the event occurred)")).to_have_value("30")

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, base_url, site.tokens["auditor"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Retention").click()
    expect(page.get_by_role("cell", name="30 days")).to_be_visible()
    expect(page.get_by_role("button", name="Set policy")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove the policy for default")).to_have_count(0)


def test_a_phone_sized_screen_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    for name, width in (("c06-phone-375px", 375), ("c07-zoom-200-percent", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        sign_in(page, base_url, site.tokens["legal"])
        address = open_case(page, f"Narrow {width}")
        page.get_by_label("Reason for the hold").fill("narrow")
        page.get_by_role("button", name="Place hold").click()
        expect(page.get_by_label("Reason to release")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        cells = page.evaluate("getComputedStyle(document.querySelector('#holds td')).display")
        assert cells == "block", "narrow screens show each hold as a card"
        page.goto(f"{address}#holds")
        page.screenshot(path=screens / f"{name}-case.png", full_page=True)
        page.goto(f"{base_url}/retention")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=screens / f"{name}-retention.png", full_page=True)
        context.close()
