"""The supervision pages in headless Chromium (Debian's ``/usr/bin/chromium``): every
disposition and action by its key, pressed for real (s, b, f, e, r, n, j, k, c, ?; nothing while
typing a comment; a breach or an escalation without a comment is held back with a message),
the bulk close by mouse, the queue's j and x, and both pages at 375 px and at 200% zoom without
sideways scrolling, every control inside the screen. Without Chromium these tests fail, they
never skip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from supervision import queue
from tests.supervision.queues.items import desk_events, items_of, make_policy
from tests.web.browser import browser as browser
from tests.web.browser import screens as screens
from tests.web.browser import serving, sign_in
from tests.web.conftest import WebSite, build_site


@pytest.fixture(scope="module")
def queue_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(tmp_path_factory.mktemp("queue-browser"), desk_events())


@pytest.fixture(scope="module")
def base_url(queue_site: WebSite) -> Iterator[str]:
    yield from serving(queue_site.app)


@pytest.fixture
def policy_items(queue_site: WebSite) -> tuple[str, list[str]]:
    """A new policy (its id) and its three items, oldest first (the other tests' are elsewhere)."""
    engine = queue_site.services.engine
    policy = make_policy(engine, f"Guarantees {uuid.uuid4().hex[:6]}", escalation_reviewers=("web compliance_officer",))
    return policy.id, items_of(engine, policy, desk_events(), datetime.now(UTC) - timedelta(hours=30))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page whose console errors and script errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert not problems, problems


def _item(base_url: str, item_id: str, policy_id: str) -> str:
    return f"{base_url}/supervision/items/{item_id}?view=open&policy={policy_id}"


def _heading(page: Page, text: str) -> None:
    expect(page.locator("#item-heading")).to_have_text(text)


def test_every_action_by_its_key(
    page: Page, base_url: str, queue_site: WebSite, policy_items: tuple[str, list[str]], screens: Path
) -> None:
    policy_id, (first, second, third) = policy_items
    engine = queue_site.services.engine
    sign_in(page, base_url, queue_site.tokens["supervisor"])
    page.goto(_item(base_url, first, policy_id))
    _heading(page, "Pending")
    expect(page.locator("mark")).to_have_count(2)  # the evaluated text, and the message in its conversation
    page.keyboard.press("?")
    expect(page.get_by_role("heading", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("?")
    expect(page.get_by_role("heading", name="Keyboard shortcuts")).to_be_hidden()
    page.keyboard.press("j")
    expect(page).to_have_url(_item(base_url, second, policy_id))
    page.keyboard.press("k")
    expect(page).to_have_url(_item(base_url, first, policy_id))
    page.keyboard.press("s")
    _heading(page, "In review")
    page.keyboard.press("b")  # a breach needs a comment: held back, said by the box
    expect(page.get_by_text("Write a comment first")).to_be_visible()
    expect(page.get_by_label("Comment")).to_be_focused()
    expect(page).to_have_url(_item(base_url, first, policy_id))
    page.keyboard.type("promised 12% - no risk; see the call")  # typing: no key acts
    expect(page.get_by_label("Comment")).to_have_value("promised 12% - no risk; see the call")
    _heading(page, "In review")
    page.screenshot(path=str(screens / "q01-item-comment.png"), full_page=True)
    page.locator("h1").click()
    page.keyboard.press("b")
    expect(page).to_have_url(_item(base_url, second, policy_id))  # closed: on to the next item
    page.keyboard.press("f")
    expect(page).to_have_url(_item(base_url, third, policy_id))
    page.keyboard.press("e")
    expect(page.get_by_text("Write a comment first")).to_be_visible()
    page.keyboard.press("c")  # already in the box; c is typed there
    page.get_by_label("Comment").fill("ask the desk head")
    page.locator("h1").click()
    page.keyboard.press("e")
    _heading(page, "Escalated")
    page.keyboard.press("r")
    _heading(page, "Closed: Reported")
    page.get_by_label("Comment").fill("wrong call")
    page.get_by_role("button", name="Reopen").click()
    _heading(page, "In review")
    page.locator("h1").click()
    page.keyboard.press("c")
    expect(page.get_by_label("Comment")).to_be_focused()
    page.locator("h1").click()
    page.keyboard.press("n")
    _heading(page, "Closed: No issue")
    page.screenshot(path=str(screens / "q02-item-closed.png"), full_page=True)
    assert [(h.action, h.after["state"], h.after["disposition"]) for h in queue.history(engine, first)] == [
        ("start", "in_review", None),
        ("close", "closed", "breach"),
    ]
    assert queue.history(engine, first)[1].comment == "promised 12% - no risk; see the call"
    assert [h.after["disposition"] for h in queue.history(engine, second)] == ["false_positive"]
    assert [(h.action, h.after["state"], h.after["disposition"]) for h in queue.history(engine, third)] == [
        ("escalate", "escalated", None),
        ("close", "closed", "reported"),
        ("reopen", "in_review", None),
        ("close", "closed", "no_issue"),
    ]


def test_bulk_close_and_the_queue_keys(
    page: Page, base_url: str, queue_site: WebSite, policy_items: tuple[str, list[str]], screens: Path
) -> None:
    policy_id, ids = policy_items
    sign_in(page, base_url, queue_site.tokens["compliance_officer"])
    page.goto(f"{base_url}/supervision?view=open&policy={policy_id}")
    rows = page.locator("[data-queue-row]")
    expect(rows).to_have_count(3)
    expect(page.locator(".overdue-mark")).to_have_count(3)
    page.screenshot(path=str(screens / "q03-queue.png"), full_page=True)
    page.locator("h1").click()
    page.keyboard.press("j")
    expect(rows.nth(0).locator("a")).to_be_focused()
    page.keyboard.press("j")
    expect(rows.nth(1).locator("a")).to_be_focused()
    page.keyboard.press("x")
    expect(rows.nth(1).locator("input[type=checkbox]")).to_be_checked()
    page.keyboard.press("k")
    expect(rows.nth(0).locator("a")).to_be_focused()
    rows.nth(0).locator("input[type=checkbox]").check()
    page.get_by_label("Comment (optional)").fill("quoting a newsletter")
    page.get_by_role("button", name="Close ticked as false positive").click()
    expect(rows).to_have_count(1)
    engine = queue_site.services.engine
    assert [queue.get_item(engine, item_id).item.disposition for item_id in ids] == [
        "false_positive",
        "false_positive",
        None,
    ]
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    expect(page).to_have_url(_item(base_url, ids[2], policy_id))
    page.get_by_label("Reviewer (their name").fill("web supervisor")
    page.get_by_label("Reviewer (their name").press("Enter")  # assigns; never a disposition
    expect(page.locator("dl.facts")).to_contain_text("web supervisor")
    _heading(page, "Pending")
    assert queue.get_item(engine, ids[2]).item.assignee == "web supervisor"


@pytest.mark.parametrize(("width", "height"), [(375, 800), (640, 450)])
def test_a_phone_and_200_percent_zoom_need_no_sideways_scrolling(
    browser: Browser,
    base_url: str,
    queue_site: WebSite,
    policy_items: tuple[str, list[str]],
    screens: Path,
    width: int,
    height: int,
) -> None:
    # 200% zoom of a 1280 x 900 window is a 640 x 450 CSS-pixel viewport.
    policy_id, ids = policy_items
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        sign_in(page, base_url, queue_site.tokens["supervisor"])
        for name, path in (
            ("queue", f"/supervision?view=open&policy={policy_id}"),
            ("item", f"/supervision/items/{ids[1]}?view=open&policy={policy_id}"),
        ):
            page.goto(base_url + path)
            page.screenshot(path=str(screens / f"q-{name}-{width}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
            controls = page.locator(
                "main a:visible, main button:visible, main input:visible, main select:visible, main textarea:visible"
            )
            assert controls.count() > 3, name
            for index in range(controls.count()):
                control = controls.nth(index)
                control.scroll_into_view_if_needed()
                box = control.bounding_box()
                assert box is not None, (name, index)
                assert box["x"] >= 0, (name, width, control.evaluate("e => e.outerHTML.slice(0, 80)"))
                assert box["x"] + box["width"] <= width, (
                    name,
                    width,
                    control.evaluate("e => e.outerHTML.slice(0, 80)"),
                )
    finally:
        context.close()
