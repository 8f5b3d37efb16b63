"""The backtest: a draft policy run over the archived messages of a period, creating nothing.

It reads every post and edit archived with a time in the period (one streamed query,
:func:`archive.queries.message_versions_between`, evaluated in chunks) and evaluates them as the
``supervision`` adapter would (:mod:`supervision.detect`: scope, one lexicon pass per message,
exclusions, the seeded sampling draw), then reports what the policy would have made: items per
day and per reviewer per day (the day's items shared evenly among the policy's reviewers), how
many messages were in scope, matched and drawn (with the sampling rate's confidence interval),
the terms that matched most, and a few samples with the match offsets.

What the adapter sees and the backtest does not: attachments' extracted texts (reading every
file of a period from the file store is the export's job, not a preview's), the event's own
``internal`` flag and a direct message's recipients (not kept in the archive's message tables),
and the sender's display name for ``from:`` terms (the actor id is used).
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Engine

from archive.queries import ArchivedVersion, all_room_ids, message_versions_between
from ingest.db import read_only
from ingest.events import Room
from policies.evaluate import PolicySnapshot
from supervision.detect import (
    Candidate,
    Compiler,
    Detector,
    lexicon_compiler,
    room_key_set,
    sender_keys,
)
from supervision.lexicon import Message
from supervision.model import Policy, PolicySpec, TermMatch
from supervision.sampling import confidence_interval
from supervision.scope import Participants, ScopedMessage, directory_snapshot, needs_directory

DRAFT_ID = "draft"
"""The policy id a draft is evaluated under (its sampling draw depends on the id: a saved policy
is backtested under its own id, so the draw is the one the adapter would make)."""


class BacktestDay(BaseModel):
    day: date
    items: int
    matched: int
    sampled: int
    per_reviewer: float | None
    """The day's items shared among the reviewers (None: the policy names none)."""


class BacktestTerm(BaseModel):
    term_id: str
    label: str | None = None
    items: int
    """Items the term matched in."""
    hits: int
    """Matches of the term (several in one message count each)."""


class BacktestSample(BaseModel):
    message_id: str
    event_id: str
    room_id: str
    sender: str
    sent_at: datetime
    text: str
    reason: str
    matches: list[TermMatch]


class BacktestReport(BaseModel):
    policy_name: str
    start: datetime
    end: datetime
    messages: int = 0
    """Posts and edits read in the period."""
    in_scope: int = 0
    """Posts in scope (not excluded)."""
    matched: int = 0
    """Posts in scope the lexicon matched."""
    sampled: int = 0
    """Posts in scope the lexicon did not match, drawn by sampling."""
    items: int = 0
    """Items the policy would have made (matched edits included)."""
    sampling_percent: float = 0.0
    observed_percent: float | None = None
    """Drawn among the unmatched in-scope posts, per cent."""
    sampling_interval: tuple[float, float] | None = None
    """The 95% Clopper-Pearson interval of the rate behind the draws, per cent."""
    reviewers: list[str] = Field(default_factory=list)
    per_day: list[BacktestDay] = Field(default_factory=list)
    items_per_reviewer_per_day: float | None = None
    """The average over the period's days with items."""
    top_terms: list[BacktestTerm] = Field(default_factory=list)
    samples: list[BacktestSample] = Field(default_factory=list)
    seconds: float = 0.0


def _candidate(version: ArchivedVersion, rooms: dict[str, Room]) -> Candidate:
    kind = version.room_kind if version.room_kind in ("room", "im") else "room"
    room = rooms.get(version.room_id)
    if room is None:
        room = rooms[version.room_id] = Room(id=version.room_id, name=version.room_name, kind=kind)
    return Candidate(
        event_id=version.event_id,
        event_type=version.kind,
        message_id=version.message_id,
        room=room,
        scoped=ScopedMessage(version.room_id, kind, version.sender, version.occurred_at),
        text=Message(
            text=version.text,
            sender_keys=sender_keys(version.sender, None),
            room_keys=room_key_set(version.room_id, version.room_name),
            event_type=version.kind,
        ),
        counted=version.kind == "post",
    )


def backtest(
    engine: Engine,
    spec: PolicySpec,
    start: datetime,
    end: datetime,
    *,
    policy_id: str = DRAFT_ID,
    compiler: Compiler | None = None,
    samples: int = 10,
    top_terms: int = 20,
    chunk: int = 5_000,
) -> BacktestReport:
    """What ``spec`` would have made of the messages archived in ``[start, end)`` (aware
    datetimes). Raises :class:`~supervision.detect.PolicyCompileError` when its lexicon does not
    compile, ValueError when the period is empty."""
    if end <= start:
        raise ValueError(f"the period must end after it starts: {start.isoformat()} to {end.isoformat()}")
    began = time.perf_counter()
    policy = Policy(id=policy_id, version=0, spec=spec, changed_by="backtest", changed_at=datetime.now(UTC))
    if needs_directory([spec]):
        with read_only(engine) as connection:
            directory: PolicySnapshot | None = directory_snapshot(connection)
    else:
        directory = None
    detector = Detector.compile([policy], directory, compiler or lexicon_compiler)
    report = BacktestReport(
        policy_name=spec.name,
        start=start,
        end=end,
        sampling_percent=spec.sampling_percent,
        reviewers=list(spec.reviewers),
    )
    days: dict[date, list[int]] = {}
    term_items: Counter[str] = Counter()
    term_hits: Counter[str] = Counter()
    rooms: dict[str, Room] = {}
    with read_only(engine) as connection:
        is_external = directory.is_external if directory is not None else _nobody
        if detector.needs_participants:
            participants = Participants.for_rooms(connection, all_room_ids(connection), start, end, is_external)
        else:
            participants = Participants({}, is_external)
        for versions in message_versions_between(connection, start, end, chunk):
            candidates = [_candidate(v, rooms) for v in versions]
            report.messages += len(candidates)
            evaluation = detector.evaluate(candidates, participants.directions)
            for count in evaluation.unflagged.values():
                report.in_scope += count
            texts = {v.event_id: v.text for v in versions} if len(report.samples) < samples else {}
            for decision in evaluation.decisions:
                candidate = decision.candidate
                day = days.setdefault(candidate.scoped.sent_at.astimezone(UTC).date(), [0, 0, 0])
                day[0] += 1
                report.items += 1
                if candidate.counted:
                    report.in_scope += 1
                    if decision.reason == "lexicon":
                        report.matched += 1
                        day[1] += 1
                    else:
                        report.sampled += 1
                        day[2] += 1
                for term_id, hits in Counter(m.term_id for m in decision.matches).items():
                    term_items[term_id] += 1
                    term_hits[term_id] += hits
                if len(report.samples) < samples:
                    report.samples.append(
                        BacktestSample(
                            message_id=candidate.message_id,
                            event_id=candidate.event_id,
                            room_id=candidate.scoped.room_id,
                            sender=candidate.scoped.sender,
                            sent_at=candidate.scoped.sent_at,
                            text=texts.get(candidate.event_id, ""),
                            reason=decision.reason,
                            matches=list(decision.matches),
                        )
                    )
    _summarise(report, days, spec, term_items, term_hits, top_terms)
    report.seconds = time.perf_counter() - began
    return report


def _summarise(
    report: BacktestReport,
    days: dict[date, list[int]],
    spec: PolicySpec,
    term_items: Counter[str],
    term_hits: Counter[str],
    top: int,
) -> None:
    reviewers = len(spec.reviewers)
    report.per_day = [
        BacktestDay(
            day=day,
            items=items,
            matched=matched,
            sampled=sampled,
            per_reviewer=items / reviewers if reviewers else None,
        )
        for day, (items, matched, sampled) in sorted(days.items())
    ]
    if reviewers and days:
        report.items_per_reviewer_per_day = report.items / reviewers / len(days)
    unmatched = report.in_scope - report.matched
    if unmatched > 0:
        report.observed_percent = 100 * report.sampled / unmatched
        low, high = confidence_interval(report.sampled, unmatched)
        report.sampling_interval = (100 * low, 100 * high)
    labels = {term.id: term.label for term in spec.lexicon}
    report.top_terms = [
        BacktestTerm(term_id=term_id, label=labels.get(term_id), items=items, hits=term_hits[term_id])
        for term_id, items in sorted(term_items.items(), key=lambda pair: (-pair[1], pair[0]))[:top]
    ]


def _nobody(_actor_id: str) -> bool:
    return False
