"""People: a person is their actor id; names and addresses are what they were seen with.

Chat servers send a display name and an e-mail address with every event, and people rename
themselves ("Alice Smith", then "Alice (NY)", then "Alice (OOO)"). ``archive_people`` keeps every
name and address each actor id was seen with and when first and last (the event's actor, and
the recipients it names), so that ``from:`` and ``participant:`` find a person by any name they
ever had, and pages show the name of the moment beside the id.

Matching folds a value the same way on both sides (:func:`match_key`: Unicode compatibility
decomposition, accents dropped, case folded, spaces collapsed). A name two people had ("Sam")
matches both: :func:`people_matching` returns everyone, and the search says so.

The table is derived (rebuilt from the events by :func:`rebuild`) and kept when events are
disposed of, like the membership intervals: a name is not content, and holds and searches on
later events still need to find the person by it.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, or_, select, update

from archive.payloads import payload_document
from archive.schema import archive_events, archive_people
from ingest.db import among, read_only
from ingest.events import Actor, Event, SupervisionHitEvent

_people = archive_people.c
_UPDATE_SEEN = (
    update(archive_people)
    .where(_people.id == bindparam("row"))
    .values(first_seen_at=bindparam("first"), last_seen_at=bindparam("last"))
)


def match_key(value: str) -> str:
    """What a name or address is matched on: ``Zoë  SMITH`` and ``zoe smith`` are the same."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class Person:
    """One person (actor id) and every name and address they were seen with, oldest first."""

    id: str
    names: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


Sighting = tuple[str, str, str]
"""(actor id, ``name`` or ``email``, the value as recorded)."""


def sightings(actor: Actor | dict[str, Any]) -> Iterable[Sighting]:
    """The names and addresses one actor of an event shows."""
    actor_id: object
    name: object
    email: object
    if isinstance(actor, Actor):
        actor_id, name, email = actor.id, actor.name, actor.email
    else:
        actor_id, name, email = actor.get("id"), actor.get("name"), actor.get("email")
    if not isinstance(actor_id, str):
        return
    if isinstance(name, str) and match_key(name):
        yield actor_id, "name", name
    if isinstance(email, str) and match_key(email):
        yield actor_id, "email", email


class Seen:
    """Sightings with their first and last times, folded in memory, then written at once."""

    def __init__(self) -> None:
        self.spans: dict[Sighting, tuple[datetime, datetime]] = {}

    def add(self, sighting: Sighting, at: datetime) -> None:
        span = self.spans.get(sighting)
        self.spans[sighting] = (at, at) if span is None else (min(span[0], at), max(span[1], at))

    def add_event(self, event: Event) -> None:
        if isinstance(event, SupervisionHitEvent):
            return  # its actor is Archivist's supervision, not a person of the firm
        for actor in (event.actor, *(event.__dict__.get("recipients") or ())):
            for sighting in sightings(actor):
                self.add(sighting, event.occurred_at)

    def write(self, connection: Connection) -> None:
        """Insert the sightings not recorded yet, widen the spans of those that are."""
        if not self.spans:
            return
        hashed = {sighting: _digest(f"{sighting[1]}\x00{sighting[2]}") for sighting in self.spans}
        dialect = connection.dialect.name
        stored = {
            (row.actor_id, row.value_hash): row
            for row in connection.execute(
                select(
                    _people.id, _people.actor_id, _people.value_hash, _people.first_seen_at, _people.last_seen_at
                ).where(among(_people.value_hash, sorted(set(hashed.values())), dialect))
            )
        }
        fresh: list[dict[str, Any]] = []
        widened: list[dict[str, Any]] = []
        for sighting, (first, last) in self.spans.items():
            actor_id, kind, value = sighting
            row = stored.get((actor_id, hashed[sighting]))
            if row is None:
                fresh.append(
                    {
                        "actor_id": actor_id,
                        "kind": kind,
                        "value": value,
                        "value_hash": hashed[sighting],
                        "key_hash": _digest(match_key(value)),
                        "first_seen_at": first,
                        "last_seen_at": last,
                    }
                )
            elif first < row.first_seen_at or last > row.last_seen_at:
                widened.append(
                    {"row": row.id, "first": min(first, row.first_seen_at), "last": max(last, row.last_seen_at)}
                )
        if fresh:
            connection.execute(archive_people.insert(), fresh)
        if widened:
            connection.execute(_UPDATE_SEEN, widened)


def record_people(connection: Connection, events: Sequence[Event]) -> None:
    """Record the names and addresses ``events`` show (in the archive's append transaction)."""
    seen = Seen()
    for event in events:
        seen.add_event(event)
    seen.write(connection)


def _candidates(value: str) -> list[str]:
    """The ways a ``from:``/``participant:`` value may be written: ``@bob``, ``user:bob``."""
    stripped = value.strip()
    return list(dict.fromkeys(v for v in (stripped, stripped.removeprefix("@"), stripped.removeprefix("user:")) if v))


class TooManyPeople(ValueError):
    """A value that names more people than a search may expand it to (a name too common)."""

    def __init__(self, value: str, at_most: int) -> None:
        super().__init__(
            f"{value!r} names more than {at_most:,} people: the name is too common to search by; "
            "name the person by their id (user:...) or e-mail address"
        )
        self.value = value
        self.at_most = at_most


def people_matching(connection: Connection, value: str, at_most: int | None = None) -> list[Person]:
    """Everyone ``value`` names: by id (``user:bob`` or ``bob``, case ignored), or by any name or
    address they were ever seen with (folded, see :func:`match_key`); sorted by id. Raises
    :class:`TooManyPeople` when they are more than ``at_most`` (never more are read)."""
    candidates = _candidates(value)
    keys = sorted({_digest(match_key(v)) for v in candidates})
    lowered = sorted({v.lower() for v in candidates} | {f"user:{v.lower()}" for v in candidates})
    query = (
        select(_people.actor_id)
        .where(or_(_people.key_hash.in_(keys), func.lower(_people.actor_id).in_(lowered)))
        .distinct()
    )
    if at_most is not None:
        query = query.limit(at_most + 1)
    ids = set(connection.execute(query).scalars())
    if at_most is not None and len(ids) > at_most:
        raise TooManyPeople(value, at_most)
    return people_by_id(connection, sorted(ids))


def people_by_id(connection: Connection, actor_ids: Sequence[str]) -> list[Person]:
    """Each of ``actor_ids`` with the names and addresses it was seen with, oldest first."""
    if not actor_ids:
        return []
    rows = connection.execute(
        select(_people.actor_id, _people.kind, _people.value)
        .where(_people.actor_id.in_(list(actor_ids)))
        .order_by(_people.actor_id, _people.first_seen_at, _people.id)
    ).all()
    names: dict[str, list[str]] = {actor_id: [] for actor_id in actor_ids}
    emails: dict[str, list[str]] = {actor_id: [] for actor_id in actor_ids}
    for row in rows:
        (names if row.kind == "name" else emails)[row.actor_id].append(row.value)
    return [Person(actor_id, tuple(names[actor_id]), tuple(emails[actor_id])) for actor_id in actor_ids]


def find_people(engine: Engine, value: str, at_most: int | None = None) -> list[Person]:
    with read_only(engine) as connection:
        return people_matching(connection, value, at_most)


def names_at(engine: Engine, actor_ids: Sequence[str], at: datetime) -> dict[str, str]:
    """The display name of each of ``actor_ids`` at ``at``: the newest name first seen by then
    (a person who went back to an earlier name shows the later one until the archive sees
    them again); people with no name seen by then are left out."""
    wanted = sorted(set(actor_ids))
    if not wanted:
        return {}
    with read_only(engine) as connection:
        rows = connection.execute(
            select(_people.actor_id, _people.value)
            .where(_people.actor_id.in_(wanted), _people.kind == "name", _people.first_seen_at <= at)
            .order_by(_people.actor_id, _people.first_seen_at, _people.id)
        ).all()
    return {row.actor_id: row.value for row in rows}  # the last of each person's, oldest first


def names_on_events(engine: Engine, event_ids: Sequence[str]) -> dict[str, str]:
    """The actor's name each of ``event_ids`` carries (the name of the moment), where it has
    one; disposed events (tombstones) have none."""
    wanted = sorted(set(event_ids))
    if not wanted:
        return {}
    with read_only(engine) as connection:
        rows = connection.execute(
            select(archive_events.c.event_id, archive_events.c.payload).where(
                among(archive_events.c.event_id, wanted, connection.dialect.name)
            )
        ).all()
    found: dict[str, str] = {}
    for event_id, payload in rows:
        name = _actor_of(payload).get("name")
        if isinstance(name, str) and name:
            found[event_id] = name
    return found


def label(name: str | None, actor_id: str) -> str:
    """How a page shows a person: the name of the moment and the id (``Ann (user:ann)``)."""
    return f"{name} ({actor_id})" if name and name != actor_id else actor_id


def _actor_of(payload: str) -> dict[str, Any]:
    actor = payload_document(payload).get("actor")
    return actor if isinstance(actor, dict) else {}


def rebuild(connection: Connection) -> int:
    """Fill ``archive_people`` from every archived event (migration 0008); how many rows."""
    seen = Seen()
    events = archive_events.c
    result = connection.execute(
        select(events.occurred_at, events.payload).order_by(events.seq).execution_options(yield_per=2000)
    )
    for occurred_at, payload in result:
        document = payload_document(payload)
        recipients = document.get("recipients")
        for actor in (document.get("actor"), *(recipients if isinstance(recipients, list) else ())):
            if isinstance(actor, dict):
                for sighting in sightings(actor):
                    seen.add(sighting, occurred_at)
    connection.execute(delete(archive_people))
    seen.write(connection)
    return len(seen.spans)


__all__ = [
    "Person",
    "TooManyPeople",
    "find_people",
    "label",
    "match_key",
    "names_at",
    "names_on_events",
    "people_by_id",
    "people_matching",
    "rebuild",
    "record_people",
]
