"""Every read and every refusal is audited: one entry per request, written before the answer.

docs/security.md promises that every view and listing is in the audit log. Handlers that know
what a read showed record it themselves with :func:`record` (``view_message``,
``view_timeline``, ...). For every other request of a known caller, :class:`ReadAuditMiddleware`
writes the entry when the answer starts, before a byte of it leaves:

- ``view`` for a ``GET`` or ``HEAD`` whatever its status (a listing, a page, a 404 on an id, an
  export's progress), with the route, path, query and status;
- ``refused`` for any request answered 403 (a role without the permission, a forged form).

The caller is known once authenticated: :func:`identify` is called by the API's token check and
the web's session check. Requests without one (no token, sign-in, static files, health) are
not audited: anyone could fill the log with them. If the entry cannot be written, the read is
not answered (500): a view the log does not hold must not happen.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from archive import audit
from archive.principals import Principal
from search_api.health import route_template

READS = frozenset({"GET", "HEAD"})


@dataclass
class _Request:
    """This request's caller, and whether its audit entry is written."""

    principal: Principal | None = None
    recorded: bool = False


# A mutable holder per request: handlers run in worker threads on a copy of the context, and
# a copy still holds the same object.
_current: ContextVar[_Request | None] = ContextVar("archivist_read_audit", default=None)


def identify(principal: Principal) -> None:
    """This request is made by ``principal`` (an authenticated token or session)."""
    current = _current.get()
    if current is not None:
        current.principal = principal


def record(engine: Engine, principal: Principal, action: str, details: dict[str, Any]) -> audit.AuditEntry:
    """Audit this request's read with what it showed (instead of the middleware's ``view``)."""
    entry = audit.record(engine, principal, action, details)
    audited()
    return entry


def audited() -> None:
    """This request's audit entry is written (by a handler that audits on its own, such as the
    search handler a page runs)."""
    current = _current.get()
    if current is not None:
        current.recorded = True


def fallback_action(method: str, status: int) -> str | None:
    """The entry the middleware writes for an unaudited request: None when it writes none."""
    if status == 403:
        return "refused"
    if method in READS:
        return "view"
    return None


class ReadAuditMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = _Request()
        reset = _current.set(current)

        async def send_audited(message: Message) -> None:
            if message["type"] == "http.response.start" and current.principal is not None and not current.recorded:
                action = fallback_action(scope["method"], message["status"])
                if action is not None:
                    details = _details(scope, message["status"])
                    await run_in_threadpool(audit.record, _engine(scope), current.principal, action, details)
                    current.recorded = True
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        finally:
            _current.reset(reset)


def _engine(scope: Scope) -> Engine:
    engine: Engine = scope["app"].state.services.engine
    return engine


def _details(scope: Scope, status: int) -> dict[str, Any]:
    return {
        "method": scope["method"],
        "route": route_template(scope),
        "path": scope["path"],
        "query": unquote_plus(scope.get("query_string", b"").decode("latin-1")),
        "status": status,
    }
