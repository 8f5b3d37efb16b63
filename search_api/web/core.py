"""What every page shares: templates, the signed-in user, role gates and the navigation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from archive.principals import Principal, authenticate
from search_api import read_audit
from search_api.deps import PERMISSIONS, AppServices, services_of
from search_api.web.session import COOKIE, Session, SessionStore

HERE = Path(__file__).resolve().parent
_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

NAV: tuple[tuple[str, str, str | None], ...] = (
    ("/", "Overview", None),
    ("/search", "Search", "search"),
    ("/cases", "Cases", "cases_read"),
    ("/retention", "Retention", "retention_read"),
    ("/policies", "Policies", "policy_read"),
    ("/audit", "Audit log", "audit"),
)
"""Path, label, and the permission a role needs to see the page (None: anyone signed in)."""


@dataclass(frozen=True)
class WebUser:
    principal: Principal
    session: Session

    def may(self, permission: str) -> bool:
        return self.principal.role in PERMISSIONS[permission]


def sessions(request: Request) -> SessionStore:
    store: SessionStore = request.app.state.web_sessions
    return store


def services(request: Request) -> AppServices:
    return services_of(request)


def render(
    request: Request, template: str, context: dict[str, Any], *, user: WebUser | None, status_code: int = 200
) -> HTMLResponse:
    nav = [
        {"path": path, "label": label, "current": request.url.path == path}
        for path, label, permission in NAV
        if user is not None and (permission is None or user.may(permission))
    ]
    page = _templates.get_template(template).render(
        {"request": request, "user": user, "nav": nav, "csrf": user.session.csrf if user else None, **context}
    )
    return HTMLResponse(page, status_code=status_code)


def safe_highlight(fragment: str) -> Markup:
    """A search hit's highlight: the backends escape the text and add only ``<b>`` tags."""
    return Markup(fragment)  # noqa: S704 - escaped by the backend, see search_api.search_services


async def signed_in(request: Request) -> WebUser | None:
    """The user of this request's session, authenticated again (a revoked token ends it)."""
    store = sessions(request)
    session = store.lookup(request.cookies.get(COOKIE))
    if session is None:
        return None
    principal = await run_in_threadpool(authenticate, services(request).engine, session.token)
    if principal is None:
        store.end(session.session_id)
        return None
    read_audit.identify(principal)
    return WebUser(principal, session)


async def gate(request: Request, permission: str | None) -> WebUser | Response:
    """The signed-in user allowed ``permission``; otherwise the page to answer instead
    (a redirect to sign in, or 403)."""
    user = await signed_in(request)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
    if permission is not None and not user.may(permission):
        return forbidden(request, user, permission)
    return user


def forbidden(request: Request, user: WebUser, permission: str) -> HTMLResponse:
    roles = ", ".join(sorted(PERMISSIONS[permission]))
    return render(
        request,
        "error.html",
        {"title": "Not allowed", "message": f"The role {user.principal.role} may not open this page ({roles} may)."},
        user=user,
        status_code=403,
    )


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme) may be where sign-in leads."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
