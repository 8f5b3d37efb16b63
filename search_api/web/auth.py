"""Sign-in with an API token, sign-out, and the CSRF check every form post goes through.

Failed sign-ins are limited per client address: after ``MAX_FAILED_SIGN_INS`` unknown or revoked
tokens within ``FAILED_SIGN_IN_WINDOW`` seconds, that address gets 429 (with ``Retry-After``)
until the oldest of those failures is older than the window. The count lives in this process's
memory, like the sessions. The address is the connection's, or the ``X-Forwarded-For`` client
when the connection comes from one of ``ARCHIVIST_TRUSTED_PROXIES`` (uvicorn resolves it).
"""

from __future__ import annotations

import hmac
import logging
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from archive import audit
from archive.principals import authenticate
from search_api.web.core import WebUser, gate, render, safe_next, services, sessions, signed_in
from search_api.web.forms import FormTooLarge, read_fields, read_form
from search_api.web.session import COOKIE, LIFETIME_SECONDS

router = APIRouter()
log = logging.getLogger("archivist.web.auth")
LOGIN_CSRF_COOKIE = "archivist_login_csrf"
"""Before there is a session, the sign-in form's CSRF token is a double-submit cookie."""

MAX_FAILED_SIGN_INS = 10
FAILED_SIGN_IN_WINDOW = 300.0
"""Seconds: at most ``MAX_FAILED_SIGN_INS`` failed sign-ins per client address in this long."""
LIMITER_STATE = "web_sign_in_limiter"


class SignInLimiter:
    """Failed sign-ins per client address over a sliding window, in memory.

    At most ``max_clients`` addresses are tracked: beyond that, the ones whose failures are
    oldest are forgotten first, so a flood of addresses cannot exhaust memory.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILED_SIGN_INS,
        window_seconds: float = FAILED_SIGN_IN_WINDOW,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_clients = max_clients
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) < self.max_failures:
                return 0.0
            return max(0.0, failures[-self.max_failures] + self.window - now)

    def failed(self, client: str) -> bool:
        """Count a failed sign-in; True when this one used up the client's allowance."""
        now = self._clock()
        with self._lock:
            failures = self._recent(client, now)
            failures.append(now)
            self._failures[client] = failures
            if len(self._failures) > self.max_clients:
                self._forget_oldest(now)
            return len(failures) == self.max_failures

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
        return failures

    def _forget_oldest(self, now: float) -> None:
        for client in [c for c, times in self._failures.items() if times[-1] <= now - self.window]:
            del self._failures[client]
        by_age = sorted(self._failures, key=lambda c: self._failures[c][-1])
        for client in by_age[: max(0, len(self._failures) - self.max_clients)]:
            del self._failures[client]


def limiter(request: Request) -> SignInLimiter:
    """This application's limiter (made on first use)."""
    state = request.app.state
    found: SignInLimiter | None = getattr(state, LIMITER_STATE, None)
    if found is None:
        found = SignInLimiter()
        setattr(state, LIMITER_STATE, found)
    return found


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def refuse_csrf(request: Request, user: WebUser | None) -> HTMLResponse:
    return render(
        request,
        "error.html",
        {
            "title": "Form expired",
            "message": "The form's security token is missing or out of date. Go back, reload the page and try again.",
        },
        user=user,
        status_code=403,
    )


async def checked_form(request: Request, user: WebUser) -> dict[str, str] | Response:
    """The posted form when its CSRF token is this session's; else the 403 page."""
    fields = await checked_fields(request, user)
    if isinstance(fields, Response):
        return fields
    return {name: values[0] for name, values in fields.items()}


async def checked_fields(request: Request, user: WebUser) -> dict[str, list[str]] | Response:
    """Every value of each posted field when the CSRF token is this session's; else the 403 page."""
    try:
        form = await read_fields(request)
    except FormTooLarge:
        return render(
            request,
            "error.html",
            {"title": "Too large", "message": "The form is too large."},
            user=user,
            status_code=413,
        )
    if not hmac.compare_digest((form.get("csrf") or [""])[0], user.session.csrf):
        return refuse_csrf(request, user)
    return form


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request, next: str | None = None) -> Response:
    if await signed_in(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, safe_next(next), error=None, status_code=200)


def _login_form(request: Request, target: str, *, error: str | None, status_code: int) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(
        request, "login.html", {"next": target, "login_csrf": token, "error": error}, user=None, status_code=status_code
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, max_age=3600, httponly=True, samesite="strict", secure=_secure(request), path="/login"
    )
    return response


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    try:
        form = await read_form(request)
    except FormTooLarge:
        return _login_form(request, "/", error="The form is too large.", status_code=413)
    target = safe_next(form.get("next"))
    address = client_address(request)
    wait = limiter(request).retry_after(address)
    if wait > 0:
        return _too_many(request, target, wait)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(form.get("csrf", ""), expected):
        return refuse_csrf(request, None)
    token = form.get("token", "").strip()
    principal = await run_in_threadpool(authenticate, services(request).engine, token) if token else None
    if principal is None:
        if limiter(request).failed(address):
            log.warning(
                "web sign-in: %d failed attempts from %s within %.0f s; refusing it for a while",
                MAX_FAILED_SIGN_INS,
                address,
                FAILED_SIGN_IN_WINDOW,
            )
        return _login_form(request, target, error="That token is unknown or revoked.", status_code=401)
    _session, cookie = sessions(request).create(token)
    await run_in_threadpool(audit.record, services(request).engine, principal, "web_sign_in", {})
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE, cookie, max_age=LIFETIME_SECONDS, httponly=True, samesite="lax", secure=_secure(request), path="/"
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


def _too_many(request: Request, target: str, wait: float) -> HTMLResponse:
    seconds = math.ceil(wait)
    minutes = math.ceil(seconds / 60)
    response = _login_form(
        request,
        target,
        error=(
            f"Too many failed sign-ins from your address. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
        ),
        status_code=429,
    )
    response.headers["Retry-After"] = str(seconds)
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    user = await signed_in(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    form = await checked_form(request, user)
    if isinstance(form, Response):
        return form
    sessions(request).end(user.session.session_id)
    await run_in_threadpool(audit.record, services(request).engine, user.principal, "web_sign_out", {})
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def posted(request: Request, permission: str) -> tuple[WebUser, dict[str, list[str]]] | Response:
    """A form post by a signed-in user allowed ``permission``, with this session's CSRF token:
    the user and the fields; otherwise the page to answer (sign-in, 403, 413)."""
    user = await gate(request, permission)
    if not isinstance(user, WebUser):
        return user
    fields = await checked_fields(request, user)
    if isinstance(fields, Response):
        return fields
    return user, fields


def first(fields: dict[str, list[str]], name: str) -> str:
    """A field's first value, stripped ('' when it was not sent)."""
    return (fields.get(name) or [""])[0].strip()
