"""Operational endpoints: ``/healthz`` (process up), ``/readyz`` (dependencies reachable), ``/metrics``.

None of them needs a token: orchestrators and Prometheus call them. So none of them says more
than it must: ``/readyz`` names each check and the class of a failure, never its message
(which could carry a host name or a URL); the full error goes to the server log.

Where the targets come from: the database is the engine the routes use (``AppServices``); the
broker and Elasticsearch are its :class:`~search_api.probes.Probes`, built from the settings
``archivist serve`` was started with, so the probe tests exactly what the process uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, SecretStr
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingest.staging import StagingStore
from search_api.probes import BrokerTarget, Probes

log = logging.getLogger("archivist.api.health")

CHECK_TIMEOUT = 2.0
"""Seconds a single dependency check may take (connect timeouts are set below this)."""
DEADLINE = 2.5
"""Seconds ``/readyz`` and the pipeline gauges of ``/metrics`` wait for all checks together."""

REQUEST_SECONDS = Histogram(
    "archivist_api_request_seconds",
    "Time to answer an API request (to the last byte), by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SEARCH_SECONDS = Histogram(
    "archivist_search_seconds",
    "Time to answer a search request (POST /api/v1/search), by status.",
    ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SEARCH_ROUTES = frozenset({("POST", "/api/v1/search")})
UNMATCHED = "unmatched"
"""The route label of requests no route matched (404s), so scanners cannot inflate the label set."""

# Checks that hang (a black-holed database host) keep their thread until their own timeout;
# a small shared pool bounds how many can pile up, and a full pool only makes later probes
# time out, which is the right answer for a process whose dependencies hang.
_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="archivist-health")

router = APIRouter(tags=["operations"])


class Check(BaseModel):
    status: str
    """``ok``, ``fail`` or ``timeout``."""
    error: str | None = None
    """The class of the failure (its message is only in the server log)."""
    seconds: float | None = None


class Readiness(BaseModel):
    status: str
    checks: dict[str, Check]


@router.get("/healthz", summary="The process is up (no I/O)")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The database, the broker and Elasticsearch (those configured) are reachable",
    responses={503: {"model": Readiness, "description": "A dependency is unreachable."}},
)
def readyz(request: Request) -> JSONResponse:
    services = request.app.state.services
    checks = run_checks(readiness_checks(services.engine, services.probes))
    ready = all(check.status == "ok" for check in checks.values())
    body = Readiness(status="ok" if ready else "fail", checks=checks)
    return JSONResponse(status_code=200 if ready else 503, content=body.model_dump(exclude_none=True))


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """This process's counters and histograms, plus pipeline gauges read at scrape time."""
    services = request.app.state.services
    pipeline = CollectorRegistry(auto_describe=False)
    pipeline.register(PipelineCollector(services.engine, services.probes.broker))
    body = generate_latest(REGISTRY) + generate_latest(pipeline)
    return Response(content=body, media_type="text/plain; version=0.0.4; charset=utf-8")


def install(app: FastAPI) -> None:
    """Add the operational routes (no prefix, no token) and the request-latency middleware."""
    app.include_router(router)
    app.add_middleware(LatencyMiddleware)


# --- checks -------------------------------------------------------------------------------


def readiness_checks(engine: Engine, probes: Probes) -> dict[str, Callable[[], object]]:
    checks: dict[str, Callable[[], object]] = {"database": lambda: check_database(engine)}
    broker, elasticsearch = probes.broker, probes.elasticsearch
    if broker is not None:
        checks["broker"] = lambda: check_broker(broker.url, broker.ssl)
    if elasticsearch is not None:
        checks["elasticsearch"] = lambda: check_elasticsearch(elasticsearch.url, elasticsearch.options)
    if (opensearch := probes.opensearch) is not None:
        checks["opensearch"] = lambda: check_opensearch(opensearch.url, opensearch.ca_certs)
    return checks


def check_database(engine: Engine) -> None:
    """``SELECT 1`` on a raw DBAPI connection: no SQLAlchemy transaction, so on SQLite no
    ``BEGIN IMMEDIATE`` waiting behind a processor's write lock."""
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()
    finally:
        connection.close()


def _clear(url: str | SecretStr) -> str:
    return url.get_secret_value() if isinstance(url, SecretStr) else url


def check_broker(url: str | SecretStr, ssl: Mapping[str, Any] | None = None) -> None:
    from kombu import Connection

    with Connection(_clear(url), ssl=ssl, connect_timeout=CHECK_TIMEOUT) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)


def check_elasticsearch(url: str | SecretStr, options: Mapping[str, Any] | None = None) -> None:
    """The server answers, as Elasticsearch of the installed client's major (else the check's
    error is e.g. ``ClientVersionMismatch``; the versions are in the server log)."""
    from elasticsearch import Elasticsearch

    from search.es_version import require_matching_client

    client = Elasticsearch(
        _clear(url), request_timeout=CHECK_TIMEOUT, max_retries=0, retry_on_timeout=False, **(options or {})
    )
    try:
        require_matching_client(client, CHECK_TIMEOUT)
    finally:
        client.close()


def check_opensearch(url: str | SecretStr, ca_certs: str | None = None) -> None:
    from search.opensearch_client import node_urls, opensearch_client

    # Each listed node once: with one node of several down the cluster still serves, so the
    # request moves on to the next node instead of failing readiness.
    nodes = node_urls(_clear(url))
    client = opensearch_client(_clear(url), ca_certs=ca_certs, timeout=CHECK_TIMEOUT, max_retries=len(nodes) - 1)
    try:
        client.info()
    finally:
        client.close()


def run_checks(checks: dict[str, Callable[[], object]], deadline: float = DEADLINE) -> dict[str, Check]:
    """Run every check at once; whatever has not finished by ``deadline`` is a ``timeout``."""
    started = time.monotonic()
    futures: dict[str, Future[float]] = {name: _pool.submit(_timed, check) for name, check in checks.items()}
    results: dict[str, Check] = {}
    for name, future in futures.items():
        remaining = max(0.0, deadline - (time.monotonic() - started))
        try:
            results[name] = Check(status="ok", seconds=round(future.result(timeout=remaining), 4))
        except FutureTimeout:
            log.warning("readiness: %s did not answer within %.1f s", name, deadline)
            results[name] = Check(status="timeout", error="timeout")
        except Exception as error:
            log.warning("readiness: %s failed: %s", name, error, exc_info=error)
            results[name] = Check(status="fail", error=type(error).__name__)
    return results


def _timed(check: Callable[[], object]) -> float:
    started = time.monotonic()
    check()
    return time.monotonic() - started


# --- pipeline gauges ----------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineFigures:
    staged: int | None
    parked: int | None
    queue_depth: int | None
    dead_letters: int | None


def staging_counts(engine: Engine) -> tuple[int, int]:
    """(staged, parked), on a raw connection like ``check_database``."""
    counts = StagingStore(engine).counts_without_transaction()
    return counts.staged, counts.parked


def broker_depths(broker: BrokerTarget) -> tuple[int, int]:
    """Messages ready in the events queue and the dead-letter queue (0 for one not declared)."""
    from kombu import Connection

    from ingest.topology import queue_depth

    depths: list[int] = []
    with Connection(_clear(broker.url), ssl=broker.ssl, connect_timeout=CHECK_TIMEOUT) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, timeout=CHECK_TIMEOUT)
        for name in (broker.queue, broker.dead_letter_queue):
            channel = connection.channel()
            try:
                depths.append(queue_depth(channel, name))
            except connection.channel_errors:
                depths.append(0)  # a passive declare of a missing queue closes the channel
    return depths[0], depths[1]


def pipeline_figures(engine: Engine, broker: BrokerTarget | None, deadline: float = DEADLINE) -> PipelineFigures:
    """Staged, parked and queue figures; ``None`` for any that could not be read in time (and
    the queue figures when no broker is configured)."""
    started = time.monotonic()
    counts: Future[tuple[int, int]] = _pool.submit(staging_counts, engine)
    depths: Future[tuple[int, int]] | None = None
    if broker is not None:
        depths = _pool.submit(broker_depths, broker)
    staged = parked = queue = dead = None
    for future, what in ((counts, "staging"), (depths, "broker")):
        if future is None:
            continue
        try:
            first, second = future.result(timeout=max(0.0, deadline - (time.monotonic() - started)))
        except Exception as error:
            log.warning("metrics: cannot read the %s figures: %r", what, error)
            continue
        if what == "staging":
            staged, parked = first, second
        else:
            queue, dead = first, second
    return PipelineFigures(staged=staged, parked=parked, queue_depth=queue, dead_letters=dead)


class PipelineCollector(Collector):
    """Gauges of the whole pipeline, read from the database and the broker when scraped.

    Every API replica reports the same figures; aggregate them with ``max``, not ``sum``.
    """

    def __init__(self, engine: Engine, broker: BrokerTarget | None) -> None:
        self.engine = engine
        self.broker = broker

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = pipeline_figures(self.engine, self.broker)
        staging = GaugeMetricFamily(
            "archivist_staging_events", "Events in staging now, by state (staged: awaiting delivery).", labels=["state"]
        )
        if figures.staged is not None and figures.parked is not None:
            staging.add_metric(["staged"], figures.staged)
            staging.add_metric(["parked"], figures.parked)
        yield staging
        queue = GaugeMetricFamily(
            "archivist_queue_messages", "Messages ready in the RabbitMQ queues, by queue.", labels=["queue"]
        )
        if figures.queue_depth is not None and figures.dead_letters is not None:
            queue.add_metric(["events"], figures.queue_depth)
            queue.add_metric(["dead_letter"], figures.dead_letters)
        yield queue
        up = GaugeMetricFamily(
            "archivist_pipeline_figures_up", "1 when the figure source could be read at this scrape.", labels=["source"]
        )
        up.add_metric(["staging"], 0 if figures.staged is None else 1)
        up.add_metric(["broker"], 0 if figures.queue_depth is None else 1)
        yield up


# --- middleware ---------------------------------------------------------------------------


class LatencyMiddleware:
    """Observes every request's latency by route template (never the raw path), and search
    requests separately; a pure ASGI middleware so streamed responses are timed to the end."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            elapsed = time.perf_counter() - started
            method = str(scope.get("method", ""))
            route = route_template(scope)
            REQUEST_SECONDS.labels(method, route, str(status)).observe(elapsed)
            if (method, route) in SEARCH_ROUTES:
                SEARCH_SECONDS.labels(str(status)).observe(elapsed)


def route_template(scope: Scope) -> str:
    """The matched route's template with the prefixes it was included under.

    Newer FastAPI keeps included routers nested, so the route in the scope knows only its own
    router's part (``/search``); the included prefix (``/api/v1``) is the same number of
    leading segments of the request path (prefixes are literal), so it is taken from there.
    """
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None)
    if not isinstance(template, str):
        return UNMATCHED
    path = str(scope.get("path", ""))
    segments = path.strip("/").split("/")
    own = len(template.strip("/").split("/")) if template.strip("/") else 0
    if own > len(segments):
        return template
    prefix = "/".join(segments[: len(segments) - own])
    return (f"/{prefix}" if prefix else "") + template
