"""The floor under the search API's latency: a bare FastAPI route that does what every search
must do and nothing else, served as ``archivist serve`` serves the API.

    python -m bench.search_floor --port 8001

``POST /api/v1/search`` checks the bearer token (:func:`archive.principals.authenticate`, the
API's own check) and appends the durable, hash-chained audit entry a search leaves
(:func:`archive.audit.record`, same action and details), then answers a fixed empty page: no
query parsing, no index, no middleware, no validation models. Same settings, database and
uvicorn options as ``archivist serve``, so ``bench/search.py`` can subtract it.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive import audit
from archive.principals import authenticate
from archivist import wiring
from archivist.cli.workers import proxy_options
from archivist.logs import configure_logging
from archivist.settings import Settings

_EMPTY = b'{"total":0,"hits":[],"facets":{},"next_cursor":null}'


def floor_app(engine: Engine) -> FastAPI:
    """The bare application over ``engine``."""
    app = FastAPI()

    @app.post("/api/v1/search")
    async def search(request: Request) -> Response:
        body = await request.body()
        answered = await run_in_threadpool(_search, engine, request.headers.get("authorization", ""), body)
        return Response(_EMPTY, media_type="application/json") if answered else Response(status_code=401)

    return app


def _search(engine: Engine, authorization: str, body: bytes) -> bool:
    """The token check and the audit entry, in one trip to the thread pool."""
    scheme, _, token = authorization.partition(" ")
    caller = authenticate(engine, token.strip()) if scheme.lower() == "bearer" else None
    if caller is None:
        return False
    asked: dict[str, Any] = json.loads(body)
    details = {"query": asked["query"], "sort": asked.get("sort", "time"), "hits": 0, "page_after": asked.get("cursor")}
    audit.record(engine, caller, "search", details)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    settings = Settings()
    configure_logging(logging.WARNING, settings.log_format)  # as every archivist command does
    uvicorn.run(
        floor_app(wiring.staging_store(settings).engine),
        host=args.host,
        port=args.port,
        log_level="info",
        log_config=None,
        **proxy_options(settings),
    )


if __name__ == "__main__":
    main()
