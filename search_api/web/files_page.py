"""``/files/{file_event_id}``: an uploaded file downloaded through the session, and
``/files/{file_event_id}/text`` the text extracted from it, both audited like the API's
(:mod:`search_api.file_services`). The conversation view and the search hits link here."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from search_api import file_services
from search_api.refusals import Refused
from search_api.web.core import WebUser, gate, render, services

router = APIRouter()

_TITLES = {404: "Not found", 409: "Not available yet", 503: "File store unavailable"}


def _refused(request: Request, user: WebUser, error: Refused) -> Response:
    title = _TITLES.get(error.status, "Cannot show that file")
    if isinstance(error, file_services.NotReady) and error.state == "altered":
        title = "File does not match the archive"
    context = {"title": title, "message": error.message}
    return render(request, "error.html", context, user=user, status_code=error.status)


@router.get("/files/{file_event_id}", include_in_schema=False)
async def file_download(request: Request, file_event_id: str) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    found = services(request)
    try:
        download = await run_in_threadpool(
            file_services.download, found.engine, found.files(), user.principal, file_event_id
        )
    except Refused as error:
        return _refused(request, user, error)
    return StreamingResponse(download.chunks(), media_type="application/octet-stream", headers=download.headers())


@router.get("/files/{file_event_id}/text", include_in_schema=False)
async def file_text(request: Request, file_event_id: str) -> Response:
    user = await gate(request, "search")
    if not isinstance(user, WebUser):
        return user
    found = services(request)
    try:
        text = await run_in_threadpool(
            file_services.extracted_text, found.engine, found.files(), user.principal, file_event_id
        )
    except Refused as error:
        return _refused(request, user, error)
    return render(request, "file_text.html", {"title": f"Text of {text.name}", "file": text}, user=user)
