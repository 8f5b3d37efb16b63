"""Security headers on every response: API answers, errors (500 included), web pages, redirects,
static files and the API docs; HSTS only over TLS, which `archivist serve` also learns from a
trusted proxy's X-Forwarded-Proto; and in Chromium, the pages run under the policy without one
violation, while an inline script runs only with the response's nonce."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.testclient import TestClient
from playwright.sync_api import ConsoleMessage

from search_api.security_headers import HSTS, inline_script_hashes
from tests.processes import archivist_env, serving_archivist
from tests.web.browser import chromium, free_port, serving
from tests.web.conftest import MESSAGE, WebSite, csrf_of, sign_in
from tests.web.conftest import site as site  # the web pages over two demo IRC logs

ALWAYS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def _policy(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.fixture(scope="module")
def app(site: WebSite) -> FastAPI:
    app = site.app

    @app.get("/test-only/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/test-only/nonce", include_in_schema=False)
    def nonce(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.state.csp_nonce)

    @app.get("/test-only/own-policy", include_in_schema=False)
    def own_policy() -> PlainTextResponse:
        return PlainTextResponse("x", headers={"Content-Security-Policy": "sandbox", "X-Frame-Options": "SAMEORIGIN"})

    @app.get("/test-only/scripts", include_in_schema=False)
    def scripts(request: Request) -> HTMLResponse:
        nonce = request.state.csp_nonce
        return HTMLResponse(
            "<!doctype html><html><head><title>t</title></head><body>"
            f'<script nonce="{nonce}">document.body.dataset.withNonce = "ran";</script>'
            '<script>document.body.dataset.withoutNonce = "ran";</script>'
            '<div id="styled" style="width: 123px">x</div>'
            "</body></html>"
        )

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False, raise_server_exceptions=False) as test_client:
        yield test_client


def test_every_kind_of_response_carries_the_headers(client: TestClient, site: WebSite) -> None:
    sign_in(client, site.tokens["compliance_officer"])
    answers = {
        "api": client.get("/healthz"),
        "api 401": client.post("/api/v1/search", json={"query": "x"}),
        "api 404": client.get("/api/v1/nothing-here", headers={"Authorization": f"Bearer {site.tokens['legal']}"}),
        "api 422": client.post(
            "/api/v1/search", json={"size": "many"}, headers={"Authorization": f"Bearer {site.tokens['legal']}"}
        ),
        "metrics": client.get("/metrics"),
        "page": client.get("/search", params={"q": "ubuntu"}),
        "redirect": client.get("/login"),
        "static": client.get("/static/web/archivist.css"),
        "500": client.get("/test-only/boom"),
        "openapi": client.get("/openapi.json"),
    }
    expected_status = {"api 401": 401, "api 404": 404, "api 422": 422, "redirect": 303, "500": 500}
    for what, response in answers.items():
        assert response.status_code == expected_status.get(what, 200), (what, response.text[:200])
        for name, value in ALWAYS.items():
            assert response.headers.get(name) == value, (what, name)
        policy = _policy(response.headers["content-security-policy"])
        assert policy["default-src"] == ["'none'"], what
        assert policy["frame-ancestors"] == ["'none'"], what
        assert policy["script-src"][0] == "'self'", what
        assert policy["script-src"][1].startswith("'nonce-"), what
        assert len(policy["script-src"]) == 2, f"{what}: nothing else may run"
        assert policy["style-src"] == ["'self'"], what
        assert policy["form-action"] == ["'self'"], what
        assert "strict-transport-security" not in response.headers, f"{what}: plain HTTP gets no HSTS"


def test_each_response_has_its_own_nonce_and_the_templates_can_read_it(client: TestClient) -> None:
    first, second = client.get("/test-only/nonce"), client.get("/test-only/nonce")
    for response in (first, second):
        assert f"'nonce-{response.text}'" in _policy(response.headers["content-security-policy"])["script-src"]
    assert first.text != second.text
    assert len(first.text) >= 22


def test_a_route_s_own_headers_are_kept(client: TestClient) -> None:
    response = client.get("/test-only/own-policy")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_hsts_only_over_tls(app: FastAPI) -> None:
    with TestClient(app, base_url="https://archivist.example") as tls:
        response = tls.get("/healthz")
    assert response.headers["strict-transport-security"] == HSTS


def test_the_api_docs_allow_their_cdn_and_exactly_their_inline_scripts(client: TestClient) -> None:
    for path, inline_scripts in (("/docs", 1), ("/redoc", 0), ("/docs/oauth2-redirect", 1)):
        response = client.get(path)
        assert response.status_code == 200, path
        hashes = inline_script_hashes(response.content)
        assert len(hashes) == inline_scripts, path
        policy = _policy(response.headers["content-security-policy"])
        assert policy["script-src"] == ["'self'", "https://cdn.jsdelivr.net", *(f"'{h}'" for h in hashes)], path
        assert "'unsafe-inline'" not in policy["script-src"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert response.headers["x-frame-options"] == "DENY"
        assert int(response.headers["content-length"]) == len(response.content)
    # The hash is of the script FastAPI really sends (recomputed here from the body).
    docs = client.get("/docs").text
    script = re.search(r"<script>(.*?)</script>", docs, flags=re.DOTALL)
    assert script is not None
    digest = base64.b64encode(hashlib.sha256(script.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in client.get("/docs").headers["content-security-policy"]


# --- through `archivist serve`: X-Forwarded-Proto from a trusted proxy -------------------------


def _hsts_behind_proxy(tmp_path: Path, trusted_proxies: str | None = None) -> str | None:
    port = free_port()
    env = archivist_env(data_dir=str(tmp_path / "data"))
    if trusted_proxies is not None:
        env["ARCHIVIST_TRUSTED_PROXIES"] = trusted_proxies
    with serving_archivist(env, port) as base:
        response = httpx.get(
            f"{base}/healthz",
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.9"},
            timeout=5,
        )
    hsts: str | None = response.headers.get("Strict-Transport-Security")
    return hsts


def test_a_trusted_proxy_s_x_forwarded_proto_turns_on_hsts(tmp_path: Path) -> None:
    assert _hsts_behind_proxy(tmp_path, trusted_proxies="127.0.0.1,::1") == HSTS


def test_an_untrusted_peer_s_x_forwarded_proto_is_ignored(tmp_path: Path) -> None:
    assert _hsts_behind_proxy(tmp_path, trusted_proxies="10.9.8.7") is None
    assert _hsts_behind_proxy(tmp_path) is None, "no proxy is trusted by default"


# --- in Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(app: FastAPI) -> Iterator[str]:
    yield from serving(app)


def test_in_chromium_the_pages_break_no_policy_and_only_nonced_scripts_run(served: str, site: WebSite) -> None:
    violations: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.location.get('url')}: {message.text}")

    with chromium() as browser:
        page = browser.new_context().new_page()
        page.on("console", note)
        page.goto(f"{served}/login")
        page.get_by_label("API token").fill(site.tokens["admin"])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{served}/")
        for path in ("/", "/search?q=ubuntu", f"/conversation?message={MESSAGE}", "/audit", "/cases", "/policies"):
            response = page.goto(served + path)
            assert response is not None
            assert response.status < 400, path
            assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert not violations, violations
        page.goto(f"{served}/test-only/scripts")
        body = page.locator("body")
        assert body.get_attribute("data-with-nonce") == "ran"
        assert body.get_attribute("data-without-nonce") is None
        assert page.locator("#styled").evaluate("node => node.offsetWidth") == 123, "style attributes apply"
        assert len(violations) == 1, violations
        assert "script-src" in violations[0]


def test_the_login_form_still_posts(client: TestClient, site: WebSite) -> None:
    """form-action 'self' and a 303 to this site: the sign-in round trip the browser makes."""
    client.cookies.clear()
    page = client.get("/login")
    answer = client.post("/login", data={"token": site.tokens["auditor"], "csrf": csrf_of(page.text), "next": "/"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    assert "content-security-policy" in answer.headers
