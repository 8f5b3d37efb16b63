"""The overview, a conversation and its room's time line in headless Chromium (Debian's
``/usr/bin/chromium``; nothing downloads a browser): follow "See in the time line" to the
highlighted hit, move between days from the keyboard, open a message's versions, the overview's
queue, last batch, alerts and parked help, and a phone-sized screen and 200% zoom without
sideways scrolling. Screenshots go to the directory printed at the start
(``ARCHIVIST_SCREENSHOTS`` to choose it). Without Chromium these tests fail, they never skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import MESSAGE, WebSite
from tests.web.test_overview_timeline import add_extra_events


@pytest.fixture(scope="module")
def base_url(site: WebSite) -> Iterator[str]:
    """The site with the extra events of the overview's tests, served."""
    add_extra_events(site)
    yield from serving(site.app)


def in_view(page: Page, selector: str) -> bool:
    """Whether the element's top is inside the visible part of the page."""
    top: float = page.locator(selector).evaluate("element => element.getBoundingClientRect().top")
    height: float = page.evaluate("window.innerHeight")
    return -1 <= top < height


def test_follow_a_conversation_to_its_time_line_and_see_the_hit(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["compliance_officer"])
    page.goto(f"{base_url}/conversation?message={MESSAGE}&n=5")
    expect(page.get_by_role("heading", name="Files shared (1)")).to_be_visible()
    expect(page.get_by_role("heading", name="Disclaimers shown (1)")).to_be_visible()
    expect(page.locator("li.deleted")).to_contain_text("[deleted by user:Neverb")
    page.locator("#hit summary").focus()
    page.keyboard.press("Enter")  # a message's versions open from the keyboard
    expect(page.locator("#hit details li")).to_have_count(2)
    expect(page.locator("#hit details")).to_contain_text("homecable, netcraft.com")
    page.screenshot(path=screens / "21-conversation-files-versions.png", full_page=False)

    page.get_by_role("link", name="See in the time line").click()
    expect(page.get_by_role("heading", name="Time line")).to_be_visible()
    hit = page.locator("li.hit")
    expect(hit).to_have_count(1)
    expect(hit).to_have_attribute("aria-current", "true")
    expect(hit).to_contain_text("Titan8990 (user:Titan8990): homecable, netcraft.com")
    expect(hit).to_contain_text("the linked event")
    assert "#event-" in page.url
    assert in_view(page, "li.hit"), "the page opens scrolled to the hit"
    assert page.locator("li.hit").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 251, 230)"
    expect(page.locator("li.tl-policy_decision")).to_have_count(3)
    expect(page.get_by_role("status")).to_contain_text("(page 1 of 13)")
    page.screenshot(path=screens / "22-timeline-hit.png", full_page=False)

    page.get_by_role("link", name="Next page").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("showing 101–200 (page 2 of 13)")
    page.get_by_role("link", name="← Previous day with activity (2007-09-07)").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Day (UTC)")).to_have_value("2007-09-07")
    expect(page.locator("li.tl-join").first).to_contain_text("joined")
    page.screenshot(path=screens / "23-timeline-previous-day.png", full_page=False)


def test_a_bad_day_is_a_clear_page(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["legal"])
    response = page.goto(f"{base_url}/timeline?room=room:ubuntu&day=2009-02-30")
    assert response is not None
    assert response.status == 422
    expect(page.get_by_role("alert")).to_contain_text("does not exist")
    response = page.goto(f"{base_url}/timeline?room=room:nowhere")
    assert response is not None
    assert response.status == 400
    expect(page.get_by_role("alert")).to_contain_text("There is no room 'room:nowhere' in the archive.")
    page.screenshot(path=screens / "24-timeline-unknown-room.png", full_page=False)


def test_the_overview_shows_queue_last_batch_alerts_and_parked_help(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["security_admin"])
    expect(page.locator("#queue-card")).to_contain_text("no broker (embedded)")
    expect(page.locator("#batch-card")).to_contain_text("9 events")
    alerts = page.get_by_role("table").filter(has_text="wall:blocking")
    expect(alerts.get_by_role("row")).to_have_count(3)  # the heading row, the block and the alert
    expect(alerts).not_to_contain_text("wall:logging")
    page.screenshot(path=screens / "25-overview.png", full_page=True)
    page.locator("#parked-card a").click()
    assert page.url.endswith("#parked-help")
    expect(page.get_by_role("heading", name="Parked events and archivist retry-parked")).to_be_visible()
    assert in_view(page, "#parked-help")


def test_a_phone_sized_screen_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    pages = {
        "overview": "/",
        "conversation": f"/conversation?message={MESSAGE}&n=5",
        "timeline": "/timeline?room=room:ubuntu&day=2009-03-03",
    }
    for size, width in (("375px", 375), ("zoom-200", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        sign_in(page, base_url, site.tokens["admin"])
        for name, path in pages.items():
            page.goto(f"{base_url}{path}")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            page.screenshot(path=screens / f"26-{name}-{size}.png", full_page=False)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, size)
        context.close()
