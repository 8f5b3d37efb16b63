"""From search to production in headless Chromium (Debian's ``/usr/bin/chromium``): choose the
page size and keep it across pages, produce the whole hit set into a case, read the case's
production log (control numbers, hashes, recipients, download), twice in a row so the second
production goes on from the first; on a phone-sized screen and at 200% zoom without sideways
scrolling. Screenshots go to the directory printed at the start. Without Chromium these tests
fail, they never skip."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from cases.productions import ProductionLog
from exports.registry import FORMAT_NAMES, export_format
from tests.exports.test_productions import Numbered
from tests.web.browser import base_url as base_url
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import sign_in
from tests.web.conftest import WebSite
from tests.web.test_browser_cases import open_case


@pytest.fixture(autouse=True)
def _numbered_format(monkeypatch: pytest.MonkeyPatch) -> None:
    """A format that numbers documents (the real ones do on the format branches)."""
    names = (*FORMAT_NAMES, "numbered")
    monkeypatch.setattr("exports.service.FORMAT_NAMES", names)
    monkeypatch.setattr("search_api.web.search_page.FORMAT_NAMES", names)
    monkeypatch.setattr(
        "exports.package.export_format", lambda name: Numbered() if name == "numbered" else export_format(name)
    )


def search(page: Page, base_url: str, query: str) -> None:
    page.goto(f"{base_url}/search")
    page.get_by_label("Query", exact=True).fill(query)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("heading", name="Results", exact=True)).to_be_visible()


def test_the_page_size_is_chosen_and_kept_on_the_next_page(page: Page, base_url: str, site: WebSite) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    page.goto(f"{base_url}/search")
    page.get_by_label("Query", exact=True).fill("ubuntu")
    page.get_by_label("Hits per page").select_option("50")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("p.count")).to_contain_text("showing 1–50")
    expect(page.locator("ol.hits > li")).to_have_count(50)
    page.get_by_role("link", name="Next page →").click()
    expect(page.locator("p.count")).to_contain_text("showing 51–100")
    expect(page.get_by_label("Hits per page")).to_have_value("50")


def produce(page: Page, case: str, recipients: str, unit: str) -> None:
    form = page.get_by_role("form", name="Produce these results")
    form.get_by_label("Case").select_option(label=case)
    form.get_by_label("One document is").select_option(unit)
    form.get_by_label("numbered").check()
    form.get_by_label("Produced to (names, separated by commas)").fill(recipients)
    form.get_by_role("button", name="Produce these results").click()
    expect(page.get_by_role("heading", name=f"Case: {case}")).to_be_visible()
    expect(page.locator("#exports td.status-done").first).to_be_visible(timeout=60_000)


def test_produce_a_search_into_a_case_twice_and_read_the_log(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    address = open_case(page, "Produced from search")
    case_id = address.rsplit("/", 1)[1]
    search(page, base_url, "ubuntu")
    form = page.get_by_role("form", name="Produce these results")
    form.get_by_text("Control numbers (optional)").click()
    form.get_by_label("Prefix").fill("ACME-")
    page.screenshot(path=screens / "p01-search-produce-form.png", full_page=True)
    produce(page, "Produced from search", "Regulator, Opposing counsel", "message")

    page.reload()
    log = page.locator("#productions")
    first_row = log.locator("tbody tr").first
    expect(first_row).to_contain_text("done")
    expect(first_row).to_contain_text("ACME-0000001 to ACME-")
    expect(first_row).to_contain_text("Regulator, Opposing counsel")
    (first,) = ProductionLog(site.services.engine).productions(case_id)
    assert first.zip_sha256 is not None
    assert first.last_number is not None
    expect(first_row).to_contain_text(first.zip_sha256)

    search(page, base_url, "grub")
    produce(page, "Produced from search", "Regulator", "conversation")
    page.reload()
    second_row = page.locator("#productions tbody tr").nth(1)
    expect(second_row).to_contain_text(f"ACME-{first.last_number + 1:07d} to ACME-")
    page.screenshot(path=screens / "p02-case-production-log.png", full_page=True)
    with page.expect_download() as waiting:
        second_row.get_by_role("link", name="Zip file").click()
    assert waiting.value.suggested_filename.endswith(".zip")


def test_a_refused_production_says_why_beside_the_form(page: Page, base_url: str, site: WebSite) -> None:
    sign_in(page, base_url, site.tokens["compliance_officer"])
    open_case(page, "Refused production")
    search(page, base_url, "wine")
    form = page.get_by_role("form", name="Produce these results")
    form.get_by_label("Case").select_option(label="Refused production")
    form.get_by_label("Produced to (names, separated by commas)").fill("Regulator")
    form.get_by_role("button", name="Produce these results").click()
    expect(page.locator("#produce-problem")).to_contain_text("The production was not started: formats:")
    expect(page.get_by_label("Produced to (names, separated by commas)")).to_have_value("Regulator")


def test_a_phone_sized_screen_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    for name, width in (("p03-phone-375px", 375), ("p04-zoom-200-percent", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        sign_in(page, base_url, site.tokens["legal"])
        case = f"Narrow production {width}"
        open_case(page, case)
        search(page, base_url, "wine")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        page.screenshot(path=screens / f"{name}-search.png", full_page=True)
        produce(page, case, "A regulator with a long name, and opposing counsel", "message")
        page.reload()
        expect(page.locator("#productions tbody tr").first).to_contain_text("done")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, name
        cells = page.evaluate("getComputedStyle(document.querySelector('#productions td')).display")
        assert cells == "block", "narrow screens show each production as a card"
        page.goto(f"{page.url.split('#')[0]}#productions")
        page.screenshot(path=screens / f"{name}-productions.png", full_page=True)
        context.close()
