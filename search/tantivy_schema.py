"""The embedded full-text index: its schema, its analyzers and how to open it.

One place for everything the writer (the ``index`` adapter) and the reader (the Tantivy search
backend) must agree on. Always open the index through :func:`open_index`: Tantivy keeps only
the *names* of custom analyzers in the index, so every process must register them again.

Analysis
--------
``text``, ``sender_name`` and ``room_name`` use ``archivist_text``: Tantivy's simple tokenizer
(splits on anything that is not a Unicode letter or digit, so Hebrew, Arabic and other
scripts index as words; a run of CJK characters is one token), then lower-case, then ASCII
folding (``Café``, ``CAFÉ`` and ``cafe`` are one term; ``Straße`` is ``strasse``). Tokens
over 255 bytes are dropped (base64 blobs), which still keeps hashes and commit ids findable.

Text is analysed in Unicode NFC: a client that sends decomposed accents (``e`` + U+0301,
as macOS does) would otherwise see ``résumé`` split into ``re`` and ``sume``. NFC is
canonically equivalent, so the stored ``text`` shows the same; when the original was not
NFC, its exact characters are stored in ``text_original`` (see :func:`exact_text`).

URLs, @mentions and #hashtags are also indexed whole, in the keyword fields ``urls``,
``mentions`` and ``hashtags`` with ``archivist_keyword`` (no splitting; lower-case and ASCII
folding only), so ``@kleedrac``, ``#media`` and ``http://gsvn.tigris.org/`` match exactly
instead of as loose word sequences. Mentions and hashtags are indexed without their sigil
(``kleedrac``, ``media``), as the event contract derives them. Build term queries on these
fields with :func:`fold_keyword`; URL prefixes work with ``Query.regex_query`` on ``urls``.
Their words are in ``text`` too, so a plain ``kleedrac`` or ``tigris`` also finds them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Final

import tantivy

TEXT_ANALYZER: Final = "archivist_text"
KEYWORD_ANALYZER: Final = "archivist_keyword"
EXACT: Final = "raw"
"""Tantivy's built-in analyzer that indexes the whole value unchanged (ids)."""

MAX_TOKEN_BYTES: Final = 255

# Identity of a document and of the event that created it.
MESSAGE_ID: Final = "message_id"
"""The message id of a post; ``file:<event_id>`` for an uploaded file. Unique per document."""
EVENT_ID: Final = "event_id"
"""The post's (or upload's) event id; empty while only an edit or delete of it is known."""
TYPE: Final = "type"
"""``post`` or ``file_upload``."""

# Searchable content.
TEXT: Final = "text"
"""The current text of the message (the one a hit shows; a deleted message's deleted text)."""
TEXT_ORIGINAL: Final = "text_original"
HISTORY: Final = "history"
"""Every earlier version of the message's text (the original and the edits before the current
one), one value each, analysed as ``text``: words are searched in both, ``current:`` in
``text`` only. Each value after the first starts with :data:`VERSION_GAP`, so a phrase or a
NEAR never spans two versions."""
VERSION_LOG: Final = "version_log"
"""Stored only, for a message edited or deleted (or known only from an edit or a delete): its
versions and when it was deleted, as JSON (see :mod:`adapters.index_adapter`). Any other
message has one version, its post."""
URLS: Final = "urls"
MENTIONS: Final = "mentions"
HASHTAGS: Final = "hashtags"

# Who and where.
SENDER_ID: Final = "sender_id"
SENDER_NAME: Final = "sender_name"
SENDER_KEYS: Final = "sender_keys"
"""Folded whole values a ``from:`` matches exactly: the sender's id, the id without ``user:``, the name."""
ROOM_ID: Final = "room_id"
ROOM_NAME: Final = "room_name"
ROOM_KEYS: Final = "room_keys"
"""Folded whole values an ``in:`` matches exactly: the room's id, the id without ``room:``, the
name with and without its ``#``."""

# When and what happened to it; all i64, times in microseconds since the Unix epoch.
SENT: Final = "sent"
TEXT_UPDATED: Final = "text_updated"
"""When the indexed text was written (the post, or the newest edit applied)."""
EDITED: Final = "edited"
EDIT_EVENT_IDS: Final = "edit_event_ids"
"""Every edit applied to the message, so a re-delivered edit is not counted twice."""
VERSIONS: Final = "versions"
DELETED: Final = "deleted"
HAS_FILE: Final = "has_file"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def build_schema(*, fast_message_id: bool = True) -> tantivy.Schema:
    """The index's fields. ``fast_message_id=False`` is the layout with message ids that are not a
    fast field, as before 2026-11-24: it still opens and works, and an export reads its message
    ids from the stored documents instead. Indexes built before every version of a message was
    indexed (``history``, 2026-12-06) do not open: :func:`open_index` asks for `archivist reindex`."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(MESSAGE_ID, stored=True, fast=fast_message_id, tokenizer_name=EXACT)
    for name in (EVENT_ID, EDIT_EVENT_IDS):
        builder.add_text_field(name, stored=True, tokenizer_name=EXACT)
    for name in (TYPE, SENDER_ID, ROOM_ID):
        builder.add_text_field(name, stored=True, fast=True, tokenizer_name=EXACT)
    for name in (TEXT, SENDER_NAME, ROOM_NAME):
        builder.add_text_field(name, stored=True, tokenizer_name=TEXT_ANALYZER)
    builder.add_text_field(HISTORY, stored=False, tokenizer_name=TEXT_ANALYZER)
    builder.add_bytes_field(TEXT_ORIGINAL, stored=True)  # UTF-8, stored only
    builder.add_bytes_field(VERSION_LOG, stored=True)  # JSON, stored only
    for name in (URLS, MENTIONS, HASHTAGS):
        builder.add_text_field(name, stored=True, tokenizer_name=KEYWORD_ANALYZER)
    for name in (SENDER_KEYS, ROOM_KEYS):
        builder.add_text_field(name, stored=False, tokenizer_name=KEYWORD_ANALYZER)
    for name in (SENT, EDITED, VERSIONS, DELETED, HAS_FILE):
        builder.add_integer_field(name, stored=True, indexed=True, fast=True)
    builder.add_integer_field(TEXT_UPDATED, stored=True)
    return builder.build()


def text_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(MAX_TOKEN_BYTES))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


def keyword_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .build()
    )


_TEXT = text_analyzer()
_KEYWORD = keyword_analyzer()


class IndexSchemaMismatch(ValueError):
    """The directory holds an index built with another schema; ``archivist reindex`` rebuilds it."""


def open_index(path: Path) -> tantivy.Index:
    """Open the index at ``path``, creating it (and the directory) if missing."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        index = tantivy.Index(build_schema(), path=str(path), reuse=True)
    except ValueError as error:
        if "schema does not match" not in str(error):
            raise
        try:
            index = tantivy.Index(build_schema(fast_message_id=False), path=str(path), reuse=True)
        except ValueError:
            # An index built before every version of a message was indexed would silently miss
            # edited-away text: it is rebuilt, not opened.
            raise IndexSchemaMismatch(
                f"the index at {path} was built with another schema (before every version of a message "
                "was searchable, or by another release); rebuild it from the archive with `archivist reindex`"
            ) from error
    index.register_tokenizer(TEXT_ANALYZER, text_analyzer())
    index.register_tokenizer(KEYWORD_ANALYZER, keyword_analyzer())
    return index


VERSION_GAP: Final = " ".join(["x" * (MAX_TOKEN_BYTES + 1)] * 51) + " "
"""Put before every ``history`` value but the first: 51 words the analyzer drops (over
``MAX_TOKEN_BYTES``) that still take their positions, so no phrase or NEAR (at most 50 words
apart, ``search.query_parser.MAX_NEAR_DISTANCE``) reaches from one version into the next."""


def history_values(texts: Iterable[str]) -> list[str]:
    """The ``history`` values of a message's earlier versions (searchable form, gaps between)."""
    return [(VERSION_GAP if position else "") + searchable(text) for position, text in enumerate(texts)]


def searchable(text: str) -> str:
    """The form of ``text`` that is analysed: canonically composed (NFC)."""
    return unicodedata.normalize("NFC", text)


def exact_text(document: tantivy.Document) -> str:
    """The text of a hit exactly as it was said."""
    original = document.get_first(TEXT_ORIGINAL)
    if isinstance(original, bytes):
        return original.decode("utf-8")
    return str(document.get_first(TEXT) or "")


def text_terms(text: str) -> list[str]:
    """The terms ``text`` is indexed as in ``text``: what a term or phrase query must use."""
    return _TEXT.analyze(searchable(text))


def fold_keyword(value: str) -> str:
    """The term a URL, mention or hashtag is indexed as (lower-cased, accent-folded)."""
    terms = _KEYWORD.analyze(searchable(value))
    return terms[0] if terms else ""


def _folded_unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(key for key in (fold_keyword(v.strip()) for v in values) if key))


@lru_cache(maxsize=8192)
def person_keys(actor_id: str, name: str | None) -> tuple[str, ...]:
    """What ``from:`` (and ``participant:``) match a person on: whole values, case and accents folded."""
    return _folded_unique([actor_id, actor_id.removeprefix("user:"), name or ""])


@lru_cache(maxsize=8192)
def room_keys(room_id: str, name: str | None) -> tuple[str, ...]:
    """What ``in:`` matches a room on: whole values, case and accents folded, ``#`` optional."""
    name = name or ""
    return _folded_unique([room_id, room_id.removeprefix("room:"), name, name.removeprefix("#")])


def filter_keys(field: str, value: str) -> tuple[str, ...]:
    """The keys a ``from:``/``in:`` value may equal (``from:@bob``, ``from:user:bob``, ``in:#ops``)."""
    if field == "in":
        return _folded_unique([value, value.removeprefix("#")])
    return _folded_unique([value, value.removeprefix("@")])


def micros_since_epoch(moment: datetime) -> int:
    """How ``sent`` and ``text_updated`` store a time (the moment must carry a zone)."""
    return (moment - _EPOCH) // _MICROSECOND


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCTUATION: Final = ".,;:!?*_"
_CLOSERS: Final = {")": "(", "]": "[", "}": "{"}


def _trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL; keep balanced brackets."""
    while url:
        last = url[-1]
        if last in _TRAILING_PUNCTUATION or (last in _CLOSERS and url.count(_CLOSERS[last]) < url.count(last)):
            url = url[:-1]
        else:
            break
    return url


def extract_urls(text: str) -> tuple[str, ...]:
    """URLs written in ``text`` (scheme ``http``, ``https``, ``ftp``, or starting ``www.``), in order."""
    found = _URL.findall(text)
    if not found:
        return ()
    return tuple(dict.fromkeys(url for url in map(_trim_url, found) if url))
