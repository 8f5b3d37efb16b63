"""The policy editor and the report in headless Chromium (Debian's ``/usr/bin/chromium``): a
policy created and changed through the editor for real (stored as versions 1 and 2), a problem
shown next to its field, and the list, editor and report at 375 px and at 200% zoom without
sideways scrolling and with every control on screen. Without Chromium these tests fail."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from supervision.items import NewItem, add_items
from supervision.model import TermMatch
from supervision.policy_store import list_policies, policy_versions
from tests.web.browser import base_url as base_url
from tests.web.browser import browser as browser
from tests.web.browser import page as page
from tests.web.browser import screens as screens
from tests.web.browser import sign_in
from tests.web.conftest import WebSite
from tests.web.conftest import site as site

LEXICON = "g1 | query | en | guarantee | guarantee NEAR/3 returns\ng2 | regex |  |  | \\b100 ?% (safe|sure)\\b"


def test_create_and_change_a_policy_in_the_editor(page: Page, base_url: str, site: WebSite, screens: Path) -> None:
    sign_in(page, base_url, site.tokens["compliance_officer"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Supervision report").click()
    page.get_by_role("navigation", name="Supervision").get_by_role("link", name="Policies").click()
    page.get_by_role("link", name="New policy").click()
    expect(page.get_by_role("heading", name="New supervision policy")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Browser guarantees")
    page.get_by_label("Groups").fill("traders")
    page.get_by_label("IM (one to one)").uncheck()
    page.get_by_label("Terms").fill(LEXICON)
    page.get_by_label("Exclusions").fill('"confidential notice"')
    page.get_by_label("Rate (%)").fill("2.5")
    page.get_by_label("Seed").fill("2026-Q4")
    page.get_by_label("Reviewers", exact=True).fill("web supervisor")
    page.get_by_label("SLA (hours)").fill("48")
    page.get_by_label("What changed and why").fill("first draft")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as version 1.")
    expect(page.get_by_label("Terms")).to_have_value(LEXICON)

    page.get_by_label("SLA (hours)").fill("24")
    page.get_by_label("Draft (kept and backtested, not run)").check()
    page.get_by_label("What changed and why").fill("faster, paused")
    page.get_by_role("button", name="Save as version 2").click()
    expect(page.get_by_role("status")).to_contain_text("Saved as version 2.")
    history = page.get_by_role("table").filter(has_text="faster, paused")
    expect(history.get_by_role("row")).to_have_count(3)
    page.screenshot(path=screens / "s01-supervision-policy-editor.png", full_page=True)

    with site.services.engine.connect() as connection:
        made = next(p for p in list_policies(connection) if p.spec.name == "Browser guarantees")
        versions = policy_versions(connection, made.id)
    assert [(v.version, v.spec.sla_hours, v.spec.enabled, v.comment) for v in versions] == [
        (1, 48, True, "first draft"),
        (2, 24, False, "faster, paused"),
    ]
    spec = versions[0].spec
    assert spec.scope.directions == ("internal", "external")
    assert [(t.id, t.kind, t.language, t.label, t.expression) for t in spec.lexicon] == [
        ("g1", "query", "en", "guarantee", "guarantee NEAR/3 returns"),
        ("g2", "regex", None, None, r"\b100 ?% (safe|sure)\b"),
    ]
    assert (spec.sampling_percent, spec.sampling_seed, spec.exclusions) == (2.5, "2026-Q4", ('"confidential notice"',))


def test_a_problem_is_shown_next_to_its_field(page: Page, base_url: str, site: WebSite) -> None:
    sign_in(page, base_url, site.tokens["admin"])
    page.goto(f"{base_url}/supervision/policies/new")
    page.get_by_label("Name", exact=True).fill("Broken")
    page.get_by_label("Terms").fill("g1 | query | | | fine\njust words")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("alert")).to_contain_text("The policy was not saved")
    terms = page.get_by_label("Terms")
    expect(terms).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#policy-lexicon-error")).to_have_text(
        "Line 2 has 1 part(s); write it as id | kind | language | label | expression."
    )
    expect(terms).to_have_value("g1 | query | | | fine\njust words")


def _items(site: WebSite) -> None:
    with site.services.engine.connect() as connection:
        policy = list_policies(connection)[0]
    now = datetime.now(UTC)
    with site.services.engine.begin() as connection:
        add_items(
            connection,
            [
                NewItem(
                    policy_id=policy.id,
                    policy_version=policy.version,
                    event_id=f"browser-e{n}",
                    message_id=f"m{n}",
                    room_id="r",
                    sender="s",
                    sent_at=now,
                    reason="lexicon",
                    matches=(
                        TermMatch(term_id="a-rather-long-term-identifier-to-wrap", start=0, end=3, matched="abc"),
                    ),
                )
                for n in range(3)
            ],
            now - timedelta(days=4),
        )


def test_the_pages_fit_a_phone_and_200_percent_zoom(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    admin = browser.new_context(viewport={"width": 1280, "height": 900})
    setup = admin.new_page()
    sign_in(setup, base_url, site.tokens["admin"])
    setup.goto(f"{base_url}/supervision/policies/new")
    setup.get_by_label("Name", exact=True).fill("A policy with a rather long name to wrap on small screens")
    setup.get_by_label("Terms").fill("a-rather-long-term-identifier-to-wrap | query | en | label | " + "word " * 40)
    setup.get_by_role("button", name="Create policy").click()
    expect(setup.get_by_role("status")).to_contain_text("Saved as version 1.")
    editor = setup.url.split("?")[0].removeprefix(base_url)
    admin.close()
    _items(site)
    paths = ["/supervision/policies", editor, "/supervision/policies/new", "/supervision/report"]
    controls = "main a, main button, main input:not([type=hidden]), main select, main textarea"
    for name, width in (("s02-phone-375px", 375), ("s03-zoom-200-percent", 640)):
        context = browser.new_context(viewport={"width": width, "height": 800})
        page = context.new_page()
        sign_in(page, base_url, site.tokens["compliance_officer"])
        for path in paths:
            page.goto(f"{base_url}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: {path}"
            outside = page.evaluate(
                """([selector, width]) => [...document.querySelectorAll(selector)]
                    .filter(e => e.getClientRects().length > 0)
                    .map(e => [e.outerHTML.slice(0, 80), e.getBoundingClientRect()])
                    .filter(([, r]) => r.left < 0 || r.right > width + 0.5)
                    .map(([html]) => html)""",
                [controls, width],
            )
            assert outside == [], f"{name}: {path}: controls off screen"
            page.screenshot(path=screens / f"{name}{path.replace('/', '-')}.png", full_page=True)
        expect(page.locator("strong.overdue").first).to_be_visible()
        context.close()


def test_backtest_a_draft_in_the_editor_on_a_phone(
    browser: Browser, base_url: str, site: WebSite, screens: Path
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    sign_in(page, base_url, site.tokens["compliance_officer"])
    page.goto(f"{base_url}/supervision/policies/new")
    page.get_by_label("Name", exact=True).fill("Backtested draft")
    page.get_by_label("Terms").fill("u1 | query | | Ubuntu | ubuntu\nk1 | regex | | | [Kk]ernel")
    page.get_by_label("Reviewers", exact=True).fill("web supervisor")
    page.get_by_label("Backtest from (UTC day)").fill("2009-03-03")
    page.get_by_label("Backtest until (UTC day, included)").fill("2009-03-03")
    page.get_by_role("button", name="Run backtest").click()
    results = page.get_by_role("region", name=re.compile("^Backtest: 2009-03-03"))
    expect(results).to_be_visible()
    items = int(page.locator("#backtest-items").inner_text())
    assert items > 0
    expect(results.get_by_role("table").first).to_contain_text("2009-03-03")
    expect(results.locator("mark").first).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Backtested draft")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.screenshot(path=screens / "s04-backtest-375px.png", full_page=True)
    context.close()
    with site.services.engine.connect() as connection:
        assert all(p.spec.name != "Backtested draft" for p in list_policies(connection)), "nothing saved"


def test_no_policy_or_report_page_logs_a_console_error(page: Page, base_url: str, site: WebSite) -> None:
    found: list[str] = []
    page.on("console", lambda message: found.append(message.text) if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: found.append(str(error)))
    sign_in(page, base_url, site.tokens["admin"])
    page.goto(f"{base_url}/supervision/policies/new?example=gifts")
    page.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved as version 1.")
    editor = page.url.split("?")[0]
    for url in (
        f"{base_url}/supervision/policies",
        editor,
        f"{editor}?version=1",
        f"{base_url}/supervision/policies/new",
        f"{base_url}/supervision/report",
    ):
        response = page.goto(url)
        assert response is not None
        assert response.status == 200, url
    assert found == []
