"""Redaction and withholding as a production applies them: pure data and pure functions.

A **redaction** is a span of one text: one version of a message's text (the post is version 1,
each edit the next, in the archive's order: time, then event id) or an upload's extracted text,
with a reason. Offsets are Python ``str`` indices (code points), the end exclusive. The spans of
one text may overlap: they are merged (:func:`merge_spans`) and each merged span is replaced by
one marker, ``[REDACTED: <reason>]`` (:func:`redact_text`); the reasons of merged spans are
joined with ``; ``. Each span carries the SHA-256 of the text it was drawn on: a span meeting
another text (which the archive's immutability should make impossible) fails closed, the whole
text replaced by one marker.

A **withheld** document (a review set's document coded with a ``withhold`` tag) keeps its
control number, but its content becomes ``Withheld: <privilege type>`` and its natives are not
produced.

The review layer reads what applies to a production (:mod:`review.privilege`) and hands it to
the export as :class:`ProductionReview`; :class:`Redactor` applies it where the events enter the
formats (:mod:`exports.package`), so that no format ever sees a redacted text. Nothing here
touches the archive.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ingest.events import EditEvent, Event, FileDownloadEvent, FileUploadEvent, PostEvent

REASON_CODES: tuple[str, ...] = (
    "Privileged - Attorney-Client",
    "Privileged - Work Product",
    "Privileged - Common Interest",
    "PII",
    "PHI",
    "Confidential",
    "Trade Secret",
    "Non-Responsive",
)
"""The fixed vocabulary of reasons; a reason may also be free text (:data:`REASON_PATTERN`)."""

REASON_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ,.;:()/'_&+-]{0,63}$")
"""A free-text reason: 1 to 64 characters, letters, digits, spaces and ``,.;:()/'_&+-``. No
brackets (a reason cannot close its marker early) and no ``<`` or ``>`` (an HTML message's
marker stays text)."""

MARKER_START = "[REDACTED: "
MARKER = re.compile(r"\[REDACTED:[ \u00a0]([A-Za-z0-9 \u00a0,.;:()/'_&+-]{1,200})\]")
"""A marker in produced text (the PDF draws each as a black box; the space may be a no-break one)."""

WITHHELD_PREFIX = "Withheld: "


class BadRedaction(ValueError):
    """A span or reason that cannot be a redaction (said to the caller as a 422)."""


def check_reason(reason: str) -> str:
    """``reason`` when it is usable (see :data:`REASON_PATTERN`), else :class:`BadRedaction`."""
    if not REASON_PATTERN.match(reason):
        raise BadRedaction(
            f"reason {reason!r} must be 1 to 64 characters: letters, digits, spaces and ,.;:()/'_&+- "
            f"(starting with a letter or digit), e.g. one of: {', '.join(REASON_CODES)}"
        )
    return reason


def marker(reason: str) -> str:
    return f"{MARKER_START}{reason}]"


def withheld_text(privilege_type: str) -> str:
    return f"{WITHHELD_PREFIX}{privilege_type}"


def text_sha256(text: str) -> str:
    """The SHA-256 of a text as UTF-8 (what a span records of the text it was drawn on)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class MessageVersions:
    """The version numbers of messages' texts, the one rule both the redaction API
    (:func:`review.redactions.message_versions`) and productions (:class:`Redactor`,
    :class:`exports.review_pass.ReviewPass`) number by: fed a message's posts and edits in the
    archive's order (time, then event id), each one is the next version, starting at 1. Every
    post counts: the archive accepts a post of the same message id twice (a re-delivery), which
    is then version 2 and the edit after it version 3."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def next(self, message_id: str) -> int:
        version = self._last.get(message_id, 0) + 1
        self._last[message_id] = version
        return version

    def clear(self) -> None:
        self._last.clear()


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    reason: str
    text_sha256: str = ""
    """The SHA-256 of the text the span was drawn on ("": not checked)."""


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Overlapping spans merged into one (reasons joined with ``; ``, each once, in the order
    their spans start); spans that only touch stay apart (each its own marker)."""
    merged: list[Span] = []
    reasons: list[list[str]] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.start, max(last.end, span.end), last.reason, last.text_sha256)
            if span.reason not in reasons[-1]:
                reasons[-1].append(span.reason)
            continue
        merged.append(span)
        reasons.append([span.reason])
    return [Span(s.start, s.end, "; ".join(r), s.text_sha256) for s, r in zip(merged, reasons, strict=True)]


def redact_text(text: str, spans: Iterable[Span]) -> str:
    """``text`` with each merged span replaced by its marker; a span that does not fit the text
    (out of range, or drawn on another text: its SHA-256 differs) replaces the whole text."""
    wanted = list(spans)
    if not wanted:
        return text
    digest = None
    for span in wanted:
        if span.text_sha256:
            digest = digest or text_sha256(text)
            if span.text_sha256 != digest:
                return marker(span.reason)
        if not 0 <= span.start < span.end <= len(text):
            return marker(span.reason)
    pieces: list[str] = []
    at = 0
    for span in merge_spans(wanted):
        pieces.append(text[at : span.start])
        pieces.append(marker(span.reason))
        at = span.end
    pieces.append(text[at:])
    return "".join(pieces)


@dataclass(frozen=True)
class Redactions:
    """The spans a production applies: per message version and per upload (its extracted text)."""

    messages: Mapping[tuple[str, int], tuple[Span, ...]] = field(default_factory=dict)
    """(message id, version) -> spans of that version's text."""
    files: Mapping[str, tuple[Span, ...]] = field(default_factory=dict)
    """Upload event id -> spans of its extracted text."""

    def __bool__(self) -> bool:
        return bool(self.messages or self.files)

    @property
    def count(self) -> int:
        return sum(len(s) for s in self.messages.values()) + sum(len(s) for s in self.files.values())


@dataclass(frozen=True)
class LoggedDocument:
    """What the review knows of a document for the privilege log (by document key)."""

    privilege_type: str = ""
    description: str = ""
    withhold: bool = False


@dataclass(frozen=True)
class ProductionReview:
    """What review hands a production of a case: its redactions, and for a review set's
    production the set, its documents (after the tag filter) and what to withhold."""

    redactions: Redactions = field(default_factory=Redactions)
    review_set_id: str | None = None
    review_set_name: str | None = None
    unit: str | None = None
    """A review set's document unit (its production's); None for a production of a query."""
    time_zone: str | None = None
    """A review set's time zone (its production's)."""
    tag_filter: tuple[str, ...] = ()
    documents: Mapping[str, LoggedDocument] = field(default_factory=dict)
    """Document key -> privilege type, description and whether it is withheld (every document of
    the review set the production takes; empty for a production of a query)."""
    message_hits: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    """A review set's production: room -> (message id, sent in microseconds) of every message of
    the documents it takes (its selection, instead of a query's hits)."""

    set_withheld: Mapping[str, LoggedDocument] = field(default_factory=dict)
    """The review set's withheld documents that the tag filter does not take: withholding is
    decided on the whole set, so one of them coming along as context or as a family's parent
    (a kept attachment's withheld conversation) is still withheld, and so is its family."""

    @property
    def withheld(self) -> dict[str, str]:
        """Document key -> the privilege type it is withheld for (of the documents taken)."""
        return {key: doc.privilege_type or "Privileged" for key, doc in self.documents.items() if doc.withhold}

    @property
    def withholding(self) -> dict[str, str]:
        """Document key -> privilege type, for every withheld document of the set, taken by the
        tag filter or not (what a production withholds wherever the document appears)."""
        others = {key: doc.privilege_type or "Privileged" for key, doc in self.set_withheld.items() if doc.withhold}
        return {**others, **self.withheld}

    def logged(self, key: str) -> LoggedDocument | None:
        """What the review says of the document for the privilege log (taken or not)."""
        return self.documents.get(key) or self.set_withheld.get(key)

    @property
    def active(self) -> bool:
        return bool(self.redactions) or bool(self.withholding)


@dataclass
class DocumentRedactions:
    """One document's redactions and withholding, as the privilege log and manifest say them."""

    control: str
    key: str
    kind: str
    date: datetime
    author: str
    recipients: str
    redactions: int = 0
    withheld: str | None = None
    """The privilege type it is withheld for; None when produced."""
    reasons: list[str] = field(default_factory=list)
    description: str = ""
    privilege_type: str = ""


class Redactor:
    """Applies a production's redactions and withholding to its events, in export order.

    ``withheld_events``: event id (string) -> privilege type, for every post, edit and upload of
    a withheld document (the production's documents are known before the formats run). Each
    post and edit's version is counted as the archive counts it (a message's events come in
    time order within its room). ``withheld_messages``: message id -> privilege type, for every
    message of a withheld document: each of its posts and edits is withheld wherever it falls (an
    edit made on a later day lies in a later conversation-day, which may be produced)."""

    def __init__(
        self,
        redactions: Redactions,
        withheld_events: Mapping[str, str] | None = None,
        withheld_messages: Mapping[str, str] | None = None,
        hidden_natives: Mapping[str, HiddenNative] | None = None,
    ) -> None:
        self.redactions = redactions
        self.withheld_events = withheld_events or {}
        self.withheld_messages = withheld_messages or {}
        self.hidden_natives = hidden_natives or {}
        """Native SHA-256 -> what its uploads and downloads say of the file instead."""
        self._room = ""
        self._versions = MessageVersions()
        self.redacted_events: dict[str, int] = {}
        """Event id -> merged spans applied (for the manifest)."""
        self.mismatched: list[str] = []
        """Events whose spans did not fit their text (the whole text was replaced)."""

    def version(self, event: PostEvent | EditEvent) -> int:
        if event.room.id != self._room:
            self._room = event.room.id
            self._versions.clear()
        return self._versions.next(event.message.id)

    def apply(self, events: Iterable[Event]) -> Iterator[Event]:
        for event in events:
            if isinstance(event, PostEvent | EditEvent):
                yield self.one(event)
            elif isinstance(event, FileUploadEvent | FileDownloadEvent):
                yield self.file(event)
            else:
                yield event

    def file(self, event: FileUploadEvent | FileDownloadEvent) -> Event:
        """An upload or download of a native that is not produced, with what identifies the
        file replaced: its SHA-256 by a stand-in (:class:`HiddenNative`) and its size by 0; a
        withheld one's name also by ``Withheld: <privilege type>`` (and no URL or type)."""
        hidden = self.hidden_natives.get(event.file.sha256)
        withheld = self.withheld_events.get(str(event.event_id))
        if hidden is None:
            return event
        withheld = withheld or hidden.withheld
        update: dict[str, object] = {"sha256": hidden.stand_in, "size": 0}
        if withheld is not None:
            update |= {"name": withheld_text(withheld), "content_type": "application/octet-stream", "url": None}
        return event.model_copy(update={"file": event.file.model_copy(update=update)})

    def one(self, event: PostEvent | EditEvent) -> Event:
        version = self.version(event)
        event_id = str(event.event_id)
        withheld = self.withheld_events.get(event_id) or self.withheld_messages.get(event.message.id)
        if withheld is not None:
            return _with_text(event, withheld_text(withheld), event.message.text)
        spans = self.redactions.messages.get((event.message.id, version))
        if not spans:
            return event
        text = event.message.text
        redacted = redact_text(text, spans)
        if not _fits(text, spans):
            self.mismatched.append(event_id)
        self.redacted_events[event_id] = len(merge_spans(spans))
        return _with_text(event, redacted, text)


def _fits(text: str, spans: Iterable[Span]) -> bool:
    digest = text_sha256(text)
    return all(0 <= s.start < s.end <= len(text) and s.text_sha256 in ("", digest) for s in spans)


def removed_words(original: str, redacted: str) -> set[str]:
    """The words (lower-cased) of ``original`` that ``redacted`` no longer holds."""
    kept = set(re.findall(r"\w+", redacted.lower()))
    return {word for word in re.findall(r"\w+", original.lower()) if word not in kept}


def _with_text(event: PostEvent | EditEvent, text: str, original: str) -> Event:
    """``event`` with its message's text replaced; a post's mentions and hashtags that name a
    word the new text no longer holds are dropped (they would tell what was redacted)."""
    if isinstance(event, PostEvent):
        gone = removed_words(original, text)
        mentions = tuple(m for m in event.message.mentions or () if not _names_any(m, gone))
        hashtags = tuple(h for h in event.message.hashtags or () if not _names_any(h, gone))
        message = event.message.model_copy(update={"text": text, "mentions": mentions, "hashtags": hashtags})
        return event.model_copy(update={"message": message})
    return event.model_copy(update={"message": event.message.model_copy(update={"text": text})})


def _names_any(entity: str, gone: set[str]) -> bool:
    return any(word in gone for word in re.findall(r"\w+", entity.lower()))


@dataclass(frozen=True)
class HiddenNative:
    """What a production says of a native it does not produce (withheld, or its text redacted):
    ``stand_in`` replaces its SHA-256 everywhere (the SHA-256 of ``not produced: upload <the
    first such upload's event id>``, which tells nothing of the bytes: a real hash would let a
    reader confirm a guess of the withheld or redacted content), and, when its upload is
    withheld, the privilege type its name becomes ``Withheld: <type>`` for."""

    stand_in: str
    withheld: str | None = None

    @staticmethod
    def for_upload(upload_event_id: str, withheld: str | None = None) -> HiddenNative:
        digest = hashlib.sha256(f"not produced: upload {upload_event_id}".encode()).hexdigest()
        return HiddenNative(digest, withheld)


@dataclass
class AttachmentReview:
    """What a production's redactions and withholding do to its uploads' extracted texts and
    natives (:class:`exports.natives.ExportAttachments` applies it)."""

    spans: dict[str, tuple[Span, ...]] = field(default_factory=dict)
    """Upload event id -> spans of its extracted text."""
    withheld: dict[str, str] = field(default_factory=dict)
    """Upload event id -> the privilege type its document is withheld for."""
    withheld_natives: set[str] = field(default_factory=set)
    """SHA-256 of every native not produced: an upload withheld or whose text is redacted (a
    binary cannot be redacted safely; the same bytes uploaded again are the same file), and the
    stand-in SHA-256 the production's events give it instead (:class:`HiddenNative`)."""
    stand_ins: dict[str, str] = field(default_factory=dict)
    """Stand-in SHA-256 -> the native's (whether its bytes are stored is the native's)."""

    def touches(self, upload_event_id: str) -> bool:
        return upload_event_id in self.spans or upload_event_id in self.withheld
