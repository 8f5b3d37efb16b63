"""A size limit on every request body, enforced as the body arrives.

A request whose ``Content-Length`` is over its route's limit is answered 413 without reading a
byte of it; a body streamed without one (chunked) is cut off as soon as it passes the limit,
with the same 413. The limit is ``ARCHIVIST_MAX_REQUEST_BYTES`` (10 MiB) everywhere, and
``ARCHIVIST_MAX_EVENT_BATCH_BYTES`` (64 MiB) for ``POST /api/v1/events``, whose batches of up
to 10,000 events need more, and ``ARCHIVIST_MAX_FILE_BYTES`` (1 GiB) for ``POST /api/v1/files``,
the bytes of one uploaded file (streamed to the file store, never held whole). The 413 is the
API's JSON error or the web's error page, by path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from fastapi import HTTPException
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIB = 1024 * 1024
DEFAULT_MAX_REQUEST_BYTES = 10 * MIB
DEFAULT_MAX_EVENT_BATCH_BYTES = 64 * MIB
DEFAULT_MAX_FILE_BYTES = 1024 * MIB
EVENTS_PATH = "/api/v1/events"
FILES_PATH = "/api/v1/files"


@dataclass(frozen=True)
class BodyLimits:
    default: int = DEFAULT_MAX_REQUEST_BYTES
    larger: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType(
            {EVENTS_PATH: DEFAULT_MAX_EVENT_BATCH_BYTES, FILES_PATH: DEFAULT_MAX_FILE_BYTES}
        )
    )
    """Exact paths with a limit of their own."""

    def limit_of(self, path: str) -> int:
        return self.larger.get(path.rstrip("/") or "/", self.default)


class TooLarge(HTTPException):
    """Raised from ``receive`` when the body passes the limit: the app's error handlers answer
    it (JSON or a page) like any other refusal."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status_code=413, detail={"message": f"the request body is larger than {limit} bytes, this route's limit"}
        )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.limit_of(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await self.app(scope, _refusing(limit), send)  # the route answers 413 at its first read
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge(limit)
            return message

        await self.app(scope, counted, send)


def _refusing(limit: int) -> Receive:
    async def receive() -> Message:
        raise TooLarge(limit)

    return receive


def _content_length(scope: Scope) -> int | None:
    try:
        return int(Headers(scope=scope).get("content-length", ""))
    except ValueError:
        return None
