"""Actiance XML, as Mattermost's compliance export writes it (what Smarsh, Global Relay and
Proofpoint ingest).

``FileDump`` holds one ``Conversation`` per room per period: the room's UTC day in an export
(a day with more than :data:`MAX_EVENTS` events is split into parts), the room's events of one
batch in the ``actiance`` adapter. Inside a conversation::

    RoomID, StartTimeUTC,
    ParticipantEntered for everyone present before the period (at StartTimeUTC),
    then in time order: ParticipantEntered / ParticipantLeft (joins, leaves, first signs of
    presence), Message, FileTransferStarted + FileTransferEnded,
    ParticipantLeft for everyone present at the end (at EndTimeUTC), EndTimeUTC

``RoomID`` is Mattermost's ``<kind> - <name> - <id>`` (kind ``direct`` for an IM, ``room``
otherwise); a room with no name of its own (most IMs) is ``<kind> - <id>``, never its id twice.

Times are Unix milliseconds, as Mattermost writes them. Element names, nesting and the
``UpdatedType`` vocabulary follow Mattermost's ``actiance_export.go``; the participant
elements carry the fields of the Actiance schema (``LoginName``, ``DateTimeUTC``,
``InternalFlag``, ``ConversationID``, ``CorporateEmailID``), as Microsoft's sample Lync-to-
Actiance transform writes them.

Presence: the archive has events, not membership lists. Only whoever was present at the end of
the previous part or day of the same room (within one export) is entered at StartTimeUTC: their
presence is evidenced before the period. Anyone else is entered at their first event in the
period: a join, or the first post, edit, deletion, read, file transfer, disclaimer shown, or
leave (entered and left at the same millisecond: the leave shows they were there, not since
when). No entry is invented at the start of the period (for a day, 00:00 UTC) for someone the
archive first sees later, such as the other party of an IM who never joined. Someone who left
and acts again without a join is taken to have re-entered at that moment.

Edits and deletions (Actiance has no element for them) use Mattermost's ``UpdatedType``
vocabulary: an edit is a ``Message`` with ``UpdatedType`` ``EditedNewMsg``, the new text as
``Content`` and the edit time as ``UpdatedDateTimeUTC``; a deletion is a ``Message`` with
``UpdatedType`` ``Deleted`` and, as ``Content``, the deleted text exactly. Mattermost writes
``delete <text>`` there; that adds a word the person never wrote to the evidence, and
``UpdatedType`` already says it was a deletion, so the text stands alone. Their ``DateTimeUTC``
is the original post's when the post is in the same conversation period, otherwise the edit's or
deletion's own time; a deletion whose text is not in the period has an empty ``Content`` (the
format has nowhere else for it) and the report counts these (the text is in the conversation of
the post, when the export holds it). Read receipts, disclaimers, policy decisions and room
updates have no element: they count towards presence only and are listed in the report.

Text is written exactly, except characters XML 1.0 cannot carry (most C0 controls, lone
surrogates, U+FFFE/U+FFFF), which are escaped reversibly (:mod:`formats.xml_text`: NUL as
``␀``) with a warning. Times cover the years 0001 to 9999 (the day of 9999-12-31 ends at its
last representable millisecond).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from formats.xml_text import escape_counted
from ingest.events import (
    Actor,
    DeleteEvent,
    DisclaimerEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    JoinEvent,
    LeaveEvent,
    PostEvent,
    ReadEvent,
    Room,
    present_by,
)

MAX_EVENTS = 10_000
"""Events per conversation part and per file."""
XSI = "http://www.w3.org/2001/XMLSchema-instance"
MEDIA_TYPE = "application/xml"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
LAST_MILLISECOND = time(23, 59, 59, 999_000, tzinfo=UTC)
_TEXT_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord("\r"): "&#13;"}
_ATTRIBUTE_ESCAPES = _TEXT_ESCAPES | {ord('"'): "&quot;", ord("\t"): "&#9;", ord("\n"): "&#10;"}

PRESENCE_EVIDENCE: tuple[type[Event], ...] = (
    PostEvent,
    EditEvent,
    DeleteEvent,
    ReadEvent,
    FileUploadEvent,
    FileDownloadEvent,
    DisclaimerEvent,
)
"""Events whose actor must have been in the room."""
WITH_ELEMENT: tuple[type[Event], ...] = (
    JoinEvent,
    LeaveEvent,
    PostEvent,
    EditEvent,
    DeleteEvent,
    FileUploadEvent,
    FileDownloadEvent,
)
"""Events written as an element of their own."""


@dataclass(frozen=True)
class Period:
    """One room's events over one period, and who was known to be present before it."""

    room: Room
    start: datetime
    end: datetime
    events: Sequence[Event]
    present_before: Mapping[str, Actor] = field(default_factory=dict)


@dataclass
class Rendered:
    """One ``Conversation`` element, who was present at its end, and what the reader must know."""

    xml: str
    present_at_end: dict[str, Actor]
    replaced_characters: int = 0
    without_element: Counter[str] = field(default_factory=Counter)
    deletions_without_text: int = 0
    """Deletions of a message not posted in the period: their ``Content`` is empty."""


def millis(moment: datetime) -> int:
    """Unix milliseconds (integer arithmetic: no float rounding)."""
    return (moment - _EPOCH) // _MILLISECOND


def present_at_start(events: Iterable[Event], before: Mapping[str, Actor]) -> dict[str, Actor]:
    """Who was in the room when the period began, for formats that list participants per period
    (RSMF): whoever was present ``before``, and anyone whose first event in ``events`` shows them
    in the room (a post, edit, deletion, read, file transfer, disclaimer or leave) rather than
    joining it. The Actiance conversation does not use it: it enters such a person at that first
    event (see the module docstring)."""
    present = dict(before)
    seen = set(before)
    for event in events:
        for recipient in present_by(event)[1:]:  # named by a direct message: there from it
            if recipient.id not in seen:
                seen.add(recipient.id)
                present[recipient.id] = recipient
        actor = event.actor
        if actor.id in seen:
            continue
        if isinstance(event, JoinEvent):
            seen.add(actor.id)
        elif isinstance(event, (LeaveEvent, *PRESENCE_EVIDENCE)):
            seen.add(actor.id)
            present[actor.id] = actor
    return present


class _Escaper:
    """Escapes text for XML 1.0 and counts the characters it had to escape."""

    def __init__(self) -> None:
        self.replaced = 0

    def text(self, value: str) -> str:
        return self._safe(value).translate(_TEXT_ESCAPES)

    def attribute(self, value: str) -> str:
        return self._safe(value).translate(_ATTRIBUTE_ESCAPES)

    def _safe(self, value: str) -> str:
        escaped, count = escape_counted(value)
        self.replaced += count
        return escaped


class _ConversationWriter:
    """Builds the text of one ``Conversation`` element."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.escape = _Escaper()
        self.parts: list[str] = []
        self.conversation_id = self.escape.text(period.room.id)
        self.posts: dict[str, tuple[datetime, str]] = {}
        self.without_element: Counter[str] = Counter()
        self.deletions_without_text = 0

    def render(self) -> Rendered:
        period = self.period
        room = period.room
        kind = "direct" if room.kind == "im" else "room"
        perspective = self.escape.attribute(room.name or room.id)
        named = f"{room.name} - " if room.name and room.name != room.id else ""
        room_id = self.escape.text(f"{kind} - {named}{room.id}")
        start = millis(period.start)
        self.parts.append(f'  <Conversation Perspective="{perspective}">\n    <RoomID>{room_id}</RoomID>\n')
        self.parts.append(f"    <StartTimeUTC>{start}</StartTimeUTC>\n")
        present = dict(period.present_before)
        for actor in present.values():
            self._participant("ParticipantEntered", actor, start)
        for event in period.events:
            self._event(event, present)
        end = millis(period.end)
        for actor in present.values():
            self._participant("ParticipantLeft", actor, end)
        self.parts.append(f"    <EndTimeUTC>{end}</EndTimeUTC>\n  </Conversation>\n")
        return Rendered(
            "".join(self.parts), present, self.escape.replaced, self.without_element, self.deletions_without_text
        )

    def _event(self, event: Event, present: dict[str, Actor]) -> None:
        actor = event.actor
        if isinstance(event, JoinEvent):
            if actor.id not in present:
                present[actor.id] = actor
                self._participant("ParticipantEntered", actor, millis(event.occurred_at))
            return
        if isinstance(event, LeaveEvent):
            moment = millis(event.occurred_at)
            if actor.id not in present:  # first seen leaving: there until now, since when unknown
                self._participant("ParticipantEntered", actor, moment)
            present.pop(actor.id, None)
            self._participant("ParticipantLeft", actor, moment)
            return
        if isinstance(event, PRESENCE_EVIDENCE):
            if actor.id not in present:
                self._participant("ParticipantEntered", actor, millis(event.occurred_at))
            present[actor.id] = actor  # the latest name and address
        for recipient in present_by(event)[1:]:  # the recipients of a direct message enter with it
            if recipient.id not in present:
                self._participant("ParticipantEntered", recipient, millis(event.occurred_at))
                present[recipient.id] = recipient
        self._content(event)

    def _content(self, event: Event) -> None:
        if isinstance(event, PostEvent):
            self.posts[event.message.id] = (event.occurred_at, event.message.text)
            self._message(event, event.message.id, event.occurred_at, event.message.text)
        elif isinstance(event, EditEvent):
            created, _old = self.posts.get(event.message.id, (event.occurred_at, ""))
            self.posts[event.message.id] = (created, event.message.text)
            self._message(event, event.message.id, created, event.message.text, "EditedNewMsg")
        elif isinstance(event, DeleteEvent):
            if event.message.id not in self.posts:
                self.deletions_without_text += 1
            created, text = self.posts.get(event.message.id, (event.occurred_at, ""))
            self._message(event, event.message.id, created, text, "Deleted")
        elif isinstance(event, (FileUploadEvent, FileDownloadEvent)):
            self._file_transfer(event)
        else:
            self.without_element[event.type] += 1

    def _login(self, actor: Actor) -> str:
        return self.escape.text(actor.email or actor.id)

    def _participant(self, tag: str, actor: Actor, moment: int) -> None:
        self.parts.append(
            f"    <{tag}>\n      <LoginName>{self._login(actor)}</LoginName>\n"
            f"      <DateTimeUTC>{moment}</DateTimeUTC>\n"
            f"      <InternalFlag>{'true' if actor.internal else 'false'}</InternalFlag>\n"
            f"      <ConversationID>{self.conversation_id}</ConversationID>\n"
            f"      <CorporateEmailID>{self.escape.text(actor.email or '')}</CorporateEmailID>\n    </{tag}>\n"
        )

    def _message(self, event: Event, message_id: str, created: datetime, content: str, updated: str = "") -> None:
        update = ""
        if updated:
            update = (
                f"      <UpdatedType>{updated}</UpdatedType>\n"
                f"      <UpdatedDateTimeUTC>{millis(event.occurred_at)}</UpdatedDateTimeUTC>\n"
            )
        self.parts.append(
            f"    <Message>\n      <MessageId>{self.escape.text(message_id)}</MessageId>\n"
            f"      <LoginName>{self._login(event.actor)}</LoginName>\n"
            f"      <DateTimeUTC>{millis(created)}</DateTimeUTC>\n{update}"
            f"      <Content>{self.escape.text(content)}</Content>\n    </Message>\n"
        )

    def _file_transfer(self, event: FileUploadEvent | FileDownloadEvent) -> None:
        file = event.file
        common = (
            f"      <LoginName>{self._login(event.actor)}</LoginName>\n"
            f"      <DateTimeUTC>{millis(event.occurred_at)}</DateTimeUTC>\n"
            f"      <UserFileName>{self.escape.text(file.name)}</UserFileName>\n"
            f"      <FileName>{self.escape.text(file.url or 'sha256:' + file.sha256)}</FileName>\n"
        )
        self.parts.append(f"    <FileTransferStarted>\n{common}    </FileTransferStarted>\n")
        self.parts.append(
            f"    <FileTransferEnded>\n{common}      <Status>Completed</Status>\n    </FileTransferEnded>\n"
        )


def render_conversation(period: Period) -> Rendered:
    """The ``Conversation`` element for one room over one period."""
    return _ConversationWriter(period).render()


DOCUMENT_START = f'<?xml version="1.0" encoding="UTF-8"?>\n<FileDump xmlns:xsi="{XSI}">\n'
DOCUMENT_END = "</FileDump>\n"


def batch_periods(batch: Sequence[Event]) -> list[Period]:
    """One period per room, in order of first appearance, from its first to its last event."""
    by_room: dict[str, list[Event]] = {}
    for event in batch:
        by_room.setdefault(event.room.id, []).append(event)
    return [
        Period(events[0].room, events[0].occurred_at, events[-1].occurred_at, events) for events in by_room.values()
    ]


def render_batch(batch: Sequence[Event]) -> bytes:
    """A whole ``FileDump`` for one batch (what the ``actiance`` adapter writes)."""
    conversations = [render_conversation(period).xml for period in batch_periods(batch)]
    return (DOCUMENT_START + "".join(conversations) + DOCUMENT_END).encode()
