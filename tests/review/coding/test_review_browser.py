"""The review pages in headless Chromium (Debian's ``/usr/bin/chromium``): coding by mouse and
by keyboard (each tag's key, r, n, p, ?; nothing while typing a note), previous and next, bulk
coding on the set page, and both pages at 375 px and at 200% zoom without sideways scrolling.
Without Chromium these tests fail, they never skip."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect

from tests.api_client import auth
from tests.review.coding.corpus import review_events
from tests.web.browser import browser as browser
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite, build_site


@pytest.fixture(scope="module")
def review_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("review-browser"), review_events())


@pytest.fixture(scope="module")
def base_url(review_site: WebSite) -> Iterator[str]:
    yield from serving(review_site.app)


@pytest.fixture
def set_id(review_site: WebSite) -> str:
    legal = auth(review_site.tokens["legal"])
    with TestClient(review_site.app) as client:
        case_id = client.post("/api/v1/cases", json={"name": "Browser matter"}, headers=legal).json()["id"]
        made = client.post(f"/api/v1/cases/{case_id}/review-sets", json={"name": "Browser set"}, headers=legal)
        set_id = str(made.json()["id"])
        added = client.post(f"/api/v1/review-sets/{set_id}/documents/search", json={"query": "acme"}, headers=legal)
        assert added.status_code == 200, added.text
    return set_id


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def _screen(page: Page, base_url: str, set_id: str, key: str) -> None:
    page.goto(f"{base_url}/review/{set_id}/doc?key={key}")
    expect(page.get_by_role("heading", name="Coding")).to_be_visible()


def test_coding_by_mouse(page: Page, base_url: str, review_site: WebSite, set_id: str, screens: Path) -> None:
    sign_in(page, base_url, review_site.tokens["legal"])
    _screen(page, base_url, set_id, "message:msg:acme2")
    page.get_by_role("radio", name="Not responsive", exact=True).check()
    page.get_by_role("checkbox", name="Hot", exact=True).check()
    page.get_by_label("Add a note").fill("Price talk")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("radio", name="Not responsive", exact=True)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Hot", exact=True)).to_be_checked()
    expect(page.locator("ol.notes")).to_contain_text("Price talk")
    page.get_by_role("radio", name="Responsive", exact=True).check()
    page.get_by_role("button", name="Save and next").click()
    expect(page).to_have_url(f"{base_url}/review/{set_id}/doc?key=message%3Amsg%3Aacme4")
    page.screenshot(path=str(screens / "r01-review-screen.png"), full_page=True)
    page.goto(f"{base_url}/review/{set_id}/doc?key=message:msg:acme2")
    expect(page.get_by_role("radio", name="Responsive", exact=True)).to_be_checked()
    expect(page.get_by_role("radio", name="Not responsive", exact=True)).not_to_be_checked()


def test_coding_and_moving_by_keyboard(page: Page, base_url: str, review_site: WebSite, set_id: str) -> None:
    sign_in(page, base_url, review_site.tokens["legal"])
    _screen(page, base_url, set_id, "message:msg:acme4")
    page.keyboard.press("?")
    expect(page.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_role("heading", name="Keyboard shortcuts")).to_be_hidden()
    page.keyboard.press("h")  # Hot: saved at once
    expect(page.get_by_role("checkbox", name="Hot", exact=True)).to_be_checked()
    page.keyboard.press("3")  # Attorney-Client
    expect(page.get_by_role("radio", name="Attorney-Client", exact=True)).to_be_checked()
    page.keyboard.press("4")  # Work Product replaces it: one choice in the group
    expect(page.get_by_role("radio", name="Work Product", exact=True)).to_be_checked()
    expect(page.get_by_role("radio", name="Attorney-Client", exact=True)).not_to_be_checked()
    page.keyboard.press("r")
    expect(page.get_by_role("checkbox", name="Reviewed", exact=True)).to_be_checked()
    page.get_by_label("Add a note").click()
    page.keyboard.type("hn r")  # typing: no shortcut fires
    expect(page.get_by_label("Add a note")).to_have_value("hn r")
    expect(page.get_by_role("checkbox", name="Hot", exact=True)).to_be_checked()
    expect(page).to_have_url(f"{base_url}/review/{set_id}/doc?key=message%3Amsg%3Aacme4")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(page).to_have_url(f"{base_url}/review/{set_id}/doc?key=message%3Amsg%3Aacme8")  # acme6 is on day two
    page.keyboard.press("p")
    expect(page).to_have_url(f"{base_url}/review/{set_id}/doc?key=message%3Amsg%3Aacme4")
    expect(page.get_by_role("radio", name="Work Product", exact=True)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Reviewed", exact=True)).to_be_checked()


def test_bulk_coding_on_the_set_page(page: Page, base_url: str, review_site: WebSite, set_id: str) -> None:
    sign_in(page, base_url, review_site.tokens["legal"])
    page.goto(f"{base_url}/review/{set_id}")
    page.get_by_label("Query (tag:name").fill("from:bob")
    page.get_by_role("button", name="Filter").click()
    bob = sum(1 for index in range(60) if index % 3 == 0)
    expect(page.locator(".count")).to_have_text(str(bob))
    page.get_by_label("Code", exact=True).select_option("all")
    page.get_by_label("Add tag").select_option("hot")
    page.get_by_role("button", name="Apply coding").click()
    page.get_by_label("Query (tag:name").fill("tag:hot")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".count")).to_have_text(str(bob))
    page.get_by_label("Select message:msg:acme3", exact=True).check()
    page.get_by_label("Remove tag").select_option("hot")
    page.get_by_role("button", name="Apply coding").click()
    expect(page.locator(".count")).to_have_text(str(bob - 1))


@pytest.mark.parametrize(("width", "height"), [(375, 800), (640, 450)])
def test_a_phone_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser, base_url: str, review_site: WebSite, set_id: str, screens: Path, width: int, height: int
) -> None:
    # 200% zoom of a 1280 x 900 window is a 640 x 450 CSS-pixel viewport.
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, base_url, review_site.tokens["legal"])
        for name, path in (
            ("set", f"/review/{set_id}"),
            ("screen", f"/review/{set_id}/doc?key=message:msg:acme2"),
            ("sets", f"/cases/{_case_of(review_site, set_id)}/review"),
        ):
            page.goto(base_url + path)
            expect(page.locator("h1")).to_be_visible()
            page.screenshot(path=str(screens / f"r-{name}-{width}px.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    finally:
        context.close()


def _case_of(site: WebSite, set_id: str) -> str:
    with TestClient(site.app) as client:
        found = client.get(f"/api/v1/review-sets/{set_id}", headers=auth(site.tokens["legal"]))
        return str(found.json()["case_id"])
