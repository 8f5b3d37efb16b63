"""``/``: pipeline health (staging, parked events, per-adapter lag, the broker's queue, the last
batch archived), archive size, and the latest wall alerts and blocks."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive import queries as archive_queries
from archive.record import archived_count
from ingest.staging import StagingStore
from search_api import health
from search_api.probes import BrokerTarget
from search_api.web.core import WebUser, gate, render, services
from search_api.web.policies_page import recent_decisions

log = logging.getLogger("archivist.web.overview")
router = APIRouter()

BROKER_DEADLINE = health.DEADLINE
"""Seconds the page waits for the broker's queue figures before it says it is unreachable."""
ALERT_LOOK_BACK = 200
"""Alerts and blocks are picked from this many of the latest archived decisions."""
ALERTS_SHOWN = 10
ALERT_MODES = ("alert", "block")
# A broker that hangs keeps its probe thread until the connect timeout; two threads bound that.
_broker_probe = ThreadPoolExecutor(max_workers=2, thread_name_prefix="archivist-overview-broker")


@dataclass(frozen=True)
class QueueFigures:
    """``embedded``: no broker configured; ``ok``: read now; ``unreachable``: no answer in time."""

    state: Literal["embedded", "ok", "unreachable"]
    events: int | None = None
    dead_letters: int | None = None


def figures(engine: Engine) -> dict[str, Any]:
    """What ``archivist status`` reads from staging, plus each adapter's deliveries of staged rows
    and the last batch the archive took."""
    store = StagingStore(engine)
    counts = store.counts()
    adapters = [
        {"name": found.adapter, "lag": max(counts.staged - found.delivered, 0), "last": found.last_at}
        for found in store.deliveries()
    ]
    return {
        "staged": counts.staged,
        "parked": counts.parked,
        "archived": archived_count(engine),
        "adapters": adapters,
        "last_batch": archive_queries.last_batch(engine),
    }


def queue_figures(broker: BrokerTarget | None, deadline: float = BROKER_DEADLINE) -> QueueFigures:
    """The events and dead-letter queues' depths as ``/metrics`` reads them (passive declares),
    within ``deadline`` seconds."""
    if broker is None:
        return QueueFigures("embedded")
    probe = _broker_probe.submit(health.broker_depths, broker)
    try:
        events, dead = probe.result(timeout=deadline)
    except Exception as error:  # a timeout, a refused connection, an authentication failure
        log.warning("overview: cannot read the broker's queues: %r", error)
        return QueueFigures("unreachable")
    return QueueFigures("ok", events, dead)


def alerts(engine: Engine) -> list[dict[str, Any]]:
    """The latest wall alerts and blocks among the latest archived decisions (log mode left out)."""
    found = [decision for decision in recent_decisions(engine, ALERT_LOOK_BACK) if decision["mode"] in ALERT_MODES]
    return found[:ALERTS_SHOWN]


@router.get("/", include_in_schema=False)
async def overview_page(request: Request) -> Response:
    user = await gate(request, None)
    if not isinstance(user, WebUser):
        return user
    app = services(request)
    engine = app.engine
    view, queue, recent = await asyncio.gather(
        run_in_threadpool(figures, engine),
        run_in_threadpool(queue_figures, app.probes.broker),
        _alerts_for(user, engine),
    )
    context = {
        "title": "Overview",
        "queue": queue,
        "broker_deadline": BROKER_DEADLINE,
        "alerts": recent,
        "alert_look_back": ALERT_LOOK_BACK,
        "may_search": user.may("search"),
        **view,
    }
    return render(request, "overview.html", context, user=user)


async def _alerts_for(user: WebUser, engine: Engine) -> list[dict[str, Any]] | None:
    """Decisions are for roles that may read policies (None: not shown to this user)."""
    if not user.may("policy_read"):
        return None
    return await run_in_threadpool(alerts, engine)
