"""Membership intervals from the archive of record, for ``participant:`` (someone was in the room
when a message was sent): the archive-backed filter both backends take."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, or_, select

from archive.people import Person, people_matching
from archive.schema import archive_memberships
from search.tantivy_schema import filter_keys


@dataclass(frozen=True)
class Interval:
    room_id: str
    actor_id: str
    joined_at: datetime | None
    left_at: datetime | None


Memberships = Callable[[str], list[Interval]]
"""Membership intervals of one person (actor id), from the archive: what ``participant:`` needs."""


def intervals_of(
    engine: Engine, actor_id: str, people_named: Callable[[str], Iterable[Person]] | None = None
) -> list[Interval]:
    """Every membership interval of one person (for ``participant:``), found by id or name as
    ``from:`` finds a sender: whole values, case ignored (``user:AFisch``, ``afisch``), or by any
    name or e-mail address the person was ever seen with (``archive.people``; the backends pass
    the value with ``user:`` before it). ``people_named`` finds those people when given (the
    search's own resolution, :class:`search.service.PeopleLookup`), else the archive is asked."""
    interval = archive_memberships.c
    keys = {*filter_keys("from", actor_id), *filter_keys("from", actor_id.removeprefix("user:"))}
    ids = sorted(keys | {f"user:{key}" for key in keys})
    value = actor_id.removeprefix("user:")
    named = None if people_named is None else {p.id for p in people_named(value)}
    with engine.connect() as connection:
        people = named if named is not None else {p.id for p in people_matching(connection, value)}
        rows = connection.execute(
            select(interval.room_id, interval.actor_id, interval.joined_at, interval.left_at).where(
                or_(
                    func.lower(interval.actor_id).in_(ids),
                    func.lower(interval.actor_name).in_(sorted(keys)),
                    interval.actor_id.in_(sorted(people)),
                )
            )
        ).all()
    return [Interval(r.room_id, r.actor_id, r.joined_at, r.left_at) for r in rows]
