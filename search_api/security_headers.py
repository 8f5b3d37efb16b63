"""Security headers on every response of the API and the web pages.

- ``Content-Security-Policy``: only this origin's scripts, styles, images and fonts, no plugins,
  no ``<base>``, forms post here only, and no framing (``frame-ancestors 'none'``). An inline
  ``<script>`` runs only when it carries this response's nonce:
  ``<script nonce="{{ request.state.csp_nonce }}">`` in a template (the pages render with the
  request in their context). Inline ``style="..."`` attributes are allowed (``style-src-attr``;
  a page still uses one), ``<style>`` elements are not.
- The interactive API docs (``/docs``, ``/redoc`` and Swagger's OAuth2 redirect) are FastAPI's
  pages, built from a CDN and an inline bootstrap script: they get a policy of their own that
  allows that CDN and exactly their inline scripts (by SHA-256, never ``'unsafe-inline'``).
- ``X-Frame-Options: DENY`` (for browsers without ``frame-ancestors``), ``X-Content-Type-Options:
  nosniff``, ``Referrer-Policy: no-referrer``.
- ``Strict-Transport-Security`` only on a request that came over TLS: the ASGI scheme is
  ``https``, which uvicorn also sets from ``X-Forwarded-Proto: https`` when the connection comes
  from one of ``ARCHIVIST_TRUSTED_PROXIES`` (``archivist serve`` passes it on).

A header a route set itself is left as it is. The middleware wraps the whole application,
outside Starlette's error middleware, so even a 500 answer carries the headers.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NONCE_STATE = "csp_nonce"
"""``request.state.csp_nonce``: the nonce an inline script needs on this response."""

HSTS = "max-age=31536000"
"""One year; no ``includeSubDomains`` (other hosts of the domain are not ours to decide)."""

_SHARED = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"


def page_policy(nonce: str) -> str:
    """The policy of the API's answers and the web pages."""
    return (
        f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self'; "
        "style-src-attr 'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'self'; "
        f"{_SHARED}"
    )


DOCS_CDN = "https://cdn.jsdelivr.net"


def docs_policy(script_hashes: list[str]) -> str:
    """The policy of FastAPI's Swagger UI and ReDoc pages: their CDN, their own inline scripts."""
    hashes = "".join(f" '{digest}'" for digest in script_hashes)
    return (
        f"default-src 'none'; script-src 'self' {DOCS_CDN}{hashes}; "
        f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com; "
        "font-src 'self' data: https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
        f"connect-src 'self'; worker-src 'self' blob:; {_SHARED}"
    )


_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def inline_script_hashes(html: bytes) -> list[str]:
    """``sha256-...`` sources of every inline ``<script>`` in ``html``, in order."""
    return [
        "sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")
        for body in _INLINE_SCRIPT.findall(html)
    ]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[NONCE_STATE] = nonce
        https = scope.get("scheme") == "https"
        if scope.get("path") in self.docs_paths:
            await self.app(scope, receive, _DocsPage(send, https))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(message, page_policy(nonce), https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _add_headers(start: Message, policy: str, https: bool) -> None:
    headers = MutableHeaders(scope=start)
    wanted = {
        "content-security-policy": policy,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }
    if https:
        wanted["strict-transport-security"] = HSTS
    for name, value in wanted.items():
        if name not in headers:
            headers[name] = value


class _DocsPage:
    """Holds a docs page back until its body is complete, to hash its inline scripts."""

    def __init__(self, send: Send, https: bool) -> None:
        self.send = send
        self.https = https
        self.start: Message | None = None
        self.body: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.body)
        _add_headers(self.start, docs_policy(inline_script_hashes(body)), self.https)
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body, "more_body": False})


def install(app: FastAPI) -> None:
    """Wrap ``app``'s whole middleware stack (Starlette's error handling included)."""
    docs_paths = frozenset(
        path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path is not None
    )
    build: Callable[[], ASGIApp] = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build(), docs_paths)

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
