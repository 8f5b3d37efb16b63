"""The web sign-in refuses a client address after 10 failed attempts in 5 minutes: 429 with a
Retry-After and the sign-in page saying why, until the window has passed; others sign in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from search_api.web.auth import FAILED_SIGN_IN_WINDOW, LIMITER_STATE, MAX_FAILED_SIGN_INS, SignInLimiter
from tests.web.conftest import WebSite, csrf_of
from tests.web.conftest import site as site  # the web pages over two demo IRC logs


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(site: WebSite) -> Iterator[Clock]:
    clock = Clock()
    setattr(site.app.state, LIMITER_STATE, SignInLimiter(clock=clock))
    yield clock
    delattr(site.app.state, LIMITER_STATE)


def _client(site: WebSite, address: str) -> TestClient:
    return TestClient(site.app, follow_redirects=False, client=(address, 40000))


def _sign_in(client: TestClient, token: str) -> tuple[int, str, dict[str, str]]:
    page = client.get("/login")
    answer = client.post("/login", data={"token": token, "csrf": csrf_of(page.text), "next": "/search"})
    return answer.status_code, answer.text, dict(answer.headers)


def test_ten_failures_then_429_with_retry_after_until_the_window_passes(site: WebSite, clock: Clock) -> None:
    attacker = _client(site, "198.51.100.7")
    for attempt in range(MAX_FAILED_SIGN_INS):
        clock.now += 10
        status, text, _headers = _sign_in(attacker, f"arch_nope_{attempt}")
        assert status == 401, attempt
        assert "That token is unknown or revoked." in text
    status, text, headers = _sign_in(attacker, "arch_nope_again")
    assert status == 429
    # The first failure was 90 s before the last one: it leaves the window 300 - 90 s from now.
    assert headers["retry-after"] == str(int(FAILED_SIGN_IN_WINDOW - 90))
    assert "Too many failed sign-ins from your address. Try again in 4 minutes." in text
    assert 'name="token"' in text, "the page is the sign-in form, with the reason on it"
    # Even the right token waits: the limit is checked before any token is.
    status, _text, headers = _sign_in(attacker, site.tokens["legal"])
    assert status == 429
    # Someone else, at another address, is not affected.
    assert _sign_in(_client(site, "203.0.113.5"), site.tokens["legal"])[0] == 303
    # When the oldest failure leaves the window, one more attempt is allowed.
    clock.now += int(headers["retry-after"])
    status, _text, headers = _sign_in(attacker, site.tokens["legal"])
    assert status == 303
    assert headers["location"] == "/search"


def test_failures_spread_beyond_the_window_never_block(site: WebSite, clock: Clock) -> None:
    client = _client(site, "192.0.2.44")
    for attempt in range(3 * MAX_FAILED_SIGN_INS):
        clock.now += FAILED_SIGN_IN_WINDOW / MAX_FAILED_SIGN_INS + 1
        assert _sign_in(client, f"arch_typo_{attempt}")[0] == 401, attempt


def test_a_bad_csrf_token_is_not_a_failed_sign_in(site: WebSite, clock: Clock) -> None:
    client = _client(site, "192.0.2.45")
    client.get("/login")
    for _ in range(MAX_FAILED_SIGN_INS + 2):
        assert client.post("/login", data={"token": "arch_x", "csrf": "forged"}).status_code == 403
    assert _sign_in(client, site.tokens["auditor"])[0] == 303


def test_the_limiter_forgets_the_oldest_addresses_first() -> None:
    clock = Clock()
    limiter = SignInLimiter(max_failures=2, window_seconds=60, max_clients=3, clock=clock)
    for address in ("a", "b", "c", "d"):
        clock.now += 1
        assert not limiter.failed(address)
    assert limiter.failed("d")
    assert limiter.retry_after("d") == pytest.approx(60)
    assert limiter.retry_after("a") == 0, "a was forgotten to stay within 3 addresses"
    assert not limiter.failed("a")
    clock.now += 60
    assert limiter.retry_after("d") == 0
