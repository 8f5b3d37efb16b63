"""The ``index`` adapter: the embedded full-text index (Tantivy) the search API queries.

One document per message, keyed on ``message_id``, always rewritten whole (delete by term,
then add) so a re-delivered event replaces rather than duplicates:

* every version of a message is kept (:mod:`search.versions`): the post's text and each
  edit's, in time order whatever order they arrive in; the last is the current text (``text``),
  the others are searchable in ``history``; the versions and the time of deletion are stored
  (``version_log``) for messages that have more than their post;
* a post writes the message; re-delivering it changes nothing, and a post that arrives after
  a newer edit or a delete of itself keeps that newer text and the deleted flag;
* an edit adds a version and, when it is the newest, becomes the current text; an edit
  already applied (same event id) is ignored; an edit of a message not indexed yet creates the
  document from the edit;
* a delete keeps the document, flagged ``deleted=1``, still findable for compliance; a delete
  of a message not indexed yet leaves a flagged placeholder that the post later fills in;
* a file upload writes a document ``file:<event_id>`` whose text is the file name, with the
  name (``file_name``), its type (``file_type``), size, SHA-256 and content type;
* a ``file_text`` event (the text extracted from an upload's bytes) rewrites that document
  whole with the text (``attachment``, read from the file store by its SHA-256, at most
  :data:`~search.tantivy_schema.MAX_ATTACHMENT_CHARS` characters) and the extraction state,
  keeping the upload's fields; a ``file_text`` delivered before its upload leaves a
  placeholder (type ``file_text``, found by no search) that the upload later fills in, and a
  text the store does not hold is a :class:`~adapters.base.Failure` the processor retries;
* every other event type is not indexed and reported as written.

A batch is one commit: all of it is searchable, or (after a rollback) none of it, and the
write raises (:class:`~adapters.base.BatchFailed`) so the processor can find the event at fault. Tantivy
allows one writer per index directory; the adapter takes it on its first batch and keeps
it until :meth:`TantivyIndexAdapter.close`. While another process holds it, batches fail
with "index is locked by another process" and the processor retries them later. With
several processors, set the option ``index_hold_writer=false`` so each takes the writer for
a batch and hands it back.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from itertools import islice
from pathlib import Path
from typing import cast

import tantivy

from adapters.attachment_text import attachment_texts
from adapters.base import AdapterContext, BatchFailed, DeliveryResult, Failure, all_succeeded
from archive.file_store import FileStore
from ingest.events import (
    DeleteEvent,
    EditEvent,
    Event,
    ExtractedText,
    FileTextEvent,
    FileUploadEvent,
    PostEvent,
    derive_hashtags,
    derive_mentions,
)
from search import tantivy_schema as fields
from search.versions import Entry, with_entry

log = logging.getLogger(__name__)

WRITER_HEAP_BYTES = 128_000_000
WRITER_THREADS = 1
INDEX_LOCKED = "index is locked by another process (it holds the Tantivy writer); will retry"
NO_TEXT_YET = -(2**63)
"""``text_updated`` of a placeholder: any post or edit is newer."""


class IndexLocked(RuntimeError):
    def __init__(self, path: Path) -> None:
        super().__init__(f"{INDEX_LOCKED}: {path}")


class ReindexFailed(RuntimeError):
    pass


PENDING_FILE = "file_text"
"""The type of a file document known only from its ``file_text`` (no search finds it)."""


@dataclass(frozen=True)
class Extraction:
    """The extraction state of a file document (its ``file_text`` event's)."""

    event_id: str
    state: str
    reason: str | None
    extractor: str
    extractor_version: str
    text_sha256: str | None
    text_chars: int
    truncated: bool

    @classmethod
    def of(cls, event: FileTextEvent) -> Extraction:
        extracted: ExtractedText = event.extracted
        return cls(
            event_id=str(event.event_id),
            state=extracted.state,
            reason=extracted.reason,
            extractor=extracted.extractor,
            extractor_version=extracted.extractor_version,
            text_sha256=extracted.text_sha256,
            text_chars=extracted.text_chars,
            truncated=extracted.truncated,
        )


@dataclass(frozen=True)
class FileFacts:
    """What a file document knows of its file besides the name: from the upload, and from the
    ``file_text`` once extracted."""

    size: int = 0
    sha256: str = ""
    content_type: str = ""
    extraction: Extraction | None = None


@dataclass(frozen=True)
class IndexedMessage:
    """Everything one index document holds, as plain values."""

    message_id: str
    type: str
    event_id: str
    sender_id: str
    sender_name: str
    room_id: str
    room_name: str
    sent: int
    text: str
    text_updated: int
    urls: tuple[str, ...] = ()
    mentions: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    edit_event_ids: tuple[str, ...] = ()
    deleted: bool = False
    has_file: bool = False
    history: tuple[Entry, ...] = ()
    """Every version known, in order (:func:`search.versions.with_entry`); the last is ``text``."""
    deleted_at: int | None = None
    file_name: str = ""
    file_type: str = ""
    attachment: str = ""
    """The extracted text in searchable form (at most ``MAX_ATTACHMENT_CHARS`` characters)."""
    file: FileFacts | None = None

    @property
    def versions(self) -> int:
        return 1 + len(self.edit_event_ids)

    @property
    def edited(self) -> bool:
        return bool(self.edit_event_ids)


# --- from events to messages (pure) --------------------------------------------------------


def target_message_id(event: Event) -> str | None:
    """The document an event writes, or None for events that are not indexed."""
    if isinstance(event, PostEvent | EditEvent | DeleteEvent):
        return event.message.id
    if isinstance(event, FileUploadEvent):
        return f"file:{event.event_id}"
    if isinstance(event, FileTextEvent):
        return f"file:{event.extracted.file_event_id}"
    return None


def apply_event(current: IndexedMessage | None, event: Event, attachment: str = "") -> IndexedMessage | None:
    """The message after ``event``; ``current`` is what is indexed (None if nothing);
    ``attachment``: the text of a ``file_text`` event (searchable form, read from the store)."""
    if isinstance(event, PostEvent):
        return apply_post(current, event)
    if isinstance(event, EditEvent):
        return apply_edit(current, event)
    if isinstance(event, DeleteEvent):
        return apply_delete(current, event)
    if isinstance(event, FileUploadEvent):
        return with_attachment(file_document(event), current)
    if isinstance(event, FileTextEvent):
        return apply_file_text(current, event, attachment)
    return current


def with_text(message: IndexedMessage, text: str, written_at: int) -> IndexedMessage:
    """``message`` with new text, and the URLs, mentions and hashtags found in it."""
    urls, mentions, hashtags = entities(text)
    return replace(message, text=text, text_updated=written_at, urls=urls, mentions=mentions, hashtags=hashtags)


def entities(text: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The URLs, mentions and hashtags written in ``text`` (read in its composed form)."""
    composed = fields.composed(text)
    # A mention needs an "@" and a hashtag a "#": most messages have neither, skip their scans.
    mentions = derive_mentions(composed) if "@" in composed else ()
    hashtags = derive_hashtags(composed) if "#" in composed else ()
    return fields.extract_urls(composed), mentions, hashtags


def placeholder(event: EditEvent | DeleteEvent, *, sender_known: bool) -> IndexedMessage:
    """What is known of a message whose post is not indexed yet."""
    return IndexedMessage(
        message_id=event.message.id,
        type="post",
        event_id="",
        sender_id=event.actor.id if sender_known else "",
        sender_name=(event.actor.name or "") if sender_known else "",
        room_id=event.room.id,
        room_name=event.room.name or "",
        sent=fields.micros_since_epoch(event.occurred_at),
        text="",
        text_updated=NO_TEXT_YET,
    )


def posted_message(event: PostEvent) -> IndexedMessage:
    """The message as its post says, with the mentions and hashtags the client declared."""
    posted_at = fields.micros_since_epoch(event.occurred_at)
    urls, mentions, hashtags = entities(event.message.text)
    return IndexedMessage(
        message_id=event.message.id,
        type="post",
        event_id=str(event.event_id),
        sender_id=event.actor.id,
        sender_name=event.actor.name or "",
        room_id=event.room.id,
        room_name=event.room.name or "",
        sent=posted_at,
        text=event.message.text,
        text_updated=posted_at,
        urls=urls,
        mentions=_merged(event.message.mentions, mentions),
        hashtags=_merged(event.message.hashtags, hashtags),
        history=(Entry("post", str(event.event_id), posted_at, event.message.text),),
    )


def apply_post(current: IndexedMessage | None, event: PostEvent) -> IndexedMessage:
    posted = posted_message(event)
    if current is None:
        return posted
    history = with_entry(current.history, posted.history[0])
    merged = replace(
        posted,
        edit_event_ids=current.edit_event_ids,
        deleted=current.deleted,
        deleted_at=current.deleted_at,
        history=history,
    )
    newest = history[-1]
    if newest.kind == "post":
        return merged
    # A newer edit is indexed already: it stays the current text.
    if newest.at == current.text_updated and newest.text == current.text:
        return replace(
            merged,
            text=current.text,
            text_updated=current.text_updated,
            urls=current.urls,
            mentions=current.mentions,
            hashtags=current.hashtags,
        )
    return with_text(merged, newest.text, newest.at)


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _merged(declared: tuple[str, ...] | None, found: tuple[str, ...]) -> tuple[str, ...]:
    """``_unique((*declared, *found))``, without the work when both are empty (most messages)."""
    if not declared and not found:
        return ()
    return _unique((*(declared or ()), *found))


def apply_edit(current: IndexedMessage | None, event: EditEvent) -> IndexedMessage:
    message = current or placeholder(event, sender_known=True)
    edit_id = str(event.event_id)
    if edit_id in message.edit_event_ids:
        return message
    edited_at = fields.micros_since_epoch(event.occurred_at)
    version = Entry("edit", edit_id, edited_at, event.message.text)
    history = with_entry(message.history, version)
    message = replace(message, edit_event_ids=(*message.edit_event_ids, edit_id), history=history)
    if history[-1] != version:  # an older edit delivered late: a version, not the current text
        return message
    return with_text(message, event.message.text, edited_at)


def apply_delete(current: IndexedMessage | None, event: DeleteEvent) -> IndexedMessage:
    message = current or placeholder(event, sender_known=False)
    deleted_at = fields.micros_since_epoch(event.occurred_at)
    if message.deleted_at is not None:
        deleted_at = min(deleted_at, message.deleted_at)
    return replace(message, deleted=True, deleted_at=deleted_at)


def file_document(event: FileUploadEvent) -> IndexedMessage:
    uploaded_at = fields.micros_since_epoch(event.occurred_at)
    message = IndexedMessage(
        message_id=f"file:{event.event_id}",
        type="file_upload",
        event_id=str(event.event_id),
        sender_id=event.actor.id,
        sender_name=event.actor.name or "",
        room_id=event.room.id,
        room_name=event.room.name or "",
        sent=uploaded_at,
        text="",
        text_updated=uploaded_at,
        has_file=True,
    )
    facts = FileFacts(size=event.file.size, sha256=event.file.sha256, content_type=event.file.content_type)
    named = replace(
        message,
        file_name=event.file.name,
        file_type=fields.file_type(event.file.name, event.file.content_type),
        file=facts,
    )
    return with_text(named, event.file.name, uploaded_at)


def with_attachment(uploaded: IndexedMessage, current: IndexedMessage | None) -> IndexedMessage:
    """The upload's document with the extracted text ``current`` holds (a placeholder left by a
    ``file_text`` delivered first, or the document itself when the upload is re-delivered)."""
    if current is None or current.file is None or current.file.extraction is None:
        return uploaded
    facts = replace(uploaded.file or FileFacts(), extraction=current.file.extraction)
    return replace(uploaded, attachment=current.attachment, file=facts)


def apply_file_text(current: IndexedMessage | None, event: FileTextEvent, attachment: str) -> IndexedMessage:
    """The file document with the extracted text: the upload's, or a placeholder until it comes."""
    message = current
    if message is None:
        message = IndexedMessage(
            message_id=f"file:{event.extracted.file_event_id}",
            type=PENDING_FILE,
            event_id="",
            sender_id=event.actor.id,
            sender_name=event.actor.name or "",
            room_id=event.room.id,
            room_name=event.room.name or "",
            sent=fields.micros_since_epoch(event.occurred_at),
            text="",
            text_updated=NO_TEXT_YET,
            file=FileFacts(sha256=event.extracted.sha256),
        )
    facts = replace(message.file or FileFacts(sha256=event.extracted.sha256), extraction=Extraction.of(event))
    return replace(message, attachment=attachment, file=facts)


# --- messages and Tantivy documents ----------------------------------------------------------


def to_document(message: IndexedMessage) -> tantivy.Document:
    composed = fields.searchable(message.text)
    values: dict[str, object] = {
        fields.MESSAGE_ID: message.message_id,
        fields.TYPE: message.type,
        fields.EVENT_ID: message.event_id,
        fields.SENDER_ID: message.sender_id,
        fields.SENDER_NAME: _searchable_name(message.sender_name),
        fields.ROOM_ID: message.room_id,
        fields.ROOM_NAME: _searchable_name(message.room_name),
        fields.SENDER_KEYS: list(fields.person_keys(message.sender_id, message.sender_name)),
        fields.ROOM_KEYS: list(fields.room_keys(message.room_id, message.room_name)),
        fields.SENT: message.sent,
        fields.TEXT: composed,
        fields.TEXT_UPDATED: message.text_updated,
        fields.EDITED: int(bool(message.edit_event_ids)),
        fields.VERSIONS: 1 + len(message.edit_event_ids),
        fields.DELETED: int(message.deleted),
        fields.HAS_FILE: int(message.has_file),
    }
    # Multi-valued fields only when they hold something: an empty list adds no value anyway.
    if message.urls:
        values[fields.URLS] = list(message.urls)
    if message.mentions:
        values[fields.MENTIONS] = list(message.mentions)
    if message.hashtags:
        values[fields.HASHTAGS] = list(message.hashtags)
    if message.file_name:
        values[fields.FILE_NAME] = fields.searchable(message.file_name)
    if message.file_type:
        values[fields.FILE_TYPE] = message.file_type
    if message.attachment:
        values[fields.ATTACHMENT] = message.attachment
    if message.edit_event_ids:
        values[fields.EDIT_EVENT_IDS] = list(message.edit_event_ids)
    if len(message.history) > 1:
        values[fields.HISTORY] = fields.history_values(entry.text for entry in message.history[:-1])
    document = tantivy.Document(**values)
    if composed != message.text:
        document.add_bytes(fields.TEXT_ORIGINAL, message.text.encode("utf-8"))
    if message.history != _posted_history(message) or message.deleted_at is not None:
        document.add_bytes(fields.VERSION_LOG, _version_log(message))
    if message.file is not None:
        document.add_bytes(fields.FILE_INFO, _file_info(message))
    return document


def _file_info(message: IndexedMessage) -> bytes:
    facts = message.file or FileFacts()
    info = {
        "name": message.file_name,
        "size": facts.size,
        "sha256": facts.sha256,
        "content_type": facts.content_type,
        "extraction": None if facts.extraction is None else asdict(facts.extraction),
    }
    return json.dumps(info, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _with_file(document: tantivy.Document, message: IndexedMessage) -> IndexedMessage:
    stored = document.get_first(fields.FILE_INFO)
    if not isinstance(stored, bytes):
        return message
    info = json.loads(stored)
    extraction = info.get("extraction")
    facts = FileFacts(
        size=int(info.get("size") or 0),
        sha256=str(info.get("sha256") or ""),
        content_type=str(info.get("content_type") or ""),
        extraction=None if extraction is None else Extraction(**extraction),
    )
    return replace(
        message,
        file_name=str(info.get("name") or ""),
        file_type=str(document.get_first(fields.FILE_TYPE) or ""),
        attachment=str(document.get_first(fields.ATTACHMENT) or ""),
        file=facts,
    )


def _posted_history(message: IndexedMessage) -> tuple[Entry, ...]:
    """The history of a message known only from its post (not stored: read from its fields)."""
    if message.type != "post" or not message.event_id:
        return ()
    return (Entry("post", message.event_id, message.sent, message.text),)


def _version_log(message: IndexedMessage) -> bytes:
    log = {"versions": [list(entry) for entry in message.history], "deleted_at": message.deleted_at}
    return json.dumps(log, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _history(document: tantivy.Document, message: IndexedMessage) -> IndexedMessage:
    stored = document.get_first(fields.VERSION_LOG)
    if not isinstance(stored, bytes):
        return replace(message, history=_posted_history(message))
    log = json.loads(stored)
    history = tuple(Entry(kind, event_id, int(at), text) for kind, event_id, at, text in log["versions"])
    return replace(message, history=history, deleted_at=log["deleted_at"])


@lru_cache(maxsize=4096)
def _searchable_name(name: str) -> str:
    """Sender and room names repeat on every message: normalise each once. Composed only, not
    script-folded: the stored name is read back when an edit rewrites the document, and the
    ``from:``/``in:`` keys computed from it must stay those of the name as given."""
    return fields.composed(name)


def from_document(document: tantivy.Document) -> IndexedMessage:
    def text(name: str) -> str:
        return str(document.get_first(name) or "")

    def number(name: str) -> int:
        return int(document.get_first(name) or 0)

    def texts(name: str) -> tuple[str, ...]:
        return tuple(str(value) for value in document.get_all(name))

    message = IndexedMessage(
        message_id=text(fields.MESSAGE_ID),
        type=text(fields.TYPE),
        event_id=text(fields.EVENT_ID),
        sender_id=text(fields.SENDER_ID),
        sender_name=text(fields.SENDER_NAME),
        room_id=text(fields.ROOM_ID),
        room_name=text(fields.ROOM_NAME),
        sent=number(fields.SENT),
        text=fields.exact_text(document),
        text_updated=number(fields.TEXT_UPDATED),
        urls=texts(fields.URLS),
        mentions=texts(fields.MENTIONS),
        hashtags=texts(fields.HASHTAGS),
        edit_event_ids=texts(fields.EDIT_EVENT_IDS),
        deleted=bool(number(fields.DELETED)),
        has_file=bool(number(fields.HAS_FILE)),
    )
    return _with_file(document, _history(document, message))


def indexed_messages(index: tantivy.Index, message_ids: Sequence[str]) -> dict[str, IndexedMessage]:
    """The messages among ``message_ids`` that the last commit holds."""
    if not message_ids:
        return {}
    searcher = index.searcher()
    query = tantivy.Query.term_set_query(index.schema, fields.MESSAGE_ID, list(message_ids))
    found = (from_document(searcher.doc(address)) for _score, address in searcher.search(query, len(message_ids)).hits)
    return {message.message_id: message for message in found}


def changes(
    index: tantivy.Index, batch: Sequence[Event], texts: Mapping[int, str] | None = None
) -> list[tuple[IndexedMessage, bool]]:
    """The messages ``batch`` changes, each in its final state, and whether the index holds an
    earlier version of it (which the new document must replace). ``texts``: the text of each
    ``file_text`` event of the batch, by position."""
    texts = texts or {}
    targets = [(key, position, event) for position, event in enumerate(batch) if (key := target_message_id(event))]
    indexed = indexed_messages(index, list(dict.fromkeys(key for key, _position, _event in targets)))
    latest: dict[str, IndexedMessage | None] = dict(indexed)
    for key, position, event in targets:
        latest[key] = apply_event(latest.get(key), event, texts.get(position, ""))
    return [
        (message, key in indexed)
        for key, message in latest.items()
        if message is not None and message != indexed.get(key)
    ]


# --- the writer -------------------------------------------------------------------------------


def acquire_writer(index: tantivy.Index, path: Path) -> tantivy.IndexWriter:
    try:
        return index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=WRITER_THREADS)
    except ValueError as error:
        if "LockBusy" in str(error):
            raise IndexLocked(path) from None
        raise


def release_writer(writer: tantivy.IndexWriter) -> None:
    """Let merges finish and give the directory lock back (the writer is unusable after)."""
    try:
        writer.wait_merging_threads()
    except ValueError:
        log.debug("index writer was already released", exc_info=True)


class TantivyIndexAdapter:
    name = "index"

    def __init__(self, index_dir: Path, *, hold_writer: bool = True, file_store: FileStore | None = None) -> None:
        self.index_dir = index_dir
        self.hold_writer = hold_writer
        self.file_store = file_store
        self._index: tantivy.Index | None = None
        self._writer: tantivy.IndexWriter | None = None
        self._closed = False

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        """Index the batch in one commit; on any error nothing of it is committed. A ``file_text``
        whose text cannot be read from the file store fails alone (the rest is indexed)."""
        if not batch:
            return []
        if self._closed:
            return [Failure("index adapter is closed")] * len(batch)
        texts = attachment_texts(self.file_store, batch) if any(isinstance(e, FileTextEvent) for e in batch) else {}
        unread = {position: text for position, text in texts.items() if isinstance(text, Failure)}
        if not unread:
            return self._write(batch, {position: text for position, text in texts.items() if isinstance(text, str)})
        for failure in unread.values():
            log.warning("%s", failure.reason)
        positions = [position for position in range(len(batch)) if position not in unread]
        readable = {new: texts[old] for new, old in enumerate(positions) if isinstance(texts.get(old), str)}
        written = iter(self._write([batch[position] for position in positions], cast(dict[int, str], readable)))
        return [unread[position] if position in unread else next(written) for position in range(len(batch))]

    def _write(self, batch: Sequence[Event], texts: Mapping[int, str]) -> Sequence[DeliveryResult]:
        if not batch:
            return []
        try:
            index, writer = self._writable()
        except IndexLocked:
            return [Failure(f"{INDEX_LOCKED}: {self.index_dir}")] * len(batch)
        except (OSError, ValueError) as error:
            return self._fail(batch, f"index at {self.index_dir} cannot be opened: {_describe(error)}")
        try:
            written = self._commit(index, writer, batch, texts)
        except OSError as error:
            self._discard_changes(writer)
            return self._fail(batch, f"index write failed: {_describe(error)}")
        except Exception as error:
            # Something in the batch's documents, maybe one event: the processor halves the
            # batch to find it (adapters.base), so its neighbours are still indexed.
            self._discard_changes(writer)
            raise BatchFailed(Failure(f"index write failed: {_describe(error)}")) from error
        finally:
            if not self.hold_writer:
                self._release()
        log.debug("indexed %d documents for %d events", written, len(batch))
        return all_succeeded(batch)

    def delete(self, event_ids: Sequence[str]) -> None:
        """Dispose of events (retention): the documents they posted (messages, files), in one
        commit; raises when the index cannot be written (another process holds its writer)."""
        if not event_ids:
            return
        index, writer = self._writable()
        try:
            for event_id in event_ids:
                writer.delete_documents_by_term(fields.EVENT_ID, event_id)
            writer.commit()
            index.reload()
        except Exception:
            self._discard_changes(writer)
            raise
        finally:
            if not self.hold_writer:
                self._release()

    def close(self) -> None:
        self._closed = True
        self._release()
        self._index = None

    def _writable(self) -> tuple[tantivy.Index, tantivy.IndexWriter]:
        if self._index is None:
            self._index = fields.open_index(self.index_dir)
        if self._writer is None:
            self._writer = acquire_writer(self._index, self.index_dir)
            self._index.reload()  # see what the previous holder of the writer committed
        return self._index, self._writer

    def _commit(
        self, index: tantivy.Index, writer: tantivy.IndexWriter, batch: Sequence[Event], texts: Mapping[int, str]
    ) -> int:
        changed = changes(index, batch, texts)
        for message, replaces in changed:
            # We hold the writer and read the last commit: a message not found there is not
            # in the index, and there is nothing to delete (deletes cost every later commit).
            if replaces:
                writer.delete_documents_by_term(fields.MESSAGE_ID, message.message_id)
            writer.add_document(to_document(message))
        writer.commit()
        index.reload()
        return len(changed)

    def _discard_changes(self, writer: tantivy.IndexWriter) -> None:
        """Roll back; a writer that cannot roll back is dropped and taken afresh next batch."""
        try:
            writer.rollback()
        except Exception:
            log.warning("index writer could not roll back; reopening it", exc_info=True)
            self._release()

    def _release(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            release_writer(writer)

    def _fail(self, batch: Sequence[Event], reason: str) -> list[DeliveryResult]:
        log.warning("%s", reason)
        return [Failure(reason)] * len(batch)


def _describe(error: BaseException) -> str:
    return f"{error.__class__.__name__}: {error}"


def create(context: AdapterContext) -> TantivyIndexAdapter:
    hold = context.options.get("index_hold_writer", "true").strip().lower() not in {"false", "0", "no", "off"}
    return TantivyIndexAdapter(context.data_dir / "index", hold_writer=hold, file_store=context.file_store)


# --- rebuilding ---------------------------------------------------------------------------------


def reindex(
    index_dir: Path, events: Iterable[Event], *, batch_size: int = 10_000, file_store: FileStore | None = None
) -> int:
    """Rebuild the index at ``index_dir`` from ``events`` (in occurrence order); returns its documents.
    The text of attachments (``file_text`` events) is read from ``file_store``.

    The new index is built beside the old one and swapped in at the end, so a failed rebuild
    leaves the old index as it was and a schema change is picked up. Refuses while another
    process holds the writer: stop the processors first.
    """
    _ensure_unlocked(index_dir)
    building = index_dir.with_name(f"{index_dir.name}.rebuild-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        _build(building, events, batch_size, file_store)
        documents = fields.open_index(building).searcher().num_docs
        _swap(building, index_dir)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return documents


def _ensure_unlocked(index_dir: Path) -> None:
    if index_dir.exists() and not index_dir.is_dir():
        raise NotADirectoryError(f"{index_dir} is not a directory; it cannot hold the index")
    if not index_dir.is_dir():
        return
    if not tantivy.Index.exists(str(index_dir)):
        if any(index_dir.iterdir()):
            raise ReindexFailed(f"{index_dir} holds files but no index; refusing to replace it")
        return
    try:
        index = fields.open_index(index_dir)
    except fields.IndexSchemaMismatch:
        return  # an old layout is replaced whole
    release_writer(acquire_writer(index, index_dir))


def _build(path: Path, events: Iterable[Event], batch_size: int, file_store: FileStore | None = None) -> None:
    adapter = TantivyIndexAdapter(path, file_store=file_store)
    try:
        fields.open_index(path)
        for batch in _batches(events, batch_size):
            failure = next((result for result in adapter.write(batch) if result is not None), None)
            if failure is not None:
                raise ReindexFailed(failure.reason)
    finally:
        adapter.close()


def _batches(events: Iterable[Event], size: int) -> Iterator[list[Event]]:
    iterator = iter(events)
    while batch := list(islice(iterator, size)):
        yield batch


def _swap(new: Path, target: Path) -> None:
    retired = target.with_name(f"{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(retired)
    new.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
