"""Membership intervals against the chain.

Custodian holds and ``participant:`` queries read ``archive_memberships`` (who was in which
room when, under which name), a derived table changed in place, so it cannot carry a chain of
its own. It is a function of the chained events, though: replaying every join, leave, post and
file upload in archive order (from the columns the chain covers, so disposed events count as
they did) rebuilds exactly the intervals :func:`archive.derived.apply_derived` wrote,
whatever the batches were. An interval deleted, shortened, moved or renamed by hand no longer
matches, ``verify`` says so and retention refuses to run.

``actor_name`` comes from the payload of the event that opened the interval; when that event
was disposed of, the name is no longer known and any stored name is accepted.

The recipients of a direct message are present from it (:func:`ingest.events.present_by`); the
replay reads them from the payload, and from the tombstone of a disposed event, which keeps the
ids and names of those it showed present (``present``, see ``archive.record.tombstone``).

Archives derived before the interval rules were last changed hold intervals the current rules
would not write: migration 0006 rebuilds the table once from the chain (:func:`rebuild`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, delete, insert, select

from archive.derived import Sighted, _Memberships
from archive.hashchain import ChainReport, ChainRow
from archive.payloads import payload_document
from archive.schema import archive_events, archive_memberships
from ingest.events import JoinEvent, LeaveEvent, PostEvent, parse_event_json, present_by

_Interval = tuple[str, str, datetime | None, datetime | None, str | None, str | None]
_EVIDENCE = ("join", "leave", "post", "file_upload")


@dataclass(frozen=True)
class _Party:
    id: str
    name: str | None = None


@dataclass(frozen=True)
class _Evidence:
    """What the interval bookkeeping reads of an event, as its chained columns say it."""

    event_id: str
    occurred_at: datetime
    room: _Party
    actor: _Party


def _name_in(document: dict[str, Any]) -> str | None:
    """The actor's name an event's payload gives (None for a tombstone or no name)."""
    actor = document.get("actor")
    name = actor.get("name") if isinstance(actor, dict) else None
    return name if isinstance(name, str) else None


def others_present(document: dict[str, Any], payload: str) -> list[_Party]:
    """Who besides its actor a post or file upload showed present: its recipients in a direct
    conversation (by the rule of ``present_by``), or what a tombstone kept of them."""
    if document.get("tombstone") is True:
        kept = document.get("present")
        return [_Party(str(p["id"]), p.get("name")) for p in kept or () if isinstance(p, dict) and "id" in p]
    room = document.get("room")
    if not document.get("recipients") or not isinstance(room, dict) or room.get("kind") != "im":
        return []  # the usual case, decided without validating the event
    return [_Party(party.id, party.name) for party in present_by(parse_event_json(payload))[1:]]


def expected_intervals(connection: Connection) -> tuple[list[dict[str, Any]], int]:
    """The rows ``archive_memberships`` must hold, replayed from the chain, and how many events
    were replayed."""
    replay = _Memberships({})
    events = archive_events.c
    # Options on the statement, not the connection: the migration passes its own connection.
    result = connection.execute(
        select(events.event_id, events.event_type, events.room_id, events.actor_id, events.occurred_at, events.payload)
        .where(events.event_type.in_(_EVIDENCE))
        .order_by(events.seq)
        .execution_options(yield_per=2000)
    )
    replayed = 0
    for event_id, event_type, room_id, actor_id, occurred_at, payload in result:
        document = payload_document(payload)
        evidence = _Evidence(event_id, occurred_at, _Party(room_id), _Party(actor_id, _name_in(document)))
        if event_type == "join":
            replay.join(cast(JoinEvent, evidence))
        elif event_type == "leave":
            replay.leave(cast(LeaveEvent, evidence))
        else:
            replay.seen(cast(PostEvent, evidence))
            for party in others_present(document, payload):
                replay.seen(cast(PostEvent, Sighted(event_id, occurred_at, _Party(room_id), party)))
        replayed += 1
    return replay.fresh, replayed


_COLUMNS = ("room_id", "actor_id", "joined_at", "left_at", "join_event_id", "leave_event_id")


def _stored(connection: Connection) -> list[dict[str, Any]]:
    c = archive_memberships.c
    query = select(*(c[name] for name in _COLUMNS), c.actor_name)
    return [dict(row._mapping) for row in connection.execute(query)]


def _names_by_interval(rows: list[dict[str, Any]]) -> dict[_Interval, list[str | None]]:
    grouped: dict[_Interval, list[str | None]] = defaultdict(list)
    for row in rows:
        grouped[_interval(row)].append(row["actor_name"])
    return grouped


def _first_difference(expected: list[dict[str, Any]], stored: list[dict[str, Any]]) -> tuple[_Interval, str] | None:
    want, have = _names_by_interval(expected), _names_by_interval(stored)
    for interval, names in want.items():
        found = list(have.get(interval, []))
        if len(found) < len(names):
            return interval, "the chained events imply it but it is missing (deleted or changed)"
        for name in names:
            if name is not None:
                if name not in found:
                    return interval, f"its actor_name differs from the chained event's ({name!r}): it was changed"
                found.remove(name)
    for interval, names in have.items():
        if len(names) > len(want.get(interval, [])):
            return interval, "no chained event implies it (inserted or changed)"
    return None


def _interval(row: dict[str, Any]) -> _Interval:
    return (
        str(row["room_id"]),
        str(row["actor_id"]),
        row["joined_at"],
        row["left_at"],
        row["join_event_id"],
        row["leave_event_id"],
    )


def verify_memberships(engine: Engine) -> ChainReport:
    """Compare ``archive_memberships`` with the intervals the chained events imply; the report
    names the first interval that is missing, renamed, or that no event implies. Run it after
    the archive's chain verified (it trusts the columns the chain covers)."""
    with engine.connect() as connection:
        expected, replayed = expected_intervals(connection)
        stored = _stored(connection)
    difference = _first_difference(expected, stored)
    if difference is None:
        return ChainReport(replayed)
    (room, actor, joined, left, _join, _leave), problem = difference
    label = f"{actor} in {room} from {joined or 'before the archive'} to {left or 'now'}"
    bad = ChainRow(position=0, label=label, document="", content_hash="", prev_hash="", chain_hash="")
    return ChainReport(replayed, bad, f"membership interval: {problem}")


def rebuild(connection: Connection) -> bool:
    """Replace ``archive_memberships`` with the intervals the chain implies when they differ
    (names the chain no longer knows are kept from the stored interval); whether it did."""
    expected, _replayed = expected_intervals(connection)
    stored = _stored(connection)
    if _first_difference(expected, stored) is None:
        return False
    known = {_interval(row): row["actor_name"] for row in stored}
    rows = [{**row, "actor_name": row["actor_name"] or known.get(_interval(row))} for row in expected]
    connection.execute(delete(archive_memberships))
    if rows:
        connection.execute(insert(archive_memberships), rows)
    return True


__all__ = ["expected_intervals", "rebuild", "verify_memberships"]
