"""SHA-256 hash chains over canonical JSON, shared by the archive, the audit log and the
case ledger.

Each row stores the hash of its own canonical JSON and a chain hash over the previous row's
chain hash and its own, so changing, inserting or removing any row breaks every later link.

Chain version 2 links the hash of the row's *record* (:func:`record_hash`: every column a
decision reads, the content hash among them) instead of the content hash alone, so changing a
column kept beside the document (a room id, a time, an actor) breaks the link too. Rows of
version 1 (written before) link their content hash; their columns are checked against their
chained document instead (see ``adapters.archive`` and ``archive.audit``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic_core import from_json
from sqlalchemy import Connection, Table, select

GENESIS = "0" * 64
CHAIN_VERSION = 2
"""The version new rows are written with (the ``chain_version`` column)."""


# Exactly what json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# does, without building an encoder per call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(document: str | dict[str, object]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: the same document always gives the same bytes."""
    return _CANONICAL.encode(_decode(document) if isinstance(document, str) else document).encode()


def _decode(document: str) -> Any:
    """``json.loads(document)``, twice as fast: pydantic-core's parser builds the same values
    (big integers, floats, escapes included); what it refuses (a lone surrogate escape) is
    left to ``json.loads``, so the result never differs."""
    try:
        return from_json(document)
    except ValueError:
        return json.loads(document)


def content_hash(document: str | dict[str, object]) -> str:
    return hashlib.sha256(canonical_json(document)).hexdigest()


def event_payload_hash(payload: str) -> str:
    """:func:`content_hash` of a validated event's JSON, four times as fast.

    orjson's sorted, compact output is byte for byte what :func:`canonical_json` writes for
    any document without floats and without integers beyond 64 bits (orjson turns those into
    floats); an event can contain neither (no float fields, integers bounded by
    ``ingest.events.MAX_INTEGER``). ``verify`` recomputes every hash with :func:`content_hash`,
    so a difference could never pass unnoticed, and the tests compare both on generated events.
    """
    try:
        return hashlib.sha256(orjson.dumps(orjson.loads(payload), option=orjson.OPT_SORT_KEYS)).hexdigest()
    except orjson.JSONDecodeError:
        return content_hash(payload)  # what it refuses (a lone surrogate) is decided the exact way


def link_hash(previous: str, content: str) -> str:
    return hashlib.sha256(f"{previous}{content}".encode("ascii")).hexdigest()


RecordValue = str | int | bool | None


def record_hash(record: dict[str, RecordValue]) -> str:
    """The hash a version 2 link covers: the canonical JSON of a row's columns (strings,
    integers, booleans, None; times as microseconds since the epoch, see :func:`record_time`).

    Writer and verifier both call this function, so the fast path (orjson, which refuses a
    lone surrogate) and the exact one (:func:`canonical_json`) can never disagree on a row."""
    try:
        return hashlib.sha256(orjson.dumps(record, option=orjson.OPT_SORT_KEYS)).hexdigest()
    except TypeError:
        return content_hash(dict(record))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def record_time(value: datetime) -> int:
    """A time as it enters a record: the instant in microseconds since 1970-01-01 UTC (what
    both databases keep), whatever zone it was read in; years 1 to 9999 fit in 64 bits."""
    return (value - _EPOCH) // _MICROSECOND


@dataclass(frozen=True)
class ChainRow:
    position: int
    label: str
    """What a person needs to find the row (an event id, an audit entry id)."""
    document: str
    content_hash: str
    prev_hash: str
    chain_hash: str
    linked: str | None = None
    """What the link hashes when it is not ``content_hash`` (version 2: the record hash)."""


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad: ChainRow | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None


RowCheck = Callable[[ChainRow, bool], str | None]
"""A check of one row beyond its hashes (its columns against its document): the problem, or
None. The flag says whether the row is a recorded tombstone (its document is gone)."""


def shown(value: object) -> str:
    """A value as a problem sentence quotes it: its repr, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def column_disagreement(
    columns: Mapping[str, Any], said: Mapping[str, Any], names: Iterable[str], source: str
) -> str | None:
    """The first of ``names`` whose column differs from what the row's chained ``source``
    (its payload, its document) ``said``, as a sentence; None when all agree."""
    for name in names:
        if columns[name] != said[name]:
            return (
                f"its {name} column ({shown(columns[name])}) differs from its chained {source} "
                f"({shown(said[name])}): the column was changed"
            )
    return None


def verify_rows(
    rows: Iterable[ChainRow],
    disposed: Callable[[ChainRow], bool] | None = None,
    check: RowCheck | None = None,
) -> ChainReport:
    """Walk rows in chain order and name the first one whose content, columns or links do not
    hold.

    ``disposed``: whether a row whose content no longer matches its hash is a legitimately
    disposed one (retention replaced its content with a tombstone and a disposition record
    names it with that hash); its links are still checked. ``check``: see :data:`RowCheck`."""
    previous = GENESIS
    checked = 0
    for row in rows:
        tombstoned = False
        if content_hash(row.document) != row.content_hash:
            tombstoned = disposed is not None and disposed(row)
            if not tombstoned:
                return ChainReport(checked, row, "its content does not match its stored hash (the row was changed)")
        problem = check(row, tombstoned) if check is not None else None
        if problem is not None:
            return ChainReport(checked, row, problem)
        if row.prev_hash != previous:
            return ChainReport(checked, row, "it does not link to the row before it (a row was removed or inserted)")
        if link_hash(row.prev_hash, row.linked or row.content_hash) != row.chain_hash:
            return ChainReport(
                checked,
                row,
                "its chain hash is wrong (the chain was rewritten, or a column the chain covers was changed)",
            )
        previous = row.chain_hash
        checked += 1
    return ChainReport(checked)


def read_chain(connection: Connection, table: Table, *, position: str, label: str, document: str) -> Iterator[ChainRow]:
    """The rows of a chained ``table`` in chain order (columns named as in both chained tables:
    ``prev_hash``, ``chain_hash``, and ``payload_hash`` or ``content_hash``)."""
    columns = table.c
    content = columns.payload_hash if "payload_hash" in columns else columns.content_hash
    result = connection.execution_options(yield_per=5000).execute(
        select(
            columns[position], columns[label], columns[document], content, columns.prev_hash, columns.chain_hash
        ).order_by(columns[position])
    )
    for row in result:
        yield ChainRow(*row)
