"""Translating query trees into Elasticsearch query DSL (pure functions, no client).

The rules mirror :mod:`search.tantivy_backend` over the messages index that
:mod:`search.es_mapping` defines, so both backends answer a query the same way: words and
phrases are phrase matches on the folded ``text``, NEAR is an unordered span within the
distance, mentions and hashtags are exact keyword terms, posts and uploaded files only unless a
type is named. Words are searched in every version of a message (``text`` and ``history``) and
in the text of attachments (``attachment``); inside ``current:`` in ``text`` only, inside
``attachment:`` in ``attachment`` only, inside ``file:`` in the file name (``file_name``).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from search.engine_client import ELASTICSEARCH, Dialect
from search.memberships import Memberships
from search.query_ast import (
    TAG_OUTSIDE_REVIEW,
    And,
    Current,
    Filter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    UnsupportedQuery,
    Within,
    searches_words,
)
from search.query_parser import SEARCH_TIME_BUDGET_SECONDS
from search.sent_days import UTC_ZONE, sent_bounds
from search.tantivy_schema import MAX_ATTACHMENT_CHARS, filetype_key, filter_keys, fold_keyword, searchable, text_terms

Json = dict[str, Any]

MATCH_NOTHING: Json = {"match_none": {}}
MATCH_ALL: Json = {"match_all": {}}
EVERY_VERSION: tuple[str, ...] = ("text", "history", "attachment")
"""Where words are searched: the current text, every earlier version and attachment text."""
CURRENT_ONLY: tuple[str, ...] = ("text",)
WITHIN: dict[str, tuple[str, ...]] = {"attachment": ("attachment",), "file": ("file_name",)}
SEARCHED_TYPES: list[str] = ["post", "file_upload"]
"""What a query with words that names no type finds: messages and uploaded files."""
EXCERPT_CHARS = 150


class UnsupportedEsQuery(UnsupportedQuery):
    """A query this backend cannot answer on its own."""


def _phrase(field: str, text: str) -> Json:
    if not text_terms(text):
        return MATCH_NOTHING
    return {"match_phrase": {field: searchable(text)}}


def _span(words: list[str], field: str = "text") -> Json:
    if len(words) == 1:
        return {"span_term": {field: words[0]}}
    return {"span_near": {"clauses": [{"span_term": {field: w}} for w in words], "slop": 0, "in_order": True}}


def _near(node: Near, field: str = "text") -> Json:
    left, right = text_terms(node.left), text_terms(node.right)
    if not left or not right:
        return MATCH_NOTHING
    # Either side first, at most distance-1 words between the two. Two ordered span_near, not one
    # unordered: an unordered one lets its sides overlap (Lucene's NearSpansUnordered: one "i" is
    # both sides of "i NEAR/1 i"), an ordered one needs two occurrences, as Tantivy does.
    sides = [_span(left, field), _span(right, field)]
    ordered = [
        {"span_near": {"clauses": clauses, "slop": node.distance - 1, "in_order": True}}
        for clauses in (sides, sides[::-1])
    ]
    return ordered[0] if left == right else _any(ordered)


def _prefix(text: str, field: str = "text") -> Json:
    terms = text_terms(text)
    if not terms:
        return MATCH_NOTHING
    if len(terms) > 1:
        # Span queries, not match_phrase_prefix: that one stops after 50 expansions of the last
        # word (max_expansions) and would silently miss hits. span_multi expands up to the
        # cluster's clause limit and fails loudly beyond it.
        clauses: list[Json] = [{"span_term": {field: term}} for term in terms[:-1]]
        clauses.append({"span_multi": {"match": {"prefix": {field: {"value": terms[-1]}}}}})
        return {"span_near": {"clauses": clauses, "slop": 0, "in_order": True}}
    return {"prefix": {field: terms[0]}}


def _in_fields(text_fields: tuple[str, ...], queries: list[Json]) -> Json:
    """One query per field of ``text_fields``: a hit in any of them."""
    if len(text_fields) == 1 or all(query == MATCH_NOTHING for query in queries):
        return queries[0]
    return _any(queries)


def _sent(node: SentRange, zone: ZoneInfo = UTC_ZONE) -> Json:
    """The instants of ``node``'s days in ``zone`` (:mod:`search.sent_days`), as absolute UTC
    times, so Elasticsearch compares exactly what Tantivy compares."""
    start, end = sent_bounds(node, zone)
    bounds: Json = {}
    if start is not None:
        bounds["gte"] = start.isoformat()
    if end is not None:
        bounds["lt"] = end.isoformat()
    return {"range": {"sent": bounds}} if bounds else MATCH_ALL


def _any(queries: list[Json]) -> Json:
    return {"bool": {"should": queries, "minimum_should_match": 1}}


def _participant(value: str, memberships: Memberships | None) -> Json:
    if memberships is None:
        raise UnsupportedEsQuery("participant: needs the archive's membership intervals")
    actor = value if value.startswith("user:") else f"user:{value}"
    spans: list[Json] = []
    for interval in memberships(actor):
        must: list[Json] = [{"term": {"room_id": interval.room_id}}]
        bounds: Json = {}
        if interval.joined_at is not None:
            bounds["gte"] = interval.joined_at.isoformat()
        if interval.left_at is not None:
            bounds["lt"] = interval.left_at.isoformat()
        if bounds:
            must.append({"range": {"sent": bounds}})
        spans.append({"bool": {"filter": must}})
    return _any(spans) if spans else MATCH_NOTHING


def _filter(node: Filter, memberships: Memberships | None) -> Json:
    value = node.value
    match node.field:
        case "from":
            return {"terms": {"sender_keys": list(filter_keys("from", value))}}
        case "in":
            return {"terms": {"room_keys": list(filter_keys("in", value))}}
        case "mentions":
            return {"term": {"mentions": fold_keyword(value)}}
        case "hashtag":
            return {"term": {"hashtags": fold_keyword(value)}}
        case "has":
            return {"term": {"has_file": True}}
        case "filetype":
            return {"term": {"file_type": filetype_key(value)}}
        case "is":
            return {"exists": {"field": "edit_event_ids"}} if value == "edited" else {"term": {"deleted": True}}
        case "type":
            if value not in {"post", "file_upload"}:
                raise UnsupportedEsQuery(f"type:{value} is answered from the archive, not the text index")
            return {"term": {"type": value}}
        case "tag":
            raise UnsupportedEsQuery(TAG_OUTSIDE_REVIEW)
        case "participant":
            return _participant(value, memberships)
    raise UnsupportedEsQuery(f"unknown field {node.field}:")


def translate(
    node: Node,
    memberships: Memberships | None = None,
    text_fields: tuple[str, ...] = EVERY_VERSION,
    zone: ZoneInfo = UTC_ZONE,
) -> Json:
    """The query for ``node``: words in every version of a message, or only in its current text
    inside ``current:``; ``sent:`` dates are days of ``zone``."""
    match node:
        case Term(text) | Phrase(text):
            return _in_fields(text_fields, [_phrase(field, text) for field in text_fields])
        case Prefix(text):
            return _in_fields(text_fields, [_prefix(text, field) for field in text_fields])
        case Near():
            return _in_fields(text_fields, [_near(node, field) for field in text_fields])
        case Current(item):
            return translate(item, memberships, CURRENT_ONLY, zone)
        case Within(field, item):
            return translate(item, memberships, WITHIN[field], zone)
        case Filter():
            return _filter(node, memberships)
        case SentRange():
            return _sent(node, zone)
        case Not(item):
            return {"bool": {"must": [MATCH_ALL], "must_not": [translate(item, memberships, text_fields, zone)]}}
        case And(items):
            return {"bool": {"must": [translate(item, memberships, text_fields, zone) for item in items]}}
        case Or(items):
            return _any([translate(item, memberships, text_fields, zone) for item in items])
    raise UnsupportedEsQuery(f"cannot translate {node!r}")


def _names_type(node: Node) -> bool:
    match node:
        case Filter("type", _) | Filter("has", _):
            return True
        case Not(item) | Current(item) | Within(_, item):
            return _names_type(item)
        case And(items) | Or(items):
            return any(_names_type(item) for item in items)
    return False


def search_body(
    node: Node,
    *,
    memberships: Memberships | None = None,
    size: int = 50,
    offset: int = 0,
    zone: ZoneInfo = UTC_ZONE,
    dialect: Dialect = ELASTICSEARCH,
) -> Json:
    """The body of a search over the messages index, oldest first, posts only unless typed,
    and uploaded files too for a query with words (``sent:`` dates: days of ``zone``). The hits'
    attachment text is left out of ``_source`` (it may be a million characters): the highlight
    of ``attachment`` is its excerpt."""
    query = translate(node, memberships, zone=zone)
    if not _names_type(node):
        types = {"terms": {"type": SEARCHED_TYPES}} if searches_words(node) else {"term": {"type": "post"}}
        query = {"bool": {"must": [query], "filter": [types]}}
    return {
        "query": query,
        "sort": [{"sent": "asc"}, {"message_id": "asc"}],
        "size": size,
        "from": offset,
        "track_total_hits": True,
        # encoder html: the text between the tags is escaped, so stored markup stays text.
        "_source": {"excludes": ["attachment"]},
        "highlight": {
            "fields": {
                "text": {"number_of_fragments": 0},
                # One excerpt of a file's text: where the words matched, else its beginning.
                "attachment": {
                    "fragment_size": EXCERPT_CHARS,
                    "number_of_fragments": 1,
                    "no_match_size": EXCERPT_CHARS,
                },
            },
            # An attachment holds up to MAX_ATTACHMENT_CHARS characters, the engines' default
            # highlight limit: highlight what fits rather than fail the search.
            dialect.highlight_limit: MAX_ATTACHMENT_CHARS,
            "pre_tags": ["<b>"],
            "post_tags": ["</b>"],
            "encoder": "html",
        },
        # Past the budget Elasticsearch stops and answers with what it found; the backend refuses
        # such a partial answer (search.backends).
        "timeout": f"{SEARCH_TIME_BUDGET_SECONDS}s",
    }
