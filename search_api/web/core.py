"""What every page shares: templates, the signed-in user, role gates, the navigation and the
time zone a reader sees times in.

The time zone: the ``tz`` query parameter (the header's select sends it), else the
``archivist_tz`` cookie (set whenever a page is opened with a valid ``tz``; ``tz=`` empty
clears it), else the page's own default (a case page: the case's zone), else UTC. An unknown
``tz`` is a 422 page naming the closest zones. Every page says the zone in its header."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from archive.principals import Principal, authenticate
from formats.time_zones import DEFAULT_ZONE, UnknownTimeZone, as_sent, clock, time_zone, zone_names
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

ZONE_COOKIE = "archivist_tz"
ZONE_PARAMETER = "tz"
_ZONE_COOKIE_SECONDS = 365 * 24 * 3600


def at(
    moment: datetime | None,
    zone: ZoneInfo | None = None,
    *,
    offset: str | None = None,
    sent: bool = False,
    day: bool = True,
    seconds: bool = True,
    named: bool = True,
) -> str:
    """A time as pages show it: ``2026-11-22 23:30:00 EST`` in ``zone`` (UTC when None; without
    the zone's abbreviation when not ``named``); with ``sent``, followed by the sender's own
    offset when it differs (`` (+09:00 as sent)``)."""
    if moment is None:
        return "an unknown time"
    shown_zone = zone or ZoneInfo(DEFAULT_ZONE)
    shown = clock(moment, shown_zone, day=day, seconds=seconds)
    if not named:
        shown = shown.rsplit(" ", 1)[0]
    return shown + as_sent(moment, shown_zone, offset) if sent else shown


_templates.filters["at"] = at


def viewer_zone(request: Request, default: str | None = None) -> ZoneInfo:
    """The zone this reader sees times in (see the module doc); raises
    :class:`~formats.time_zones.UnknownTimeZone` for an unknown ``tz`` parameter. A cookie
    naming no zone (changed by hand) is ignored."""
    asked = request.query_params.get(ZONE_PARAMETER)
    if asked:
        return time_zone(asked)
    kept = None if asked == "" else request.cookies.get(ZONE_COOKIE)  # tz= empty: back to the default
    if kept:
        try:
            return time_zone(kept)
        except UnknownTimeZone:
            pass
    return time_zone(default or DEFAULT_ZONE)


def _zone_form(request: Request) -> list[tuple[str, str]]:
    """The page's other query parameters, kept as hidden fields when the zone is changed."""
    return [(name, value) for name, value in request.query_params.multi_items() if name != ZONE_PARAMETER]


NAV: tuple[tuple[str, str, str | None], ...] = (
    ("/", "Overview", None),
    ("/search", "Search", "search"),
    ("/cases", "Cases", "cases_read"),
    ("/retention", "Retention", "retention_read"),
    ("/policies", "Policies", "policy_read"),
    ("/supervision", "Supervision", "supervision_read"),
    ("/supervision/report", "Supervision report", "supervision_report"),
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
    """The page; ``context["zone"]``, when given, is the zone its times are in (else the
    reader's, :func:`viewer_zone`)."""
    nav = [
        {"path": path, "label": label, "current": request.url.path == path}
        for path, label, permission in NAV
        if user is not None and (permission is None or user.may(permission))
    ]
    zone: ZoneInfo = context.get("zone") or _zone_or_utc(request)
    shared = {
        "request": request,
        "user": user,
        "nav": nav,
        "csrf": user.session.csrf if user else None,
        "zone": zone,
        "zone_names": zone_names(),
        "zone_form": _zone_form(request),
    }
    page = _templates.get_template(template).render({**shared, **context, "zone": zone})
    response = HTMLResponse(page, status_code=status_code)
    _keep_zone(request, response)
    return response


def _zone_or_utc(request: Request) -> ZoneInfo:
    try:
        return viewer_zone(request)
    except UnknownTimeZone:  # the gate answered a bad tz already; an error page shows UTC
        return time_zone(DEFAULT_ZONE)


def _keep_zone(request: Request, response: Response) -> None:
    """Remember a zone chosen with ``tz`` (a valid one) in a cookie; ``tz=`` forgets it."""
    if ZONE_PARAMETER not in request.query_params:
        return
    asked = request.query_params[ZONE_PARAMETER]
    if not asked:
        response.delete_cookie(ZONE_COOKIE, path="/")
        return
    try:
        name = time_zone(asked).key
    except UnknownTimeZone:
        return
    secure = request.url.scheme == "https"
    response.set_cookie(
        ZONE_COOKIE, name, max_age=_ZONE_COOKIE_SECONDS, httponly=True, samesite="lax", secure=secure, path="/"
    )


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
    try:
        viewer_zone(request)
    except UnknownTimeZone as error:
        context = {"title": "Unknown time zone", "message": str(error)}
        return render(request, "error.html", context, user=user, status_code=422)
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
