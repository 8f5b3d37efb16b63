"""The policies pages in headless Chromium (Debian's ``/usr/bin/chromium``; nothing downloads a
browser): edit a wall to add a named exception, create a disclaimer in two locales and preview
it (after a template error shown next to its text), run a what-if, the keyboard alone, and a
phone-sized screen and 200% zoom without sideways scrolling. Screenshots go to the directory
printed at the start (``ARCHIVIST_SCREENSHOTS`` to choose it)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from policies.model import Segment, WallSpec
from policies.store import PolicyStore
from tests.web.browser import base_url as base_url
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import sign_in
from tests.web.conftest import WebSite


def test_edit_a_wall_to_add_a_named_exception(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["security_admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policies").click()
    page.get_by_label("Wall name").fill("Advisory | Trading")
    page.get_by_label("Side A group ids").fill("user:olga")
    page.get_by_label("Side B group ids").fill("user:piet")
    page.get_by_role("button", name="Add wall").click()
    expect(page.get_by_role("status")).to_contain_text("Wall Advisory | Trading added")
    page.screenshot(path=screens / "p00-policies-overview.png", full_page=True)

    page.get_by_role("link", name="Advisory | Trading").click()
    expect(page.get_by_role("heading", name="Wall: Advisory | Trading")).to_be_visible()
    new = page.get_by_role("group", name="New exception")
    new.get_by_label("Name", exact=True).fill("Compliance liaison")
    new.get_by_label("Who", exact=True).fill("user:olga")
    new.get_by_label("With whom").fill("user:piet")
    page.get_by_label("Until").fill("2030-06-30T17:00")
    page.get_by_label("Mode").select_option("alert")
    page.get_by_role("button", name="Save wall").click()

    expect(page.get_by_role("status")).to_contain_text("Saved as version 2.")
    expect(page.get_by_text("Compliance liaison: user:olga (user) with user:piet (user)")).to_be_visible()
    expect(page.get_by_role("group", name="Exception 1").get_by_label("Name")).to_have_value("Compliance liaison")
    page.screenshot(path=screens / "p01-wall-with-exception.png", full_page=True)

    page.get_by_label("From", exact=True).fill("2031-01-01T00:00")
    page.get_by_role("button", name="Save wall").click()
    expect(page.get_by_role("alert")).to_contain_text("“Until” must be later than “From”.")
    expect(page.get_by_label("Until")).to_have_attribute("aria-invalid", "true")
    page.screenshot(path=screens / "p02-wall-dates-refused.png", full_page=True)
    wall = next(w for w in PolicyStore(site.services.engine).walls() if w.name == "Advisory | Trading")
    assert (wall.version, wall.mode, wall.exceptions[0].name) == (2, "alert", "Compliance liaison")


def test_create_a_disclaimer_in_two_locales_and_preview_it(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["security_admin"])
    page.goto(f"{base_url}/policies")
    page.get_by_role("navigation", name="Policies").get_by_role("link", name="Disclaimers").click()
    expect(page.get_by_role("heading", name="Disclaimer rules")).to_be_visible()
    page.get_by_label("Disclaimer name").fill("Recorded conversation")
    page.get_by_label("Trigger").select_option("conversation_start")
    first, second = page.get_by_role("group", name="New text 1"), page.get_by_role("group", name="New text 2")
    first.get_by_label("Locale").fill("en")
    first.get_by_label("Text (jinja2 template)").fill("{{ actor }}: this conversation in {{ room }} is recorded.")
    second.get_by_label("Locale").fill("fr")
    second.get_by_label("Text (jinja2 template)").fill("{{ actor }} : cette conversation dans {{ room")
    page.get_by_role("button", name="Create disclaimer").click()

    expect(page.get_by_role("alert")).to_contain_text("The disclaimer was not created")
    french = page.get_by_role("group", name="Text 2: fr").get_by_label("Text (jinja2 template)")
    expect(french).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#disclaimer-text_1-error")).to_contain_text("Template error:")
    page.screenshot(path=screens / "p03-disclaimer-template-error.png", full_page=True)
    french.fill("{{ actor }} : cette conversation dans {{ room }} est enregistrée.")
    page.get_by_role("button", name="Create disclaimer").click()

    expect(page.get_by_role("heading", name="Disclaimer: Recorded conversation")).to_be_visible()
    expect(page.get_by_role("status").first).to_contain_text("Saved as version 1.")
    preview = page.locator("#preview-result")
    expect(preview).to_contain_text("Alice Example: this conversation in Example room is recorded.")
    page.get_by_label("Reader's locale").fill("fr-CA")
    page.get_by_label("Participants (names, the actor first)").fill("Zoé Martin, Yann")
    page.get_by_label("Room name").fill("Salle des marchés")
    page.get_by_role("button", name="Preview").click()
    expect(preview).to_contain_text("shown in fr (there is no text for fr-CA)")
    expect(preview).to_contain_text("Zoé Martin : cette conversation dans Salle des marchés est enregistrée.")
    expect(page.get_by_text("Version 1 (current), saved")).to_be_visible()
    page.screenshot(path=screens / "p04-disclaimer-preview.png", full_page=True)


def test_run_a_what_if(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["security_admin"])
    page.goto(f"{base_url}/policies")
    page.get_by_role("navigation", name="Policies").get_by_role("link", name="What-if").click()
    page.get_by_label("Wall name").fill("Mexel | Jack_Sparrow")
    page.get_by_label("Side A group ids").fill("user:Mexel")
    page.get_by_label("Side B group ids").fill("user:Jack_Sparrow")
    page.get_by_label("Replay from").fill("2007-09-01T00:00")
    page.get_by_label("Replay until").fill("2007-10-01T00:00")
    page.get_by_role("button", name="Run the what-if").click()
    summary = page.locator("#simulation-summary")
    expect(summary).to_contain_text("would have been blocked")
    expect(summary).to_contain_text("in 1 room or conversation")
    table = page.get_by_role("table", name="Rooms and conversations the proposed wall would have blocked")
    expect(table.get_by_role("cell", name="room_post", exact=True)).to_be_visible()
    expect(table.get_by_text("user:Mexel → user:Jack_Sparrow").first).to_be_visible()
    page.locator("#result").scroll_into_view_if_needed()
    page.screenshot(path=screens / "p05-what-if.png", full_page=True)


def test_a_group_is_made_and_filled_from_the_keyboard_alone(
    page: Page, base_url: str, site: WebSite, screens: Path
) -> None:
    sign_in(page, base_url, site.tokens["admin"])
    page.goto(f"{base_url}/policies/groups")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "group-id":
            break
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none", "focus is visible"
    page.keyboard.type("group:keyboard")
    page.keyboard.press("Tab")
    page.keyboard.type("Keyboard users")
    page.keyboard.press("Tab")
    page.keyboard.type("user:kb1, user:kb2")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Group created.")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "member-1":
            break
    page.keyboard.press("Space")
    for _ in range(5):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Remove ticked members":
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Members removed.")
    page.screenshot(path=screens / "p08-group.png", full_page=True)
    group = PolicyStore(site.services.engine).get_group("group:keyboard")
    assert group is not None
    assert group.members == ("user:kb2",)


def test_policies_pages_fit_a_phone_and_200_percent_zoom(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    store = PolicyStore(site.services.engine)
    wall = store.create_wall(
        WallSpec(
            name="A wall with a rather long name to wrap on small screens",
            side_a=(Segment(kind="user", id="user:someone-with-a-long-identifier"),),
            side_b=(Segment(kind="user", id="user:another-long-identifier"),),
        )
    )
    paths = [
        "/policies",
        f"/policies/walls/{wall.id}",
        "/policies/disclaimers",
        "/policies/groups",
        "/policies/simulate",
    ]
    rules = store.disclaimers()
    if rules:
        paths.append(f"/policies/disclaimers/{rules[0].id}")
    for name, width in (("p06-phone-375px", 375), ("p07-zoom-200-percent", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        sign_in(page, base_url, site.tokens["security_admin"])
        for path in paths:
            page.goto(f"{base_url}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: {path}"
        page.goto(f"{base_url}/policies/walls/{wall.id}")
        page.screenshot(path=screens / f"{name}.png", full_page=True)
        context.close()
