"""Every page, loaded in Chromium, logs no console error and no page error (a missing icon, a
resource the policy blocks, a script that throws), and names the site's icon; ``/favicon.ico``
answers the same icon for clients that ask for it without reading the page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import ConsoleMessage, Error, Page, Response

from cases.model import CaseSpec
from cases.store import CaseStore
from policies.model import DisclaimerSpec, Group, Segment, WallSpec
from policies.store import PolicyStore
from tests.web.browser import base_url as base_url
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import sign_in
from tests.web.conftest import MESSAGE, WebSite

ICON = "/static/web/favicon.svg"


@pytest.fixture(scope="module")
def pages(site: WebSite) -> list[str]:
    """Every page of the site, with one of each kind of item to open."""
    engine = site.services.engine
    store = PolicyStore(engine)
    store.put_group(Group(id="group:research", name="Research", members=("user:a",)))
    store.put_group(Group(id="group:sales", name="Sales", members=("user:b",)))
    wall = store.create_wall(
        WallSpec(
            name="Research / Sales",
            side_a=(Segment(kind="group", id="group:research"),),
            side_b=(Segment(kind="group", id="group:sales"),),
        )
    )
    rule = store.create_disclaimer(DisclaimerSpec(name="Recorded", trigger="room_join", texts={"en": "Recorded."}))
    case = CaseStore(engine).create_case(CaseSpec(name="Matter"), "test")
    return [
        "/",
        "/search",
        "/search?q=ubuntu",
        f"/conversation?message={MESSAGE}",
        "/timeline?room=room:ubuntu",
        "/cases",
        f"/cases/{case.id}",
        "/retention",
        "/policies",
        f"/policies/walls/{wall.id}",
        "/policies/disclaimers",
        f"/policies/disclaimers/{rule.id}",
        "/policies/groups",
        "/policies/groups/group:research",
        "/policies/simulate",
        "/audit",
    ]


@pytest.fixture
def problems(page: Page) -> list[str]:
    found: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            found.append(f"{page.url}: console {message.type}: {message.text}")

    def thrown(error: Error) -> None:
        found.append(f"{page.url}: page error: {error}")

    page.on("console", console)
    page.on("pageerror", thrown)
    return found


def test_no_page_logs_a_console_error_and_each_names_the_icon(
    page: Page, base_url: str, site: WebSite, pages: list[str], problems: list[str]
) -> None:
    icons: list[tuple[str, int]] = []

    def fetched(response: Response) -> None:
        if "favicon" in response.url:
            icons.append((response.url, response.status))

    page.on("response", fetched)
    page.goto(f"{base_url}/login")
    assert page.locator("link[rel=icon]").count() == 1, "the sign-in page names an icon"
    assert page.locator("link[rel=icon]").get_attribute("href") == ICON
    sign_in(page, base_url, site.tokens["admin"])
    for path in pages:
        response = page.goto(base_url + path)
        assert response is not None
        assert response.status == 200, path
        page.wait_for_load_state("load")
        assert page.locator("link[rel=icon]").count() == 1, path
        assert page.locator("link[rel=icon]").get_attribute("href") == ICON, path
    assert not problems, problems
    assert icons, "the browser fetched the icon"
    assert all(status == 200 for _url, status in icons), icons


def test_favicon_ico_answers_the_icon(site: WebSite) -> None:
    with TestClient(site.app) as client:
        icon = client.get("/favicon.ico")
        linked = client.get(ICON)
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content == linked.content
    assert icon.content.startswith(b"<svg")
