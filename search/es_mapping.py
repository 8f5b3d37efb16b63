"""Elasticsearch index templates for Archivist (pure data, no client).

Two indices: ``<prefix>-events`` holds every event (``_id`` = event id), ``<prefix>-messages``
one searchable document per message (``_id`` = message id) whose text edits replace and whose
deletion is a flag. The text analyzer mirrors the embedded Tantivy index so that both search
backends give the same answers (:mod:`search.tantivy_schema`, built from the same tables): a
char filter folds Arabic, Hebrew and half-width katakana as ``searchable()`` does (documents
and queries arrive in NFC), a pattern tokenizer whose matches are the words (runs of letters
and digits, each CJK character, each emoji), then lowercase and ASCII folding. An index made
with the template of before (analyzer ``archivist_text``) must be recreated and filled again.
URLs, mentions and hashtags are extracted at write time into
keyword fields with a lowercase + ASCII-folding normalizer, so they match exactly.
"""

from __future__ import annotations

from typing import Any

from search import tantivy_schema

Json = dict[str, Any]


def _rule(source: str, target: str) -> str:
    def escaped(text: str) -> str:
        return "".join(f"\\u{ord(character):04x}" for character in text)

    return f"{escaped(source)} => {escaped(target)}"


TEXT_ANALYZER: Json = {
    "type": "custom",
    "char_filter": ["archivist_scripts"],
    "tokenizer": "archivist_words",
    "filter": ["archivist_long_words", "lowercase", "asciifolding"],
}
ANALYSIS: Json = {
    "analyzer": {tantivy_schema.TEXT_ANALYZER: TEXT_ANALYZER},
    "char_filter": {
        "archivist_scripts": {
            "type": "mapping",
            "mappings": [_rule(source, target) for source, target in tantivy_schema.SCRIPT_FOLDING.items()],
        }
    },
    # group 0: the matches are the tokens (the pattern describes words, not separators).
    "tokenizer": {"archivist_words": {"type": "pattern", "pattern": tantivy_schema.token_pattern("java"), "group": 0}},
    # Words of MAX_TOKEN_BYTES or more are dropped (their positions kept), as Tantivy's remove_long
    # drops them; a word past Lucene's longest term (32,766 bytes) would refuse the whole document.
    # Lucene counts UTF-16 units, Tantivy UTF-8 bytes: alike for ASCII words.
    "filter": {"archivist_long_words": {"type": "length", "min": 0, "max": tantivy_schema.MAX_TOKEN_BYTES - 1}},
    "normalizer": {"archivist_keyword": {"type": "custom", "filter": ["lowercase", "asciifolding"]}},
}

LONGEST_KEYWORD = 8191
"""Characters of the longest keyword value indexed (``ignore_above``): Lucene refuses a term over
32,766 UTF-8 bytes, and with it the whole document; 8,191 characters of up to four bytes fit. A
longer value (a hostile name, a 40,000-character id) stays in the document, unindexed."""
KEYWORD: Json = {"type": "keyword", "ignore_above": LONGEST_KEYWORD}
FOLDED_KEYWORD: Json = {"type": "keyword", "normalizer": "archivist_keyword", "ignore_above": LONGEST_KEYWORD}
TEXT: Json = {"type": "text", "analyzer": tantivy_schema.TEXT_ANALYZER}
DATE: Json = {"type": "date", "format": "strict_date_optional_time"}

ATTACHMENT_PROPERTIES: Json = {
    # An uploaded file's document (``file:<event_id>``): its type (``filetype:``), what the upload
    # says of it, the text extracted from it (the first MAX_ATTACHMENT_CHARS characters,
    # analysed as ``text``) and the extraction's state (a ``file_text`` event).
    "file_type": KEYWORD,
    "file_size": {"type": "long"},
    "file_sha256": KEYWORD,
    "file_content_type": KEYWORD,
    "attachment": TEXT,
    "extraction": {"type": "object", "enabled": False},
}
"""Fields added by issue 18, put into an existing messages index too (``es_adapter``)."""

VERSION_PROPERTIES: Json = {
    # Every earlier version of the text (the original, earlier edits), analysed as ``text``,
    # with a position gap wider than any NEAR; ``version_log``: every version with its time.
    "history": TEXT | {"position_increment_gap": 100},
    "version_log": {"type": "object", "enabled": False},
}

MESSAGE_PROPERTIES: Json = {
    "message_id": KEYWORD,
    "event_id": KEYWORD,
    "edit_event_ids": KEYWORD,
    "room_id": KEYWORD,
    "room_name": TEXT | {"fields": {"raw": KEYWORD}},
    "sender_id": KEYWORD,
    "sender_name": TEXT | {"fields": {"raw": KEYWORD}},
    "sender_keys": FOLDED_KEYWORD,
    "room_keys": FOLDED_KEYWORD,
    "type": KEYWORD,
    "text": TEXT,
    **VERSION_PROPERTIES,
    "urls": FOLDED_KEYWORD,
    "mentions": FOLDED_KEYWORD,
    "hashtags": FOLDED_KEYWORD,
    "sent": DATE,
    "text_updated": {"type": "long"},
    "edited_at": DATE,
    "versions": {"type": "integer"},
    "deleted": {"type": "boolean"},
    "deleted_at": DATE,
    "has_file": {"type": "boolean"},
    # Analysed as text (``file:``); an index made before issue 18 keeps it a keyword (recreate
    # the index to search file names word by word).
    "file_name": TEXT | {"fields": {"raw": FOLDED_KEYWORD}},
    **ATTACHMENT_PROPERTIES,
}

EVENT_PROPERTIES: Json = {
    "event_id": KEYWORD,
    "type": KEYWORD,
    "occurred_at": DATE,
    "room_id": KEYWORD,
    "room_name": KEYWORD,
    "actor_id": KEYWORD,
    "actor_name": KEYWORD,
    "message_id": KEYWORD,
    "text": TEXT,
    "has_file": {"type": "boolean"},
    "file_name": FOLDED_KEYWORD,
    "file_sha256": KEYWORD,
    "payload": {"type": "object", "enabled": False},
}


def messages_index(prefix: str) -> str:
    return f"{prefix}-messages"


def events_index(prefix: str) -> str:
    return f"{prefix}-events"


def index_templates(prefix: str = "archivist", *, shards: int = 1, replicas: int = 1) -> dict[str, Json]:
    """Template name -> body for ``indices.put_index_template``, one per index."""
    settings: Json = {"number_of_shards": shards, "number_of_replicas": replicas, "analysis": ANALYSIS}

    def template(index: str, properties: Json) -> Json:
        return {
            "index_patterns": [f"{index}*"],
            "priority": 200,
            "template": {"settings": settings, "mappings": {"dynamic": "strict", "properties": properties}},
        }

    return {
        f"{prefix}-messages": template(messages_index(prefix), MESSAGE_PROPERTIES),
        f"{prefix}-events": template(events_index(prefix), EVENT_PROPERTIES),
    }
