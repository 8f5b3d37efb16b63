"""How every error is answered: the API (and the operational endpoints) in JSON,
``{"detail": {"message": ...}}``; the web pages with an HTML page in the site's layout saying
what went wrong, with the same status.

Input a handler did not foresee is still input: a date past year 9999 (``OverflowError``), a
model built from it in a handler (pydantic's ``ValidationError``) answer 422 with a message,
never a 500 traceback. Anything else is a 500 with a reference to the server log.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from search.query_ast import UnsupportedQuery
from search.query_parser import QuerySyntaxError

log = logging.getLogger("archivist.api")

JSON_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/redoc")
"""Paths answered in JSON; every other path is a web page (or its static files)."""

OUT_OF_RANGE = "a date or number in the request is out of the range the archive handles (years 1 to 9999)"

TITLES = {
    400: "Bad request",
    401: "Sign-in needed",
    403: "Not allowed",
    404: "Not found",
    405: "Not possible here",
    409: "Not possible now",
    413: "Too large",
    422: "Cannot show that",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Not available",
}


def is_api(path: str) -> bool:
    return path.startswith(JSON_PREFIXES)


def problems_text(errors: Any) -> str:
    """pydantic's errors as one line: ``where: what``; ...``."""
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc'] if part != 'body') or 'body'}: {error['msg']}"
        for error in errors
    )


async def answer(
    request: Request, status_code: int, detail: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """The error in the shape the path calls for: JSON for the API, a page for the web."""
    if is_api(request.url.path):
        return JSONResponse(status_code=status_code, content={"detail": detail}, headers=headers)
    return await _page(request, status_code, str(detail.get("message", "")), headers)


async def _page(request: Request, status_code: int, message: str, headers: dict[str, str] | None) -> Response:
    from search_api.web.core import render, signed_in  # the web layer sits above this module

    user = None
    if status_code < 500:  # after a server error, do not lean on the database for the navigation
        try:
            user = await signed_in(request)
        except Exception:
            log.warning("error page: cannot tell who is signed in", exc_info=True)
    title = TITLES.get(status_code, "Cannot do that" if status_code < 500 else "Something went wrong")
    page = render(request, "error.html", {"title": title, "message": message}, user=user, status_code=status_code)
    if headers:
        page.headers.update({k: v for k, v in headers.items() if k.lower() != "www-authenticate"})
    return page


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(QuerySyntaxError)
    async def _bad_query(request: Request, error: QuerySyntaxError) -> Response:
        return await answer(request, 422, {"message": error.message, "position": error.position, "query": error.query})

    @app.exception_handler(UnsupportedQuery)
    async def _unsupported(request: Request, error: UnsupportedQuery) -> Response:
        return await answer(request, 422, {"message": str(error)})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> Response:
        """Ours and the framework's (404 for an unknown path, 405) in one shape."""
        detail = error.detail if isinstance(error.detail, dict) else {"message": str(error.detail)}
        return await answer(request, error.status_code, detail, dict(error.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> Response:
        return await answer(request, 422, {"message": problems_text(error.errors())})

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, error: ValidationError) -> Response:
        return await answer(request, 422, {"message": problems_text(error.errors(include_input=False))})

    @app.exception_handler(OverflowError)
    async def _out_of_range(request: Request, error: OverflowError) -> Response:
        log.info("request out of range: %s %s: %s", request.method, request.url.path, error)
        return await answer(request, 422, {"message": OUT_OF_RANGE})

    @app.exception_handler(StatementError)
    async def _unstorable(request: Request, error: StatementError) -> Response:
        """A value the database layer cannot bind: out of range when it overflowed converting."""
        if isinstance(error.orig, OverflowError):
            return await _out_of_range(request, error.orig)
        if "NUL" in str(error.orig) or "\\u0000" in str(error.orig):
            # PostgreSQL refuses NUL characters in text and JSON (SQLite stores them). No
            # record is named with one: a NUL in the path (``/cases/a%00b``) names nothing (404);
            # one in a value sent cannot be kept (422).
            log.info("NUL refused by the database: %s %s", request.method, request.url.path)
            if "\x00" in request.url.path:
                return await answer(
                    request, 404, {"message": "not found: an identifier never contains a NUL character"}
                )
            return await answer(request, 422, {"message": "text cannot contain a NUL character (U+0000)"})
        return await _unexpected(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> Response:
        reference = uuid.uuid4().hex[:12]
        log.error("unexpected error %s", reference, exc_info=error)
        message = f"internal error; the server log has the details under {reference}"
        return await answer(request, 500, {"message": message})
