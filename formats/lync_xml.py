"""The Lync / Skype for Business Persistent Chat compliance XML format (pure functions).

One ``Conversation`` per room per batch, rooms in the order of their first event; membership
appears only as JOIN/PART messages. Every time is written three ways: Unix milliseconds, an
ISO 8601 UTC string with seven fractional digits, and .NET ticks. Edits, deletions,
disclaimers, policy decisions and room updates have no element in this format, and a message has
no attribute to mark it edited or deleted: they are skipped here, and a post's ``content`` is its
text as posted, never rewritten to say what happened later (the export's report names the
messages changed, :mod:`exports.lync`; the archive and the other exports carry every version).
Characters XML 1.0 cannot carry are escaped reversibly (:mod:`formats.xml_text`); times cover
the years 0001 to 9999.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache

from lxml import etree

from formats.xml_text import escape_xml_text
from ingest.events import (
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    JoinEvent,
    LeaveEvent,
    PostEvent,
    ReadEvent,
)

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
_EPOCH_TICKS = 621_355_968_000_000_000

MESSAGE_TYPES: dict[type[Event], str] = {
    JoinEvent: "JOIN",
    LeaveEvent: "PART",
    PostEvent: "CHAT",
    ReadEvent: "BACKCHAT",
    FileUploadEvent: "FILEUPLOAD",
    FileDownloadEvent: "FILEDOWNLOAD",
}


def in_format(event: Event) -> bool:
    return type(event) in MESSAGE_TYPES


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 cannot carry escaped reversibly (the rest kept exactly):
    :func:`formats.xml_text.escape_xml_text`."""
    return escape_xml_text(text)


def since1970(moment: datetime) -> int:
    return _micros(moment) // 1000


def dotnet_ticks(moment: datetime) -> int:
    return _micros(moment) * 10 + _EPOCH_TICKS


def iso_seven_digits(moment: datetime) -> str:
    u = moment.astimezone(UTC)
    return (
        f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond * 10:07d}Z"
    )


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def stable_number(value: str) -> int:
    """A stable positive int (below 2^31) for a string: the same person or message, the same id."""
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") & 0x7FFF_FFFF


def _time_element(parent: etree._Element, name: str, moment: datetime) -> None:
    etree.SubElement(
        parent,
        name,
        since1970=str(since1970(moment)),
        string=iso_seven_digits(moment),
        long=str(dotnet_ticks(moment)),
    )


def _content(event: Event) -> str:
    match event:
        case PostEvent():
            return xml_safe(event.message.text)
        case FileUploadEvent() | FileDownloadEvent():
            return xml_safe(event.file.name)
        case _:
            return ""


def _message(parent: etree._Element, tag: str, event: Event) -> None:
    message_id = str(stable_number(event.message.id)) if isinstance(event, PostEvent) else "0"
    element = etree.SubElement(parent, tag, type=MESSAGE_TYPES[type(event)], content=_content(event), id=message_id)
    actor = event.actor
    email = actor.email or ""
    etree.SubElement(
        element,
        "Sender",
        UserName=xml_safe(actor.name or actor.id),
        id=str(stable_number(actor.id)),
        email=xml_safe(email),
        internal="true" if actor.internal else "false",
        uri=xml_safe(email or actor.id),
    )
    _time_element(element, "DateTimeUTC", event.occurred_at)


def conversations_document(batch: Sequence[Event]) -> etree._ElementTree:
    """The document for one batch: one Conversation per room, in order of first appearance."""
    by_room: dict[str, list[Event]] = {}
    for event in batch:
        if in_format(event):
            by_room.setdefault(event.room.id, []).append(event)
    root = etree.Element("Conversations", nsmap={"xsi": XSI, "xsd": XSD})
    for events in by_room.values():
        first = events[0]
        server = first.source.server if first.source and first.source.server else "archivist"
        conversation = etree.SubElement(root, "Conversation")
        etree.SubElement(
            conversation,
            "Channel",
            uri=xml_safe(f"ma-chan://{server}/{first.room.id}"),
            name=xml_safe(first.room.name or first.room.id),
            islogged="",
        )
        _message(conversation, "FirstMessage", first)
        messages = etree.SubElement(conversation, "Messages")
        for event in events:
            _message(messages, "Message", event)
        _time_element(conversation, "StartTimeUTC", events[0].occurred_at)
        _time_element(conversation, "EndTimeUTC", events[-1].occurred_at)
    return etree.ElementTree(root)


def serialise(document: etree._ElementTree) -> bytes:
    return bytes(etree.tostring(document, xml_declaration=True, encoding="utf-8", pretty_print=True))


# --- the same document, written as text -------------------------------------------------------
# ``render`` produces byte for byte what ``serialise(conversations_document(batch))`` does (a
# test holds them together) without building an element tree: a batch of 1,000 events cost
# more as lxml elements than every other step of the XML adapter together.

_ATTRIBUTE_ESCAPES = {ord("&"): "&amp;", ord("<"): "&lt;", ord(">"): "&gt;", ord('"'): "&quot;"}
_ATTRIBUTE_ESCAPES |= {ord("\t"): "&#9;", ord("\n"): "&#10;", ord("\r"): "&#13;"}


def _attribute(value: str) -> str:
    """``value`` as libxml2 writes it inside a double-quoted attribute."""
    return xml_safe(value).translate(_ATTRIBUTE_ESCAPES)


def _times(moment: datetime) -> str:
    """The three forms of a time (``iso_seven_digits`` spelled out: strftime writes the year unpadded)."""
    u = moment.astimezone(UTC)
    micros = _micros(u)
    return (
        f'since1970="{micros // 1000}" string="{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:'
        f'{u.second:02d}.{u.microsecond * 10:07d}Z" long="{micros * 10 + _EPOCH_TICKS}"'
    )


@lru_cache(maxsize=4096)
def _sender(actor_id: str, name: str | None, email: str | None, internal: bool) -> str:
    mail = email or ""
    return (
        f'<Sender UserName="{_attribute(name or actor_id)}" id="{stable_number(actor_id)}" email="{_attribute(mail)}" '
        f'internal="{"true" if internal else "false"}" uri="{_attribute(mail or actor_id)}"/>'
    )


def _message_text(indent: str, tag: str, event: Event) -> str:
    message_id = stable_number(event.message.id) if isinstance(event, PostEvent) else 0
    actor = event.actor
    content = _content(event).translate(_ATTRIBUTE_ESCAPES)  # already XML-safe
    return (
        f'{indent}<{tag} type="{MESSAGE_TYPES[type(event)]}" content="{content}" id="{message_id}">\n'
        f"{indent}  {_sender(actor.id, actor.name, actor.email, actor.internal)}\n"
        f"{indent}  <DateTimeUTC {_times(event.occurred_at)}/>\n"
        f"{indent}</{tag}>\n"
    )


def render(batch: Sequence[Event]) -> bytes:
    """The document for one batch, serialised: ``serialise(conversations_document(batch))``."""
    by_room: dict[str, list[Event]] = {}
    for event in batch:
        if in_format(event):
            by_room.setdefault(event.room.id, []).append(event)
    opening = f'<Conversations xmlns:xsi="{XSI}" xmlns:xsd="{XSD}"'
    if not by_room:
        return f"<?xml version='1.0' encoding='utf-8'?>\n{opening}/>\n".encode()
    parts = ["<?xml version='1.0' encoding='utf-8'?>\n", opening, ">\n"]
    for events in by_room.values():
        first = events[0]
        server = first.source.server if first.source and first.source.server else "archivist"
        parts.append("  <Conversation>\n")
        parts.append(
            f'    <Channel uri="{_attribute(f"ma-chan://{server}/{first.room.id}")}" '
            f'name="{_attribute(first.room.name or first.room.id)}" islogged=""/>\n'
        )
        parts.append(_message_text("    ", "FirstMessage", first))
        parts.append("    <Messages>\n")
        parts.extend(_message_text("      ", "Message", event) for event in events)
        parts.append("    </Messages>\n")
        parts.append(f"    <StartTimeUTC {_times(first.occurred_at)}/>\n")
        parts.append(f"    <EndTimeUTC {_times(events[-1].occurred_at)}/>\n")
        parts.append("  </Conversation>\n")
    parts.append("</Conversations>\n")
    return "".join(parts).encode()
