"""``/files``: producers hand over the bytes of uploaded files (``POST``, role ``ingest``);
readers download a native or its extracted text (``GET``, the roles that read messages),
every download audited."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from archive.principals import Principal
from search_api import file_services
from search_api.deps import Services, allowed
from search_api.errors import ERROR_RESPONSES, NOT_FOUND, described
from search_api.refusals import Refused

router = APIRouter(prefix="/files", tags=["ingest"], responses=ERROR_RESPONSES)


class FileReceived(BaseModel):
    sha256: str
    size: int
    created: bool = Field(description="false when the store already held these bytes (nothing was written)")
    pending_uploads: int = Field(description="archived file_upload events these bytes complete (were pending)")


class FileText(BaseModel):
    file_event_id: str
    name: str
    sha256: str = Field(description="the native's")
    state: str = Field(description="extracted, empty, unsupported or failed")
    reason: str | None
    extractor: str
    extractor_version: str
    text: str
    text_chars: int
    truncated: bool


def refused(error: Refused) -> HTTPException:
    detail = error.detail() if isinstance(error, file_services.ContentMismatch | file_services.NotReady) else None
    return HTTPException(status_code=error.status, detail=detail or {"message": error.message})


_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "",
    status_code=201,
    response_model=FileReceived,
    summary="Hand over the bytes of an uploaded file",
    openapi_extra=_RAW_BODY,
    responses={
        200: {"model": FileReceived, "description": "The store already held these bytes"},
        413: described("The file is larger than ARCHIVIST_MAX_FILE_BYTES"),
        503: described("The file store is unavailable"),
    },
)
async def put_file(
    request: Request,
    response: Response,
    services: Services,
    _caller: Annotated[Principal, Depends(allowed("ingest"))],
    sha256: Annotated[str, Query(max_length=200, description="The SHA-256 the file_upload event names (hex)")],
) -> FileReceived:
    """The body is the file's bytes, streamed to the file store (never held whole) and hashed on
    the way: bytes whose SHA-256 is not ``sha256`` are refused (422, both hashes named), and so
    is a body over the limit (413). They may come before or after their ``file_upload`` event;
    an archived upload waiting for them is complete once this answers. 201: stored now; 200:
    the store held them already."""
    try:
        expected = file_services.checked_sha256(sha256)
        declared = request.headers.get("content-length")
        received = await file_services.receive(
            services.engine,
            services.files(),
            request.stream().__aiter__(),
            sha256=expected,
            max_bytes=services.max_file_bytes,
            declared_length=int(declared) if declared and declared.isdigit() else None,
        )
    except Refused as error:
        raise refused(error) from None
    except ClientDisconnect:
        raise HTTPException(status_code=400, detail={"message": "the body ended before it was complete"}) from None
    response.status_code = 201 if received.created else 200
    return FileReceived(
        sha256=received.sha256, size=received.size, created=received.created, pending_uploads=received.pending_uploads
    )


@router.get(
    "/{file_event_id}",
    summary="Download an uploaded file (audited)",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes, as archived"},
        409: described(
            "The file's bytes have not arrived yet (pending), or the stored bytes no longer match the archived "
            "SHA-256 (altered: run archivist verify --files)"
        ),
        503: described("The file store cannot give the bytes"),
    },
)
async def get_file(
    file_event_id: str, services: Services, caller: Annotated[Principal, Depends(allowed("search"))]
) -> StreamingResponse:
    """The native of a ``file_upload`` (or ``file_download``) event, as an attachment; the
    download is in the audit log (``file_download``) before a byte is sent. The bytes are checked
    against the archived SHA-256: a small file that does not match is refused (409, ``altered``);
    a large one is hashed as it streams and its answer is cut off before its end (never complete)
    when it does not match. Either is audited as ``file_download_refused``."""
    try:
        found = await run_in_threadpool(
            file_services.download, services.engine, services.files(), caller, file_event_id
        )
    except Refused as error:
        raise refused(error) from None
    return StreamingResponse(found.chunks(), media_type="application/octet-stream", headers=found.headers())


@router.get(
    "/{file_event_id}/text",
    response_model=FileText,
    summary="The text extracted from an uploaded file (audited)",
    responses={
        **NOT_FOUND,
        409: described("Not extracted yet (detail.state says where it is), or the stored text was altered"),
    },
)
def get_file_text(
    file_event_id: str, services: Services, caller: Annotated[Principal, Depends(allowed("search"))]
) -> FileText:
    """The extracted text with how it was extracted (``state``: extracted, empty, unsupported or
    failed, with the ``reason``); audited as ``file_text``. A ``file_download`` event has no text
    of its own (404 naming the upload of the same bytes)."""
    try:
        found = file_services.extracted_text(services.engine, services.files(), caller, file_event_id)
    except Refused as error:
        raise refused(error) from None
    return FileText(**asdict(found))
