"""Translating query trees into Tantivy queries over the embedded index, and running them.

The translation never prints the tree back into Tantivy's own syntax: every node becomes a
programmatic query, its words analysed exactly as the index analysed the text. Exports and
cases need every hit, so :func:`all_hits` walks the whole result set, not the top k.
"""

from __future__ import annotations

import html
import json
import re
import threading
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import tantivy

from search import date_facets
from search import tantivy_schema as fields
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
from search.results import After, AttachmentHit, Hit, Page
from search.sent_days import UTC_ZONE, day_start, is_utc, local_day, sent_bounds
from search.versions import Entry, Version, matched_versions, only_version, timeline

Occur = tantivy.Occur

EVERY_VERSION: tuple[str, ...] = (fields.TEXT, fields.HISTORY, fields.ATTACHMENT)
"""Where words are searched: the current text, every earlier version and attachment text."""
CURRENT_ONLY: tuple[str, ...] = (fields.TEXT,)
WITHIN: dict[str, tuple[str, ...]] = {"attachment": (fields.ATTACHMENT,), "file": (fields.FILE_NAME,)}
"""Where the words of ``attachment:`` and ``file:`` are searched."""
UNSEARCHED_TYPE = "file_text"
"""The type of a file document known only from its text (``adapters.index_adapter.PENDING_FILE``):
the one type a query with words that names none leaves out: it finds messages and uploaded files."""
EXCERPT_CHARS = 150


def _all() -> tantivy.Query:
    return tantivy.Query.all_query()


def _nothing() -> tantivy.Query:
    return tantivy.Query.empty_query()


def _term(schema: tantivy.Schema, field: str, value: object) -> tantivy.Query:
    return tantivy.Query.term_query(schema, field, value)


def _words(schema: tantivy.Schema, field: str, words: list[str], slop: int = 0) -> tantivy.Query:
    if not words:
        return _nothing()
    if len(words) == 1:
        return _term(schema, field, words[0])
    phrase: list[str | tuple[int, str]] = list(words)
    return tantivy.Query.phrase_query(schema, field, phrase, slop)


def _any(queries: list[tantivy.Query]) -> tantivy.Query:
    return tantivy.Query.boolean_query([(Occur.Should, q) for q in queries])


def _every(queries: list[tantivy.Query]) -> tantivy.Query:
    return tantivy.Query.boolean_query([(Occur.Must, q) for q in queries])


def _positioned(
    schema: tantivy.Schema, first: list[str], second: list[str], gap: int, field: str = fields.TEXT
) -> tantivy.Query:
    """``first`` then ``second`` starting ``gap`` positions after ``first`` ends (exact offsets)."""
    words: list[str | tuple[int, str]] = [(i, w) for i, w in enumerate(first)]
    start = len(first) - 1 + gap
    words += [(start + i, w) for i, w in enumerate(second)]
    return tantivy.Query.phrase_query(schema, field, words)


def _in_fields(text_fields: tuple[str, ...], build: Any) -> tantivy.Query:
    """``build(field)`` over each of ``text_fields``: a hit in any of them."""
    queries = [build(field) for field in text_fields]
    return queries[0] if len(queries) == 1 else _any(queries)


def _near(schema: tantivy.Schema, node: Near, field: str = fields.TEXT) -> tantivy.Query:
    """Within ``distance`` words either way. Two different single words: an in-order and a
    reversed sloppy phrase (fast). Otherwise exact offsets (slower): a sloppy phrase would let
    both sides land on the same token (``i NEAR/2 i`` matching one "i") and would let the words
    of a multi-word side drift apart."""
    left, right = fields.text_terms(node.left), fields.text_terms(node.right)
    if not left or not right:
        return _nothing()
    if len(left) == len(right) == 1 and left != right:
        gap = node.distance - 1
        return _any([_words(schema, field, left + right, gap), _words(schema, field, right + left, gap)])
    orders = ((left, right),) if left == right else ((left, right), (right, left))
    return _any(
        [
            _positioned(schema, first, second, gap, field)
            for gap in range(1, node.distance + 1)
            for first, second in orders
        ]
    )


def _prefix(schema: tantivy.Schema, text: str, field: str = fields.TEXT) -> tantivy.Query:
    terms = fields.text_terms(text)
    if not terms:
        return _nothing()
    if len(terms) > 1:
        # "don't*": the words before exactly, the last as a prefix. A regex phrase, because
        # phrase_prefix_query (like Elasticsearch's match_phrase_prefix) stops after 50
        # expansions of the last word and would silently miss hits.
        words: list[str | tuple[int, str]] = [re.escape(term) for term in terms[:-1]]
        words.append(re.escape(terms[-1]) + ".*")
        return tantivy.Query.regex_phrase_query(schema, field, words)
    return tantivy.Query.regex_query(schema, field, re.escape(terms[0]) + ".*")


def _participant(schema: tantivy.Schema, value: str, memberships: Memberships | None) -> tantivy.Query:
    """Messages sent in a room while the person was in it (``participant:``)."""
    if memberships is None:
        raise UnsupportedQuery("participant: needs the archive's membership intervals")
    actor = value if value.startswith("user:") else f"user:{value}"
    spans = []
    for interval in memberships(actor):
        bounds = [_term(schema, fields.ROOM_ID, interval.room_id)]
        start = None if interval.joined_at is None else fields.micros_since_epoch(interval.joined_at)
        end = None if interval.left_at is None else fields.micros_since_epoch(interval.left_at) - 1
        if start is not None or end is not None:
            bounds.append(tantivy.Query.range_query(schema, fields.SENT, tantivy.FieldType.Integer, start, end))
        spans.append(_every(bounds))
    return _any(spans) if spans else _nothing()


def _filter(schema: tantivy.Schema, node: Filter, memberships: Memberships | None = None) -> tantivy.Query:
    value = node.value
    match node.field:
        case "from":
            return _any([_term(schema, fields.SENDER_KEYS, key) for key in fields.filter_keys("from", value)])
        case "in":
            return _any([_term(schema, fields.ROOM_KEYS, key) for key in fields.filter_keys("in", value)])
        case "mentions":
            return _term(schema, fields.MENTIONS, fields.fold_keyword(value))
        case "hashtag":
            return _term(schema, fields.HASHTAGS, fields.fold_keyword(value))
        case "has":
            return _term(schema, fields.HAS_FILE, 1)
        case "filetype":
            return _term(schema, fields.FILE_TYPE, fields.filetype_key(value))
        case "is":
            return _term(schema, fields.EDITED if value == "edited" else fields.DELETED, 1)
        case "type":
            if value not in {"post", "file_upload"}:
                raise UnsupportedQuery(f"type:{value} is answered from the archive, not the text index")
            return _term(schema, fields.TYPE, value)
        case "tag":
            raise UnsupportedQuery(TAG_OUTSIDE_REVIEW)
        case "participant":
            return _participant(schema, value, memberships)
    raise UnsupportedQuery(f"unknown field {node.field}:")


def _sent(schema: tantivy.Schema, node: SentRange, zone: ZoneInfo = UTC_ZONE) -> tantivy.Query:
    """The instants of ``node``'s days in ``zone`` (:mod:`search.sent_days`)."""
    if node.start is None and node.end is None:
        return _all()
    first, following = sent_bounds(node, zone)
    start = None if first is None else fields.micros_since_epoch(first)
    end = None if following is None else fields.micros_since_epoch(following) - 1
    return tantivy.Query.range_query(schema, fields.SENT, tantivy.FieldType.Integer, start, end)


def translate(
    node: Node,
    schema: tantivy.Schema,
    memberships: Memberships | None = None,
    text_fields: tuple[str, ...] = EVERY_VERSION,
    zone: ZoneInfo = UTC_ZONE,
) -> tantivy.Query:
    """The Tantivy query for ``node`` (without the implicit "posts only" restriction). Words are
    searched in every version of a message, or only in its current text inside ``current:``;
    ``sent:`` dates are days of ``zone``."""
    match node:
        case Term(text) | Phrase(text):
            terms = fields.text_terms(text)
            return _in_fields(text_fields, lambda field: _words(schema, field, terms))
        case Prefix(text):
            return _in_fields(text_fields, lambda field: _prefix(schema, text, field))
        case Near():
            return _in_fields(text_fields, lambda field: _near(schema, node, field))
        case Current(item):
            return translate(item, schema, memberships, CURRENT_ONLY, zone)
        case Within(field, item):
            return translate(item, schema, memberships, WITHIN[field], zone)
        case Filter():
            return _filter(schema, node, memberships)
        case SentRange():
            return _sent(schema, node, zone)
        case Not(item):
            inner = translate(item, schema, memberships, text_fields, zone)
            return tantivy.Query.boolean_query([(Occur.Must, _all()), (Occur.MustNot, inner)])
        case And(items):
            return _every([translate(item, schema, memberships, text_fields, zone) for item in items])
        case Or(items):
            return _any([translate(item, schema, memberships, text_fields, zone) for item in items])
    raise UnsupportedQuery(f"cannot translate {node!r}")


def _mentions_type(node: Node) -> bool:
    match node:
        case Filter("type", _) | Filter("has", _):
            return True
        case Not(item) | Current(item) | Within(_, item):
            return _mentions_type(item)
        case And(items) | Or(items):
            return any(_mentions_type(item) for item in items)
    return False


def scoped(
    node: Node, schema: tantivy.Schema, memberships: Memberships | None = None, zone: ZoneInfo = UTC_ZONE
) -> tantivy.Query:
    """``node`` translated, limited to posts unless the query names a type (the product rule);
    a query with words also finds uploaded files (by their names and text), never a file known
    only from its text (before its upload)."""
    query = translate(node, schema, memberships, zone=zone)
    if _mentions_type(node):
        return query
    if not searches_words(node):
        return _every([query, _term(schema, fields.TYPE, "post")])
    # Leaving out the (rare) placeholders costs less than intersecting with every post.
    unsearched = _term(schema, fields.TYPE, UNSEARCHED_TYPE)
    return tantivy.Query.boolean_query([(Occur.Must, query), (Occur.MustNot, unsearched)])


def _logged(stored: bytes) -> tuple[Version, ...]:
    log = json.loads(stored)
    entries = [Entry(kind, event_id, int(at), text) for kind, event_id, at, text in log["versions"]]
    return timeline(entries, log["deleted_at"])


def versions_of(document: tantivy.Document) -> tuple[Version, ...]:
    """The versions of an indexed message, each with when it was current."""
    stored = document.get_first(fields.VERSION_LOG)
    if isinstance(stored, bytes):
        return _logged(stored)
    if str(document.get_first(fields.TYPE) or "") != "post":
        return ()
    event_id = str(document.get_first(fields.EVENT_ID) or "")
    return (only_version(event_id, int(document.get_first(fields.SENT) or 0), fields.exact_text(document)),)


def attachment_of(document: tantivy.Document, excerpt: str | None = None) -> AttachmentHit | None:
    """The file a file document is (None for a message)."""
    if str(document.get_first(fields.TYPE) or "") != "file_upload":
        return None
    stored = document.get_first(fields.FILE_INFO)
    info = json.loads(stored) if isinstance(stored, bytes) else {}
    extraction = info.get("extraction") or {}
    return AttachmentHit(
        file_event_id=str(document.get_first(fields.EVENT_ID) or ""),
        name=str(info.get("name") or document.get_first(fields.TEXT) or ""),
        size=int(info.get("size") or 0),
        sha256=str(info.get("sha256") or ""),
        content_type=str(info.get("content_type") or ""),
        file_type=str(document.get_first(fields.FILE_TYPE) or ""),
        extraction=str(extraction.get("state") or "pending"),
        reason=extraction.get("reason"),
        extractor=extraction.get("extractor"),
        extractor_version=extraction.get("extractor_version"),
        truncated=bool(extraction.get("truncated")),
        excerpt=excerpt,
    )


def _excerpts(
    searcher: tantivy.Searcher, query: tantivy.Query, schema: tantivy.Schema, documents: list[tantivy.Document]
) -> tantivy.SnippetGenerator | None:
    """The excerpt maker of a page's files (None when the page holds no file: no cost for messages)."""
    if not any(document.get_first(fields.TYPE) == "file_upload" for document in documents):
        return None
    excerpts = tantivy.SnippetGenerator.create(searcher, query, schema, fields.ATTACHMENT)
    excerpts.set_max_num_chars(EXCERPT_CHARS)
    return excerpts


WHOLE_TEXT_EXCERPT = 20_000
"""Attachment texts up to this many characters are excerpted whole; in a longer one (up to a
million) the excerpt is looked for around the query's words (Tantivy's snippets analyse the
whole text: 0.2 s for 900,000 characters, per hit)."""
_AROUND = 2_000
_TRIES = 8


def attachment_words(node: Node, inside: bool = True) -> list[str]:
    """The words (of words, phrases, prefixes, NEARs) ``node`` looks for in attachment text,
    outside any NOT: where an excerpt is looked for."""
    match node:
        case Term(text) | Phrase(text) | Prefix(text):
            return [text] if inside else []
        case Near(left, right, _):
            return [left, right] if inside else []
        case Within(field, item):
            return attachment_words(item, field == "attachment")
        case Current(_) | Not(_):
            return []
        case And(items) | Or(items):
            return [word for item in items for word in attachment_words(item, inside)]
    return []


def _excerpt(snippets: tantivy.SnippetGenerator, document: tantivy.Document, words: list[str]) -> str | None:
    """A piece of a file document's attachment text with the matched words highlighted (its
    beginning when none matched there); None for a message or a file without text. A long text
    is excerpted around the first places its words appear (case-insensitively, as written in
    the query): a match only accent folding finds there is shown from the text's beginning."""
    text = str(document.get_first(fields.ATTACHMENT) or "")
    if not text or str(document.get_first(fields.TYPE) or "") != "file_upload":
        return None
    if len(text) <= WHOLE_TEXT_EXCERPT:
        pieces = [document]
    else:
        pieces = [tantivy.Document(**{fields.ATTACHMENT: window}) for window in _windows(text, words)]
    for piece in pieces:
        snippet = snippets.snippet_from_doc(piece)
        if snippet.highlighted():
            return str(snippet.to_html())
    return html.escape(text[:EXCERPT_CHARS])


def _windows(text: str, words: list[str]) -> list[str]:
    """Pieces of ``text`` around the first places (at most ``_TRIES``) where the first word of
    each of ``words`` appears."""
    starts: set[int] = set()
    for word in words:
        written = fields.searchable(word).split()
        if not written or not fields.text_terms(word):
            continue
        pattern = re.compile(re.escape(written[0]), re.IGNORECASE)
        starts.update(found.start() for _, found in zip(range(_TRIES), pattern.finditer(text), strict=False))
    return [text[max(0, start - _AROUND) : start + _AROUND] for start in sorted(starts)[:_TRIES]]


def _hit(
    document: tantivy.Document, highlight: str | None = None, node: Node | None = None, excerpt: str | None = None
) -> Hit:
    """A hit; with ``node``, the versions of the message it matched (read from the stored log
    only for the few messages edited or deleted: any other has one version, its post)."""
    event_id = str(document.get_first(fields.EVENT_ID) or "")
    sent = int(document.get_first(fields.SENT) or 0)
    text = fields.exact_text(document)
    matched: tuple[Version, ...] = ()
    if node is not None:
        stored = document.get_first(fields.VERSION_LOG)
        if isinstance(stored, bytes):
            matched = matched_versions(node, _logged(stored))
        elif str(document.get_first(fields.TYPE) or "") == "post":
            matched = (only_version(event_id, sent, text),)
    return Hit(
        message_id=str(document.get_first(fields.MESSAGE_ID)),
        event_id=event_id,
        room_id=str(document.get_first(fields.ROOM_ID) or ""),
        sender_id=str(document.get_first(fields.SENDER_ID) or ""),
        sent=sent,
        text=text,
        deleted=bool(document.get_first(fields.DELETED)),
        highlight=highlight,
        matched_versions=matched,
        attachment=attachment_of(document, excerpt),
    )


WHOLE_MESSAGE_CHARS = 1_000_000
"""Longer than any message the API accepts (its request body limit is 10 MiB of JSON, so a
message's text can be longer; the words past this many characters are shown unmarked)."""


def _highlight(snippets: tantivy.SnippetGenerator, document: tantivy.Document) -> str:
    """The hit's highlight as HTML: the whole message with its matched words marked, as the
    search engines give it (``number_of_fragments: 0``). Tantivy's snippet is one fragment cut
    at its first and last word, so the text around the fragment is put back. The stored
    ``text`` is the searchable form; when that is not what was said (Arabic or Hebrew marks,
    letter variants, half-width kana), the highlighted words are mapped back onto the composed
    original, so the page shows the text as said."""
    snippet = snippets.snippet_from_doc(document)
    marks = snippet.highlighted()
    if not marks:
        return str(snippet.to_html())
    stored = str(document.get_first(fields.TEXT) or "")
    encoded = stored.encode("utf-8")
    original = document.get_first(fields.TEXT_ORIGINAL)
    mapped = fields.folded_offsets(original.decode("utf-8")) if isinstance(original, bytes) else None
    composed = stored if mapped is None else mapped[0]

    def at(byte: int) -> int:  # a byte offset in the stored text as an offset in ``composed``
        characters = len(encoded[:byte].decode("utf-8", errors="ignore"))
        return characters if mapped is None else mapped[1][characters]

    fragment = snippet.fragment_range()
    pieces, position = [], 0
    for marked in marks:
        start, end = at(fragment.start + marked.start), at(fragment.start + marked.end)
        pieces += [html.escape(composed[position:start]), "<b>", html.escape(composed[start:end]), "</b>"]
        position = end
    pieces.append(html.escape(composed[position:]))
    return "".join(pieces)


class _OpenIndex:
    """An index opened once per process, and the ``meta.json`` its reader last loaded."""

    def __init__(self, index_dir: Path) -> None:
        self.index = fields.open_index(index_dir)
        self.meta = index_dir / "meta.json"
        self.loaded: bytes | None = None
        self.lock = threading.Lock()

    def current(self) -> tantivy.Index:
        """The index, reloaded first if a commit changed it since the last reload.

        Every commit (new segments, merges, deletes) rewrites ``meta.json`` (atomically, and with
        a new opstamp), so equal bytes mean the reader already sees the latest commit. Reloading
        regardless reopened every segment on every search (about 0.1 ms) and left each search
        with cold segment caches. The bytes are read before reloading, so a commit landing in
        between is at worst reloaded once more on the next search, never missed."""
        with self.lock:
            try:
                meta: bytes | None = self.meta.read_bytes()
            except OSError:  # unreadable: reload every time, as if it always changed
                meta = None
            if meta is None or meta != self.loaded:
                self.index.reload()
                self.loaded = meta
        return self.index


@cache
def _open(index_dir: Path) -> _OpenIndex:
    return _OpenIndex(index_dir)


@cache
def _open_at(index_dir: Path) -> _OpenIndex:
    """The open index of an absolute directory, resolved once (resolving the path on every
    search cost a system call per path component)."""
    return _open(index_dir.resolve())


def _searcher(index_dir: Path) -> tuple[tantivy.Index, tantivy.Searcher]:
    """The index (opened once per process), seeing the latest commit, and a searcher."""
    opened = _open_at(index_dir) if index_dir.is_absolute() else _open(index_dir.resolve())
    index = opened.current()
    return index, index.searcher()


def all_hits(
    index_dir: Path,
    node: Node,
    *,
    memberships: Memberships | None = None,
    page: int = 10_000,
    zone: ZoneInfo = UTC_ZONE,
) -> list[Hit]:
    """Every message matching ``node`` in (sent, message_id) order, the order pages use
    (complete: for exports, cases, conformance)."""
    index, searcher = _searcher(index_dir)
    query = scoped(node, index.schema, memberships, zone)
    hits: list[Hit] = []
    offset = 0
    while True:
        result = searcher.search(
            query, limit=page, offset=offset, count=False, order_by_field=fields.SENT, order=tantivy.Order.Asc
        )
        hits.extend(_hit(searcher.doc(address), node=node) for _sent_value, address in result.hits)
        if len(result.hits) < page:
            hits.sort(key=lambda hit: (hit.sent, hit.message_id))
            return hits
        offset += page


DAY_MICROS = 86_400_000_000
_TIE_PAGE = 10_000


def _at(schema: tantivy.Schema, query: tantivy.Query, sent: int, *, after: bool = False) -> tantivy.Query:
    """``query`` limited to hits sent exactly at ``sent`` (or, with ``after``, later than it)."""
    if after:
        moment = tantivy.Query.range_query(schema, fields.SENT, tantivy.FieldType.Integer, sent, None, False, True)
    else:  # one exact value: the inverted index finds it without scanning the fast field
        moment = _term(schema, fields.SENT, sent)
    return _every([query, moment])


def _every_document(searcher: tantivy.Searcher, query: tantivy.Query) -> list[tantivy.Document]:
    documents: list[tantivy.Document] = []
    while True:
        result = searcher.search(query, limit=_TIE_PAGE, offset=len(documents), count=False)
        documents.extend(searcher.doc(address) for _score, address in result.hits)
        if len(result.hits) < _TIE_PAGE:
            return documents


def _order(document: tantivy.Document) -> After:
    return int(document.get_first(fields.SENT) or 0), str(document.get_first(fields.MESSAGE_ID))


def _time_page(
    searcher: tantivy.Searcher, schema: tantivy.Schema, query: tantivy.Query, after: After | None, size: int
) -> tuple[list[tantivy.Document], bool, int | None]:
    """The ``size`` first hits in (sent, message_id) order after ``after``, whether more follow, and
    the total number of hits when it came for free (on the first page).

    Tantivy orders by one fast field only, so a run of equal timestamps that straddles a page
    end is read whole and ordered by message id here (runs are short: one instant's messages).
    One hit more than the page is asked for, to see whether the page ends inside such a run."""
    candidates: list[tantivy.Document] = []
    later = query
    if after is not None:
        sent = after[0]
        candidates += [d for d in _every_document(searcher, _at(schema, query, sent)) if _order(d) > after]
        later = _at(schema, query, sent, after=True)
    result = searcher.search(
        later, limit=size + 1, count=after is None, order_by_field=fields.SENT, order=tantivy.Order.Asc
    )
    keys = [int(sent) for sent, _address in result.hits]
    if len(keys) == size + 1 and keys[size - 1] == keys[size]:
        # The page would end inside a run of equal timestamps: read that run whole and order it.
        boundary = keys[size]
        fetched = [
            searcher.doc(address) for key, (_sent, address) in zip(keys, result.hits, strict=True) if key < boundary
        ]
        fetched += _every_document(searcher, _at(schema, query, boundary))
    else:
        fetched = [searcher.doc(address) for _sent, address in result.hits]
    candidates += fetched
    candidates.sort(key=_order)
    return candidates[:size], len(candidates) > size, None if after is not None else _count(result)


def _count(result: tantivy.SearchResult) -> int:
    return int(getattr(result, "count", 0) or 0)


def search_page(
    index_dir: Path,
    node: Node,
    *,
    offset: int = 0,
    after: After | None = None,
    size: int = 50,
    memberships: Memberships | None = None,
    facets: bool = False,
    facet_size: int = 20,
    by_relevance: bool = False,
    highlights: bool = True,
    zone: ZoneInfo = UTC_ZONE,
) -> Page:
    """One page of hits with the exact total: oldest first in (sent, message_id) order, paged
    with ``after``; or best first ``by_relevance``, paged with ``offset``. Only the page's
    documents are read; ``facets`` (room, sender, day) count every hit. ``sent:`` dates and
    the day facet are days of ``zone``."""
    index, searcher = _searcher(index_dir)
    query = scoped(node, index.schema, memberships, zone)
    next_after: After | None = None
    if by_relevance:
        result = searcher.search(query, limit=size, offset=offset, count=True)
        documents = [searcher.doc(address) for _score, address in result.hits]
        total = _count(result)
    else:
        documents, more, counted = _time_page(searcher, index.schema, query, after, size)
        total = counted if counted is not None else _count(searcher.search(query, limit=1, count=True))
        next_after = _order(documents[-1]) if more else None
    if highlights:
        snippets = tantivy.SnippetGenerator.create(searcher, query, index.schema, fields.TEXT)
        # One fragment as long as any message: every match is marked, not only a first 150 characters'.
        snippets.set_max_num_chars(WHOLE_MESSAGE_CHARS)
        excerpts = _excerpts(searcher, query, index.schema, documents)
        words = attachment_words(node) if excerpts else []
        hits = [
            _hit(
                document,
                _highlight(snippets, document),
                node,
                _excerpt(excerpts, document, words) if excerpts else None,
            )
            for document in documents
        ]
    else:
        hits = [_hit(document, node=node) for document in documents]
    return Page(
        total=total,
        hits=hits,
        facets=_facets(searcher, query, facet_size, zone) if facets else {},
        next_after=next_after,
    )


def _facets(
    searcher: tantivy.Searcher, query: tantivy.Query, facet_size: int, zone: ZoneInfo = UTC_ZONE
) -> dict[str, dict[str, int]]:
    aggregated = searcher.aggregate(
        query,
        {
            "room": {"terms": {"field": fields.ROOM_ID, "size": facet_size}},
            "sender": {"terms": {"field": fields.SENDER_ID, "size": facet_size}},
            "first": {"min": {"field": fields.SENT}},
            "last": {"max": {"field": fields.SENT}},
        },
    )
    counts = {
        name: {str(b["key"]): int(b["doc_count"]) for b in aggregated[name]["buckets"] if b["doc_count"]}
        for name in ("room", "sender")
    }
    return {**counts, "day": _date_facet(searcher, query, _span(searcher, query, aggregated), zone)}


def _span(searcher: tantivy.Searcher, query: tantivy.Query, aggregated: dict[str, Any]) -> tuple[int, int] | None:
    """The first and last ``sent`` of the hits from the ``first`` and ``last`` aggregations,
    counted with the room and sender facets in one pass, when floating point holds them
    exactly; else read from the ends of the hits in time order."""
    first, last = aggregated["first"]["value"], aggregated["last"]["value"]
    if first is None or last is None:
        return None
    # Rounding to floating point keeps the order, so only values within the exact range land in it.
    span = (int(first), int(last))
    return span if _exact_in_float(span) else _first_and_last(searcher, query)


def _first_and_last(searcher: tantivy.Searcher, query: tantivy.Query) -> tuple[int, int] | None:
    """The first and last ``sent`` of the hits (exact integers: the min and max aggregations
    answer in floating point, which cannot hold microseconds near year 1 or 9999)."""
    ends = [
        searcher.search(query, limit=1, count=False, order_by_field=fields.SENT, order=order).hits
        for order in (tantivy.Order.Asc, tantivy.Order.Desc)
    ]
    if not ends[0] or not ends[1]:
        return None
    return int(ends[0][0][0]), int(ends[1][0][0])


def _date_facet(
    searcher: tantivy.Searcher, query: tantivy.Query, span: tuple[int, int] | None, zone: ZoneInfo = UTC_ZONE
) -> dict[str, int]:
    """Hits per day, month or year of ``zone`` (see :mod:`search.date_facets`) from the first to
    the last ``sent`` of the hits: days by histograms of the non-empty days (shifted by the
    zone's offset, :func:`_zone_days`), or ranges of whole days, months or years from one
    midnight of the zone to the next."""
    if span is None:
        return {}
    first, last = (local_day(fields.from_micros(moment), zone) for moment in span)
    unit = date_facets.granularity(first, last)
    if unit == "day" and _exact_in_float(span):
        if not is_utc(zone):
            return _zone_days(searcher, query, first, last, zone)
        spec = {"histogram": {"field": fields.SENT, "interval": DAY_MICROS, "min_doc_count": 1}}
        buckets = searcher.aggregate(query, {"day": spec})["day"]["buckets"]
        return {_day_name(b["key"]): int(b["doc_count"]) for b in buckets if b["doc_count"]}
    starts = date_facets.bucket_starts(first, last, unit)
    ranges = []
    for start in starts:
        following = date_facets.next_start(start, unit)
        bounds: dict[str, object] = {"key": date_facets.bucket_name(start, unit)}
        if start != starts[0]:  # every hit is at or after the first bucket's start
            bounds["from"] = _micros(start, zone)
        if following is not None and start != starts[-1]:  # and before the last one's end
            bounds["to"] = _micros(following, zone)
        ranges.append(bounds)
    buckets = searcher.aggregate(query, {"day": {"range": {"field": fields.SENT, "ranges": ranges}}})["day"]["buckets"]
    names = {bounds["key"] for bounds in ranges}
    return {str(b["key"]): int(b["doc_count"]) for b in buckets if b["doc_count"] and b["key"] in names}


def _zone_days(
    searcher: tantivy.Searcher, query: tantivy.Query, first: date, last: date, zone: ZoneInfo
) -> dict[str, int]:
    """Hits per day of ``zone`` from ``first`` to ``last``. A run of days whose midnights have
    one UTC offset is counted by a day histogram shifted by that offset (one per offset, over
    ranges holding its runs); a day whose offset changes (23 or 25 hours long) by a range of its
    own. (One range per day cost a hundred milliseconds for 10,000 days.)"""
    runs: dict[int, list[list[int]]] = {}  # offset (micros) -> [from, to) of its runs of days
    changed: list[dict[str, object]] = []  # the days the offset changes on
    epoch = _EPOCH_ORDINAL
    offset = _midnight_offset(first, zone)
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        following = _midnight_offset(date.fromordinal(ordinal + 1), zone)
        start = (ordinal - epoch) * DAY_MICROS - offset
        if following == offset:
            spans = runs.setdefault(offset, [])
            if spans and spans[-1][1] == start:
                spans[-1][1] = start + DAY_MICROS
            else:
                spans.append([start, start + DAY_MICROS])
        else:
            end = (ordinal + 1 - epoch) * DAY_MICROS - following
            changed.append({"key": date.fromordinal(ordinal).isoformat(), "from": start, "to": end})
        offset = following
    aggregations: dict[str, Any] = {
        f"offset{number}": {
            "range": {"field": fields.SENT, "ranges": [{"key": f"run{a}", "from": a, "to": b} for a, b in spans]},
            "aggs": {
                "day": {
                    "histogram": {
                        "field": fields.SENT,
                        "interval": DAY_MICROS,
                        "offset": -midnight % DAY_MICROS,  # buckets start at this offset's midnight
                        "min_doc_count": 1,
                    }
                }
            },
        }
        for number, (midnight, spans) in enumerate(runs.items())
    }
    if changed:
        aggregations["changed"] = {"range": {"field": fields.SENT, "ranges": changed}}
    aggregated = searcher.aggregate(query, aggregations)
    counts: dict[int, int] = {}
    for number, (midnight, spans) in enumerate(runs.items()):
        keys = {f"run{a}" for a, _b in spans}
        for bucket in aggregated[f"offset{number}"]["buckets"]:
            # Tantivy adds buckets for the gaps between the ranges: those are other offsets' days.
            for counted in bucket["day"]["buckets"] if bucket["doc_count"] and bucket["key"] in keys else ():
                if counted["doc_count"]:
                    ordinal = epoch + (int(cast(float, counted["key"])) + midnight) // DAY_MICROS
                    counts[ordinal] = counts.get(ordinal, 0) + int(counted["doc_count"])
    names = {str(bounds["key"]) for bounds in changed}
    for bucket in aggregated["changed"]["buckets"] if changed else ():
        if bucket["doc_count"] and bucket["key"] in names:
            ordinal = date.fromisoformat(str(bucket["key"])).toordinal()
            counts[ordinal] = counts.get(ordinal, 0) + int(bucket["doc_count"])
    return {date.fromordinal(ordinal).isoformat(): counts[ordinal] for ordinal in sorted(counts)}


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _midnight_offset(day: date, zone: ZoneInfo) -> int:
    """The UTC offset of ``zone`` at the first instant of ``day`` there, in microseconds."""
    offset = zone.utcoffset(datetime(day.year, day.month, day.day)) or timedelta(0)
    return offset // _MICROSECOND


_MICROSECOND = timedelta(microseconds=1)


_FLOAT_EXACT = 2**53
"""Tantivy's histogram reads the values as floating point, exact only below 2**53 in size:
from 1684 to 2255 in microseconds since 1970. Past that, a hit in the last microseconds of a
day is counted on the next day (or on 10000-01-01, which no date can hold), so there the
buckets are counted by ranges, which compare the integers themselves."""


def _exact_in_float(span: tuple[int, int]) -> bool:
    return span[0] > -_FLOAT_EXACT and span[1] < _FLOAT_EXACT


def _micros(day: date, zone: ZoneInfo = UTC_ZONE) -> int:
    return fields.micros_since_epoch(day_start(day, zone))


def _day_name(key: object) -> str:
    return fields.from_micros(int(cast(float, key))).date().isoformat()


class LightHits:
    """Every hit of a query as ids and times only, a room at a time (for exports).

    One searcher, so one snapshot of the index, answers every question: which rooms hold hits,
    how many, the first and last time, and each room's message ids and days, all from fast
    fields through aggregations: no stored document is read, no text, nothing held beyond the
    room being read. (An index built before ``message_id`` was a fast field gives its message
    ids from the stored documents; ``archivist reindex`` upgrades it.)"""

    def __init__(
        self, index_dir: Path, node: Node, *, memberships: Memberships | None = None, zone: ZoneInfo = UTC_ZONE
    ) -> None:
        index, self._searcher = _searcher(index_dir)
        self._schema = index.schema
        self._query = scoped(node, index.schema, memberships, zone)
        self.total = _count(self._searcher.search(self._query, limit=1, count=True))

    def rooms(self) -> tuple[str, ...]:
        """Every room with a hit, sorted."""
        if self.total == 0:
            return ()
        aggregated = self._searcher.aggregate(
            self._query, {"room": {"terms": {"field": fields.ROOM_ID, "size": self.total}}}
        )
        buckets = aggregated["room"]["buckets"]
        if sum(int(bucket["doc_count"]) for bucket in buckets) != self.total:
            raise RuntimeError("the room aggregation did not account for every hit")
        return tuple(sorted(str(bucket["key"]) for bucket in buckets))

    def span(self) -> tuple[int, int] | None:
        """The first and last ``sent`` (microseconds since the epoch) of the hits."""
        return _first_and_last(self._searcher, self._query)

    def room_ids_and_days(self, room_id: str) -> tuple[set[str], set[int]]:
        """One room's hits as their message ids and the days (microseconds // DAY_MICROS)
        they were sent on, from the fast fields through two aggregations. An index built
        before message ids were a fast field answers from the stored documents instead."""
        query = _every([self._query, _term(self._schema, fields.ROOM_ID, room_id)])
        count = _count(self._searcher.search(query, limit=1, count=True))
        if count == 0:
            return set(), set()
        span = _first_and_last(self._searcher, query)
        if span is None or not _exact_in_float(span):  # the day histogram would misplace hits
            pairs = self.in_room(room_id)
            return {message_id for message_id, _sent in pairs}, {sent // DAY_MICROS for _message_id, sent in pairs}
        try:
            aggregated = self._searcher.aggregate(
                query,
                {
                    "ids": {"terms": {"field": fields.MESSAGE_ID, "size": count}},
                    # Non-empty days only: empty ones between far-apart hits would pass the bucket limit.
                    "days": {"histogram": {"field": fields.SENT, "interval": DAY_MICROS, "min_doc_count": 1}},
                },
            )
        except ValueError:  # message_id is not a fast field in this index
            pairs = self.in_room(room_id)
            return {message_id for message_id, _sent in pairs}, {sent // DAY_MICROS for _message_id, sent in pairs}
        buckets = aggregated["ids"]["buckets"]
        if sum(int(bucket["doc_count"]) for bucket in buckets) != count:
            raise RuntimeError("the message id aggregation did not account for every hit")
        days = {int(bucket["key"]) // DAY_MICROS for bucket in aggregated["days"]["buckets"] if bucket["doc_count"]}
        return {str(bucket["key"]) for bucket in buckets}, days

    def in_room(self, room_id: str) -> list[tuple[str, int]]:
        """Every hit of one room as (message_id, sent), in no particular order."""
        query = _every([self._query, _term(self._schema, fields.ROOM_ID, room_id)])
        count = _count(self._searcher.search(query, limit=1, count=True))
        if count == 0:
            return []
        hits = self._searcher.search(
            query, limit=count, count=False, order_by_field=fields.SENT, order=tantivy.Order.Asc
        ).hits
        doc = self._searcher.doc
        return [(str(doc(address).get_first(fields.MESSAGE_ID)), int(sent)) for sent, address in hits]
