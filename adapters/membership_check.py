"""Membership intervals against the chain.

Custodian holds read ``archive_memberships`` (who was in which room when), a derived table
changed in place, so it cannot carry a chain of its own. It is a function of the chained
events, though: replaying every join, leave, post and file upload in archive order (from the
columns the chain covers, so disposed events count as they did) rebuilds exactly the intervals
:func:`adapters.archive_derived.apply_derived` wrote, whatever the batches were. An interval
deleted, shortened or moved by hand no longer matches, and retention refuses to run.

``actor_name`` is not compared (a disposed event no longer says it, and no decision reads it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Connection, Engine, select

from adapters.archive_derived import _Memberships
from adapters.archive_schema import archive_events, archive_memberships
from adapters.hashchain import ChainReport, ChainRow
from ingest.events import JoinEvent, LeaveEvent, PostEvent

_Interval = tuple[str, str, datetime | None, datetime | None, str | None, str | None]
_EVIDENCE = ("join", "leave", "post", "file_upload")


@dataclass(frozen=True)
class _Party:
    id: str
    name: None = None


@dataclass(frozen=True)
class _Evidence:
    """What the interval bookkeeping reads of an event, as its chained columns say it."""

    event_id: str
    occurred_at: datetime
    room: _Party
    actor: _Party


def _replay(connection: Connection) -> tuple[Counter[_Interval], int]:
    replay = _Memberships({})
    events = archive_events.c
    result = connection.execution_options(yield_per=5000).execute(
        select(events.event_id, events.event_type, events.room_id, events.actor_id, events.occurred_at)
        .where(events.event_type.in_(_EVIDENCE))
        .order_by(events.seq)
    )
    replayed = 0
    for event_id, event_type, room_id, actor_id, occurred_at in result:
        evidence = _Evidence(event_id, occurred_at, _Party(room_id), _Party(actor_id))
        if event_type == "join":
            replay.join(cast(JoinEvent, evidence))
        elif event_type == "leave":
            replay.leave(cast(LeaveEvent, evidence))
        else:
            replay.seen(cast(PostEvent, evidence))
        replayed += 1
    return Counter(_interval(row) for row in replay.fresh), replayed


def _interval(row: dict[str, object] | object) -> _Interval:
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name)
    return (
        str(get("room_id")),
        str(get("actor_id")),
        get("joined_at"),  # type: ignore[return-value]
        get("left_at"),
        get("join_event_id"),
        get("leave_event_id"),
    )


def verify_memberships(engine: Engine) -> ChainReport:
    """Compare ``archive_memberships`` with the intervals the chained events imply; the report
    names the first interval that is missing or that no event implies. Run it after the
    archive's chain verified (it trusts the columns the chain covers)."""
    intervals = archive_memberships.c
    with engine.connect() as connection:
        expected, replayed = _replay(connection)
        stored = Counter(
            _interval(row)
            for row in connection.execute(
                select(
                    intervals.room_id,
                    intervals.actor_id,
                    intervals.joined_at,
                    intervals.left_at,
                    intervals.join_event_id,
                    intervals.leave_event_id,
                )
            )
        )
    for interval, problem in (
        *((i, "the chained events imply it but it is missing (deleted or changed)") for i in expected - stored),
        *((i, "no chained event implies it (inserted or changed)") for i in stored - expected),
    ):
        room, actor, joined, left = interval[:4]
        label = f"{actor} in {room} from {joined or 'before the archive'} to {left or 'now'}"
        bad = ChainRow(position=0, label=label, document="", content_hash="", prev_hash="", chain_hash="")
        return ChainReport(replayed, bad, f"membership interval: {problem}")
    return ChainReport(replayed)


__all__ = ["verify_memberships"]
