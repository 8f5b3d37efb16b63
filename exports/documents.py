"""The documents of a production: how archived events become numbered documents, the one home of
the document unit, of control (Bates) numbers and of families.

A production chooses its **unit** (:data:`DocumentUnit`), as Relativity's short-message guidance
and the RSMF specification describe for chat:

- ``conversation`` (the default): a conversation slice, one room on one day of the production's
  time zone (cut at its midnight). It holds every event of the room-day, in time order.
- ``message``: one message: its post, every edit, its deletion and the read receipts naming it;
  and, as context, the joins, leaves, downloads, disclaimers, policy decisions and room updates of
  its room from it until the room's next message (those before the room's first message go with
  that first message). A file upload is a message whose content is a file: a document of its own.
- ``thread``: one thread (docs/threads.md): the messages of the export that belong to it, each
  with its edits, deletion and read receipts, and the context as the message unit takes it (from
  each of its messages until the room's next message). A file upload goes with the thread of the
  room's latest message, as its attachment. A message's thread is its link
  (``archive_thread_links``, handed in as ``threads``); a message without one is in the thread
  of the message it replies to (``reply_to``: that message's thread when the export holds it,
  else the thread named by that id, as the threads adapter does), else in a thread of its own.

Joins, leaves and reads are context inside a document, never documents of their own: a
conversation slice that holds nothing but context (a read receipt days after the message, a
leave) is not a document; its events are appended to the room's previous document as late
context (or, when the room has none yet, put before its next one).

**Families.** Every uploaded file is an ``attachment`` document, a child of the document holding
its upload; the children are numbered right after their parent, so a family is a contiguous
range: ``BEGATTACH`` is the parent's control number, ``ENDATTACH`` the last child's (the parent's
own when it has none), the Concordance and Relativity convention.

**Numbering.** Every document (parent or attachment) takes the next control number of the
production's :class:`Numbering`: ``<prefix><number zero-padded to width>`` (``ACME-0000001``).
Numbering is document level (Relativity's "document level numbering"): a document has one
number, and the pages of its image carry that number and a page suffix
(:func:`page_label`). Numbers follow the events' export order (room, then time), so every
format of a production that walks :func:`documents` gives every document the same number.

**People.** ``participants`` of a conversation slice: who was present at its start (joined and
not left, or seen acting: :func:`ingest.events.present_by`'s rule, carried through the room), and
everyone who did anything in it or was named as a recipient (RSMF's participants of a
conversation). Of a message: who took part in it (wrote, edited, deleted or read it, or was named
as a recipient), and the context's actors; not the room's whole audience: a channel's audience at
any moment is the "who was present" page's answer, and naming a thousand present people on each
of 100,000 messages made productions of gigabytes (measured on the IRC logs: 675 people per
message on average). ``senders``: who wrote (posts, edits, uploads). ``custodians``: the
production's custodians (the case's) who took part or were present in the room at the document's
start (a case's scope holds every event in a room while a custodian is in it); when the
production names no custodians, the senders (else the participants).

Memory: a conversation slice is held until the next one is known (one slice of look-ahead, to
append context-only slices); the message unit holds one room's events at a time, since an edit or
a read receipt can come any time after its message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Literal
from zoneinfo import ZoneInfo

from formats.time_zones import local_date
from ingest.events import (
    Actor,
    DeleteEvent,
    EditEvent,
    Event,
    FileUploadEvent,
    LeaveEvent,
    PostEvent,
    ReadEvent,
    Room,
    present_by,
)

DocumentUnit = Literal["conversation", "message", "thread"]
DOCUMENT_UNITS: tuple[DocumentUnit, ...] = ("conversation", "message", "thread")
DocumentKind = Literal["conversation", "message", "thread", "attachment"]


@dataclass(frozen=True, slots=True)
class MessageThread:
    """Where a message sits in its thread: the thread (its first message's id) and the message it
    answers (None: it starts the thread)."""

    thread_id: str
    parent_id: str | None
    source: str = "explicit"
    """``explicit``: the platform's reply; ``model``: reconstructed (docs/threads.md)."""


RoomThreads = Callable[[str], Mapping[str, MessageThread]]
"""The thread of each message of a room the export holds, by message id (a room id in; the
export's :class:`~exports.base.ExportContext` loads them from ``archive.threads``)."""


def no_threads(_room_id: str) -> Mapping[str, MessageThread]:
    """No thread links known: messages thread by their own ``reply_to`` only."""
    return {}


_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,19}$")
MAX_NUMBER = 10**12 - 1
"""The largest control number (12 digits); a production past it is refused."""

_CONTENT = (PostEvent, EditEvent, DeleteEvent, FileUploadEvent)
"""What makes a conversation slice a document: something said (or unsaid), or a file shared."""


class BadNumbering(ValueError):
    """A prefix, start or width a control number cannot be made of."""


@dataclass(frozen=True)
class Numbering:
    """How a production numbers its documents: ``prefix`` + the number, zero-padded to ``width``."""

    prefix: str
    start: int = 1
    width: int = 7

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise BadNumbering(
                f"control number prefix {self.prefix!r} must be 1 to 20 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        if not 1 <= self.start <= MAX_NUMBER:
            raise BadNumbering(f"the first control number must be between 1 and {MAX_NUMBER}, not {self.start}")
        if not 4 <= self.width <= 12:
            raise BadNumbering(f"control numbers have 4 to 12 digits, not {self.width}")
        if self.start >= 10**self.width:
            raise BadNumbering(self._past(self.start))

    def control(self, number: int) -> str:
        # A number always fits its width: ACME- with 8 digits (ACME-10000001) would read as
        # ACME-1 number 1, another prefix's control number.
        if number > MAX_NUMBER or number >= 10**self.width:
            raise BadNumbering(self._past(number))
        return f"{self.prefix}{number:0{self.width}d}"

    def _past(self, number: int) -> str:
        last = 10**self.width - 1
        return (
            f"control number {number} does not fit {self.prefix}'s {self.width} digits: the last is "
            f"{self.prefix}{last}; choose another prefix"
        )


def export_prefix(export_id: str) -> str:
    """The export id's first 8 letters and digits, upper-cased (``5f0c6f3e-8a55-...`` gives
    ``5F0C6F3E``), or ``ARCHIVIST`` when it has none."""
    kept = "".join(ch for ch in export_id if ch.isascii() and ch.isalnum())[:8].upper()
    return kept or "ARCHIVIST"


def default_numbering(export_id: str) -> Numbering:
    """The numbering of an export that is not a numbered production of a case: the export's
    prefix (:func:`export_prefix`), then ``-`` (``5F0C6F3E-0000001``)."""
    return Numbering(f"{export_prefix(export_id)}-")


def page_label(control: str, page: int) -> str:
    """What page ``page`` (from 1) of a document's image is stamped with: the document's control
    number, then ``.`` and the page number in four digits from the second page on
    (``ACME-0000001``, ``ACME-0000001.0002``): document-level numbering with page suffixes."""
    return control if page == 1 else f"{control}.{page:04d}"


@dataclass(slots=True)
class Document:
    """One document of a production (see the module doc)."""

    number: int
    control: str
    kind: DocumentKind
    room: Room
    day: date
    """The day (in the production's zone) of its first event: a conversation slice's day."""
    events: list[Event]
    """Every event of the document, context included, in time order; an attachment's: its upload."""
    versions: dict[str, int] = field(default_factory=dict)
    """Event id (as a string) of each edit -> the version it makes (the post is version 1; the
    edits of a message seen in the production so far count, so it is the same in every unit)."""
    message_id: str | None = None
    """A message document's message; None for the others."""
    thread_id: str | None = None
    """A thread document's thread (its first message's id); None for the others."""
    upload: FileUploadEvent | None = None
    """An attachment's upload event (the file is its ``file``)."""
    parent: Document | None = None
    children: list[Document] = field(default_factory=list)
    participants: tuple[Actor, ...] = ()
    senders: tuple[Actor, ...] = ()
    custodians: tuple[str, ...] = ()
    """Person ids (see the module doc)."""
    custodian_people: tuple[Actor, ...] = ()
    """The custodians as people (their names of the moment), in the same order: a custodian may
    have been present without taking part, so not every one is among ``participants``."""

    @property
    def family_begin(self) -> str:
        """``BEGATTACH``: the family's first control number (its parent's)."""
        return (self.parent or self).control

    @property
    def family_end(self) -> str:
        """``ENDATTACH``: the family's last control number."""
        head = self.parent or self
        return head.children[-1].control if head.children else head.control

    @property
    def last(self) -> Document:
        """The last document of this one's family (itself when it has no children)."""
        return self.children[-1] if self.children else self

    def family(self) -> Iterator[Document]:
        """This document, then its attachments, in number order."""
        yield self
        yield from self.children

    @property
    def key(self) -> str:
        """The document's name outside any production (review sets, coding, the privilege log): the
        same in every production of the same unit and zone, unlike its control number.
        ``message:<message id>``, ``thread:<thread id>``, ``attachment:<upload event id>``,
        ``conversation:<room id>:<YYYY-MM-DD>`` (its day in the production's zone); in the message
        unit an upload is a message document of its own, ``upload:<upload event id>`` (the parent
        of ``attachment:<the same id>``), and a room of nothing but context is ``context:<room id>``."""
        if self.kind == "thread":
            assert self.thread_id is not None
            return document_key("thread", self.thread_id)
        if self.kind == "attachment":
            assert self.upload is not None
            return document_key("attachment", str(self.upload.event_id))
        if self.kind == "message":
            if self.message_id is not None:
                return document_key("message", self.message_id)
            upload = next((e for e in self.events if isinstance(e, FileUploadEvent)), None)
            if upload is not None:
                return document_key("upload", str(upload.event_id))
            return document_key("context", self.room.id)
        return document_key("conversation", self.room.id, self.day)

    @property
    def deleted(self) -> bool:
        return any(isinstance(event, DeleteEvent) for event in self.events)


KeyKind = Literal["conversation", "message", "thread", "attachment", "upload", "context"]
_KEY_KINDS: tuple[KeyKind, ...] = ("message", "thread", "attachment", "upload", "context")


def document_key(kind: KeyKind, name: str, day: date | None = None) -> str:
    """A document's key (see :attr:`Document.key`): a conversation slice's names its room and day."""
    if kind == "conversation":
        if day is None:
            raise ValueError("a conversation slice's key names its day")
        return f"conversation:{name}:{day.isoformat()}"
    return f"{kind}:{name}"


def parse_document_key(key: str) -> tuple[KeyKind, str, date | None]:
    """``(kind, name, day)`` of a document key; ValueError for anything else."""
    kind, sep, rest = key.partition(":")
    if not sep or not rest:
        raise ValueError(f"not a document key: {key!r}")
    if kind == "conversation":
        room, sep, day = rest.rpartition(":")
        if not sep or not room:
            raise ValueError(f"a conversation key is conversation:<room>:<YYYY-MM-DD>, not {key!r}")
        try:
            return "conversation", room, date.fromisoformat(day)
        except ValueError:
            raise ValueError(f"a conversation key ends with its day (YYYY-MM-DD), not {key!r}") from None
    for known in _KEY_KINDS:
        if kind == known:
            return known, rest, None
    raise ValueError(
        f"not a document key: {key!r} (message:, thread:, attachment:, upload:, context: or conversation:)"
    )


@dataclass
class DocumentCount:
    """What :func:`documents` numbered: how many documents (attachments included) and the first
    and last number, for the format's report and the production log."""

    documents: int = 0
    families: int = 0
    first: int | None = None
    last: int | None = None


class _People:
    """A document's participants: who was present at its start (a snapshot the room shares
    between documents while nobody comes or goes) and who else took part."""

    def __init__(self, start: dict[str, Actor], present: dict[str, Actor] | None = None) -> None:
        self.start = start
        self.extra: dict[str, Actor] = {}
        self.present = start if present is None else present
        """Who was in the room at the start (custodians are looked up here too)."""

    def add(self, actor: Actor) -> None:
        if actor.id not in self.start:
            self.extra.setdefault(actor.id, actor)

    def actors(self) -> tuple[Actor, ...]:
        return (*self.start.values(), *self.extra.values())


@dataclass
class _Room:
    """One room's state while its documents are made: who is present, each edited message's
    edit count."""

    present: dict[str, Actor] = field(default_factory=dict)
    edits: dict[str, int] = field(default_factory=dict)
    _snapshot: dict[str, Actor] | None = None

    def version_of(self, event: EditEvent) -> int:
        count = self.edits.get(event.message.id, 0) + 1
        self.edits[event.message.id] = count
        return count + 1

    def people(self) -> _People:
        """Participants of a conversation slice starting now: those present, then whoever takes part."""
        return _People(self._present_now())

    def takers(self) -> _People:
        """Participants of a message starting now: whoever takes part (those present are kept
        aside, for its custodians)."""
        return _People({}, self._present_now())

    def _present_now(self) -> dict[str, Actor]:
        if self._snapshot is None:
            self._snapshot = dict(self.present)  # shared, never changed: a new one when presence changes
        return self._snapshot

    def see(self, event: Event, participants: _People) -> None:
        """Take ``event`` into the room's presence and into a document's ``participants``."""
        actor = event.actor
        participants.add(actor)
        for recipient in present_by(event)[1:]:
            participants.add(recipient)
            self._enter(recipient)
        if isinstance(event, LeaveEvent):
            if self.present.pop(actor.id, None) is not None:
                self._snapshot = None
        else:
            self._enter(actor)

    def _enter(self, actor: Actor) -> None:
        if actor.id not in self.present:
            self.present[actor.id] = actor
            self._snapshot = None


class _Numberer:
    def __init__(self, numbering: Numbering, count: DocumentCount) -> None:
        self.numbering = numbering
        self.count = count
        self.next = numbering.start

    def take(self) -> tuple[int, str]:
        number = self.next
        control = self.numbering.control(number)
        self.next += 1
        self.count.documents += 1
        if self.count.first is None:
            self.count.first = number
        self.count.last = number
        return number, control


def documents(
    events: Iterable[Event],
    *,
    unit: DocumentUnit,
    numbering: Numbering,
    zone: ZoneInfo,
    custodians: Sequence[str] = (),
    count: DocumentCount | None = None,
    threads: RoomThreads = no_threads,
) -> Iterator[Document]:
    """The documents of ``events`` (in export order: room, then time), each parent with its
    attachments as ``children``, numbered from ``numbering.start`` (see the module doc).
    ``count`` is kept up to date as documents are yielded. ``threads``: the thread links of a
    room's messages (the thread unit reads them, once per room)."""
    tally = count if count is not None else DocumentCount()
    numberer = _Numberer(numbering, tally)
    make = _Maker(numberer, zone, tuple(custodians), tally)
    seen_rooms: set[str] = set()
    for room_id, room_events in groupby(events, key=lambda event: event.room.id):
        if room_id in seen_rooms:
            raise ValueError(f"events are not in export order: room {room_id!r} came again")
        seen_rooms.add(room_id)
        state = _Room()
        if unit == "conversation":
            yield from make.slices(room_events, state)
        elif unit == "thread":
            yield from make.messages(room_events, state, _ThreadOf(threads(room_id)))
        else:
            yield from make.messages(room_events, state)


class _Maker:
    def __init__(self, numberer: _Numberer, zone: ZoneInfo, custodians: tuple[str, ...], count: DocumentCount) -> None:
        self.numberer = numberer
        self.zone = zone
        self.custodians = custodians
        self.count = count

    def _day(self, event: Event) -> date:
        if self.zone.key == "UTC":
            return event.occurred_at.date()
        return local_date(event.occurred_at, self.zone)

    # --- conversation slices ----------------------------------------------------------------

    def slices(self, events: Iterable[Event], state: _Room) -> Iterator[Document]:
        held: tuple[list[Event], _People] | None = None  # the previous slice, not yet numbered
        early: list[Event] = []  # context before the room's first document
        last_day: date | None = None
        for day, day_events in groupby(events, key=self._day):
            if last_day is not None and day <= last_day:
                raise ValueError(f"events are not in export order: {day} of a room came again")
            last_day = day
            slice_events = list(day_events)
            if not any(isinstance(event, _CONTENT) for event in slice_events):
                # Context only: late context of the previous document, or early context of the next.
                if held is None:
                    early.extend(slice_events)
                    continue
                held[0].extend(slice_events)
                for event in slice_events:
                    state.see(event, held[1])
                continue
            if held is not None:
                yield self._slice(*held, state)
            slice_events = early + slice_events
            early = []
            participants = state.people()
            for event in slice_events:
                state.see(event, participants)
            held = (slice_events, participants)
        if held is None and early:  # never drop events: a room of nothing but context is one document
            held = (early, _People({}))
            for event in early:
                state.see(event, held[1])
        if held is not None:
            yield self._slice(*held, state)

    def _slice(self, events: list[Event], participants: _People, state: _Room) -> Document:
        number, control = self.numberer.take()
        document = Document(
            number=number,
            control=control,
            kind="conversation",
            room=events[0].room,
            day=self._day(events[0]),
            events=events,
        )
        return self._finish(document, participants, state)

    # --- messages ---------------------------------------------------------------------------

    def messages(self, events: Iterable[Event], state: _Room, thread_of: _ThreadOf | None = None) -> Iterator[Document]:
        # The whole room is read first: an edit, a deletion or a read receipt may come any time
        # after its message, and belongs to the message's document. ``thread_of``: the thread
        # unit, whose documents group the messages of a thread (and the uploads go with the
        # thread of the room's latest message).
        groups: dict[str, list[Event]] = {}
        present_at: dict[str, _People] = {}
        versions: dict[str, int] = {}
        early: list[Event] = []
        current: str | None = None  # the group of the room's latest message
        for event in events:
            key: str | None
            match event:
                case PostEvent() | EditEvent() | DeleteEvent() if thread_of is not None:
                    key = f"t:{thread_of.see(event)}"
                case PostEvent() | EditEvent() | DeleteEvent():
                    key = f"m:{event.message.id}"
                case FileUploadEvent() if thread_of is None:
                    key = f"u:{event.event_id}"
                case ReadEvent(read=read) if read.message_id is not None and thread_of is not None:
                    thread = thread_of.known(read.message_id)
                    key = f"t:{thread}" if thread is not None and f"t:{thread}" in groups else current
                case ReadEvent(read=read) if read.message_id is not None and f"m:{read.message_id}" in groups:
                    key = f"m:{read.message_id}"
                case _:
                    key = current  # context goes with the room's latest message (an upload, in the thread unit)
            if isinstance(event, EditEvent):
                versions[str(event.event_id)] = state.version_of(event)
            if key is None:
                early.append(event)  # before the room's first message: it goes with that message
                continue
            if key not in groups:
                groups[key] = []
                present_at[key] = state.takers()
                for earlier in early:
                    groups[key].append(earlier)
                    state.see(earlier, present_at[key])
                early = []
            groups[key].append(event)
            state.see(event, present_at[key])
            if (
                current is None
                or isinstance(event, PostEvent)
                or (thread_of is None and isinstance(event, FileUploadEvent))
            ):
                current = key
        if early:  # a room of nothing but context: one document still, never dropped
            groups["context"] = early
            present_at["context"] = _People({})
            for event in early:
                state.see(event, present_at["context"])
        for key, group in groups.items():
            number, control = self.numberer.take()
            content = next((e for e in group if isinstance(e, _CONTENT)), group[0])
            message_id = content.message.id if isinstance(content, PostEvent | EditEvent | DeleteEvent) else None
            thread_id = key[2:] if thread_of is not None and key.startswith("t:") else None
            document = Document(
                number=number,
                control=control,
                kind="thread" if thread_id is not None else "message",
                room=group[0].room,
                day=self._day(group[0]),
                events=group,
                message_id=None if thread_id is not None else message_id,
                thread_id=thread_id,
                versions={str(e.event_id): versions[str(e.event_id)] for e in group if isinstance(e, EditEvent)},
            )
            yield self._finish(document, present_at[key], None)

    # --- shared -----------------------------------------------------------------------------

    def _finish(self, document: Document, participants: _People, state: _Room | None) -> Document:
        if state is not None:  # a slice: edit versions in its time order
            for event in document.events:
                if isinstance(event, EditEvent):
                    document.versions[str(event.event_id)] = state.version_of(event)
        senders: dict[str, Actor] = {}
        for event in document.events:
            if isinstance(event, PostEvent | EditEvent | FileUploadEvent):
                senders.setdefault(event.actor.id, event.actor)
        document.participants = participants.actors()
        document.senders = tuple(senders.values())
        document.custodian_people = self._custodians_of(document, participants)
        document.custodians = tuple(actor.id for actor in document.custodian_people)
        for event in document.events:
            if isinstance(event, FileUploadEvent):
                number, control = self.numberer.take()
                document.children.append(
                    Document(
                        number=number,
                        control=control,
                        kind="attachment",
                        room=document.room,
                        day=self._day(event),
                        events=[event],
                        upload=event,
                        parent=document,
                        participants=document.participants,
                        senders=(event.actor,),
                        custodians=document.custodians,
                        custodian_people=document.custodian_people,
                    )
                )
        self.count.families += 1
        return document

    def _custodians_of(self, document: Document, participants: _People) -> tuple[Actor, ...]:
        if self.custodians:
            found = []
            for custodian in self.custodians:
                actor = participants.extra.get(custodian) or participants.present.get(custodian)
                if actor is not None:
                    found.append(actor)
            return tuple(found)
        return document.senders or document.participants


class _ThreadOf:
    """The thread of each message of one room, for the thread unit (see the module doc)."""

    def __init__(self, links: Mapping[str, MessageThread]) -> None:
        self.links = links
        self.seen: dict[str, str] = {}

    def known(self, message_id: str) -> str | None:
        found = self.seen.get(message_id)
        if found is None:
            link = self.links.get(message_id)
            found = link.thread_id if link is not None else None
        return found

    def see(self, event: PostEvent | EditEvent | DeleteEvent) -> str:
        message_id = event.message.id
        thread = self.known(message_id)
        if thread is None:
            reply_to = event.message.reply_to if isinstance(event, PostEvent) else None
            # A reply to a message the export does not hold: the thread its platform named.
            thread = (self.known(reply_to) or reply_to) if reply_to is not None else message_id
        self.seen[message_id] = thread
        return thread


def every_document(parents: Iterable[Document]) -> Iterator[Document]:
    """Each parent, then its attachments: every document in number order."""
    for parent in parents:
        yield from parent.family()


def people(actors: Iterable[Actor], name: Callable[[Actor], str]) -> str:
    """``; ``-joined names of ``actors`` (load files' participant fields)."""
    return "; ".join(name(actor) for actor in actors)


__all__ = [
    "DOCUMENT_UNITS",
    "BadNumbering",
    "Document",
    "DocumentCount",
    "DocumentKind",
    "DocumentUnit",
    "MessageThread",
    "Numbering",
    "RoomThreads",
    "default_numbering",
    "documents",
    "every_document",
    "no_threads",
    "page_label",
    "people",
]
