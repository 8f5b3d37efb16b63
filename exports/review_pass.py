"""The review's pass over a production before its formats run (:func:`exports.package.build_export`).

A production of a case applies the case's redactions; a production of a review set also takes
only the set's documents and withholds those coded with a ``withhold`` tag. Whether an event is
in a withheld document depends on the document unit (a conversation-day holds every event of
its room and day), so the production's documents are made once first, exactly as every format
will make them (:func:`exports.documents.documents`: same events, same order, same numbers):
that pass names the events to withhold, counts each document's redactions (the manifest's
``review``) and makes the privilege log's rows. Then each format reads the events through a
:class:`~exports.redaction.Redactor`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from archive.attachments import texts_for
from exports.base import ExportContext, ExportFiles, FormatReport
from exports.documents import Document
from exports.presence import person
from exports.privilege_log import CSV_FILE, PDF_FILE, LogRow, log_csv, log_pdf
from exports.redaction import (
    AttachmentReview,
    HiddenNative,
    MessageVersions,
    ProductionReview,
    Span,
    marker,
    merge_spans,
    redact_text,
    removed_words,
)
from exports.selection import Selection, room_hits_of
from ingest.events import EditEvent, Event, FileUploadEvent, PostEvent

QUERY_MARKER = marker("query term")

if TYPE_CHECKING:
    from exports.package import ExportRequest


def review_selection(message_hits: Mapping[str, tuple[tuple[str, int], ...]]) -> Selection:
    """A review set's documents as a selection: each room's messages and the days they were sent
    on (their edits, deletion and reads, and the room-day's context come along, as for hits)."""
    rooms = {room: room_hits_of(hits) for room, hits in message_hits.items() if hits}
    times = [sent for hits in message_hits.values() for _, sent in hits]
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return Selection(
        rooms=tuple(sorted(rooms)),
        messages=len({message for hits in message_hits.values() for message, _ in hits}),
        first=epoch + timedelta(microseconds=min(times)) if times else None,
        last=epoch + timedelta(microseconds=max(times)) if times else None,
        room_hits=rooms.__getitem__,
    )


def only_set_uploads(events: Iterable[Event], review: ProductionReview | None, unit: str) -> Iterator[Event]:
    """A review set's production in the message unit: an upload is a document of its own, so one
    that is not among the set's documents (it came along as context of a message's day) is left
    out; in the conversation unit it belongs to its room-day and stays."""
    if review is None or review.review_set_id is None or unit != "message":
        yield from events
        return
    for event in events:
        if isinstance(event, FileUploadEvent) and f"attachment:{event.event_id}" not in review.documents:
            continue
        yield event


class ReviewPass:
    """The production's documents, read once: what is withheld, what is redacted, the log."""

    def __init__(self, review: ProductionReview, context: ExportContext) -> None:
        self.review = review
        self.context = context
        self.withheld_events: dict[str, str] = {}
        self.withheld_messages: dict[str, str] = {}
        """Message id -> privilege type, for every message of a withheld document (its posts and
        edits are withheld in whichever document they fall)."""
        self.attachments = AttachmentReview(spans=dict(review.redactions.files))
        self.rows: list[LogRow] = []
        self.per_document: dict[str, int] = {}
        self.withheld_controls: list[str] = []
        self.redacted_events: list[str] = []
        self.documents = 0
        self._native_spans: dict[str, tuple[Span, ...]] = {}
        """File SHA-256 -> the spans of an upload of those bytes (its copies take them too)."""
        self._native_withheld: dict[str, str] = {}
        self._counter = MessageVersions()
        self._gone: set[str] = set()
        """The words (lower-cased) a redaction removed from a text of the production."""
        self._redacted_messages = {message for message, _version in review.redactions.messages}
        self._versions: dict[str, int] = {}
        """Event id -> version, of each post and edit of a redacted message (numbered as the
        Redactor and the redaction API number them: :class:`exports.redaction.MessageVersions`)."""
        self.hidden_natives: dict[str, HiddenNative] = {}
        """Native SHA-256 -> its stand-in, for every native not produced (withheld or redacted):
        the Redactor rewrites their uploads and downloads (:meth:`exports.redaction.Redactor.file`)."""
        """File SHA-256 -> the privilege type an upload of those bytes is withheld for."""

    def read(self, events: Iterable[Event]) -> None:
        """Read the production's documents. An attachment is decided last: a file uploaded twice
        is the same bytes, so a copy of a withheld or redacted upload is withheld or redacted
        alike (its text would otherwise show what the other's hides)."""
        withheld = self.review.withholding
        files = self.review.redactions.files
        self._natives_of_redacted_uploads()
        uploads: list[Document] = []
        for parent in self.context.documents(events, FormatReport(format="review")):
            parent_withheld = withheld.get(parent.key)
            for document in parent.family():
                self.documents += 1
                self._number(document)
                kind = withheld.get(document.key) or parent_withheld
                if kind is not None:
                    self._withhold(document, kind)
                elif document.upload is not None:
                    uploads.append(document)
                    spans = files.get(str(document.upload.event_id))
                    if spans:
                        self._native_spans.setdefault(document.upload.file.sha256, spans)
                else:
                    self._count(document)
        for document in uploads:
            assert document.upload is not None
            kind = self._native_withheld.get(document.upload.file.sha256)
            if kind is not None:
                self._withhold(document, kind)
            else:
                self._count(document)
        # The uploads now name their natives by the stand-in: it is not produced either.
        for native, hidden in self.hidden_natives.items():
            self.attachments.withheld_natives.add(hidden.stand_in)
            self.attachments.stand_ins[hidden.stand_in] = native
        self.rows.sort(key=lambda row: row.control)
        self.withheld_controls.sort()

    def _number(self, document: Document) -> None:
        """Number the posts and edits of redacted messages, every document's (withheld too), in
        export order: a message's events come in time order, across its documents."""
        for event in document.events:
            if isinstance(event, PostEvent | EditEvent) and event.message.id in self._redacted_messages:
                self._versions[str(event.event_id)] = self._counter.next(event.message.id)

    def _natives_of_redacted_uploads(self) -> None:
        """The case's redacted uploads' natives (by SHA-256, from the archive): a copy of a
        redacted upload takes its spans even when the redacted upload itself is not produced."""
        engine = self.context.attachments.engine
        wanted = sorted(self.review.redactions.files)
        if engine is None or not wanted:
            return
        with engine.connect() as connection:
            found = texts_for(connection, wanted)
        for upload_id in wanted:
            if upload_id in found:
                self._native_spans.setdefault(found[upload_id].sha256, self.review.redactions.files[upload_id])

    def _withhold(self, document: Document, kind: str) -> None:
        for event in document.events:
            if isinstance(event, PostEvent | EditEvent | FileUploadEvent):
                self.withheld_events[str(event.event_id)] = kind
            if isinstance(event, PostEvent | EditEvent):
                self.withheld_messages.setdefault(event.message.id, kind)
            if isinstance(event, FileUploadEvent):
                self._withhold_upload(event, kind)
        if document.upload is not None:
            self._withhold_upload(document.upload, kind)
        self.withheld_controls.append(document.control)
        self._log(document, "Withheld", 0, kind, [])

    def _withhold_upload(self, upload: FileUploadEvent, kind: str) -> None:
        self.attachments.withheld[str(upload.event_id)] = kind
        self.attachments.withheld_natives.add(upload.file.sha256)
        self._native_withheld.setdefault(upload.file.sha256, kind)
        hidden = self.hidden_natives.get(upload.file.sha256)
        if hidden is None:
            self.hidden_natives[upload.file.sha256] = HiddenNative.for_upload(str(upload.event_id), kind)
        elif hidden.withheld is None:
            self.hidden_natives[upload.file.sha256] = HiddenNative(hidden.stand_in, kind)

    def _count(self, document: Document) -> None:
        redactions = self.review.redactions
        spans: list[Span] = []
        count = 0
        if document.upload is not None:
            upload_id, native = str(document.upload.event_id), document.upload.file.sha256
            file_spans = redactions.files.get(upload_id) or self._native_spans.get(native, ())
            if file_spans:
                self.attachments.spans[upload_id] = file_spans
                self.attachments.withheld_natives.add(native)
                self.hidden_natives.setdefault(native, HiddenNative.for_upload(upload_id))
                count += len(merge_spans(file_spans))
                spans.extend(file_spans)
                original = self.context.attachments.original_text(document.upload)
                if original is not None:
                    self._gone |= removed_words(original, redact_text(original, file_spans))
        else:
            for event in document.events:
                if isinstance(event, PostEvent | EditEvent) and event.message.id not in self.withheld_messages:
                    version = self._versions.get(str(event.event_id), 0)
                    found = redactions.messages.get((event.message.id, version), ())
                    if found:
                        self._gone |= removed_words(event.message.text, redact_text(event.message.text, found))
                        count += len(merge_spans(found))
                        spans.extend(found)
                        self.redacted_events.append(str(event.event_id))
        if count:
            self.per_document[document.control] = count
            self._log(document, "Redacted", count, "", spans)

    def redact_query(self, query: str) -> str:
        """The production's query as its files give it: each word of it that a redaction removed
        from a text of the production becomes ``[REDACTED: query term]`` (a production ordered
        by searching for the very text it redacts would otherwise carry that text)."""
        if not self._gone:
            return query
        return re.sub(r"\w+", lambda word: QUERY_MARKER if word.group().lower() in self._gone else word.group(), query)

    def _log(self, document: Document, treatment: str, count: int, kind: str, spans: list[Span]) -> None:
        logged = self.review.logged(document.key)
        reasons = list(dict.fromkeys(span.reason for span in spans))
        privilege_type = (logged.privilege_type if logged else "") or kind or "; ".join(reasons)
        description = logged.description if logged and logged.description else ""
        if not description:
            what = {"attachment": "attachment", "message": "chat message"}.get(document.kind, "chat conversation")
            description = f"{what} in {document.room.name or document.room.id}" + (
                f", redacted for: {'; '.join(reasons)}" if reasons else ""
            )
        senders = {actor.id for actor in document.senders}
        recipients = [actor for actor in document.participants if actor.id not in senders]
        self.rows.append(
            LogRow(
                control=document.control,
                date=document.events[0].occurred_at.astimezone(self.context.time_zone),
                author="; ".join(person(actor) for actor in document.senders),
                recipients="; ".join(person(actor) for actor in recipients),
                privilege_type=privilege_type,
                description=description,
                treatment=treatment,
                redactions=count,
                key=document.key,
            )
        )

    def manifest(self) -> dict[str, Any]:
        """The manifest's ``review``: redactions per document (by control number) and in total,
        the withheld documents, and which events were redacted."""
        return {
            "review_set_id": self.review.review_set_id,
            "review_set_name": self.review.review_set_name,
            "tag_filter": list(self.review.tag_filter),
            "redactions": {
                "total": sum(self.per_document.values()),
                "documents": dict(self.per_document),
                "events": self.redacted_events,
                "note": (
                    "each redacted text is replaced, span by span, by [REDACTED: <reason>] in every format. A "
                    "redacted event's line in events.jsonl (and its CSV EVENT_SHA256) is the redacted event's "
                    "JSON, not the archived one: the archive's hash chain seals the original, whose hash is "
                    "not given here (a hash of a short redacted text would let a reader confirm a guess)"
                ),
            },
            "withheld": self.withheld_controls,
            "privilege_log": [row.as_json() for row in self.rows] if self.rows else [],
            "privilege_log_files": [CSV_FILE, PDF_FILE],
        }


def write_privilege_log(files: ExportFiles, reviewed: ReviewPass, request: ExportRequest) -> None:
    """``privilege_log.csv`` and ``privilege_log.pdf`` (listed in the manifest like any file)."""
    with files.create(CSV_FILE, "text/csv; charset=utf-8") as out:
        out.write(log_csv(reviewed.rows))
    title = f"Privilege log — {request.case_name or request.case_id or 'export'} — production {request.export_id}"
    with files.create(PDF_FILE, "application/pdf", compressed=True) as out:
        out.write(log_pdf(reviewed.rows, title))
