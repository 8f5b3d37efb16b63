"""Sphinx and SQLite FTS5 over the same corpus as the embedded Tantivy index, for ``bench/search.py``.

    python -m bench.other_engines [--messages 20000] [--runs 20] [--workdir DIR]

builds Tantivy (``bench.search.build_index``), Sphinx and FTS5 indexes of the same seeded
traffic, prints each engine's total beside Tantivy's for every typical query, then the build
times and per-query latencies.

What is indexed
---------------
One document per message, as the ``index`` adapter makes them: the post's text
(NFC), its room and sender, and its mentions and hashtags (``adapters.index_adapter.posted_message``).
Edits are applied (the newest text wins, with the mentions and hashtags found in it, as
``apply_edit`` does), and every earlier version is kept in ``history`` and searched with
``text``, as the ``index`` adapter keeps them (versions apart by :data:`VERSION_GAP`, so no
phrase or NEAR spans two of them); deleted messages stay findable, as in Tantivy, where a delete only sets a
flag. An uploaded file is a document too (``kind`` = :data:`FILE`), its name its text
(``adapters.index_adapter.file_document``): a query with words finds it, as in Tantivy, a query
of filters alone finds posts only (``searches_words``). Not reproduced, because the simulator
never produces them: an edit or delete that arrives before its post (Tantivy makes a
placeholder), and text extracted from files. The documents are staged once in
a plain SQLite table (``posts``), which the FTS5 engine queries directly and the Sphinx engine
dumps as its ``tsvpipe`` source.

Analysis, compared with Tantivy's (``search/tantivy_schema.py``)
--------------------------------------------------------------------
* ``text``: Tantivy splits on anything not a Unicode letter or digit, then lower-cases and
  folds to ASCII. FTS5 ``unicode61 remove_diacritics 2`` does the same split, case folding and
  removal of the diacritics Unicode decomposes (``é``, not ``ł``). Sphinx 2.2.11 has no
  ``non_cjk`` alias yet, so its ``charset_table`` is generated (:func:`sphinx_charset_table`):
  every letter and digit of Latin, Greek, Cyrillic, Hebrew and Arabic mapped to the character
  Tantivy folds it to, ``_`` left out (a separator, as in Tantivy), CJK, kana and Hangul as
  word characters without ngrams (a run is one word, as in Tantivy's simple tokenizer).
  Known gaps, none of which occurs in the synthetic corpus (its text is ASCII apart from an
  emoji): Tantivy folds ``ß`` to ``ss`` and ``æ`` to ``ae``, one character into two, which
  neither other engine can; FTS5 also keeps ``ł``, ``ø``, ``đ`` (no Unicode decomposition).
  Tantivy drops tokens over 255 bytes; the others keep them. The edge corpus below
  (:func:`check_edges`) shows exactly these differences and no others.
* Proximity: all three engines count NEAR/d as "positions at most d apart, either order"
  once translated (:func:`sphinx_near_distance`, :func:`fts5_near_distance`).
* ``mentions``, ``hashtags``, room id and sender id: Tantivy keeps each value whole in a
  keyword field (lower-cased and folded for mentions and hashtags; ids exact), so ``@alice.smith``
  matches the mention ``alice.smith`` only, never the words ``alice`` and ``smith`` of the text.
  Neither Sphinx nor FTS5 has a per-field keyword analyzer (Sphinx's ``charset_table`` is per
  index; adding ``.``, ``@`` or ``#`` to it would change how every URL and sentence of the text
  splits). So each value is written, and looked up, as one opaque token: ``k`` + the hex of
  its UTF-8 (:func:`keyword_token`). That is exact keyword matching, for any value.
* ``in:#room`` and ``from:nick`` are translated as Tantivy translates them: the exact id, or
  the words of the room's (sender's) name as a phrase, so ``in:#compliance`` also finds
  ``#compliance-2`` and ``#compliance-3``, as in Tantivy.
* Dates are attribute filters on ``sent`` (microseconds since the epoch, as in Tantivy).

Queries
-------
Every typical query returns the 50 oldest hits (id, sent, text) and the exact total.
Sphinx: ``SELECT id, sent, text ... WHERE MATCH(...) AND sent filters ORDER BY sent ASC, id ASC
LIMIT 50 OPTION max_matches=50, ranker=none`` then ``SHOW META`` (``total_found``); facets with
``FACET room_id / sender_id / day`` on the same statement (one search); the full hit set in
pages of 10,000 after the last (sent, id). FTS5: the page and ``count(*)`` as two statements over
``posts`` with ``id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)``; facets as three
``GROUP BY`` statements; the full hit set as one ordered statement.

Both engines keep their index under ``workdir/sphinx`` and ``workdir/fts5`` with a ``built.json``
marker (posts, build seconds); a marked index is reused without reading the events, so use one
``workdir`` per corpus. ``searchd`` runs on a free local port from ``prepare`` to ``close``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final, Protocol

import pymysql

from adapters.index_adapter import IndexedMessage, entities, file_document, posted_message
from bench.search import QUERIES
from ingest.events import EditEvent, Event, FileUploadEvent, PostEvent, parse_event
from search import tantivy_schema as fields
from search.query_ast import And, Filter, Near, Node, Not, Or, Phrase, Prefix, SentRange, Term, searches_words
from search.query_parser import MAX_NEAR_DISTANCE, parse_query

FACETS: Final = "facets"
"""The single-term query, plus counts per room, per sender and per day over every hit."""
FULL_HIT_SET: Final = "full hit set"
"""Every hit of the single-term query (id and time), oldest first."""
QUERY_NAMES: Final = (*QUERIES, FACETS, FULL_HIT_SET)
FACET_SIZE: Final = 20
"""Rooms and senders per facet, as ``search_page`` (days: every day with a hit)."""
TOP: Final = 50
DAY_MICROS: Final = 86_400_000_000
MIN_MAX_MATCHES: Final = 1_000
"""Sphinx's default max_matches. Facet groups are bounded by max_matches, so the facets statement
raises it to the number of days the corpus spans when that is more (100k events span 32 days)."""
PAGE: Final = 10_000
"""Hits per page when Sphinx walks the full hit set."""


class UnsupportedQuery(ValueError):
    """A query this comparison cannot translate (it needs the archive, or a form the engine lacks)."""


class OtherEngine(Protocol):
    name: str

    def prepare(self, workdir: Path, events: Iterable[Event]) -> None:
        """Build the index under ``workdir`` once; reuse it when ``workdir`` already holds it.

        ``workdir`` identifies the corpus: an engine cannot tell two corpora apart without reading
        them, so pass one directory per corpus (e.g. ``workdir / f"other-engines-{messages}"``)."""
        ...

    def query(self, name: str) -> Callable[[], int]:
        """A callable running typical query ``name`` (top 50 by time with text, exact total); returns the total."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Result:
    """What one run of a typical query gives back (for checking it against Tantivy)."""

    total: int
    hits: list[tuple[int, int]]
    """(document id, sent) of the page (or, for the full hit set, of every hit)."""
    facets: dict[str, dict[str, int]] = field(default_factory=dict)


# --- keywords, words and the split of a query into full text and filters ------------------------


def query_text(name: str) -> str:
    """The query language text of typical query ``name``."""
    if name in (FACETS, FULL_HIT_SET):
        return QUERIES["single term"]
    if name not in QUERIES:
        raise KeyError(f"unknown typical query {name!r}; one of {', '.join(QUERY_NAMES)}")
    return QUERIES[name]


def keyword_token(value: str) -> str:
    """The single token a keyword value (mention, hashtag, id) is indexed and searched as."""
    return "k" + value.encode("utf-8").hex()


def _folded(value: str) -> str:
    return keyword_token(fields.fold_keyword(value))


def query_words(text: str) -> list[str]:
    """The words of a query term as both engines split them (letters and digits; no ``_``)."""
    return re.findall(r"[^\W_]+", unicodedata.normalize("NFC", text))


def _midnight_micros(day: date) -> int:
    return fields.micros_since_epoch(datetime(day.year, day.month, day.day, tzinfo=UTC))


@dataclass(frozen=True)
class Split:
    """A query as its full-text part (None: every post) and ``sent`` bounds (start inclusive, end exclusive)."""

    text: Node | None
    sent_from: int | None
    sent_before: int | None
    posts_only: bool = False
    """A query of filters alone finds posts only; one with words finds uploaded files too (by name)."""


def split_query(node: Node) -> Split:
    """Date ranges are attribute filters in both engines, so they must sit at the top level."""
    items = node.items if isinstance(node, And) else (node,)
    rest = [item for item in items if not isinstance(item, SentRange)]
    starts, ends = [], []
    for item in items:
        if isinstance(item, SentRange):
            if item.start is not None:
                starts.append(_midnight_micros(item.start))
            if item.end is not None:
                ends.append(_midnight_micros(item.end))
    text: Node | None = None
    if len(rest) == 1:
        text = rest[0]
    elif rest:
        text = And(tuple(rest))
    sent_from, sent_before = max(starts) if starts else None, min(ends) if ends else None
    return Split(text, sent_from, sent_before, posts_only=not searches_words(node))


def _words_or_fail(text: str) -> list[str]:
    words = query_words(text)
    if not words:
        raise UnsupportedQuery(f"{text!r} has no words to search for")
    return words


def _positives_and_negatives(items: Sequence[Node]) -> tuple[list[Node], list[Node]]:
    positives: list[Node] = [item for item in items if not isinstance(item, Not)]
    negatives = [item.item for item in items if isinstance(item, Not)]
    if not positives:
        raise UnsupportedQuery("a query of only negations (Tantivy matches every post but those)")
    return positives, negatives


# --- Sphinx extended query syntax ------------------------------------------------------------------


def sphinx_near_distance(distance: int) -> int:
    """Tantivy's ``a NEAR/d b``: positions at most ``d`` apart (``d - 1`` words between), either
    order. Sphinx's ``NEAR/N`` counts the same way (checked with searchd on the edge corpus, where
    NEAR/1 to NEAR/5 give Tantivy's hits in both orders), so N = d."""
    return distance


_SPHINX_TEXT: Final = "@(text,history)"
"""Words, phrases, prefixes and NEAR search every version, as in Tantivy (``text`` or ``history``)."""


def _sphinx_words(words: list[str]) -> str:
    return words[0] if len(words) == 1 else '"' + " ".join(words) + '"'


def sphinx_match(node: Node) -> str:
    """``node`` (without date ranges) in Sphinx's extended query syntax, over the fields of this index."""
    match node:
        case Term(text) | Phrase(text):
            return f"({_SPHINX_TEXT} {_sphinx_words(_words_or_fail(text))})"
        case Prefix(text):
            words = _words_or_fail(text)
            if len(words) == 1:
                return f"({_SPHINX_TEXT} {words[0]}*)"
            return f'({_SPHINX_TEXT} "{" ".join(words)}*")'
        case Near(left, right, distance):
            near = f"NEAR/{sphinx_near_distance(distance)}"
            operands = f"{_sphinx_words(_words_or_fail(left))} {near} {_sphinx_words(_words_or_fail(right))}"
            return f"({_SPHINX_TEXT} {operands})"
        case Filter("hashtag", value):
            return f"(@hashtags {_folded(value)})"
        case Filter("mentions", value):
            return f"(@mentions {_folded(value)})"
        case Filter("in" | "from" as name, value):
            column = "room_kw" if name == "in" else "sender_kw"
            return "(" + " | ".join(f"(@{column} {keyword_token(k)})" for k in fields.filter_keys(name, value)) + ")"
        case Filter(name, _):
            raise UnsupportedQuery(f"{name}: is answered from the archive or the document type, not compared here")
        case SentRange():
            raise UnsupportedQuery("a date range inside OR/NOT (Sphinx filters attributes only at the top level)")
        case Not():
            raise UnsupportedQuery("NOT outside an AND with something positive")
        case And(items):
            positives, negatives = _positives_and_negatives(items)
            parts = [sphinx_match(item) for item in positives] + [f"-{sphinx_match(item)}" for item in negatives]
            return "(" + " ".join(parts) + ")"
        case Or(items):
            return "(" + " | ".join(sphinx_match(item) for item in items) + ")"
    raise UnsupportedQuery(f"cannot translate {node!r}")


def sphinx_where(split: Split) -> str:
    """The WHERE clause of a SphinxQL select for ``split`` (empty MATCH: every post)."""
    conditions = []
    if split.text is not None:
        expression = sphinx_match(split.text)
        if "'" in expression or "\\" in expression:  # cannot happen: words are letters and digits
            raise UnsupportedQuery(f"unexpected quote in {expression!r}")
        conditions.append(f"MATCH('{expression}')")
    if split.sent_from is not None:
        conditions.append(f"sent >= {split.sent_from}")
    if split.sent_before is not None:
        conditions.append(f"sent < {split.sent_before}")
    if split.posts_only:
        conditions.append(f"kind = {POST}")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


# --- FTS5 query syntax --------------------------------------------------------------------------------


_FTS5_TEXT: Final = "{text history}"


def fts5_near_distance(distance: int) -> int:
    """FTS5's ``NEAR(a b, N)`` allows N tokens *between* the phrases; Tantivy's NEAR/d allows d - 1."""
    return max(distance - 1, 0)


def _fts5_phrase(words: list[str], prefix: bool = False) -> str:
    return '"' + " ".join(words) + '"' + (" *" if prefix else "")


def fts5_match(node: Node) -> str:
    """``node`` (without date ranges) as an FTS5 MATCH expression over the columns of ``posts_fts``."""
    match node:
        case Term(text) | Phrase(text):
            return f"({_FTS5_TEXT} : {_fts5_phrase(_words_or_fail(text))})"
        case Prefix(text):
            return f"({_FTS5_TEXT} : {_fts5_phrase(_words_or_fail(text), prefix=True)})"
        case Near(left, right, distance):
            phrases = f"{_fts5_phrase(_words_or_fail(left))} {_fts5_phrase(_words_or_fail(right))}"
            return f"({_FTS5_TEXT} : NEAR({phrases}, {fts5_near_distance(distance)}))"
        case Filter("hashtag", value):
            return f'(hashtags : "{_folded(value)}")'
        case Filter("mentions", value):
            return f'(mentions : "{_folded(value)}")'
        case Filter("in" | "from" as name, value):
            column = "room_kw" if name == "in" else "sender_kw"
            return (
                "(" + " OR ".join(f'({column} : "{keyword_token(k)}")' for k in fields.filter_keys(name, value)) + ")"
            )
        case Filter(name, _):
            raise UnsupportedQuery(f"{name}: is answered from the archive or the document type, not compared here")
        case SentRange():
            raise UnsupportedQuery("a date range inside OR/NOT is not compared here")
        case Not():
            raise UnsupportedQuery("NOT outside an AND with something positive")
        case And(items):
            positives, negatives = _positives_and_negatives(items)
            expression = "(" + " AND ".join(fts5_match(item) for item in positives) + ")"
            for item in negatives:  # FTS5's NOT is binary: "a NOT b"
                expression = f"({expression} NOT {fts5_match(item)})"
            return expression
        case Or(items):
            return "(" + " OR ".join(fts5_match(item) for item in items) + ")"
    raise UnsupportedQuery(f"cannot translate {node!r}")


# --- the corpus as posts, staged in SQLite ----------------------------------------------------------

_POSTS_SCHEMA: Final = """
CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    sent INTEGER NOT NULL,
    day INTEGER NOT NULL,
    room_id TEXT NOT NULL,
    room_name TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    sender_name TEXT NOT NULL,
    text TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '',
    room_kw TEXT NOT NULL,
    sender_kw TEXT NOT NULL,
    mentions TEXT NOT NULL,
    hashtags TEXT NOT NULL,
    kind INTEGER NOT NULL
)
"""
_POST_COLUMNS: Final = (
    "message_id, sent, day, room_id, room_name, sender_id, sender_name, text, room_kw, sender_kw, mentions, hashtags, "
    "kind"
)
POST: Final = 0
FILE: Final = 1
"""``kind`` of a document: a post, or an uploaded file (found by its name, as Tantivy finds it)."""
_CHUNK: Final = 10_000


VERSION_GAP: Final = " " + " ".join(["versiongap"] * (MAX_NEAR_DISTANCE + 1)) + " "
"""Between two earlier versions in ``history``: more words than any NEAR reaches over (Tantivy
puts words it drops there; these engines keep every word, so a word no query here uses)."""


def _tokens(keys: Iterable[str]) -> str:
    """Already-folded whole values (room and person keys), one opaque token each."""
    return " ".join(keyword_token(key) for key in keys)


def _keywords(values: Iterable[str]) -> str:
    return " ".join(dict.fromkeys(_folded(value) for value in values))


def _post_row(event: PostEvent) -> tuple[Any, ...]:
    return _row(posted_message(event), POST)


def _file_row(event: FileUploadEvent) -> tuple[Any, ...]:
    """The uploaded file's document: its name is its text (with the mentions and hashtags in it)."""
    return _row(file_document(event), FILE)


def _row(message: IndexedMessage, kind: int) -> tuple[Any, ...]:
    return (
        message.message_id,
        message.sent,
        message.sent // DAY_MICROS,
        message.room_id,
        fields.searchable(message.room_name),
        message.sender_id,
        fields.searchable(message.sender_name),
        fields.searchable(message.text),
        _tokens(fields.room_keys(message.room_id, message.room_name)),
        _tokens(fields.person_keys(message.sender_id, message.sender_name)),
        _keywords(message.mentions),
        _keywords(message.hashtags),
        kind,
    )


def _edit_row(event: EditEvent) -> tuple[Any, ...]:
    _urls, mentions, hashtags = entities(event.message.text)
    return (
        VERSION_GAP,
        fields.searchable(event.message.text),
        _keywords(mentions),
        _keywords(hashtags),
        event.message.id,
    )


def stage_posts(connection: sqlite3.Connection, events: Iterable[Event]) -> int:
    """Write the posts of ``events`` (in occurrence order, edits applied) to table ``posts``; ids
    follow the order of the posts, so they are in ``sent`` order too. Returns the number of posts."""
    connection.execute(_POSTS_SCHEMA)
    posts: list[tuple[Any, ...]] = []
    edits: list[tuple[Any, ...]] = []

    def flush() -> None:
        insert = f"INSERT INTO posts ({_POST_COLUMNS}) VALUES ({', '.join('?' * 13)})"  # noqa: S608 - constants
        connection.executemany(insert, posts)
        # An edit only ever follows its post here; the simulator edits recent posts of their authors.
        connection.executemany(
            "UPDATE posts SET history = CASE WHEN history = '' THEN text ELSE history || ? || text END,"
            " text = ?, mentions = ?, hashtags = ? WHERE message_id = ?",
            edits,
        )
        posts.clear()
        edits.clear()

    for event in events:
        if isinstance(event, PostEvent):
            posts.append(_post_row(event))
        elif isinstance(event, FileUploadEvent):
            posts.append(_file_row(event))
        elif isinstance(event, EditEvent):
            if posts:  # the edit may be of a post still in this chunk
                flush()
            edits.append(_edit_row(event))
        if len(posts) >= _CHUNK:
            flush()
    flush()
    connection.commit()
    return int(connection.execute("SELECT count(*) FROM posts").fetchone()[0])


def _stage(directory: Path, events: Iterable[Event]) -> tuple[sqlite3.Connection, int]:
    path = directory / "posts.sqlite3"
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    return connection, stage_posts(connection, events)


def _marker(directory: Path) -> Path:
    return directory / "built.json"


def _read_marker(directory: Path) -> dict[str, Any] | None:
    marker = _marker(directory)
    if not marker.exists():
        return None
    built: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
    if built.get("layout") != _LAYOUT:
        return None  # built before earlier versions were indexed: build again
    return built


_LAYOUT: Final = 3
"""The staged documents' layout: 2 since ``history`` holds every earlier version, 3 since uploaded
files are documents too (``kind``)."""


def _write_marker(directory: Path, built: dict[str, Any]) -> None:
    _marker(directory).write_text(json.dumps({**built, "layout": _LAYOUT}), encoding="utf-8")


def _day_key(day: int) -> str:
    return date.fromordinal(date(1970, 1, 1).toordinal() + day).isoformat()


# --- SQLite FTS5 ---------------------------------------------------------------------------------------


class Fts5Engine:
    """A contentless FTS5 table beside the ``posts`` table (sent, room, sender, text)."""

    name = f"SQLite FTS5 ({sqlite3.sqlite_version})"

    def __init__(self) -> None:
        self._connection: sqlite3.Connection | None = None
        self.build_seconds: dict[str, float] = {}
        self.documents = 0

    def prepare(self, workdir: Path, events: Iterable[Event]) -> None:
        directory = workdir / "fts5"
        built = _read_marker(directory)
        if built is None:
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir(parents=True)
            started = time.perf_counter()
            connection, documents = _stage(directory, events)
            staged = time.perf_counter()
            connection.executescript(
                """
                CREATE VIRTUAL TABLE posts_fts USING fts5(
                    text, history, room_name, sender_name, room_kw, sender_kw, mentions, hashtags,
                    content='', tokenize="unicode61 remove_diacritics 2"
                );
                INSERT INTO posts_fts (
                    rowid, text, history, room_name, sender_name, room_kw, sender_kw, mentions, hashtags
                )
                    SELECT id, text, history, room_name, sender_name, room_kw, sender_kw, mentions, hashtags FROM posts;
                INSERT INTO posts_fts (posts_fts) VALUES ('optimize');
                CREATE INDEX posts_sent ON posts (sent);
                """
            )
            connection.commit()
            connection.close()
            built = {
                "documents": documents,
                "stage_seconds": staged - started,
                "index_seconds": time.perf_counter() - staged,
            }
            _write_marker(directory, built)
        self.documents = int(built["documents"])
        self.build_seconds = {"stage": float(built["stage_seconds"]), "index": float(built["index_seconds"])}
        connection = sqlite3.connect(f"file:{directory / 'posts.sqlite3'}?mode=ro", uri=True, check_same_thread=False)
        connection.execute("PRAGMA mmap_size = 1073741824")
        connection.execute("PRAGMA cache_size = -262144")
        self._connection = connection

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("prepare() first")
        return self._connection

    @staticmethod
    def _sql(split: Split) -> tuple[str, list[Any]]:
        """FROM and WHERE over ``posts p`` for ``split``, and its parameters."""
        conditions: list[str] = []
        parameters: list[Any] = []
        if split.text is not None:
            conditions.append("p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH ?)")
            parameters.append(fts5_match(split.text))
        if split.sent_from is not None:
            conditions.append("p.sent >= ?")
            parameters.append(split.sent_from)
        if split.sent_before is not None:
            conditions.append("p.sent < ?")
            parameters.append(split.sent_before)
        if split.posts_only:
            conditions.append(f"p.kind = {POST}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f" FROM posts p{where}", parameters

    def run(self, name: str) -> Result:
        """Typical query ``name`` once: the page (or every hit), the total and, for facets, the counts."""
        return self.search(query_text(name), facets=name == FACETS, every=name == FULL_HIT_SET)

    def search(self, text: str, *, facets: bool = False, every: bool = False) -> Result:
        """Any query of the language that translates (see :func:`fts5_match`)."""
        db = self._db()
        source, parameters = self._sql(split_query(parse_query(text)))
        if every:
            hits = db.execute(f"SELECT p.id, p.sent{source} ORDER BY p.sent, p.id", parameters).fetchall()
            return Result(len(hits), [(int(i), int(s)) for i, s in hits])
        page = db.execute(f"SELECT p.id, p.sent, p.text{source} ORDER BY p.sent, p.id LIMIT {TOP}", parameters)
        hits = [(int(i), int(s)) for i, s, _text in page.fetchall()]
        total = int(db.execute(f"SELECT count(*){source}", parameters).fetchone()[0])
        counts: dict[str, dict[str, int]] = {}
        if facets:
            for facet, column, order in (
                ("room", "p.room_id", f"n DESC, key LIMIT {FACET_SIZE}"),
                ("sender", "p.sender_id", f"n DESC, key LIMIT {FACET_SIZE}"),
                ("day", "p.day", "key"),
            ):
                rows = db.execute(
                    f"SELECT {column} AS key, count(*) AS n{source} GROUP BY key ORDER BY {order}", parameters
                )
                counts[facet] = {_day_key(k) if facet == "day" else str(k): int(n) for k, n in rows.fetchall()}
        return Result(total, hits, counts)

    def query(self, name: str) -> Callable[[], int]:
        if name not in QUERY_NAMES:
            raise KeyError(f"unknown typical query {name!r}; one of {', '.join(QUERY_NAMES)}")
        return lambda: self.run(name).total

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


# --- Sphinx ---------------------------------------------------------------------------------------------

SPHINX_INDEX: Final = "posts"
_SPHINX_TSV_COLUMNS: Final = (
    "text, history, room_name, sender_name, room_kw, sender_kw, mentions, hashtags, sent, day, room_id, sender_id, kind"
)


def sphinx_config(directory: Path, port: int) -> str:
    """sphinx.conf for the corpus in ``directory/posts.tsv``; searchd speaks SphinxQL on ``port``.

    The tsvpipe columns follow the declarations below, in order, after the document id."""
    return f"""\
source posts
{{
    type = tsvpipe
    tsvpipe_command = cat {directory / "posts.tsv"}
    # text is a full-text field and a string attribute (Sphinx 2.2 stores no documents).
    tsvpipe_field_string = text
    tsvpipe_field = history
    tsvpipe_field = room_name
    tsvpipe_field = sender_name
    tsvpipe_field = room_kw
    tsvpipe_field = sender_kw
    tsvpipe_field = mentions
    tsvpipe_field = hashtags
    tsvpipe_attr_bigint = sent
    tsvpipe_attr_uint = day
    tsvpipe_attr_string = room_id
    tsvpipe_attr_string = sender_id
    tsvpipe_attr_uint = kind
}}

index {SPHINX_INDEX}
{{
    source = posts
    path = {directory / "data" / SPHINX_INDEX}
    docinfo = extern
    dict = keywords
    # letters and digits, case- and accent-folded as Tantivy folds them (sphinx_charset_table)
    charset_table = {sphinx_charset_table()}
    morphology = none
    min_word_len = 1
    min_prefix_len = 1
    index_exact_words = 0
    html_strip = 0
}}

indexer
{{
    mem_limit = 256M
}}

searchd
{{
    listen = 127.0.0.1:{port}:mysql41
    log = {directory / "searchd.log"}
    pid_file = {directory / "searchd.pid"}
    binlog_path =
    workers = threads
    watchdog = 0
    read_timeout = 5
    max_children = 30
}}
"""


_FOLDED_RANGES: Final = (
    (0x0030, 0x024F),  # ASCII digits and letters, Latin-1, Latin Extended-A and -B
    (0x0370, 0x052F),  # Greek, Cyrillic
    (0x0590, 0x06FF),  # Hebrew, Arabic
    (0x1E00, 0x1FFF),  # Latin Extended Additional, Greek Extended
)
_AS_IS_RANGES: Final = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
)


def sphinx_charset_table() -> str:
    """Sphinx's charset_table for the scripts in use: every letter or digit that Tantivy's text
    analyzer keeps, mapped to the one character Tantivy folds it to. Where Tantivy folds one
    character into two (``ß`` to ``ss``, ``Æ`` to ``ae``) Sphinx cannot follow (a mapping is
    one character to one): those are mapped to their lower case. CJK, kana and Hangul are word
    characters, so a run of them is one word, as in Tantivy's simple tokenizer."""
    entries = []
    for first, last in _FOLDED_RANGES:
        for code in range(first, last + 1):
            character = chr(code)
            terms = fields.text_terms(character)
            if len(terms) != 1:
                continue  # not a letter or digit to Tantivy: a separator
            folded = terms[0] if len(terms[0]) == 1 else character.lower()
            if len(folded) != 1:
                continue
            entries.append(f"U+{code:04X}" if folded == character else f"U+{code:04X}->U+{ord(folded):04X}")
    entries += [f"U+{first:04X}..U+{last:04X}" for first, last in _AS_IS_RANGES]
    return ", \\\n        ".join(entries)


def _tsv_value(value: object) -> str:
    """tsvpipe has no escaping: a tab or newline would end the column (none in the simulated text)."""
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def sphinx_binaries() -> tuple[str, str] | str:
    """The paths of ``indexer`` and ``searchd``, or why Sphinx cannot run."""
    indexer, searchd = shutil.which("indexer"), shutil.which("searchd")
    if indexer is None or searchd is None:
        return "Sphinx is not installed (no `indexer`/`searchd` on PATH): apt-get install -y sphinxsearch"
    return indexer, searchd


class SphinxEngine:
    """A plain Sphinx index built by ``indexer`` from a tsvpipe dump, served by ``searchd`` (SphinxQL)."""

    def __init__(self, indexer: str = "indexer", searchd: str = "searchd") -> None:
        self.indexer, self.searchd = indexer, searchd
        version = subprocess.run([indexer, "--help"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"Sphinx (\d+\.\d+\.\d+)", version)
        self.name = f"Sphinx {found.group(1) if found else '(unknown version)'}"
        self._process: subprocess.Popen[bytes] | None = None
        self._connection: pymysql.connections.Connection[Any] | None = None
        self.build_seconds: dict[str, float] = {}
        self.documents = 0
        self.max_matches = MIN_MAX_MATCHES

    def prepare(self, workdir: Path, events: Iterable[Event]) -> None:
        directory = workdir / "sphinx"
        config = directory / "sphinx.conf"
        built = _read_marker(directory)
        if built is None:
            shutil.rmtree(directory, ignore_errors=True)
            (directory / "data").mkdir(parents=True)
            started = time.perf_counter()
            connection, documents = _stage(directory, events)
            with (directory / "posts.tsv").open("w", encoding="utf-8", newline="\n") as tsv:
                rows = connection.execute(f"SELECT id, {_SPHINX_TSV_COLUMNS} FROM posts ORDER BY id")  # noqa: S608
                for row in rows:
                    tsv.write("\t".join(map(_tsv_value, row)) + "\n")
            days = int(connection.execute("SELECT coalesce(max(day) - min(day) + 1, 0) FROM posts").fetchone()[0])
            connection.close()
            staged = time.perf_counter()
            config.write_text(sphinx_config(directory, _free_port()), encoding="utf-8")
            run = subprocess.run(
                [self.indexer, "--config", str(config), "--all"], capture_output=True, text=True, check=False
            )
            if run.returncode != 0:
                raise RuntimeError(f"Sphinx indexer failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
            built = {
                "documents": documents,
                "days": days,
                "stage_seconds": staged - started,
                "index_seconds": time.perf_counter() - staged,
            }
            for scratch in ("posts.tsv", "posts.sqlite3"):  # the index has all it needs
                (directory / scratch).unlink()
            _write_marker(directory, built)
        self.documents = int(built["documents"])
        self.max_matches = max(MIN_MAX_MATCHES, int(built["days"]))
        self.build_seconds = {"stage": float(built["stage_seconds"]), "index": float(built["index_seconds"])}
        self._start(directory, config)

    def _start(self, directory: Path, config: Path) -> None:
        port = _free_port()
        config.write_text(sphinx_config(directory, port), encoding="utf-8")
        log = (directory / "searchd.out").open("wb")
        self._process = subprocess.Popen(
            [self.searchd, "--config", str(config), "--nodetach"], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                self._connection = pymysql.connect(host="127.0.0.1", port=port, user="", autocommit=True)
                return
            except pymysql.err.OperationalError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    output = (directory / "searchd.out").read_text(encoding="utf-8", errors="replace")
                    self.close()
                    raise RuntimeError(f"searchd did not start on port {port}:\n{output}") from None
                time.sleep(0.1)

    def _cursor(self) -> pymysql.cursors.Cursor:
        if self._connection is None:
            raise RuntimeError("prepare() first")
        cursor: pymysql.cursors.Cursor = self._connection.cursor()
        return cursor

    def _select(self, columns: str, where: str, tail: str) -> list[tuple[Any, ...]]:
        with self._cursor() as cursor:
            # SphinxQL takes no bound parameters in MATCH(); sphinx_where() admits only words and numbers.
            cursor.execute(f"SELECT {columns} FROM {SPHINX_INDEX}{where} {tail}")  # noqa: S608
            return list(cursor.fetchall())

    def _total(self) -> int:
        with self._cursor() as cursor:
            cursor.execute("SHOW META")
            meta = {str(key): value for key, value in cursor.fetchall()}
        return int(meta["total_found"])

    def run(self, name: str) -> Result:
        """Typical query ``name`` once: the page (or every hit), the total and, for facets, the counts."""
        return self.search(query_text(name), facets=name == FACETS, every=name == FULL_HIT_SET)

    def search(self, text: str, *, facets: bool = False, every: bool = False) -> Result:
        """Any query of the language that translates (see :func:`sphinx_match`)."""
        split = split_query(parse_query(text))
        where = sphinx_where(split)
        if every:
            return self._every_hit(split)
        order = f"ORDER BY sent ASC, id ASC LIMIT {TOP} OPTION max_matches={TOP}, ranker=none"
        if not facets:
            hits = [(int(i), int(s)) for i, s, _text in self._select("id, sent, text", where, order)]
            return Result(self._total(), hits)
        # One statement: the page, then one result set per FACET, all from a single search.
        facet_tail = (
            f"ORDER BY sent ASC, id ASC LIMIT {TOP} OPTION max_matches={self.max_matches}, ranker=none"
            f" FACET room_id ORDER BY COUNT(*) DESC, room_id ASC LIMIT {FACET_SIZE}"
            f" FACET sender_id ORDER BY COUNT(*) DESC, sender_id ASC LIMIT {FACET_SIZE}"
            f" FACET day ORDER BY day ASC LIMIT {self.max_matches}"
        )
        with self._cursor() as cursor:
            cursor.execute(f"SELECT id, sent, text FROM {SPHINX_INDEX}{where} {facet_tail}")  # noqa: S608
            hits = [(int(i), int(s)) for i, s, _text in cursor.fetchall()]
            counts: dict[str, dict[str, int]] = {}
            for facet in ("room", "sender", "day"):
                cursor.nextset()
                counts[facet] = {
                    _day_key(int(key)) if facet == "day" else str(key): int(count) for key, count in cursor.fetchall()
                }
        # Every hit has exactly one day, and SHOW META after a FACET statement describes the last facet.
        total = sum(counts["day"].values())
        return Result(total, hits, counts)

    def _every_hit(self, split: Split) -> Result:
        """Every hit, oldest first, PAGE at a time, each page starting after the last (sent, id)."""
        hits: list[tuple[int, int]] = []
        total = 0
        while True:
            bounds = split
            after = ""
            if hits:
                last_id, last_sent = hits[-1]
                bounds = Split(split.text, last_sent, split.sent_before)
                after = f", IF(sent > {last_sent} OR id > {last_id}, 1, 0) AS later"
            where = sphinx_where(bounds) + (" AND later = 1" if after else "")
            rows = self._select(
                f"id, sent{after}",
                where,
                f"ORDER BY sent ASC, id ASC LIMIT {PAGE} OPTION max_matches={PAGE}, ranker=none",
            )
            if not hits:
                total = self._total()
            hits.extend((int(row[0]), int(row[1])) for row in rows)
            if len(rows) < PAGE:
                break
        if len(hits) != total:
            raise RuntimeError(f"Sphinx paging returned {len(hits)} hits of {total}")
        return Result(total, hits)

    def query(self, name: str) -> Callable[[], int]:
        if name not in QUERY_NAMES:
            raise KeyError(f"unknown typical query {name!r}; one of {', '.join(QUERY_NAMES)}")
        return lambda: self.run(name).total

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(pymysql.err.Error):
                self._connection.close()
            self._connection = None
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def available_engines() -> list[OtherEngine]:
    """FTS5 always (it is in Python's sqlite3); Sphinx when its binaries are installed."""
    engines: list[OtherEngine] = []
    binaries = sphinx_binaries()
    if isinstance(binaries, str):
        print(f"skipping Sphinx: {binaries}")
    else:
        engines.append(SphinxEngine(*binaries))
    engines.append(Fts5Engine())
    return engines


# --- checking totals against Tantivy, and a quick trial -----------------------------------------------

_EDGE_NAMESPACE = uuid.UUID("0f6b7a52-3c1e-4d8a-9b2f-5e7d6c4b3a21")
_EDGE_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

EDGE_TEXTS: Final = (
    "margin call now",
    "margin x call",
    "margin x y call",
    "margin x y z call",
    "call margin",
    "call x y margin",
    "call x y z margin",
    "Café crème at the CAFÉ",
    "Straße closed",
    "Łukasz said hi",
    "foo_bar baz",
    "@Alice.Smith please check #Urgent",
    "alice smith urgent but no sigils",
    "the Settlement break and settled trades",
    "sign-off on the risk report",
    "risk and report, not a phrase",
    "deploy #deploy",
    "中文字 abc",
)


def _edge_event(index: int, kind: str, fields: dict[str, Any], room: str = "compliance") -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(_EDGE_NAMESPACE, f"{kind}:{index}")),
            "type": kind,
            "occurred_at": (_EDGE_START + timedelta(days=index // 4, minutes=index)).isoformat(),
            "room": {"id": f"room:{room}", "name": f"#{room}", "kind": "room"},
            "actor": {"id": f"user:u{index % 3}", "name": f"U{index % 3}"},
            **fields,
        }
    )


def edge_events() -> list[Event]:
    events = [
        _edge_event(
            i, "post", {"message": {"id": f"m{i}", "text": text}}, room="compliance-2" if i % 2 else "compliance"
        )
        for i, text in enumerate(EDGE_TEXTS)
    ]
    events.append(_edge_event(50, "join", {}))
    # the edit replaces the text (and its hashtags): "deploy #deploy" becomes a risk report
    events.append(_edge_event(60, "edit", {"message": {"id": "m16", "text": "correction: the risk report #risk"}}))
    events.append(_edge_event(61, "delete", {"message": {"id": "m0"}}))  # still findable, as in Tantivy
    # uploaded files: a query with words finds them by name, a query of filters alone does not
    for index, name in ((70, "deploy_plan.pdf"), (71, "Margin-Call #urgent.xlsx")):
        file = {"name": name, "size": 1000 + index, "sha256": f"{index:064x}", "content_type": "application/pdf"}
        events.append(_edge_event(index, "file_upload", {"file": file}, room="compliance-2"))
    return events


EDGE_QUERIES: Final = (
    "margin NEAR/1 call",
    "margin NEAR/2 call",
    "margin NEAR/3 call",
    "margin NEAR/4 call",
    "cafe",
    "CAFÉ crème",
    "foo",
    "@alice.smith",
    "#urgent",
    "alice",
    "urgent",
    "settle*",
    '"risk report"',
    "sign-off",
    "deploy",
    "#deploy OR #risk",
    "in:#compliance",
    "in:#compliance-2 margin",
    "from:u1",
    "(risk OR margin) -report sent>=2026-01-06",
    "sent<2026-01-07 call",
    "中文字",
    "plan",
    "in:#compliance-2",
    *QUERIES.values(),
)

EDGE_DIFFERENCES: Final = ("strasse", "lukasz")
"""Folded forms Tantivy finds (ß to ss, Ł to l) where Sphinx (ß) and FTS5 (both) do not."""


def check_edges(engine: OtherEngine, workdir: Path) -> list[str]:
    """Build ``engine`` and a Tantivy index over the edge corpus; every query where they differ."""
    from adapters.index_adapter import TantivyIndexAdapter
    from search.tantivy_backend import search_page

    adapter = TantivyIndexAdapter(workdir / "index")
    adapter.write(edge_events())
    adapter.close()
    engine.prepare(workdir, edge_events())
    search: Callable[[str], Result] = getattr(engine, "search")  # noqa: B009 - not in the Protocol
    differences = []
    try:
        for query in (*EDGE_QUERIES, *EDGE_DIFFERENCES):
            page = search_page(workdir / "index", parse_query(query), size=TOP)
            mine = search(query)
            if mine.total != page.total or [s for _i, s in mine.hits] != [hit.sent for hit in page.hits]:
                differences.append(f"{query}: {engine.name} {mine.total}, Tantivy {page.total}")
    finally:
        engine.close()
    return differences


def tantivy_result(index_dir: Path, name: str) -> Result:
    """The same typical query answered by the search backend over the Tantivy index."""
    from search.tantivy_backend import all_hits, search_page

    node = parse_query(query_text(name))
    if name == FULL_HIT_SET:
        every = all_hits(index_dir, node)
        return Result(len(every), [(0, hit.sent) for hit in every])
    page = search_page(index_dir, node, size=TOP, facets=name == FACETS, facet_size=FACET_SIZE)
    return Result(page.total, [(0, hit.sent) for hit in page.hits], page.facets)


def _events(messages: int) -> Iterator[Event]:
    from ingest.simulate import simulate_events

    return simulate_events(events=messages, rooms=40, users=400, seed=1)


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{statistics.median(samples):.1f} / {p95:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "archivist-bench-other-engines")
    parser.add_argument("--no-edges", action="store_true", help="skip the check on the small corpus of awkward posts")
    args = parser.parse_args()
    from bench.search import build_index, timed

    if not args.no_edges:
        for engine in available_engines():
            edges = Path(tempfile.mkdtemp(prefix="archivist-edges-"))
            try:
                differences = check_edges(engine, edges)
            finally:
                shutil.rmtree(edges, ignore_errors=True)
            print(f"{engine.name} on the edge corpus, where it differs from Tantivy: {differences or 'nowhere'}")

    workdir = args.workdir / f"corpus-{args.messages}"
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    index_dir = build_index(workdir, args.messages)
    print(f"Tantivy index ready in {time.perf_counter() - started:.1f}s (0 when reused)")
    engines = available_engines()
    reference = {name: tantivy_result(index_dir, name) for name in QUERY_NAMES}
    tantivy_searcher = fields.open_index(index_dir).searcher()
    print(f"Tantivy documents: {tantivy_searcher.num_docs:,} (posts and file uploads)")
    print("tantivy ms: the same query through search.tantivy_backend (search_page with highlights, or all_hits)")
    tantivy_samples: dict[str, list[float]] = {}
    try:
        for engine in engines:
            engine.prepare(workdir, _events(args.messages))
            documents = getattr(engine, "documents", 0)
            build = getattr(engine, "build_seconds", {})
            print(
                f"\n{engine.name}: {documents:,} documents (posts and files); build "
                + ", ".join(f"{k} {v:.1f}s" for k, v in build.items())
            )
            print(f"{'query':<30} {'total':>8} {'tantivy':>8}  {'p50 / p95 ms':>14}  {'tantivy ms':>14}  notes")
            for name in QUERY_NAMES:
                run: Callable[[str], Result] = getattr(engine, "run")  # noqa: B009 - not in the Protocol
                mine, theirs = run(name), reference[name]
                notes = []
                if name == FACETS and mine.facets != theirs.facets:
                    differing = [k for k in mine.facets if mine.facets[k] != theirs.facets.get(k)]
                    notes.append(f"facets differ: {', '.join(differing)}")
                if [s for _i, s in mine.hits] != [s for _i, s in theirs.hits]:
                    notes.append("hit times differ")
                samples = timed(engine.query(name), args.runs)
                if name not in tantivy_samples:
                    tantivy_samples[name] = timed(partial(tantivy_result, index_dir, name), args.runs)
                print(
                    f"{name:<30} {mine.total:>8} {theirs.total:>8}  {_ms(samples):>14}  "
                    f"{_ms(tantivy_samples[name]):>14}  {'; '.join(notes)}"
                )
    finally:
        for engine in engines:
            engine.close()


if __name__ == "__main__":
    main()
