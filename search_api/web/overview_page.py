"""``/``: pipeline health (staging, parked events, per-adapter lag, last delivery) and archive size."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Engine, func, select
from starlette.concurrency import run_in_threadpool

from adapters.archive import archived_count
from ingest.staging import StagingStore, staged_deliveries
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()


def figures(engine: Engine) -> dict[str, Any]:
    """What ``archivist status`` reads from staging, plus each adapter's deliveries of staged rows."""
    counts = StagingStore(engine).counts()
    with engine.connect() as connection:
        rows = connection.execute(
            select(staged_deliveries.c.adapter, func.count(), func.max(staged_deliveries.c.delivered_at)).group_by(
                staged_deliveries.c.adapter
            )
        ).all()
    adapters: list[dict[str, Any]] = []
    for adapter, delivered, last in rows:
        last_at: datetime | None = last
        adapters.append({"name": adapter, "lag": max(counts.staged - int(delivered), 0), "last": last_at})
    return {
        "staged": counts.staged,
        "parked": counts.parked,
        "archived": archived_count(engine),
        "adapters": sorted(adapters, key=lambda item: item["name"]),
    }


@router.get("/", include_in_schema=False)
async def overview_page(request: Request) -> Response:
    user = await gate(request, None)
    if not isinstance(user, WebUser):
        return user
    view = await run_in_threadpool(figures, services(request).engine)
    return render(request, "overview.html", {"title": "Overview", **view}, user=user)
