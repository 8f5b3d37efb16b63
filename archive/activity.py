"""Reading who did what where over a window of time, from the archive of record: rooms, posts
and membership intervals (what a policy simulation replays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from archive.schema import archive_memberships, archive_messages, archive_rooms


@dataclass(frozen=True)
class RoomKind:
    name: str | None
    kind: str


@dataclass(frozen=True)
class Post:
    room_id: str
    actor_id: str
    posted_at: datetime


@dataclass(frozen=True)
class Stay:
    """One membership interval; ``recorded_join`` is False when the join was inferred."""

    room_id: str
    actor_id: str
    joined_at: datetime | None
    left_at: datetime | None
    recorded_join: bool


@dataclass(frozen=True)
class Activity:
    rooms: dict[str, RoomKind]
    posts: list[Post]
    """In time order (message id breaking ties)."""
    stays: list[Stay]
    """In the order they were recorded."""


def activity_between(engine: Engine, since: datetime, until: datetime) -> Activity:
    """Every room, the posts sent in ``[since, until)`` and the intervals overlapping it."""
    messages = archive_messages.c
    intervals = archive_memberships.c
    with engine.connect() as connection:
        rooms = {
            r.room_id: RoomKind(r.name, r.kind)
            for r in connection.execute(select(archive_rooms.c.room_id, archive_rooms.c.name, archive_rooms.c.kind))
        }
        posts = [
            Post(r.room_id, r.actor_id, r.posted_at)
            for r in connection.execute(
                select(messages.room_id, messages.actor_id, messages.posted_at)
                .where(messages.posted_at >= since, messages.posted_at < until)
                .order_by(messages.posted_at, messages.message_id)
            )
        ]
        stays = [
            Stay(r.room_id, r.actor_id, r.joined_at, r.left_at, r.join_event_id is not None)
            for r in connection.execute(
                select(
                    intervals.room_id,
                    intervals.actor_id,
                    intervals.joined_at,
                    intervals.left_at,
                    intervals.join_event_id,
                )
                .where((intervals.left_at.is_(None)) | (intervals.left_at > since))
                .where((intervals.joined_at.is_(None)) | (intervals.joined_at < until))
                .order_by(intervals.id)
            )
        ]
    return Activity(rooms, posts, stays)
