"""Dependencies shared by the routes: services, the calling principal, role checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from archive.audit import ChainStatus
from archive.file_store import FileStore
from archive.fs_file_store import FsFileStore
from archive.principals import Principal, authenticate
from ingest.sink import EventSink
from search.backends import SearchBackend, TantivySearchBackend
from search_api import read_audit
from search_api.api_auth import PRINCIPAL_STATE
from search_api.probes import Probes


@dataclass(frozen=True)
class AppServices:
    """What the routes use, built by the composition root (``archivist serve``) or by tests."""

    engine: Engine
    index_dir: Path
    sink: EventSink
    backend: SearchBackend | None = None
    """The configured backend (``archivist.wiring.search_backend``); None, as tests that need no
    other build it: the embedded Tantivy index at ``index_dir``."""
    audit_status: ChainStatus = field(default_factory=ChainStatus)
    """The audit chain's latest verification, shared by the requests of this process."""
    probes: Probes = field(default_factory=Probes)
    """The broker and Elasticsearch ``/readyz``, ``/metrics`` and the overview reach (none: embedded)."""
    file_store: FileStore | None = None
    """Where natives and extracted texts are kept (``archivist.wiring.file_store``); None, as
    tests that need no other build it: the filesystem store in ``files/`` beside ``index_dir``."""
    max_file_bytes: int = 1024 * 1024 * 1024
    """The largest file ``POST /api/v1/files`` accepts (``ARCHIVIST_MAX_FILE_BYTES``)."""
    public_base_url: str | None = None
    """Where readers open Archivist (``ARCHIVIST_PUBLIC_BASE_URL``): escalation notices carry the
    item's absolute address; None: only its path."""

    def __post_init__(self) -> None:
        if self.backend is None:  # made once, not per request
            object.__setattr__(self, "backend", TantivySearchBackend(self.index_dir))
        if self.file_store is None:
            object.__setattr__(self, "file_store", FsFileStore(self.index_dir.parent / "files"))
        if self.public_base_url is not None:
            object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/") or None)

    def search_backend(self) -> SearchBackend:
        assert self.backend is not None  # set in __post_init__
        return self.backend

    def files(self) -> FileStore:
        assert self.file_store is not None  # set in __post_init__
        return self.file_store


PERMISSIONS: dict[str, frozenset[str]] = {
    "search": frozenset({"compliance_officer", "legal", "admin"}),
    "audit": frozenset({"auditor", "admin"}),
    "ingest": frozenset({"ingest", "admin"}),
    "policy_read": frozenset({"security_admin", "auditor", "admin"}),
    "policy_write": frozenset({"security_admin", "admin"}),
    "policy_check": frozenset({"ingest", "security_admin", "admin"}),
    "export": frozenset({"legal", "compliance_officer", "admin"}),
    "cases_read": frozenset({"legal", "compliance_officer", "auditor", "admin"}),
    "cases_write": frozenset({"legal", "compliance_officer", "admin"}),
    "retention_read": frozenset({"legal", "compliance_officer", "auditor", "admin"}),
    "retention_write": frozenset({"legal", "admin"}),
    "redact": frozenset({"legal", "admin"}),
    # Review is legal's work; a compliance officer may read a review (sets, documents, coding,
    # history, batches) but not code; an auditor reads its audit entries in the audit log.
    "review_read": frozenset({"legal", "compliance_officer", "admin"}),
    "review_write": frozenset({"legal", "admin"}),
    # Supervision (issue 22, docs/supervision.md): a supervisor reviews the items of the queues;
    # a compliance officer also writes the policies (the written procedures) and backtests them;
    # an auditor reads the report and every item's history (the evidence of review), never the
    # messages themselves.
    "supervision_read": frozenset({"supervisor", "compliance_officer", "admin"}),
    "supervision_review": frozenset({"supervisor", "compliance_officer", "admin"}),
    "supervision_policy": frozenset({"compliance_officer", "admin"}),
    "supervision_report": frozenset({"supervisor", "compliance_officer", "auditor", "admin"}),
}
"""Which roles may use which part of the API (the README's permission table)."""

_bearer = HTTPBearer(auto_error=False, description="An API token from `archivist token create`.")


# Dependencies that do no I/O are ``async def`` so FastAPI runs them on the event loop instead
# of handing each one to the thread pool (a thread hop costs more than their whole work).
async def services(request: Request) -> AppServices:
    return services_of(request)


def services_of(request: Request) -> AppServices:
    found: AppServices = request.app.state.services
    return found


Services = Annotated[AppServices, Depends(services)]


async def principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller :class:`~search_api.api_auth.TokenFirstMiddleware` authenticated before the
    body was read (looked up here, in the thread pool, only for an app without it)."""
    checked: Principal | None = getattr(request.state, PRINCIPAL_STATE, None)
    if checked is not None:
        return checked
    if credentials is None:
        raise HTTPException(
            status_code=401,
            detail={"message": "an API token is required: Authorization: Bearer <token>"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    found = await run_in_threadpool(authenticate, services_of(request).engine, credentials.credentials)
    if found is None:
        raise HTTPException(
            status_code=401,
            detail={"message": "the API token is unknown or revoked"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    read_audit.identify(found)
    return found


def allowed(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits only the roles holding ``permission``."""
    roles = PERMISSIONS[permission]

    async def check(caller: Annotated[Principal, Depends(principal)]) -> Principal:
        if caller.role not in roles:
            raise HTTPException(
                status_code=403,
                detail={
                    "message": f"the role {caller.role} may not use {permission}; allowed: {', '.join(sorted(roles))}"
                },
            )
        return caller

    return check
