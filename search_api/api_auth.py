"""The API's token check, made from the headers before any of the body is read.

FastAPI reads and parses a request's body before it runs the route's dependencies, so a token
checked there comes after the body: a 100 MB body without a token was read (then 401), and
malformed JSON without one was a 422. This middleware answers every ``/api/`` request without
a valid ``Authorization: Bearer`` token 401 from the headers alone; the route's dependency then
takes the principal found here (:data:`PRINCIPAL_STATE`) instead of looking it up again.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from archive.principals import Principal, authenticate
from search_api import read_audit

API_PREFIX = "/api/"
PRINCIPAL_STATE = "api_principal"
"""``request.state.api_principal``: who the token stands for."""
MISSING = "an API token is required: Authorization: Bearer <token>"
UNKNOWN = "the API token is unknown or revoked"


def bearer_token(headers: Headers) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme in any case)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def unauthorized(message: str) -> JSONResponse:
    return JSONResponse(
        status_code=401, content={"detail": {"message": message}}, headers={"WWW-Authenticate": "Bearer"}
    )


class TokenFirstMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        token = bearer_token(Headers(scope=scope))
        if token is None:
            await unauthorized(MISSING)(scope, receive, send)
            return
        found: Principal | None = await run_in_threadpool(authenticate, scope["app"].state.services.engine, token)
        if found is None:
            await unauthorized(UNKNOWN)(scope, receive, send)
            return
        scope.setdefault("state", {})[PRINCIPAL_STATE] = found
        read_audit.identify(found)
        await self.app(scope, receive, send)
