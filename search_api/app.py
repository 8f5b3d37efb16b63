"""The FastAPI application: ``/api/v1`` routes over the archive and the embedded index."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from search_api import health, security_headers
from search_api.deps import AppServices
from search_api.query_ast import UnsupportedQuery
from search_api.query_parser import QuerySyntaxError
from search_api.routes import audit, cases, directory, events, exports, messages, policy, rooms, search

log = logging.getLogger("archivist.api")


def create_app(services: AppServices) -> FastAPI:
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
            {
                "name": "policies",
                "description": "Ethical walls, disclaimers and the directory; the real-time check for chat servers.",
            },
        ],
    )
    app.state.services = services
    health.install(app)  # /healthz, /readyz, /metrics and the request-latency middleware
    security_headers.install(app)  # CSP, no framing, nosniff, no referrer, HSTS over TLS: every response
    routers = (search, messages, rooms, audit, events, policy, directory, cases, exports)
    for router in (module.router for module in routers):
        app.include_router(router, prefix="/api/v1")
    from search_api import web  # the server-rendered pages (sign-in, search, audit, ...)

    web.install(app)

    @app.exception_handler(QuerySyntaxError)
    async def _bad_query(_request: Request, error: QuerySyntaxError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": {"message": error.message, "position": error.position, "query": error.query}},
        )

    @app.exception_handler(UnsupportedQuery)
    async def _unsupported(_request: Request, error: UnsupportedQuery) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": {"message": str(error)}})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        """Framework errors (404 for an unknown path, 405) in the same shape as ours."""
        detail = error.detail if isinstance(error.detail, dict) else {"message": str(error.detail)}
        return JSONResponse(status_code=error.status_code, content={"detail": detail}, headers=error.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        reference = uuid.uuid4().hex[:12]
        log.error("unexpected error %s", reference, exc_info=error)
        return JSONResponse(
            status_code=500,
            content={"detail": {"message": f"internal error; the server log has the details under {reference}"}},
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in detail['loc'] if p != 'body') or 'body'}: {detail['msg']}"
            for detail in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": {"message": "; ".join(problems)}})

    return app
