"""Detection: the active policies, compiled once, evaluated against messages.

One evaluation serves the ``supervision`` adapter (new messages, :mod:`supervision.adapter`) and
the backtest (archived ones, :mod:`supervision.backtest`):

1. the policies whose scope covers the message (:mod:`supervision.scope`; the people, groups
   and rooms part cached per room and sender, the directions computed only for the policies
   that tell internal from external);
2. ONE pass of the lexicon engine over the message for all policies at once (each policy's
   verdict: its matches with positions, and whether an exclusion removed the message);
3. per in-scope policy: excluded (nothing, and not counted in scope), matched (an item, reason
   ``lexicon``), or, for a post, drawn by the policy's sampling rate (an item, reason
   ``sample``: :mod:`supervision.sampling`).

What is evaluated: a ``post`` (its text), an ``edit`` (the new text) and a ``file_text`` (an
attachment's extracted text, belonging to the upload's message: the upload's event id is the
message id, as the search index has it). The sampling ledger counts messages, that is posts: a
post is drawn once; its edits and attachment texts are matched against the lexicon only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ingest.events import (
    SCHEMA_VERSION,
    SUPERVISION_ACTOR,
    EditEvent,
    Event,
    FileTextEvent,
    PostEvent,
    Room,
    SupervisionHit,
    SupervisionHitEvent,
    SupervisionMatch,
    derive_hashtags,
    derive_mentions,
)
from policies.evaluate import PolicySnapshot
from search.tantivy_schema import fold_keyword, person_keys, room_keys
from supervision.items import NewItem
from supervision.lexicon import LexiconSet, Message, PolicyLexicon
from supervision.model import Direction, ItemReason, Policy, PolicySpec, TermMatch
from supervision.sampling import Sampler
from supervision.schema import supervision_scope_days
from supervision.scope import CompiledScope, ScopedMessage, in_scope

log = logging.getLogger(__name__)

EVALUATED_TYPES = ("post", "edit", "file_text")


class Verdict(Protocol):
    """One policy's verdict on one message."""

    @property
    def matches(self) -> Sequence[TermMatch]: ...

    @property
    def excluded(self) -> bool: ...


class LexiconEngine(Protocol):
    """Every policy's lexicon compiled together: one pass per message."""

    def verdicts(self, message: Message) -> Mapping[str, Verdict]: ...


Compiler = Callable[[Mapping[str, PolicySpec]], LexiconEngine]
"""Compiles the lexicons of policies (by id); raises when one cannot be compiled."""


class PolicyCompileError(ValueError):
    """A policy's lexicon cannot be compiled: ``policies`` names them (id: reason)."""

    def __init__(self, policies: Mapping[str, str]) -> None:
        self.policies = dict(policies)
        shown = "; ".join(f"{policy_id}: {reason}" for policy_id, reason in sorted(self.policies.items()))
        super().__init__(f"supervision policies that cannot be compiled: {shown}")


def lexicon_compiler(specs: Mapping[str, PolicySpec]) -> LexiconEngine:
    """The lexicon engine of :mod:`supervision.lexicon` (query terms and RE2 regexes); raises
    :class:`~supervision.lexicon.LexiconError` naming the policy and term it cannot compile."""
    return LexiconSet.compile({pid: PolicyLexicon.of(spec) for pid, spec in specs.items()})


@dataclass(frozen=True, slots=True)
class Candidate:
    """One evaluated event: a post, an edit or an attachment's text."""

    event_id: str
    event_type: str
    message_id: str
    room: Room
    scoped: ScopedMessage
    text: Message
    counted: bool
    """A post: counted in the sampling ledger, and drawn by sampling when nothing matched."""


@lru_cache(maxsize=8192)
def sender_keys(actor_id: str, name: str | None) -> frozenset[str]:
    """What ``from:`` matches a sender on (:func:`search.tantivy_schema.person_keys`), as a set."""
    return frozenset(person_keys(actor_id, name))


@lru_cache(maxsize=8192)
def room_key_set(room_id: str, name: str | None) -> frozenset[str]:
    """What ``in:`` matches a room on (:func:`search.tantivy_schema.room_keys`), as a set."""
    return frozenset(room_keys(room_id, name))


_NONE: frozenset[str] = frozenset()


def _folded(values: Iterable[str]) -> frozenset[str]:
    return frozenset(map(fold_keyword, values)) if values else _NONE


def candidate_of(event: Event, attachment: str = "", sender: str | None = None) -> Candidate | None:
    """The candidate an event is (None for events that are not evaluated); ``attachment``: the
    text of a ``file_text`` event, read from the file store by the caller; ``sender``: an edit's
    message's sender as archived (an edit is the sender's message, whoever edited it, as search
    has it: scope and ``from:`` read the sender), None: the event's actor."""
    match event:
        case PostEvent(message=message):
            text, message_id = message.text, message.id
            mentions, hashtags = message.mentions or (), message.hashtags or ()
            recipients = tuple(r.id for r in event.recipients or ())
        case EditEvent(message=edited):
            text, message_id = edited.text, edited.id
            mentions, hashtags, recipients = derive_mentions(text), derive_hashtags(text), ()
        case FileTextEvent(extracted=extracted):
            if not attachment:
                return None
            text, message_id, mentions, hashtags, recipients = "", str(extracted.file_event_id), (), (), ()
        case _:
            return None
    actor, room = event.actor, event.room
    author, name, internal = actor.id, actor.name, actor.internal
    if sender is not None and sender != actor.id:
        author, name, internal = sender, None, True  # the directory says whether the sender is outside
    return Candidate(
        event_id=str(event.event_id),
        event_type=event.type,
        message_id=message_id,
        room=room,
        scoped=ScopedMessage(room.id, room.kind, author, event.occurred_at, internal, recipients),
        text=Message(
            text=text,
            attachment=attachment,
            sender_keys=sender_keys(author, name),
            room_keys=room_key_set(room.id, room.name),
            mentions=_folded(mentions),
            hashtags=_folded(hashtags),
            event_type=event.type,
        ),
        counted=isinstance(event, PostEvent),
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """One policy's item for one candidate."""

    policy: Policy
    candidate: Candidate
    reason: ItemReason
    matches: tuple[TermMatch, ...]

    def new_item(self) -> NewItem:
        scoped = self.candidate.scoped
        return NewItem(
            policy_id=self.policy.id,
            policy_version=self.policy.version,
            event_id=self.candidate.event_id,
            message_id=self.candidate.message_id,
            room_id=scoped.room_id,
            sender=scoped.sender,
            sent_at=scoped.sent_at,
            reason=self.reason,
            matches=self.matches,
        )


LedgerKey = tuple[str, int, date]
"""(policy id, policy version, UTC day)."""


@dataclass
class Evaluation:
    """What evaluating candidates found: the items to make, and the ledger of the posts that
    made none (in scope, not matched, not drawn), per policy version and day."""

    decisions: list[Decision] = field(default_factory=list)
    unflagged: dict[LedgerKey, int] = field(default_factory=dict)


def ledger_key(policy: Policy, at: datetime) -> LedgerKey:
    return (policy.id, policy.version, at.astimezone(UTC).date())


@dataclass(frozen=True)
class CompiledPolicy:
    policy: Policy
    scope: CompiledScope
    sampler: Sampler | None = None
    """The policy's draw (None: it samples nothing)."""

    @property
    def plain(self) -> bool:
        """In force whenever and in every direction: who it covers is all there is to check."""
        scope = self.scope
        return scope.effective_from is None and scope.effective_until is None and scope.every_direction


_WHO_LIMIT = 200_000
"""Room and sender pairs remembered before the memory starts again."""


@dataclass(frozen=True)
class _Chosen:
    """A set of policies that cover one message, with what the loop needs of them, computed once
    per distinct set (messages of a room and sender share one)."""

    policies: tuple[CompiledPolicy, ...]
    by_id: Mapping[str, CompiledPolicy]
    samplers: tuple[CompiledPolicy, ...]


class Detector:
    """The enabled policies, their scopes and lexicons compiled once (per policies revision)."""

    def __init__(self, policies: Sequence[CompiledPolicy], lexicon: LexiconEngine) -> None:
        self.policies = tuple(policies)
        self.lexicon = lexicon
        self.needs_participants = any(p.scope.needs_participants for p in self.policies)
        self._chosen: dict[tuple[int, ...], _Chosen] = {}
        self._who: dict[tuple[str, str], tuple[tuple[int, ...], bool]] = {}
        """(room, sender) -> the policies whose people, groups or rooms cover them, and whether
        all of those are plain: kept across batches (the policies are compiled), bounded."""
        self._plain = tuple(p.plain for p in self.policies)

    @classmethod
    def compile(
        cls, policies: Iterable[Policy], directory: PolicySnapshot | None, compiler: Compiler = lexicon_compiler
    ) -> Detector:
        """Raises :class:`PolicyCompileError` naming each policy whose lexicon does not compile."""
        chosen = list(policies)
        specs = {policy.id: policy.spec for policy in chosen}
        try:
            lexicon = compiler(specs)
        except Exception as error:
            raise PolicyCompileError(_culprits(specs, compiler, error)) from error
        return cls(
            [
                CompiledPolicy(
                    p,
                    CompiledScope.of(p.spec, directory),
                    Sampler(p.spec.sampling_seed, p.id, p.spec.sampling_percent)
                    if p.spec.sampling_percent > 0
                    else None,
                )
                for p in chosen
            ],
            lexicon,
        )

    def _set_of(self, numbers: tuple[int, ...]) -> _Chosen:
        found = self._chosen.get(numbers)
        if found is None:
            policies = tuple(self.policies[n] for n in numbers)
            found = self._chosen[numbers] = _Chosen(
                policies,
                {p.policy.id: p for p in policies},
                tuple(p for p in policies if p.sampler is not None),
            )
        return found

    def evaluate(
        self, candidates: Iterable[Candidate], directions: Callable[[ScopedMessage], frozenset[Direction]]
    ) -> Evaluation:
        """The items ``candidates`` make, and the ledger of the posts that make none. Per
        message: the covering policies (cached per room and sender), one lexicon pass, the
        verdicts of the policies it names (matched or excluded), and the draws of the policies
        that sample; the posts in scope are counted per set of policies and day, not per policy."""
        found = Evaluation()
        who = self._who
        if len(who) > _WHO_LIMIT:
            who.clear()
        plain_policies = self._plain
        in_scope_counts: dict[tuple[tuple[int, ...], date], int] = {}
        flagged_counts: dict[LedgerKey, int] = {}
        for candidate in candidates:
            scoped = candidate.scoped
            key = (scoped.room_id, scoped.sender)
            covering = who.get(key)
            if covering is None:
                numbers = tuple(
                    n for n, p in enumerate(self.policies) if p.scope.covers_who(scoped.sender, scoped.room_id)
                )
                covering = who[key] = (numbers, all(plain_policies[n] for n in numbers))
            numbers, plain = covering
            if not plain:
                numbers = tuple(n for n in numbers if in_scope(self.policies[n].scope, scoped, directions))
            if not numbers:
                continue
            chosen = self._set_of(numbers)
            verdicts = self.lexicon.verdicts(candidate.text)
            day = scoped.sent_at.astimezone(UTC).date()
            flagged: set[str] = set()
            for policy_id, verdict in verdicts.items():
                compiled = chosen.by_id.get(policy_id)
                if compiled is None:
                    continue
                if verdict.excluded:
                    flagged.add(policy_id)
                elif verdict.matches:
                    flagged.add(policy_id)
                    found.decisions.append(Decision(compiled.policy, candidate, "lexicon", tuple(verdict.matches)))
            if not candidate.counted:
                continue
            for compiled in chosen.samplers:
                policy = compiled.policy
                if (
                    policy.id not in flagged
                    and compiled.sampler is not None
                    and compiled.sampler.draws(candidate.event_id)
                ):
                    flagged.add(policy.id)
                    found.decisions.append(Decision(policy, candidate, "sample", ()))
            group = (numbers, day)
            in_scope_counts[group] = in_scope_counts.get(group, 0) + 1
            for policy_id in flagged:
                policy = chosen.by_id[policy_id].policy
                ledger = (policy.id, policy.version, day)
                flagged_counts[ledger] = flagged_counts.get(ledger, 0) + 1
        unflagged: dict[LedgerKey, int] = {}
        for (numbers, day), count in in_scope_counts.items():
            for n in numbers:
                policy = self.policies[n].policy
                ledger = (policy.id, policy.version, day)
                unflagged[ledger] = unflagged.get(ledger, 0) + count
        for ledger, count in flagged_counts.items():
            unflagged[ledger] -= count
        found.unflagged = {ledger: count for ledger, count in unflagged.items() if count}
        return found


def _culprits(specs: Mapping[str, PolicySpec], compiler: Compiler, error: Exception) -> dict[str, str]:
    """Which policies fail to compile alone (all of them, with the error, when none does)."""
    failing: dict[str, str] = {}
    for policy_id, spec in specs.items():
        try:
            compiler({policy_id: spec})
        except Exception as alone:
            failing[policy_id] = f"{alone.__class__.__name__}: {alone}"
    return failing or {policy_id: f"{error.__class__.__name__}: {error}" for policy_id in specs}


def ledger_rows(evaluation: Evaluation, new_items: Iterable[Decision]) -> dict[LedgerKey, tuple[int, int, int]]:
    """(in scope, matched, sampled) per policy version and day: the posts that made no item, and
    the posts among ``new_items`` (those whose item is new, so a re-delivered post is not counted twice)."""
    rows: dict[LedgerKey, list[int]] = {key: [count, 0, 0] for key, count in evaluation.unflagged.items()}
    for decision in new_items:
        if not decision.candidate.counted:
            continue
        row = rows.setdefault(ledger_key(decision.policy, decision.candidate.scoped.sent_at), [0, 0, 0])
        row[0] += 1
        row[1 if decision.reason == "lexicon" else 2] += 1
    return {key: (row[0], row[1], row[2]) for key, row in rows.items()}


def add_to_ledger(connection: Connection, rows: Mapping[LedgerKey, tuple[int, int, int]]) -> None:
    """Add ``rows`` to ``supervision_scope_days`` in the caller's transaction (one upsert)."""
    if not rows:
        return
    values = [
        {"policy_id": pid, "policy_version": version, "day": day, "in_scope": a, "matched": b, "sampled": c}
        for (pid, version, day), (a, b, c) in sorted(rows.items())
    ]
    table = supervision_scope_days
    insert = postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.policy_id, table.c.policy_version, table.c.day],
            set_={
                "in_scope": table.c.in_scope + statement.excluded.in_scope,
                "matched": table.c.matched + statement.excluded.matched,
                "sampled": table.c.sampled + statement.excluded.sampled,
            },
        ),
        values,
    )


MAX_MATCHED = 1_000


def hit_event(decision: Decision, item_id: str, hit_event_id: UUID, now: datetime) -> SupervisionHitEvent:
    """The ``supervision_hit`` event archived for a new item."""
    candidate = decision.candidate
    evaluated: Any = candidate.event_type
    return SupervisionHitEvent(
        schema_version=SCHEMA_VERSION,
        event_id=hit_event_id,
        type="supervision_hit",
        occurred_at=now,
        room=candidate.room,
        actor=SUPERVISION_ACTOR,
        hit=SupervisionHit(
            item_id=item_id,
            policy_id=decision.policy.id,
            policy_version=decision.policy.version,
            policy_name=decision.policy.spec.name,
            evaluated_event_id=UUID(candidate.event_id),
            evaluated_type=evaluated,
            evaluated_message=candidate.message_id,
            reason=decision.reason,
            matches=tuple(
                SupervisionMatch(
                    term_id=m.term_id, field=m.field, start=m.start, end=m.end, matched=m.matched[:MAX_MATCHED]
                )
                for m in decision.matches
            ),
        ),
    )
