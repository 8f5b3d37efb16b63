"""The policy store and the live rule snapshot of one API process, made on first use."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel
from sqlalchemy import Engine

from archive import audit
from archive.principals import Principal
from ingest.group_commit import GroupCommit
from ingest.sink import EventSink
from policies.service import GroupCommitSink, SnapshotHolder
from policies.store import PolicyStore
from search_api.deps import AppServices, Services

_creating = threading.Lock()


@dataclass(frozen=True)
class PolicyServices:
    store: PolicyStore
    snapshots: SnapshotHolder
    records: GroupCommitSink
    """Where checks record their decisions and disclaimers (the app's sink, commits grouped)."""
    audits: GroupCommit[audit.AuditEntry]
    """Where checks append their audit entries (commits grouped, like the records)."""


def policy_services_of(request: Request, engine: Engine, sink: EventSink) -> PolicyServices:
    """One per application: every request of the process shares the snapshot."""
    state = request.app.state
    found: PolicyServices | None = getattr(state, "policy_services", None)
    if found is None:
        with _creating:
            found = getattr(state, "policy_services", None)
            if found is None:
                store = PolicyStore(engine)
                found = PolicyServices(
                    store,
                    SnapshotHolder(store),
                    GroupCommitSink(sink),
                    GroupCommit(partial(audit.record_entries, engine), name="policy-audit"),
                )
                state.policy_services = found
    return found


def _policies(request: Request, services: Services) -> PolicyServices:
    return policy_services_of(request, services.engine, services.sink)


Policies = Annotated[PolicyServices, Depends(_policies)]


def record_change(
    services: AppServices,
    policies: PolicyServices,
    caller: Principal,
    action: str,
    before: BaseModel | None,
    after: BaseModel | None,
) -> None:
    """Every change to the rules is audited with them before and after, and the next check
    in this process sees it (other processes within the snapshot's ``max_age``)."""
    audit.record(
        services.engine,
        caller,
        action,
        {
            "before": before.model_dump(mode="json") if before else None,
            "after": after.model_dump(mode="json") if after else None,
        },
    )
    policies.snapshots.refresh()
