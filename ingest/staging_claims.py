"""The batch processor's side of the staging store: claims under a lease, progress, backoff,
parking and deletion of the events every adapter has.

A processor (an ``owner``) claims the next due events by stamping its lease on them in one
statement (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite), so two
processors never hold the same event; a lease that expires (the processor died, or took longer
than the lease) makes its events due again. Whatever the owner then writes of an event, its
progress, its backoff, its deletion, is written in the caller's transaction and only while the
lease is still its own. The processor (:mod:`adapters.processor`) decides what to write and
when; this module holds the statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, any_, delete, func, or_, select, update

from ingest.db import among, insert_ignoring_conflicts
from ingest.staging import staged_deliveries, staged_events


@dataclass(frozen=True)
class ClaimedRow:
    """A claimed staging row before its payload is parsed."""

    event_id: str
    attempts: int
    payload: str
    delivered: set[str]
    """The adapters that have the event already (from an earlier, partly failed attempt)."""
    outages: int = 0
    """Of ``attempts``, those that found a store unreachable."""


class StagingClaims:
    """The statements one processor, ``owner``, runs on the events it claims, each in the
    caller's transaction."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def claim(self, connection: Connection, *, now: datetime, lease: timedelta, limit: int) -> list[ClaimedRow]:
        """Stamp our lease on the next due events (one statement) and read them with their progress.

        The progress of the claimed events is looked up by their ids, passed as one parameter
        (:func:`ingest.db.among`): ``lease_owner`` has no index, so keying on it would scan
        the whole staging table, and 1,000 ids as 1,000 bound parameters cost more than the
        statement itself (both measured).
        """
        staged = staged_events.c
        due = (
            select(staged.event_id)
            .where(
                staged.parked.is_(False),
                or_(staged.next_attempt_at.is_(None), staged.next_attempt_at <= now),
                or_(staged.lease_until.is_(None), staged.lease_until < now),
            )
            .order_by(staged.occurred_at, staged.event_id)
            .limit(limit)
        )
        dialect = connection.dialect.name
        if dialect == "postgresql":
            # = ANY(ARRAY(...)): the due ids are collected once and the rows found through the
            # primary key; a plain IN (...) was planned as a hash join over a scan of all of
            # staging, a cost that grew with the backlog (measured).
            chosen = staged.event_id == any_(func.array(due.with_for_update(skip_locked=True).scalar_subquery()))
        else:
            chosen = staged.event_id.in_(due.scalar_subquery())
        rows = connection.execute(
            update(staged_events)
            .where(chosen)
            .values(lease_until=now + lease, lease_owner=self.owner)
            .returning(staged.event_id, staged.payload, staged.attempts, staged.outages)
        ).all()
        if not rows:
            return []
        delivered: dict[str, set[str]] = {}
        # Progress rows exist only for events that failed somewhere: usually none at all, and
        # one probe is cheaper than looking up 1,000 ids. None can appear for these events
        # meanwhile: only their lease holder writes progress, and the lease is ours.
        if connection.execute(select(staged_deliveries.c.event_id).limit(1)).first() is not None:
            for event_id, adapter in connection.execute(
                select(staged_deliveries.c.event_id, staged_deliveries.c.adapter).where(
                    among(staged_deliveries.c.event_id, (r.event_id for r in rows), dialect)
                )
            ):
                delivered.setdefault(event_id, set()).add(adapter)
        return [
            ClaimedRow(r.event_id, r.attempts, r.payload, delivered.get(r.event_id, set()), r.outages) for r in rows
        ]

    def release(self, connection: Connection, event_ids: Sequence[str]) -> None:
        """Give up our lease on ``event_ids`` (those still ours): they are due again at once."""
        connection.execute(
            update(staged_events)
            .where(
                among(staged_events.c.event_id, event_ids, connection.dialect.name),
                staged_events.c.lease_owner == self.owner,
            )
            .values(lease_until=None, lease_owner=None)
        )

    def still_owned(self, connection: Connection, event_ids: Sequence[str]) -> set[str]:
        """The events of ``event_ids`` whose lease is still ours (row-locked until commit on
        PostgreSQL, so no other processor takes them over before the outcome is recorded)."""
        staged = staged_events.c
        query = select(staged.event_id).where(
            among(staged.event_id, event_ids, connection.dialect.name), staged.lease_owner == self.owner
        )
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        return set(connection.execute(query).scalars())

    def record_progress(self, connection: Connection, progress: Sequence[Mapping[str, Any]]) -> None:
        """Record which adapters have which events (``event_id``, ``adapter``, ``delivered_at``)
        for events that stay staged; a success recorded already is kept as it is."""
        connection.execute(insert_ignoring_conflicts(connection.dialect.name, staged_deliveries), progress)

    def back_off(
        self,
        connection: Connection,
        event_id: str,
        *,
        attempts: int,
        last_error: str,
        next_attempt_at: datetime,
        parked: bool,
        outages: int = 0,
    ) -> None:
        """Record a failed attempt at ``event_id``: when it is due again, or that it is parked."""
        connection.execute(
            update(staged_events)
            .where(staged_events.c.event_id == event_id)
            .values(
                attempts=attempts,
                outages=outages,
                last_error=last_error,
                next_attempt_at=next_attempt_at,
                parked=parked,
            )
        )

    def delete_leased(self, connection: Connection, event_ids: Sequence[str], *, with_progress: bool) -> list[str]:
        """Delete the events of ``event_ids`` still leased to us, and, ``with_progress``, their
        progress rows: one statement per table. Returns the ids deleted."""
        dialect = connection.dialect.name
        staged = staged_events.c
        deleted = list(
            connection.execute(
                delete(staged_events)
                .where(among(staged.event_id, event_ids, dialect), staged.lease_owner == self.owner)
                .returning(staged.event_id)
            ).scalars()
        )
        if deleted and with_progress:
            connection.execute(delete(staged_deliveries).where(among(staged_deliveries.c.event_id, deleted, dialect)))
        return deleted

    def delete_owned(self, connection: Connection, event_ids: Sequence[str]) -> None:
        """Delete events known to be ours (:meth:`still_owned`, locked) and their progress rows,
        one statement per table."""
        if not event_ids:
            return
        dialect = connection.dialect.name
        connection.execute(delete(staged_deliveries).where(among(staged_deliveries.c.event_id, event_ids, dialect)))
        connection.execute(
            delete(staged_events).where(
                among(staged_events.c.event_id, event_ids, dialect), staged_events.c.lease_owner == self.owner
            )
        )


def only_parked_left(engine: Engine) -> bool:
    """Whether staging holds no event but parked ones (due, backing off or leased)."""
    with engine.connect() as connection:
        waiting = connection.execute(
            select(staged_events.c.event_id).where(staged_events.c.parked.is_(False)).limit(1)
        ).first()
    return waiting is None


def retry_parked(engine: Engine) -> int:
    """Put every parked event back in line (attempts reset); returns how many."""
    with engine.begin() as connection:
        result = connection.execute(
            update(staged_events)
            .where(staged_events.c.parked.is_(True))
            .values(parked=False, attempts=0, outages=0, next_attempt_at=None, lease_until=None, lease_owner=None)
        )
        return int(result.rowcount)


def parked_events(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    """The first parked events with their last error, for ``archivist status``."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(staged_events.c.event_id, staged_events.c.attempts, staged_events.c.last_error)
            .where(staged_events.c.parked.is_(True))
            .order_by(staged_events.c.occurred_at)
            .limit(limit)
        ).all()
    return [dict(row._mapping) for row in rows]
