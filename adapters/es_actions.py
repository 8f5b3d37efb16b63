"""Turning a batch of events into Elasticsearch bulk actions, and bulk responses back into one
result per event (pure functions; the client lives in ``es_adapter``).

Every event is indexed into the events index with ``_id`` = event id, so re-delivery
overwrites the same document. Messages are upserted into the messages index with ``_id`` =
message id by painless scripts that apply the same rules as the archive and the Tantivy index:
every version (the post's text, each edit's) is kept once in ``version_log`` in the order of
:mod:`search.versions` (time, the post first at equal times, then event id), whatever order
the events arrive in; the newest is the current ``text``, the others are searchable in
``history`` (a message indexed before versions were kept starts its log with the text it
had); a re-delivered post never undoes a later edit, an edit older than the current text
counts as a version but does not replace it, a deletion is a flag, and an edit or deletion
arriving before its post still creates the document.

An uploaded file is the document ``file:<event_id>``: its upload writes the file's fields and
its ``file_text`` event (the text extracted from it, read from the file store by the adapter)
adds ``attachment`` and ``extraction``, each by a script that keeps what the other wrote, so
either may come first (a text before its upload leaves a placeholder of type ``file_text``,
found by no search) and re-delivery changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from adapters.base import DeliveryResult, Failure
from ingest.events import (
    DeleteEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileTextEvent,
    FileUploadEvent,
    PostEvent,
    derive_hashtags,
    derive_mentions,
    event_to_json,
)
from search.es_mapping import events_index, messages_index
from search.tantivy_schema import composed, extract_urls, file_type, micros_since_epoch, person_keys, room_keys

Json = dict[str, Any]

_START_LOG = """
if (ctx._source.version_log == null) {
  ctx._source.version_log = [];
  if (ctx._source.text != null && ctx._source.text_updated != null) {
    boolean edited = ctx._source.edit_event_ids != null && !ctx._source.edit_event_ids.isEmpty();
    ctx._source.version_log.add(['kind': edited ? 'edit' : 'post',
      'event_id': edited || ctx._source.event_id == null ? 'indexed-before-versions' : ctx._source.event_id,
      'at': ctx._source.text_updated, 'text': ctx._source.text]);
  }
}
"""
"""A message indexed before versions were kept: its log starts with the text it had."""
_APPLY_TEXT = """
boolean known = false;
for (def v : ctx._source.version_log) { if (v.event_id == params.event_id) { known = true; } }
if (!known) {
  ctx._source.version_log.add(['kind': params.kind, 'event_id': params.event_id, 'at': params.at, 'text': params.text]);
  ctx._source.version_log.sort((a, b) -> {
    int c = Long.compare(((Number) a.at).longValue(), ((Number) b.at).longValue());
    if (c == 0) { c = (a.kind == 'post' ? 0 : 1) - (b.kind == 'post' ? 0 : 1); }
    if (c == 0) { c = a.event_id.compareTo(b.event_id); }
    return c;
  });
}
int count = ctx._source.version_log.size();
List older = new ArrayList();
for (int i = 0; i < count - 1; i++) { older.add(ctx._source.version_log[i].text); }
ctx._source.history = older;
if (ctx._source.version_log[count - 1].event_id == params.event_id) {
  ctx._source.text = params.text; ctx._source.urls = params.urls;
  ctx._source.mentions = params.mentions; ctx._source.hashtags = params.hashtags;
  ctx._source.text_updated = params.at;
}
"""
POST_SCRIPT = (
    _START_LOG
    + _APPLY_TEXT
    + """
ctx._source.event_id = params.event_id; ctx._source.sent = params.sent;
ctx._source.sender_id = params.sender_id; ctx._source.sender_name = params.sender_name;
ctx._source.sender_keys = params.sender_keys;
"""
)
EDIT_SCRIPT = (
    _START_LOG
    + """
if (ctx._source.edit_event_ids == null) { ctx._source.edit_event_ids = []; }
if (!ctx._source.edit_event_ids.contains(params.event_id)) {
  ctx._source.edit_event_ids.add(params.event_id);
  ctx._source.versions = (ctx._source.versions == null ? 1 : ctx._source.versions) + 1;
  if (ctx._source.edited_at == null || ctx._source.edited_at.compareTo(params.edited_at) < 0) {
    ctx._source.edited_at = params.edited_at;
  }
}
"""
    + _APPLY_TEXT
)
DELETE_SCRIPT = "ctx._source.deleted = true; ctx._source.deleted_at = params.deleted_at;"
UPLOAD_SCRIPT = "for (def field : params.upload.entrySet()) { ctx._source[field.getKey()] = field.getValue(); }"
"""The upload's fields over whatever is there (a placeholder's text stays)."""
FILE_TEXT_SCRIPT = "ctx._source.attachment = params.attachment; ctx._source.extraction = params.extraction;"

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class BulkAction:
    """One bulk operation and the position in the batch of the event it belongs to."""

    event_index: int
    header: Json
    body: Json

    def size(self) -> int:
        return len(json.dumps(self.header)) + len(json.dumps(self.body, ensure_ascii=False).encode()) + 2


def _entities(text: str) -> Json:
    return {
        "urls": list(extract_urls(text)),
        "mentions": list(derive_mentions(text)),
        "hashtags": list(derive_hashtags(text)),
    }


def event_document(event: Event) -> Json:
    document: Json = {
        "event_id": str(event.event_id),
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "room_id": event.room.id,
        "room_name": event.room.name,
        "actor_id": event.actor.id,
        "actor_name": event.actor.name,
        "payload": json.loads(event_to_json(event)),
        "has_file": isinstance(event, FileUploadEvent | FileDownloadEvent),
    }
    match event:
        case PostEvent() | EditEvent():
            document |= {"message_id": event.message.id, "text": composed(event.message.text)}
        case DeleteEvent():
            document["message_id"] = event.message.id
        case FileUploadEvent() | FileDownloadEvent():
            document |= {"file_name": event.file.name, "file_sha256": event.file.sha256}
        case _:
            pass
    return document


def _message_base(event: Event, message_id: str) -> Json:
    return {
        "message_id": message_id,
        "room_id": event.room.id,
        "room_name": event.room.name,
        "room_keys": list(room_keys(event.room.id, event.room.name)),
        "type": "post",
        "versions": 0,
        "deleted": False,
        "has_file": False,
        "edit_event_ids": [],
        "version_log": [],
        "history": [],
    }


def _text_params(event: Event, text: str) -> Json:
    return {"text": composed(text), "at": micros_since_epoch(event.occurred_at), **_entities(text)}


def _declared(values: tuple[str, ...] | None, found: list[str]) -> list[str]:
    """What a post declares (an IRC line addressed to ``nick:`` mentions nick) before what its
    text shows, each once, as the Tantivy index keeps them."""
    return list(dict.fromkeys((*(values or ()), *found)))


def message_update(event: Event, prefix: str, attachment: str = "") -> tuple[Json, Json] | None:
    """The messages-index operation for ``event``, or None when it changes no message;
    ``attachment``: the text of a ``file_text`` event (searchable form, from the file store)."""
    index = messages_index(prefix)
    match event:
        case PostEvent():
            params = _text_params(event, event.message.text) | {
                "kind": "post",
                "event_id": str(event.event_id),
                "sent": event.occurred_at.isoformat(),
                "sender_id": event.actor.id,
                "sender_name": event.actor.name,
                "sender_keys": list(person_keys(event.actor.id, event.actor.name)),
            }
            params["mentions"] = _declared(event.message.mentions, params["mentions"])
            params["hashtags"] = _declared(event.message.hashtags, params["hashtags"])
            upsert = _message_base(event, event.message.id) | {"versions": 1}
            upsert |= {
                k: params[k] for k in ("event_id", "sent", "sender_id", "sender_name", "sender_keys", "text", "urls")
            }
            upsert |= {"mentions": params["mentions"], "hashtags": params["hashtags"], "text_updated": params["at"]}
            upsert["version_log"] = [_version(params)]
            return _scripted(index, message_document_id(event.message.id), POST_SCRIPT, params, upsert)
        case EditEvent():
            params = _text_params(event, event.message.text) | {
                "kind": "edit",
                "event_id": str(event.event_id),
                "edited_at": event.occurred_at.isoformat(),
            }
            upsert = _message_base(event, event.message.id) | {
                "versions": 1,
                "edit_event_ids": [str(event.event_id)],
                "edited_at": params["edited_at"],
                "text": params["text"],
                "urls": params["urls"],
                "mentions": params["mentions"],
                "hashtags": params["hashtags"],
                "text_updated": params["at"],
                "version_log": [_version(params)],
            }
            return _scripted(index, message_document_id(event.message.id), EDIT_SCRIPT, params, upsert)
        case DeleteEvent():
            params = {"deleted_at": event.occurred_at.isoformat()}
            upsert = _message_base(event, event.message.id) | {"deleted": True, "deleted_at": params["deleted_at"]}
            return _scripted(index, message_document_id(event.message.id), DELETE_SCRIPT, params, upsert)
        case FileUploadEvent():
            document_id = f"file:{event.event_id}"
            document = _message_base(event, document_id) | {
                "type": "file_upload",
                "event_id": str(event.event_id),
                "sent": event.occurred_at.isoformat(),
                "sender_id": event.actor.id,
                "sender_name": event.actor.name,
                "sender_keys": list(person_keys(event.actor.id, event.actor.name)),
                "text": composed(event.file.name),
                "has_file": True,
                "file_name": composed(event.file.name),
                "file_type": file_type(event.file.name, event.file.content_type),
                "file_size": event.file.size,
                "file_sha256": event.file.sha256,
                "file_content_type": event.file.content_type,
            }
            return _scripted(index, document_id, UPLOAD_SCRIPT, {"upload": document}, document)
        case FileTextEvent():
            extracted = event.extracted
            document_id = f"file:{extracted.file_event_id}"
            params = {"attachment": attachment, "extraction": extraction_state(event)}
            placeholder = _message_base(event, document_id) | {
                "type": "file_text",
                "sent": event.occurred_at.isoformat(),
                "file_sha256": extracted.sha256,
                **params,
            }
            return _scripted(index, document_id, FILE_TEXT_SCRIPT, params, placeholder)
        case _:
            return None


def extraction_state(event: FileTextEvent) -> Json:
    """The ``extraction`` of a file document: the ``file_text`` event's state (as Tantivy stores it)."""
    extracted = event.extracted
    return {
        "event_id": str(event.event_id),
        "state": extracted.state,
        "reason": extracted.reason,
        "extractor": extracted.extractor,
        "extractor_version": extracted.extractor_version,
        "text_sha256": extracted.text_sha256,
        "text_chars": extracted.text_chars,
        "truncated": extracted.truncated,
    }


def _version(params: Json) -> Json:
    """A ``version_log`` entry (see :mod:`search.versions`), as the scripts add them."""
    return {key: params[key] for key in ("kind", "event_id", "at", "text")}


LONGEST_ID_BYTES = 512
"""The engines refuse a document ``_id`` longer than this (in UTF-8), and with it the whole bulk request."""


def message_document_id(message_id: str) -> str:
    """The ``_id`` of ``message_id``'s document in the messages index: the id itself, or past
    :data:`LONGEST_ID_BYTES` a digest of it (the document's ``message_id`` field keeps the id)."""
    encoded = message_id.encode("utf-8", "surrogatepass")
    if len(encoded) <= LONGEST_ID_BYTES:
        return message_id
    return "#sha256:" + hashlib.sha256(encoded).hexdigest()


def _scripted(index: str, document_id: str, source: str, params: Json, upsert: Json) -> tuple[Json, Json]:
    header = {"update": {"_index": index, "_id": document_id, "retry_on_conflict": 5}}
    return header, {"script": {"source": source, "lang": "painless", "params": params}, "upsert": upsert}


def bulk_actions(
    batch: Sequence[Event],
    prefix: str = "archivist",
    texts: Mapping[int, str] | None = None,
    skip: Collection[int] = (),
) -> list[BulkAction]:
    """The actions of ``batch``; ``texts``: the text of each ``file_text`` event by position;
    the events at ``skip`` get none (their text could not be read: they fail on their own)."""
    texts = texts or {}
    actions: list[BulkAction] = []
    for position, event in enumerate(batch):
        if position in skip:
            continue
        header = {"index": {"_index": events_index(prefix), "_id": str(event.event_id)}}
        actions.append(BulkAction(position, header, event_document(event)))
        update = message_update(event, prefix, texts.get(position, ""))
        if update is not None:
            actions.append(BulkAction(position, *update))
    return actions


def bulk_body(actions: Sequence[BulkAction]) -> list[Json]:
    """The operations list for ``client.bulk(operations=...)``: header, body, header, body..."""
    body: list[Json] = []
    for action in actions:
        body.extend((action.header, action.body))
    return body


def chunk_actions(
    actions: Sequence[BulkAction], *, max_count: int = 500, max_bytes: int = 5_000_000
) -> Iterator[list[BulkAction]]:
    """Split into requests of at most ``max_count`` actions and about ``max_bytes``, in order."""
    chunk: list[BulkAction] = []
    size = 0
    for action in actions:
        action_size = action.size()
        if chunk and (len(chunk) >= max_count or size + action_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(action)
        size += action_size
    if chunk:
        yield chunk


@dataclass(frozen=True)
class ItemOutcome:
    ok: bool
    retryable: bool
    reason: str | None


def item_outcome(item: Json, engine: str = "elasticsearch") -> ItemOutcome:
    """The outcome of one bulk response item (``{"index": {...}}`` or ``{"update": {...}}``);
    ``engine``: who answered, as its reason says (the adapter's name)."""
    (result,) = item.values()
    status = int(result.get("status", 500))
    if 200 <= status < 300:
        return ItemOutcome(True, False, None)
    error = result.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    else:
        reason = str(error or f"status {status}")
    return ItemOutcome(False, status in RETRYABLE_STATUSES, f"{engine} {status} {reason}".strip())


def results_per_event(
    actions: Sequence[BulkAction], outcomes: Sequence[ItemOutcome], batch_size: int
) -> list[DeliveryResult]:
    """One result per event: an event fails when any of its actions failed. Refusals the engine
    gives for its own state (429: too busy, 5xx: a shard unavailable) after every retry say nothing
    of the event: such a failure is ``unreachable`` (never parks it), unless another of its
    actions was refused for itself."""
    results: list[DeliveryResult] = [None] * batch_size
    for action, outcome in zip(actions, outcomes, strict=True):
        if outcome.ok:
            continue
        earlier = results[action.event_index]
        if earlier is None or (earlier.unreachable and not outcome.retryable):
            reason = outcome.reason or "the search engine rejected the document"
            results[action.event_index] = Failure(reason, unreachable=outcome.retryable)
    return results
