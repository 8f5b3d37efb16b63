"""The near-duplicates page in headless Chromium (Debian's ``/usr/bin/chromium``): group a set,
regroup at a stricter threshold, follow a member to the review screen's address, and the page on
a phone-sized screen (375 px) and at 200% zoom (a 1280 px screen at twice the size: 640 px) with
no sideways scrolling. Screenshots go to the folder printed at the start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.review.neardup.helpers import add_conversation, add_messages, make_set
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite, build_site

CONTRACT = "The supplier contract for the Berlin office must be signed before the audit on Friday."
LUNCH = "Lunch on Thursday? The new place near the station has a good menu and quick service."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("neardup"), [])


@pytest.fixture(scope="module")
def base_url(site: WebSite) -> Iterator[str]:
    yield from serving(site.app)


def _set(site: WebSite) -> tuple[str, str, list[str]]:
    engine = site.services.engine
    case_id, set_id = make_set(engine)
    keys = add_messages(
        engine,
        set_id,
        [CONTRACT, "Fwd: " + CONTRACT, CONTRACT.replace("Friday", "Monday"), LUNCH, LUNCH + " See you!", "ok"],
    )
    day = ["Quarterly numbers are late again, finance is waiting on the regional team."] * 2
    keys.append(add_conversation(engine, set_id, [*day, "x" * 60], 10, "2026-03-02"))
    keys.append(add_conversation(engine, set_id, [*day, "y" * 60], 11, "2026-03-03"))
    return case_id, set_id, keys


def test_group_regroup_and_open_a_member(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    case_id, set_id, keys = _set(site)
    sign_in(page, base_url, site.tokens["legal"])
    page.goto(f"{base_url}/cases/{case_id}/review/{set_id}/near-duplicates")
    expect(page.get_by_role("heading", name="Near-duplicates", level=1)).to_be_visible()
    expect(page.get_by_text("0 groups of near-duplicates")).to_be_visible()

    page.get_by_label("Similarity threshold").fill("0.6")
    page.get_by_role("button", name="Group").click()
    expect(page.get_by_text("3 groups of near-duplicates, 7 documents in them.")).to_be_visible()
    expect(page.get_by_role("heading", name="Group of 3")).to_be_visible()
    expect(page.get_by_role("heading", name="Group of 2")).to_have_count(2)
    page.screenshot(path=screens / "n01-groups.png", full_page=True)

    page.get_by_label("Similarity threshold").fill("1")  # identical texts only: there are none
    page.get_by_role("button", name="Group").click()
    expect(page.get_by_text("Grouped again at 1.0: 0 groups.")).to_be_visible()
    expect(page.get_by_role("heading", name="Group of 3")).to_have_count(0)
    expect(page.get_by_label("Similarity threshold")).to_have_value("1.0")

    page.get_by_label("Similarity threshold").fill("0.7")
    page.get_by_role("button", name="Group").click()
    member = page.get_by_role("link", name=keys[1])
    expect(member).to_be_visible()
    href = member.get_attribute("href")
    assert href == f"/review/{set_id}/doc?{urlencode({'key': keys[1]})}"


def test_a_phone_sized_screen_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    case_id, set_id, _ = _set(site)
    for name, width in (("n02-phone-375px", 375), ("n03-zoom-200-percent", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        narrow = context.new_page()
        sign_in(narrow, base_url, site.tokens["legal"])
        narrow.goto(f"{base_url}/cases/{case_id}/review/{set_id}/near-duplicates")
        narrow.get_by_label("Similarity threshold").fill("0.6")
        narrow.get_by_role("button", name="Group").click()
        expect(narrow.get_by_role("heading", name="Group of 3")).to_be_visible()
        assert narrow.evaluate("document.documentElement.scrollWidth") <= width, name
        cells = narrow.evaluate("getComputedStyle(document.querySelector('.dup-group td')).display")
        assert cells == "block", "narrow screens show each member as a card"
        narrow.screenshot(path=screens / f"{name}.png", full_page=True)
        context.close()
