"""Retention: dispose of archived events whose retention period has ended and that no legal
hold preserves.

Which policy governs an event: the policy of its room; else the policies of the directory
groups its sender belongs to (transitively; when several apply, the longest period wins and
"forever" beats any period); else the default policy. Without any policy that applies,
nothing is disposed (FINRA 4511's six years are the operator's default to set, not ours to
guess). ``keep_days`` None keeps forever.

Disposition runs in chunks, each one archive transaction: tombstones and the disposition log
(:func:`adapters.archive.dispose_events`), the derived rows of the disposed events, and the
deletion from every adapter that supports it (called before the commit, so a failed deletion
rolls the chunk back and the next run retries it; deletions are idempotent). A run that stops
half way is resumed by running again: disposed events are skipped. Membership intervals are
kept (they carry no content, and custodian holds on later events depend on them); the rooms
table is kept.

Retention fails closed on tamper: before judging anything, the archive's chain, the case
ledger and the membership intervals custodian holds read are verified in full, after the
policies and holds the run will use were read, so a room moved, a time changed, a hold
released or an interval deleted by a direct UPDATE stops the run with nothing disposed
(:class:`RetentionRefused`, logged and audited). Each chunk checks again, in its own
transaction, the rows it is about to dispose of against their chained payloads, for what
changes while the run goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine

from adapters.base import SupportsDelete
from archive.audit import record
from archive.derived import forget_disposed
from archive.membership_check import verify_memberships
from archive.principals import Principal
from archive.record import (
    Disposal,
    check_before_disposal,
    dispose_events,
    payloads_of,
    undisposed_after,
    verify_archive,
)
from cases.holds import ArchivedEvent, HoldMatcher, HoldUnavailable, Resolve, hold_matcher, message_id_of
from cases.ledger import verify_ledger
from cases.model import RetentionPolicy, RetentionRun
from cases.store import CaseStore, RetentionStore
from ingest.staging import staged_before
from policies.evaluate import transitive_members
from policies.store import PolicyStore

log = logging.getLogger(__name__)
CHUNK = 1000
_FOREVER = "forever"


class RetentionFailed(RuntimeError):
    """The run stopped; what was disposed before stays disposed, the rest waits for the next run."""


class RetentionRefused(RetentionFailed):
    """What the run would decide on does not match the hash chains (a row, a hold or a policy
    was changed behind the stores' back): nothing is disposed until an operator has looked."""


@dataclass
class PolicyTally:
    disposed: int = 0
    held: int = 0
    kept: int = 0
    oldest: datetime | None = None
    newest: datetime | None = None
    """Of the events due for disposal (disposed or held)."""

    def due(self, at: datetime) -> None:
        self.oldest = at if self.oldest is None or at < self.oldest else self.oldest
        self.newest = at if self.newest is None or at > self.newest else self.newest

    def as_dict(self) -> dict[str, Any]:
        return {
            "disposed": self.disposed,
            "held": self.held,
            "kept": self.kept,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
        }


@dataclass
class RetentionReport:
    run_id: str
    dry_run: bool
    by_policy: dict[str, PolicyTally] = field(default_factory=lambda: defaultdict(PolicyTally))
    """Per policy label (``default``, ``room:<id>``, ``group:<id>``, or ``none``)."""
    held_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    """Per hold id: how many due events it preserved."""

    @property
    def disposed(self) -> int:
        return sum(t.disposed for t in self.by_policy.values())

    @property
    def held(self) -> int:
        return sum(t.held for t in self.by_policy.values())

    @property
    def kept(self) -> int:
        return sum(t.kept for t in self.by_policy.values())

    def add(self, other: RetentionReport) -> None:
        for label, tally in other.by_policy.items():
            mine = self.by_policy[label]
            mine.disposed += tally.disposed
            mine.held += tally.held
            mine.kept += tally.kept
            for at in (tally.oldest, tally.newest):
                if at is not None:
                    mine.due(at)
        for hold_id, count in other.held_by.items():
            self.held_by[hold_id] += count

    def counts(self) -> dict[str, Any]:
        return {
            "disposed": self.disposed,
            "held": self.held,
            "kept": self.kept,
            "by_policy": {label: tally.as_dict() for label, tally in sorted(self.by_policy.items())},
            "held_by": dict(sorted(self.held_by.items())),
        }


@dataclass(frozen=True)
class PolicyBook:
    """Which retention policy governs an event (pure, built once per run)."""

    default: RetentionPolicy | None
    rooms: Mapping[str, RetentionPolicy]
    groups_of: Mapping[str, Sequence[RetentionPolicy]]
    """Actor id -> the group policies of the groups they belong to."""

    def governing(self, room_id: str, actor_id: str) -> RetentionPolicy | None:
        if room_id in self.rooms:
            return self.rooms[room_id]
        groups = self.groups_of.get(actor_id)
        if groups:
            forever = [p for p in groups if p.keep_days is None]
            return forever[0] if forever else max(groups, key=lambda p: p.keep_days or 0)
        return self.default


def policy_book(policies: Sequence[RetentionPolicy], group_members: Mapping[str, frozenset[str]]) -> PolicyBook:
    groups_of: dict[str, list[RetentionPolicy]] = defaultdict(list)
    for policy in policies:
        if policy.scope_kind == "group" and policy.scope_id is not None:
            for member in group_members.get(policy.scope_id, frozenset()):
                groups_of[member].append(policy)
    return PolicyBook(
        default=next((p for p in policies if p.scope_kind == "default"), None),
        rooms={p.scope_id: p for p in policies if p.scope_kind == "room" and p.scope_id is not None},
        groups_of=dict(groups_of),
    )


def run_retention(
    engine: Engine,
    principal: Principal,
    *,
    dry_run: bool = False,
    adapters: Sequence[SupportsDelete] = (),
    resolve: Resolve | None = None,
    now: datetime | None = None,
    chunk: int = CHUNK,
) -> RetentionReport:
    """One retention run. ``resolve``: how hold queries are resolved (None: no search backend;
    a hold with a query then stops the run). ``--dry-run`` writes nothing at all.

    Raises :class:`cases.holds.HoldUnavailable` before anything is disposed when a hold cannot
    be evaluated, and :class:`RetentionFailed` when a chunk fails (the run is recorded and
    audited with what it did until then)."""
    now = now or datetime.now(UTC)
    run_id = str(uuid.uuid4())
    report = RetentionReport(run_id, dry_run)
    retention = RetentionStore(engine)
    directory = PolicyStore(engine).snapshot_inputs()[0]
    book = policy_book(retention.policies(), transitive_members(directory))
    holds = CaseStore(engine).active_holds()
    _refuse_if_tampered(engine, principal, run_id, dry_run)
    with engine.connect() as connection:
        matcher = hold_matcher(connection, holds, resolve)
        if matcher.needs_message_ids:
            _refuse_undelivered(connection, book, now)
    by = f"{principal.label} ({principal.token_id})"
    if not dry_run:
        retention.start_run(RetentionRun(id=run_id, started_at=now, dry_run=False, by=by, counts={}))
    error: str | None = None
    try:
        after = 0
        while after >= 0:
            judged = RetentionReport(run_id, dry_run)
            if dry_run:
                with engine.connect() as connection:
                    after = _chunk(connection, book, matcher, judged, now, after, chunk, None)
            else:
                with engine.begin() as connection:
                    after = _chunk(connection, book, matcher, judged, now, after, chunk, adapters)
            report.add(judged)  # counted once the chunk is committed
    except Exception as failure:
        error = f"{failure.__class__.__name__}: {failure}"
        raise RetentionFailed(
            f"retention run {run_id} stopped: {error}; {report.disposed} events were disposed before it stopped"
        ) from failure
    finally:
        if not dry_run:
            retention.finish_run(run_id, report.counts(), error)
            details: dict[str, Any] = {"run_id": run_id, **report.counts(), "holds": [h.id for h in holds]}
            if error is not None:
                details["error"] = error
            record(engine, principal, "retention_run", details)
    return report


def _refuse_if_tampered(engine: Engine, principal: Principal, run_id: str, dry_run: bool) -> None:
    """Verify the case ledger (which vouches for the policies and holds just read), the
    archive's chain and the membership intervals in full; refuse the run, logged and (unless a
    dry run) audited, when any does not hold."""
    checks = (
        ("case ledger", verify_ledger),
        ("archive chain", verify_archive),
        ("membership table", verify_memberships),
    )
    for name, check in checks:
        report = check(engine)
        if report.ok:
            continue
        bad = report.first_bad
        where = "" if bad is None else f" at row {bad.position} ({bad.label})" if bad.position else f" at {bad.label}"
        reason = (
            f"retention run {run_id} refused: the {name} does not hold{where}: {report.problem}; "
            "nothing was disposed (run `archivist verify` and investigate before running retention again)"
        )
        log.error("%s", reason)
        if not dry_run:
            record(engine, principal, "retention_refused", {"run_id": run_id, "reason": reason})
        raise RetentionRefused(reason)


def _refuse_undelivered(connection: Connection, book: PolicyBook, now: datetime) -> None:
    """Query holds read the search index, which holds an event only once it left staging: an
    event still staged (or parked) that a policy could already dispose of may be missing from
    the hits, so the run stops (fail closed) until it is delivered."""
    policies = [book.default, *book.rooms.values(), *(p for ps in book.groups_of.values() for p in ps)]
    finite = [p.keep_days for p in policies if p is not None and p.keep_days is not None]
    if not finite:
        return
    cutoff = now - timedelta(days=min(finite))
    waiting = staged_before(connection, cutoff)
    if waiting:
        raise HoldUnavailable(
            f"{waiting} events older than {cutoff:%Y-%m-%d} are still staged or parked, so the search index may "
            "not hold them yet and legal holds by query cannot be evaluated; deliver them "
            "(`archivist process`, `archivist retry-parked`) and run again; nothing was disposed"
        )


def _chunk(
    connection: Connection,
    book: PolicyBook,
    matcher: HoldMatcher,
    report: RetentionReport,
    now: datetime,
    after: int,
    size: int,
    adapters: Sequence[SupportsDelete] | None,
) -> int:
    """Judge (and unless ``adapters`` is None, dispose of) the next ``size`` events not
    disposed yet after ``seq`` ``after``; returns the last seq seen, -1 when none was left."""
    rows = undisposed_after(connection, after, size)
    if not rows:
        return -1
    due: list[tuple[ArchivedEvent, str]] = []
    for row in rows:
        policy = book.governing(row.room_id, row.actor_id)
        label = policy.label if policy is not None else "none"
        event = ArchivedEvent(row.event_id, row.event_type, row.occurred_at, row.room_id, row.actor_id)
        if policy is None or policy.keep_days is None or row.occurred_at >= now - timedelta(days=policy.keep_days):
            report.by_policy[label].kept += 1
            continue
        due.append((event, label))
    if due and matcher.needs_message_ids:
        due = _with_message_ids(connection, due)
    disposals: list[Disposal] = []
    for event, label in due:
        tally = report.by_policy[label]
        tally.due(event.occurred_at)
        holding = matcher.holding(event)
        if holding:
            tally.held += 1
            for hold_id in holding:
                report.held_by[hold_id] += 1
            continue
        tally.disposed += 1
        disposals.append(Disposal(event.event_id, label))
    if adapters is not None and disposals:
        _refuse_disagreeing(connection, [d.event_id for d in disposals], report.run_id)
        disposed = dispose_events(connection, disposals, report.run_id, now)
        if disposed != len(disposals):  # another run disposed some meanwhile: they are not ours to count
            raise RetentionFailed(f"{len(disposals) - disposed} events were disposed concurrently; run again")
        ids = [d.event_id for d in disposals]
        forget_disposed(connection, ids)
        for adapter in adapters:
            adapter.delete(ids)
    return int(rows[-1].seq)


def _refuse_disagreeing(connection: Connection, event_ids: Sequence[str], run_id: str) -> None:
    """Stop before disposing when a row about to be disposed of no longer matches its chained
    payload (the chunk rolls back; what earlier chunks disposed was verified)."""
    problems = check_before_disposal(connection, event_ids)
    if problems:
        named = "; ".join(f"event {event_id}: {problem}" for event_id, problem in sorted(problems.items())[:5])
        reason = (
            f"{len(problems)} events due for disposal do not match the archive's chain ({named}); "
            "this chunk disposed of nothing"
        )
        log.error("retention run %s refused: %s", run_id, reason)
        raise RetentionRefused(reason)


def _with_message_ids(connection: Connection, due: list[tuple[ArchivedEvent, str]]) -> list[tuple[ArchivedEvent, str]]:
    payloads = payloads_of(connection, [e.event_id for e, _label in due])
    return [
        (ArchivedEvent(**{**event.__dict__, "message_id": message_id_of(payloads[event.event_id])}), label)
        for event, label in due
    ]
