"""Putting documents into a review set: from a search (every hit of the query in the case's
scope, never a page), from a conversation slice (a room between two times), or by hand (message
ids or document keys).

The documents are the production's: the hits are turned into the selection an export reads
(:mod:`exports.selection`), its events are cut by :func:`exports.documents.documents` in the
set's unit and zone, and the families (a document with its attachments) holding a hit are kept,
each member under its :attr:`~exports.documents.Document.key`. A hit is a message (its post, an
edit or its deletion) or an uploaded file (``file:<upload event id>``, as the search names a
hit on a file). A document already in the set is left as it is (adding twice never duplicates);
rows are written in batches (``executemany``), so 100,000 documents are one statement per
batch, not a round trip each.

**The case's scope.** A document found by a search is kept when it is in the case's scope: in
one of the case's rooms, or with one of its custodians taking part or present (the case names
neither: everything), and with a hit inside the case's dates (when it has them); a family is
kept or left out whole. Slices and documents named by hand are taken as asked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, func, select

from archive.schema import archive_events, archive_messages
from archive.threads import thread_of
from cases.model import Case
from cases.store import CaseStore
from exports.documents import Document, DocumentUnit, Numbering, documents, no_threads, parse_document_key
from exports.selection import RoomHits, Selection, select_hits, selected_events
from exports.thread_links import SelectionThreads
from formats.time_zones import day_span, time_zone
from ingest.db import read_only
from ingest.events import DeleteEvent, EditEvent, Event, FileUploadEvent, PostEvent
from review.errors import ReviewConflict, ReviewNotFound
from review.schema import review_documents
from review.sets import ReviewSet, get_set, lock_set
from search.backends import SearchBackend
from search.memberships import Memberships
from search.query_ast import Node
from search.service import resolve_people

BATCH = 5000
"""Rows per ``executemany`` when a set is written."""
SUMMARY_CHARS = 300
MAX_BY_HAND = 10_000
"""Message ids or document keys in one addition by hand."""
_NUMBERING = Numbering("R-", width=12)  # documents() numbers them; review keeps only the keys
_DAY_MICROS = 86_400_000_000


@dataclass(frozen=True)
class Added:
    """What an addition did: documents new in the set, and those it already held."""

    added: int
    already: int


# --- hits ------------------------------------------------------------------------------------


def _hit_ids(event: Event) -> Iterator[str]:
    match event:
        case PostEvent() | EditEvent() | DeleteEvent():
            yield event.message.id
        case FileUploadEvent():
            yield f"file:{event.event_id}"


def _selection(by_room: dict[str, tuple[set[str], set[int]]]) -> Selection:
    """A selection of hits given per room as (hit ids, UTC day numbers)."""
    rooms = {room: RoomHits(frozenset(ids), frozenset(_day(d) for d in days)) for room, (ids, days) in by_room.items()}
    all_days = [d for _ids, days in by_room.values() for d in days]
    first = _at(min(all_days)) if all_days else None
    last = _at(max(all_days) + 1) - timedelta(microseconds=1) if all_days else None
    return Selection(
        rooms=tuple(sorted(rooms)),
        messages=sum(len(ids) for ids, _days in by_room.values()),
        first=first,
        last=last,
        room_hits=rooms.__getitem__,
    )


def _day(number: int) -> date:
    return _at(number).date()


def _at(day_number: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=day_number * _DAY_MICROS)


def _day_number(moment: datetime) -> int:
    return (moment.astimezone(UTC).date() - date(1970, 1, 1)).days


# --- documents -------------------------------------------------------------------------------


def _summary(document: Document) -> str:
    parts: list[str] = []
    for event in document.events:
        match event:
            case PostEvent():
                parts.append(f"{event.actor.name or event.actor.id}: {event.message.text}")
            case FileUploadEvent():
                parts.append(f"{event.actor.name or event.actor.id} shared {event.file.name}")
        if sum(len(p) for p in parts) > SUMMARY_CHARS:
            break
    text = " | ".join(parts) or f"{len(document.events)} events"
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def document_row(document: Document) -> dict[str, Any]:
    """A review document's columns (but the set's, the position and who added it)."""
    ids = list(dict.fromkeys(hit for event in document.events for hit in _hit_ids(event)))
    times = [event.occurred_at for event in document.events]
    return {
        "doc_key": document.key,
        "kind": document.kind,
        "room_id": document.room.id,
        "first_at": min(times),
        "last_at": max(times),
        "message_ids": ids,
        "senders": [actor.id for actor in document.senders],
        "summary": _summary(document),
    }


def hit_documents(
    events: Iterable[Event],
    review_set: ReviewSet,
    hits: Selection,
    custodians: Sequence[str] = (),
    threads: SelectionThreads | None = None,
) -> Iterator[tuple[Document, dict[str, Any]]]:
    """The documents of ``events`` in the set's unit and zone whose family holds a hit, each
    with its row (in the message unit an upload is a document of its own, ``upload:``, the
    parent of its ``attachment:``)."""
    zone = time_zone(review_set.time_zone)
    unit = cast(DocumentUnit, review_set.unit)  # one of DOCUMENT_UNITS (checked when the set was made)
    wanted: dict[str, frozenset[str]] = {}
    made = documents(
        events,
        unit=unit,
        numbering=_NUMBERING,
        zone=zone,
        custodians=custodians,
        threads=threads if threads is not None else no_threads,
    )
    for parent in made:
        room = parent.room.id
        if room not in wanted:
            wanted = {room: hits.room_hits(room).message_ids}
        ids = wanted[room]
        if not any(hit in ids for event in parent.events for hit in _hit_ids(event)):
            continue
        for document in parent.family():
            yield document, document_row(document)


def store_documents(
    engine: Engine, set_id: str, rows: Iterable[dict[str, Any]], source: dict[str, Any], actor: str
) -> Added:
    """Insert the rows the set does not hold yet, in batches, at the end of its order."""
    now = datetime.now(UTC)
    added = already = 0
    with engine.begin() as connection:
        lock_set(connection, set_id)
        known = set(
            connection.execute(
                select(review_documents.c.doc_key).where(review_documents.c.review_set_id == set_id)
            ).scalars()
        )
        position = (
            connection.execute(
                select(func.max(review_documents.c.position)).where(review_documents.c.review_set_id == set_id)
            ).scalar_one()
            or 0
        )
        batch: list[dict[str, Any]] = []
        for row in rows:
            if row["doc_key"] in known:
                already += 1
                continue
            known.add(row["doc_key"])
            position += 1
            batch.append(
                {
                    **row,
                    "review_set_id": set_id,
                    "position": position,
                    "added_by": actor,
                    "added_at": now,
                    "source": source,
                }
            )
            if len(batch) >= BATCH:
                connection.execute(review_documents.insert(), batch)
                added += len(batch)
                batch = []
        if batch:
            connection.execute(review_documents.insert(), batch)
            added += len(batch)
    return Added(added, already)


def _case_of(engine: Engine, review_set: ReviewSet) -> Case:
    case = CaseStore(engine).get_case(review_set.case_id)
    if case is None:  # pragma: no cover - a set's case is never deleted
        raise ReviewNotFound(f"no case {review_set.case_id!r}")
    return case


def in_scope(case: Case, document: Document, hit_times: Sequence[datetime]) -> bool:
    """Whether a document is in the case's scope (see the module doc)."""
    if case.rooms or case.custodians:
        present = {actor.id for actor in document.participants} | {actor.id for actor in document.custodian_people}
        if document.room.id not in case.rooms and not present.intersection(case.custodians):
            return False
    if case.date_from is None and case.date_to is None:
        return True
    return any(
        (case.date_from is None or at >= case.date_from) and (case.date_to is None or at <= case.date_to)
        for at in hit_times
    )


# --- the three ways in -----------------------------------------------------------------------


def add_from_search(
    engine: Engine,
    backend: SearchBackend,
    set_id: str,
    node: Node,
    query: str,
    actor: str,
    memberships: Memberships | None = None,
) -> Added:
    """Every hit of ``node`` (the whole hit set) in the case's scope, as the set's documents."""
    review_set = get_set(engine, set_id)
    case = _case_of(engine, review_set)
    zone = time_zone(review_set.time_zone)
    selection = select_hits(backend, resolve_people(engine, node), memberships, zone)

    def rows() -> Iterator[dict[str, Any]]:
        events = selected_events(engine, selection, zone=zone)
        family: tuple[Document | None, bool] = (None, False)  # a family is kept or left whole
        threads = SelectionThreads(engine, selection)
        for document, row in hit_documents(events, review_set, selection, case.custodians, threads):
            head = document.parent or document
            if family[0] is not head:
                ids = selection.room_hits(head.room.id).message_ids
                hit_times = [e.occurred_at for e in head.events if any(hit in ids for hit in _hit_ids(e))]
                family = (head, in_scope(case, head, hit_times))
            if family[1]:
                yield row

    return store_documents(engine, set_id, rows(), {"how": "search", "query": query}, actor)


def add_slice(engine: Engine, set_id: str, room_id: str, start: datetime, end: datetime, actor: str) -> Added:
    """The documents holding what was said or shared in ``room_id`` from ``start`` to before ``end``."""
    if end <= start:
        raise ReviewConflict("a slice ends after it starts")
    review_set = get_set(engine, set_id)
    hits: dict[str, tuple[set[str], set[int]]] = {}
    with read_only(engine) as connection:
        for message_id, posted_at in connection.execute(
            select(archive_messages.c.message_id, archive_messages.c.posted_at).where(
                archive_messages.c.room_id == room_id,
                archive_messages.c.posted_at >= start,
                archive_messages.c.posted_at < end,
            )
        ):
            _hit(hits, room_id, message_id, posted_at)
        _uploads(connection, hits, archive_events.c.room_id == room_id, start, end)
    source = {"how": "slice", "room_id": room_id, "start": start.isoformat(), "end": end.isoformat()}
    return _add_hits(engine, review_set, hits, source, actor)


def add_by_hand(engine: Engine, set_id: str, names: Sequence[str], actor: str) -> Added:
    """Documents named by message id or by document key (``message:``, ``attachment:``,
    ``conversation:<room>:<day>``, the day in the set's zone). ReviewNotFound names the first
    one the archive does not hold."""
    if not names:
        raise ReviewConflict("name at least one message id or document key")
    if len(names) > MAX_BY_HAND:
        raise ReviewConflict(f"at most {MAX_BY_HAND} message ids or document keys at once")
    review_set = get_set(engine, set_id)
    zone = time_zone(review_set.time_zone)
    hits: dict[str, tuple[set[str], set[int]]] = {}
    with read_only(engine) as connection:
        for name in names:
            if not _named(connection, hits, name, zone):
                raise ReviewNotFound(f"the archive holds no message or document {name!r}")
    return _add_hits(engine, review_set, hits, {"how": "hand", "names": list(names[:100])}, actor)


def _named(connection: Connection, hits: dict[str, tuple[set[str], set[int]]], name: str, zone: Any) -> bool:
    try:
        kind, value, day = parse_document_key(name)
    except ValueError:
        kind, value, day = "message", name, None
    if kind == "message":
        row = connection.execute(
            select(archive_messages.c.room_id, archive_messages.c.posted_at).where(
                archive_messages.c.message_id == value
            )
        ).first()
        if row is None or row.posted_at is None:
            return False
        _hit(hits, row.room_id, value, row.posted_at)
        return True
    if kind == "thread":  # every message of the thread, as linked so far
        links = thread_of(connection, value)
        for link in links or ():
            if link.posted_at is not None:
                _hit(hits, link.room_id, link.message_id, link.posted_at)
        return bool(links)
    if kind in ("attachment", "upload"):
        return _uploads(connection, hits, archive_events.c.event_id == value, None, None) > 0
    if day is None:  # context:<room>: a room of nothing but context holds nothing to review
        return False
    start, end = day_span(day, zone)
    found = 0
    for message_id, posted_at in connection.execute(
        select(archive_messages.c.message_id, archive_messages.c.posted_at).where(
            archive_messages.c.room_id == value,
            archive_messages.c.posted_at >= start,
            archive_messages.c.posted_at < end,
        )
    ):
        _hit(hits, value, message_id, posted_at)
        found += 1
    return found + _uploads(connection, hits, archive_events.c.room_id == value, start, end) > 0


def _hit(hits: dict[str, tuple[set[str], set[int]]], room: str, hit_id: str, at: datetime) -> None:
    ids, days = hits.setdefault(room, (set(), set()))
    ids.add(hit_id)
    days.add(_day_number(at))


def _uploads(
    connection: Connection,
    hits: dict[str, tuple[set[str], set[int]]],
    condition: Any,
    start: datetime | None,
    end: datetime | None,
) -> int:
    query = select(archive_events.c.event_id, archive_events.c.room_id, archive_events.c.occurred_at).where(
        condition, archive_events.c.event_type == "file_upload"
    )
    if start is not None and end is not None:
        query = query.where(archive_events.c.occurred_at >= start, archive_events.c.occurred_at < end)
    found = 0
    for event_id, room, at in connection.execute(query):
        _hit(hits, room, f"file:{event_id}", at)
        found += 1
    return found


def _add_hits(
    engine: Engine,
    review_set: ReviewSet,
    hits: dict[str, tuple[set[str], set[int]]],
    source: dict[str, Any],
    actor: str,
) -> Added:
    selection = _selection(hits)
    zone = time_zone(review_set.time_zone)
    events = selected_events(engine, selection, zone=zone)
    threads = SelectionThreads(engine, selection)
    rows = (row for _document, row in hit_documents(events, review_set, selection, threads=threads))
    return store_documents(engine, review_set.id, rows, source, actor)
