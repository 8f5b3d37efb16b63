"""The server-rendered web pages (jinja2, no JavaScript build): sign-in, search, conversations,
cases, retention, policies, the audit log and the overview, for the same roles as the API."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from search_api.web import (
    audit_page,
    auth,
    case_changes,
    case_holds,
    cases_page,
    conversation_page,
    files_page,
    near_duplicates_page,
    overview_page,
    policies_page,
    redaction_page,
    retention_page,
    review_pages,
    review_screen,
    search_page,
    supervision_policy_pages,
    supervision_queue_page,
)
from search_api.web.core import HERE
from search_api.web.session import SessionStore


def install(app: FastAPI, session_secret: bytes | None = None) -> None:
    """Add the pages and their static files to ``app`` (sessions live in this process)."""
    app.state.web_sessions = SessionStore(session_secret)
    pages = (auth, overview_page, search_page, conversation_page, cases_page, case_changes, case_holds)
    for module in (
        *pages,
        retention_page,
        policies_page,
        audit_page,
        files_page,
        redaction_page,
        review_pages,
        review_screen,
        supervision_queue_page,
    ):
        app.include_router(module.router)
    app.include_router(near_duplicates_page.router)
    app.include_router(supervision_policy_pages.router)
    app.mount("/static/web", StaticFiles(directory=HERE / "static"), name="web-static")
    app.add_api_route("/favicon.ico", favicon, methods=["GET", "HEAD"], include_in_schema=False)


async def favicon() -> FileResponse:
    """The icon the pages link, for clients that ask for ``/favicon.ico`` without reading a page."""
    return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml")
