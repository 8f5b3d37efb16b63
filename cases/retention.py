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

import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select

from adapters.base import DeletesInTransaction, SupportsDelete
from archive.attachments import (
    file_sha256s,
    forget_extraction_jobs,
    forget_native,
    keep_native,
    lock_native,
    mark_natives_deleting,
    references,
    texts_for,
)
from archive.audit import record
from archive.derived import forget_disposed
from archive.file_store import FileStore
from archive.membership_check import verify_memberships
from archive.principals import Principal
from archive.record import (
    Disposal,
    archive_dispositions,
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
    files_deleted: set[str] = field(default_factory=set)
    """Bytes (natives and extracted texts) deleted from the file store: no event refers to them."""
    files_pending: set[str] = field(default_factory=set)
    """Bytes whose last reference was disposed of and that are not deleted yet (the store failed,
    or the run stopped first): recorded in the run, retried by the next one."""
    file_errors: dict[str, str] = field(default_factory=dict)
    """Why the store did not delete each of :attr:`files_pending` that it was asked to."""

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
        self.files_pending |= other.files_pending

    def counts(self) -> dict[str, Any]:
        return {
            "disposed": self.disposed,
            "held": self.held,
            "kept": self.kept,
            "by_policy": {label: tally.as_dict() for label, tally in sorted(self.by_policy.items())},
            "held_by": dict(sorted(self.held_by.items())),
            "files_deleted": len(self.files_deleted),
            "files_pending": sorted(self.files_pending),
            "file_errors": dict(sorted(self.file_errors.items())),
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
    file_store: FileStore | None = None,
) -> RetentionReport:
    """One retention run. ``resolve``: how hold queries are resolved (None: no search backend;
    a hold with a query then stops the run). ``--dry-run`` writes nothing at all.

    Files: the ``file_text`` event of a disposed upload is disposed with it (a text never
    outlives its file, and a hold on the text holds the upload). The chunk's transaction marks
    the bytes (natives and extracted texts) no remaining event refers to, and that were handed
    over before the run began, as ``deleting``; after it commits, each is deleted from
    ``file_store`` and its ``archive_natives`` row dropped, in one transaction that holds the
    row (so bytes handed over meanwhile wait, then are stored again) and checks again that
    they are still marked (handing the bytes over again calls the deletion off: they may come
    before their event) and unreferenced. A deletion that fails is recorded in the run
    (``files_pending``, ``file_errors``) and retried by the next run, and the row of bytes that
    still exist is kept. Without ``file_store`` no bytes are deleted (they stay pending for a
    run that has one).

    Raises :class:`cases.holds.HoldUnavailable` before anything is disposed when a hold cannot
    be evaluated, and :class:`RetentionFailed` when a chunk fails (the run is recorded and
    audited with what it did until then)."""
    started = datetime.now(UTC)  # the clock, not ``now``: it is compared with when bytes were received
    now = now or started
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
                    if judged.files_pending:
                        retention.note_files_pending(connection, run_id, judged.files_pending)
                        mark_natives_deleting(connection, judged.files_pending, stored_before=started)
            report.add(judged)  # counted once the chunk is committed
            if file_store is not None and judged.files_pending:
                _delete_unreferenced(engine, file_store, report, judged.files_pending)
        if not dry_run:
            earlier = retention.files_pending() - report.files_deleted - report.files_pending
            if file_store is not None:
                _delete_unreferenced(engine, file_store, report, earlier)
            else:
                report.files_pending |= earlier
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
    texts: list[tuple[str, str]] = []  # file_text events: (event id, policy label); they follow their upload
    for row in rows:
        policy = book.governing(row.room_id, row.actor_id)
        if row.event_type == "file_text":
            texts.append((row.event_id, policy.label if policy is not None else "none"))
            continue
        label = policy.label if policy is not None else "none"
        event = ArchivedEvent(row.event_id, row.event_type, row.occurred_at, row.room_id, row.actor_id)
        if policy is None or policy.keep_days is None or row.occurred_at >= now - timedelta(days=policy.keep_days):
            report.by_policy[label].kept += 1
            continue
        due.append((event, label))
    if due and matcher.needs_message_ids:
        due = _with_message_ids(connection, due)
    disposals: list[Disposal] = []
    text_events = _text_events_of(connection, [event for event, _label in due if event.event_type == "file_upload"])
    for event, label in due:
        tally = report.by_policy[label]
        tally.due(event.occurred_at)
        holding = matcher.holding(event)
        if event.event_id in text_events:  # a hold on the text of a file holds the file
            holding = sorted({*holding, *matcher.holding(text_events[event.event_id])})
        if holding:
            tally.held += 1
            for hold_id in holding:
                report.held_by[hold_id] += 1
            continue
        tally.disposed += 1
        disposals.append(Disposal(event.event_id, label))
    for event_id, label in _texts_of_disposed(connection, texts, {d.event_id for d in disposals}):
        report.by_policy[label].disposed += 1
        disposals.append(Disposal(event_id, label))
    if adapters is not None and disposals:
        _refuse_disagreeing(connection, [d.event_id for d in disposals], report.run_id)
        ids = [d.event_id for d in disposals]
        report.files_pending |= file_sha256s(connection, ids) | _text_sha256s(connection, ids)
        disposed = dispose_events(connection, disposals, report.run_id, now)
        if disposed != len(disposals):  # another run disposed some meanwhile: they are not ours to count
            raise RetentionFailed(f"{len(disposals) - disposed} events were disposed concurrently; run again")
        forget_disposed(connection, ids)
        forget_extraction_jobs(connection, ids)
        for adapter in adapters:
            if isinstance(adapter, DeletesInTransaction):
                adapter.delete_in(connection, ids)
            else:
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


def _text_events_of(connection: Connection, uploads: Sequence[ArchivedEvent]) -> dict[str, ArchivedEvent]:
    """The ``file_text`` event of each upload that has one (as hold matching reads it)."""
    found = texts_for(connection, [upload.event_id for upload in uploads])
    return {
        upload.event_id: ArchivedEvent(
            found[upload.event_id].event_id, "file_text", upload.occurred_at, upload.room_id, upload.actor_id
        )
        for upload in uploads
        if upload.event_id in found
    }


def _texts_of_disposed(
    connection: Connection, texts: Sequence[tuple[str, str]], disposing: set[str]
) -> list[tuple[str, str]]:
    """The ``file_text`` events among ``texts`` whose upload is being disposed of now or was
    before (an upload is archived before its text, so it is judged first)."""
    if not texts:
        return []
    payloads = payloads_of(connection, [event_id for event_id, _label in texts])
    uploads = {event_id: _upload_of(payloads.get(event_id)) for event_id, _label in texts}
    earlier = set(
        connection.scalars(
            select(archive_dispositions.c.event_id).where(
                archive_dispositions.c.event_id.in_(sorted({u for u in uploads.values() if u}))
            )
        )
    )
    return [(event_id, label) for event_id, label in texts if uploads[event_id] in disposing | earlier]


def _upload_of(payload: str | None) -> str | None:
    try:
        document = json.loads(payload or "null")
        return str(document["extracted"]["file_event_id"])
    except (ValueError, KeyError, TypeError):
        return None  # a tombstone, or not a file_text event


def _text_sha256s(connection: Connection, event_ids: Sequence[str]) -> set[str]:
    """The extracted texts the ``file_text`` events among ``event_ids`` sealed (from their payloads)."""
    found: set[str] = set()
    for payload in payloads_of(connection, event_ids).values():
        try:
            text_sha256 = json.loads(payload)["extracted"]["text_sha256"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(text_sha256, str):
            found.add(text_sha256)
    return found


def _delete_unreferenced(engine: Engine, store: FileStore, report: RetentionReport, sha256s: Iterable[str]) -> None:
    """Delete from the store the bytes among ``sha256s`` that a disposal marked ``deleting``
    and no archived event refers to any more, then their ``archive_natives`` row, in one
    transaction holding that row: bytes handed over meanwhile (:func:`receiving_native`) wait
    for it, then are written again. Bytes no longer marked (handed over again since: they may
    come before their event; or referenced again), or not recorded (the bytes of an upload
    stopped before its record, which no run decided to delete), are not deleted and leave the
    list; a failed deletion keeps the row (the bytes exist) and stays pending."""
    for sha256 in sorted(set(sha256s)):
        report.files_pending.add(sha256)
        try:
            with engine.begin() as connection:
                native = lock_native(connection, sha256)
                if native is None or not native.deleting:
                    report.files_pending.discard(sha256)
                    continue
                if references(connection, sha256):  # an upload of the same bytes came since
                    keep_native(connection, sha256)
                    report.files_pending.discard(sha256)
                    continue
                store.delete(sha256)
                if references(connection, sha256):
                    log.warning(
                        "retention run %s: an upload of %s was archived while its bytes were being deleted; "
                        "it waits for them to be handed over again",
                        report.run_id,
                        sha256,
                    )
                forget_native(connection, sha256)  # a row is never kept for bytes that are gone
        except Exception as error:  # any store failure: recorded, retried by the next run
            report.file_errors[sha256] = f"{error.__class__.__name__}: {error}"
            log.warning("retention run %s could not delete %s from the file store: %s", report.run_id, sha256, error)
            continue
        report.files_pending.discard(sha256)
        report.file_errors.pop(sha256, None)
        report.files_deleted.add(sha256)
