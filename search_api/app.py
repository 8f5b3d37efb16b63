"""The FastAPI application: ``/api/v1`` routes over the archive and the embedded index."""

from __future__ import annotations

from fastapi import FastAPI

from search_api import error_pages, health, security_headers
from search_api.api_auth import TokenFirstMiddleware
from search_api.deps import AppServices
from search_api.read_audit import ReadAuditMiddleware
from search_api.request_limits import BodyLimitMiddleware, BodyLimits
from search_api.routes import (
    audit,
    cases,
    directory,
    events,
    exports,
    files,
    messages,
    near_duplicates,
    policy,
    redactions,
    review,
    rooms,
    search,
    supervision_items,
    supervision_policies,
)


def create_app(services: AppServices, limits: BodyLimits | None = None) -> FastAPI:
    """The application; ``limits``: request body sizes (the settings' defaults when None)."""
    app = FastAPI(
        title="Archivist",
        version="0.1.0",
        summary="Compliance archiving and e-discovery for group chat.",
        openapi_tags=[
            {"name": "search", "description": "E-discovery search over the archive."},
            {"name": "audit", "description": "The hash-chained audit log."},
            {"name": "ingest", "description": "Events from chat servers that cannot speak AMQP."},
            {"name": "cases", "description": "Cases, legal holds and retention."},
            {"name": "exports", "description": "Export jobs: every hit of a query as a sealed zip."},
            {"name": "review", "description": "Review sets, coding, batches, redactions, privilege logs."},
            {
                "name": "policies",
                "description": "Ethical walls, disclaimers and the directory; the real-time check for chat servers.",
            },
            {
                "name": "supervision",
                "description": "Supervision policies and their backtest, the review queues, the report.",
            },
        ],
    )
    app.state.services = services
    # Added innermost first: the audit context, then the token check before any body is read,
    # then the body's size limit as it is read.
    app.add_middleware(BodyLimitMiddleware, limits=limits or BodyLimits())
    app.add_middleware(TokenFirstMiddleware)
    app.add_middleware(ReadAuditMiddleware)
    health.install(app)  # /healthz, /readyz, /metrics and the request-latency middleware
    security_headers.install(app)  # CSP, no framing, nosniff, no referrer, HSTS over TLS: every response
    routers = (
        search,
        messages,
        rooms,
        audit,
        events,
        files,
        policy,
        directory,
        cases,
        exports,
        review,
        redactions,
        near_duplicates,
        supervision_policies,
        supervision_items,
    )
    for router in (module.router for module in routers):
        app.include_router(router, prefix="/api/v1")
    app.include_router(exports.productions, prefix="/api/v1")  # a case's production log, a search's export
    from search_api import web  # the server-rendered pages (sign-in, search, audit, ...)

    web.install(app)

    error_pages.install(app)  # JSON for the API, HTML pages for the web, never a traceback
    return app
