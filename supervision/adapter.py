"""The ``supervision`` adapter: every newly archived message evaluated against every active policy.

It writes in the processor's staging transaction (:class:`~adapters.base.WritesInStagingTransaction`,
listed after ``archive`` so the batch's memberships are the archive's), so the items, the
sampling ledger and the ``supervision_hit`` events commit with the batch's record in staging,
or not at all:

1. posts, edits and ``file_text`` events are evaluated (:mod:`supervision.detect`); every other
   event, its own ``supervision_hit`` events included, succeeds untouched. A batch with none of
   them costs no query;
2. the enabled policies (:func:`supervision.policy_store.enabled_policies`) are compiled once
   per ``policies_revision`` (and per directory revision when a scope reads the directory):
   one small query per batch tells whether the compiled ones are current;
3. the items are added (:func:`supervision.items.add_items`: ids derived from policy and event,
   so a re-delivered event adds nothing), one ``supervision_hit`` event is staged per NEW item
   (its id :func:`supervision.items.hit_event_id_for`), and the ledger
   (``supervision_scope_days``) is bumped.

The ledger under re-delivery: matched and drawn posts are counted only when their item is new
(``add_items`` says which). A post in scope that made no item leaves no row to recognise it by,
so it is counted per delivery; the processor delivers a staged event to an adapter once (the
count commits with staging's record of the delivery, a failed write rolls back under its
savepoint, and staging refuses an event the archive already holds), so under the processor the
ledger is exact. A caller of :meth:`SupervisionAdapter.write` that writes the same batch twice
counts those posts twice (a table of evaluated events would make that exact too, at a row per
message and policy).

A policy that cannot be compiled (its lexicon refused by the engine, e.g. after an upgrade) does
not stop supervision silently, nor park events: every post, edit and ``file_text`` of the batch
fails as *unreachable* (backs off, never parked, retried until the policy is fixed or disabled),
and the log names the policy at ERROR once per policies revision. A ``file_text`` whose text the
file store cannot give yet fails alone (retried), as the index does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from adapters.attachment_text import read_text
from adapters.base import AdapterContext, DeliveryResult, Failure, all_succeeded
from archive.file_store import FileStore
from archive.queries import senders_of
from ingest.events import EditEvent, Event, FileTextEvent, PostEvent
from ingest.staging import StagingStore, to_row
from policies.evaluate import PolicySnapshot
from supervision.detect import (
    Candidate,
    Compiler,
    Detector,
    PolicyCompileError,
    add_to_ledger,
    candidate_of,
    hit_event,
    ledger_rows,
    lexicon_compiler,
)
from supervision.items import add_items, forget_matched_words
from supervision.policy_store import enabled_policies, policies_revision
from supervision.scope import Participants, directory_revision, directory_snapshot, needs_directory

log = logging.getLogger(__name__)

_EVALUATED = (PostEvent, EditEvent, FileTextEvent)


class SupervisionAdapter:
    name = "supervision"

    def __init__(
        self,
        engine: Engine,
        file_store: FileStore | None = None,
        *,
        compiler: Compiler = lexicon_compiler,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.file_store = file_store
        self.compiler = compiler
        self.clock = clock
        self._staging = StagingStore(engine)
        self._key: tuple[object, ...] | None = None
        self._needs_directory = False
        self._detector: Detector | PolicyCompileError | None = None
        self._directory: PolicySnapshot | None = None

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        try:
            with self.engine.begin() as connection:
                return self.write_in(connection, batch, ())
        except SQLAlchemyError as error:
            reason = f"supervision failed: {error.__class__.__name__}: {getattr(error, 'orig', error)}"
            log.warning("%s", reason)
            return [Failure(reason, unreachable=isinstance(error, OperationalError))] * len(batch)

    def write_in(
        self, connection: Connection, batch: Sequence[Event], payloads: Sequence[str]
    ) -> Sequence[DeliveryResult]:
        results: list[DeliveryResult] = all_succeeded(batch)
        evaluated = [position for position, event in enumerate(batch) if isinstance(event, _EVALUATED)]
        if not evaluated:
            return results
        detector = self._current(connection)
        if isinstance(detector, PolicyCompileError):
            failure = Failure(str(detector), unreachable=True)
            for position in evaluated:
                results[position] = failure
            return results
        if not detector.policies:
            return results
        edited = [e.message.id for e in batch if isinstance(e, EditEvent)]
        senders = senders_of(connection, edited) if edited else {}
        candidates: list[Candidate] = []
        for position in evaluated:
            event = batch[position]
            attachment = ""
            if isinstance(event, FileTextEvent):
                text = read_text(self.file_store, event.extracted)
                if isinstance(text, Failure):
                    results[position] = text
                    continue
                attachment = text
            sender = senders.get(event.message.id) if isinstance(event, EditEvent) else None
            candidate = candidate_of(event, attachment, sender)
            if candidate is not None:
                candidates.append(candidate)
        if not candidates:
            return results
        directory = self._directory
        is_external = directory.is_external if directory is not None else _nobody_external
        if detector.needs_participants:
            participants = Participants.for_messages(connection, [c.scoped for c in candidates], is_external)
        else:
            participants = Participants({}, is_external)
        evaluation = detector.evaluate(candidates, participants.directions)
        now = self.clock()
        made = [decision.new_item() for decision in evaluation.decisions]
        ids = [item.item_id for item in made]
        new_ids = set(add_items(connection, made, now))
        new = []
        for d, item_id, item in zip(evaluation.decisions, ids, made, strict=True):
            if item_id in new_ids:
                new_ids.discard(item_id)  # an event twice in one batch is one item, counted once
                new.append((d, item_id, item))
        add_to_ledger(connection, ledger_rows(evaluation, [d for d, _id, _item in new]))
        if new:
            hits = [hit_event(d, item_id, item.hit_event_id, now) for d, item_id, item in new]
            self._staging.stage_in(connection, [to_row(hit) for hit in hits])
            log.debug("supervision: %d new items from %d messages", len(new), len(candidates))
        return results

    def _current(self, connection: Connection) -> Detector | PolicyCompileError:
        """The compiled enabled policies, compiled again when a policy (or, for scopes that read
        it, the directory) changed since."""
        revision = policies_revision(connection)
        directory = directory_revision(connection) if self._needs_directory else None
        if self._detector is not None and (revision, directory) == self._key:
            return self._detector
        policies = enabled_policies(connection)
        self._needs_directory = needs_directory(policy.spec for policy in policies)
        self._directory = directory_snapshot(connection) if self._needs_directory else None
        try:
            compiled: Detector | PolicyCompileError = Detector.compile(policies, self._directory, self.compiler)
        except PolicyCompileError as error:
            log.error("%s; posts, edits and attachment texts wait (never parked) until it is fixed or disabled", error)
            compiled = error
        self._key = (revision, self._directory.revision if self._directory is not None else None)
        self._detector = compiled
        return compiled

    def delete(self, event_ids: Sequence[str]) -> None:
        """Retention disposed of ``event_ids``: the items they made keep their state, disposition
        and history (the evidence that the review happened), but no longer the words matched in
        a message the archive has forgotten (each match's ``matched`` emptied; its offsets only
        locate text that is gone). Idempotent: an event that made no item, or whose item was
        forgotten already, is left as it is."""
        with self.engine.begin() as connection:
            forget_matched_words(connection, event_ids)

    def delete_in(self, connection: Connection, event_ids: Sequence[str]) -> None:
        """:meth:`delete` in the caller's transaction (retention's chunk)."""
        forget_matched_words(connection, event_ids)

    def close(self) -> None:
        """The engine belongs to the caller."""


def _nobody_external(_actor_id: str) -> bool:
    return False


def create(context: AdapterContext) -> SupervisionAdapter:
    return SupervisionAdapter(context.engine, context.file_store)
