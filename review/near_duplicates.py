"""Near-duplicate groups of a review set: MinHash signatures, banded LSH, verified pairs, groups.

**What is compared.** A message document: its message's text as archived now (after its edits).
A conversation slice: the texts of its messages, one per line (never the headers, names or
times, which differ between every two documents). An attachment: its extracted text, when it has
one (the first :data:`MAX_TEXT_CHARS` characters). The text is normalised (:func:`normalise`):
Unicode NFKC, case folded, every run of characters that are not letters or digits (punctuation,
symbols, emoji, whitespace) made one space. A document whose normalised text is shorter than
:data:`MIN_CHARS` characters ("ok", "thanks!", a link alone) is never grouped: short chat
lines are the same everywhere, and grouping them says nothing.

**Similarity.** The Jaccard similarity of two texts' sets of character 5-grams (shingles),
estimated by MinHash with :data:`NUM_PERM` permutations: the fraction of equal signature
values. The signatures are datasketch's (``MinHash(num_perm, seed, scheme="affine32")`` with a
polynomial hash of each shingle's code points (:func:`shingle_hash`); the permutations are
taken from datasketch), computed for a batch of texts at once with numpy instead of one object and
one Python call per shingle (the tests check them value for value against datasketch's).

**Grouping.** Candidate pairs come from LSH banding: :data:`BANDS` bands of :data:`ROWS`
values; two documents whose values agree on a whole band share a bucket. In each bucket every
member is paired with the bucket's first member and with the member before it (never every
pair: a bucket of 10,000 copies of one text makes 20,000 pairs, not 50 million). A pair is kept
when its estimated similarity is at least the threshold; groups are the connected components of
the kept pairs (union of verified candidates). The bands do not depend on the threshold, so a
higher threshold keeps a subset of the pairs and its groups split those of a lower one. With 25
bands of 5 a pair of similarity 0.3 is a candidate with probability 0.06, 0.5: 0.55, 0.6: 0.87,
0.7: 0.990, 0.8: 0.99995 (``1 - (1 - s**5)**25``); thresholds below :data:`MIN_THRESHOLD` are
refused, and below 0.7 a group chains unrelated documents on a large set (measured).

**Pivot.** The member with the most kept pairs (ties: the first in the set's order); each
member's ``dup_similarity`` is its estimated similarity to the pivot (the pivot's is 1.0; a member
joined through another member may be below the threshold). ``dup_group`` is the pivot's document
key: the group's name, and the pivot is the member whose key it is.

**Storage.** A run replaces the set's previous grouping in one transaction (cleared, then the
new groups written), so a reader sees the old grouping or the new one, never a mix.

**Scale.** Documents are read in pages of :data:`PAGE` (keyset on the set's position), their
texts fetched per page, and only the signatures are kept: ``NUM_PERM`` 32-bit values per
eligible document (51 MB for 100,000). docs/near-duplicates.md has the measurements.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from datasketch import MinHash
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Connection, Engine, Update, and_, bindparam, func, select, update

from archive import attachments, audit, queries
from archive.file_store import FileMissing, FileStore, FileStoreError
from archive.principals import Principal
from exports.documents import parse_document_key
from review.schema import review_documents, review_sets

NUM_PERM = 128
BANDS = 25
ROWS = 5
"""25 bands of 5 values (125 of the 128; the verification compares all 128): measured against
32 of 4 and 21 of 6 in docs/near-duplicates.md."""
SHINGLE = 5
"""Characters per shingle."""
MIN_CHARS = 25
"""Normalised texts shorter than this are not grouped."""
MIN_THRESHOLD = 0.5
DEFAULT_THRESHOLD = 0.7
"""Chosen from the measurements in docs/near-duplicates.md (best pairwise F1 on the generated corpus)."""
SEED = 1
MAX_TEXT_CHARS = 200_000
"""Of a long text (a busy day's conversation, an attachment) only the start is compared."""
PAGE = 2000
SIGN_CHARS = 1 << 20
"""Characters signed at once (their code points and window hashes: about 20 MB)."""
_CHUNK = 1 << 13
"""Shingles hashed through the permutations at once (a 4 MB matrix)."""
_PAIRS_CHUNK = 1 << 15
_MULTIPLIER = 0x01000193  # FNV's 32-bit prime: odd, so no window's last character is lost
_NOT_WORD = re.compile(r"[\W_]+")
_MAX32 = np.uint32(0xFFFFFFFF)

Signatures = npt.NDArray[np.uint32]
Indexes = npt.NDArray[np.int64]


class DuplicatesRefused(ValueError):
    """A request the grouping cannot honour (a threshold out of range)."""


class ReviewSetMissing(LookupError):
    """No review set of that id."""


# --- text ----------------------------------------------------------------------------------------


def normalise(text: str) -> str:
    """NFKC, case folded, every run of non-letters and non-digits one space, trimmed."""
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", text[:MAX_TEXT_CHARS]).casefold()).strip()


def shingles(normalised: str) -> set[str]:
    """The character :data:`SHINGLE`-grams of a normalised text (the text itself when shorter)."""
    if len(normalised) <= SHINGLE:
        return {normalised}
    return {normalised[i : i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}


def shingle_hash(shingle: str) -> int:
    """The 32-bit hash of a shingle: the polynomial of its code points modulo 2**32
    (``h = h * M + ord(c)`` for each character), what datasketch's ``hashfunc`` is given in the
    tests. :meth:`Signer.sign` computes the same values for every window of a text at once."""
    value = 0
    for character in shingle:
        value = (value * _MULTIPLIER + ord(character)) & 0xFFFFFFFF
    return value


def eligible(normalised: str, min_chars: int = MIN_CHARS) -> bool:
    return len(normalised) >= min_chars


# --- signatures ----------------------------------------------------------------------------------


def _fmix32(values: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint32]:
    """MurmurHash3's 32-bit finaliser, as datasketch's affine32 scheme pre-mixes each hash."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return cast(npt.NDArray[np.uint32], values ^ (values >> np.uint32(16)))


class Signer:
    """MinHash signatures of many texts at once (datasketch's affine32 permutations for ``seed``)."""

    def __init__(self, num_perm: int = NUM_PERM, seed: int = SEED) -> None:
        permutations = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
        self.a = np.asarray(permutations[0], dtype=np.uint32)
        self.b = np.asarray(permutations[1], dtype=np.uint32)
        self.num_perm = num_perm

    def sign(self, normalised_texts: Sequence[str]) -> Signatures:
        """One row of ``num_perm`` values per text (texts already normalised, none empty), in
        batches of at most :data:`SIGN_CHARS` characters (the batch's hashes are held, not all)."""
        blocks: list[Signatures] = []
        batch: list[str] = []
        size = 0
        for text in normalised_texts:
            if batch and size + len(text) > SIGN_CHARS:
                blocks.append(self._sign(batch))
                batch, size = [], 0
            batch.append(text)
            size += len(text)
        blocks.append(self._sign(batch))
        return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]

    def _sign(self, texts: Sequence[str]) -> Signatures:
        out = np.full((len(texts), self.num_perm), _MAX32, dtype=np.uint32)
        if not texts:
            return out
        values, owner = window_hashes(texts)
        values = _fmix32(values)
        a = self.a[:, None]
        b = self.b[:, None]
        with np.errstate(over="ignore"):
            for start in range(0, len(values), _CHUNK):
                own = owner[start : start + _CHUNK]
                # One column per shingle: the minimum runs along contiguous rows (5x faster than columns).
                permuted = a * values[None, start : start + _CHUNK] + b  # wraps: mod 2**32
                firsts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
                smallest = np.minimum.reduceat(permuted, firsts, axis=1).T
                rows = own[firsts]
                out[rows] = np.minimum(out[rows], smallest)
        return out


def window_hashes(texts: Sequence[str]) -> tuple[npt.NDArray[np.uint32], Indexes]:
    """:func:`shingle_hash` of every :data:`SHINGLE`-character window of each text (a shorter
    text: of the whole text), with the index of the text it belongs to. A window repeated in a
    text is hashed again: the minimum of a multiset is the minimum of its set."""
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    points = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    starts = np.cumsum(lengths) - lengths
    windows = np.maximum(lengths - SHINGLE + 1, 0)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), windows)
    first = np.cumsum(windows) - windows
    at = np.arange(int(windows.sum()), dtype=np.int64) - np.repeat(first - starts, windows)
    values = np.zeros(len(at), dtype=np.uint32)
    multiplier = np.uint32(_MULTIPLIER)
    with np.errstate(over="ignore"):
        for offset in range(SHINGLE):
            values = values * multiplier + points[at + offset]
    short = np.flatnonzero(windows == 0)
    if len(short):
        values = np.concatenate([values, np.asarray([shingle_hash(texts[i]) for i in short.tolist()], dtype=np.uint32)])
        owner = np.concatenate([owner, short.astype(np.int64)])
        order = np.argsort(owner, kind="stable")
        values, owner = values[order], owner[order]
    return values, owner


# --- grouping ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grouping:
    """For each document (by index): its group's pivot index (-1: in no group) and its estimated
    similarity to that pivot (0.0 when in no group)."""

    pivot: npt.NDArray[np.int64]
    similarity: npt.NDArray[np.float64]

    def groups(self) -> dict[int, list[int]]:
        """Pivot index -> member indexes (the pivot first, then in index order)."""
        found: dict[int, list[int]] = {}
        for index in np.flatnonzero(self.pivot >= 0).tolist():
            found.setdefault(int(self.pivot[index]), []).append(index)
        return {p: sorted(members, key=lambda m: (m != p, m)) for p, members in found.items()}


def check_threshold(threshold: float) -> float:
    if not MIN_THRESHOLD <= threshold <= 1.0:
        raise DuplicatesRefused(f"the similarity threshold must be between {MIN_THRESHOLD} and 1.0, not {threshold}")
    return threshold


def candidate_pairs(signatures: Signatures, bands: int = BANDS, rows: int = ROWS) -> npt.NDArray[np.int64]:
    """Unique ``(low, high)`` index pairs sharing a band bucket (see the module doc), shape (n, 2)."""
    count = len(signatures)
    found: list[npt.NDArray[np.int64]] = []
    positions = np.arange(count, dtype=np.int64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            values = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
            key = values[:, 0]
            for column in range(1, rows):
                key = (key * np.uint64(0x9E3779B97F4A7C15)) ^ values[:, column]  # collisions are verified anyway
            order = np.argsort(key, kind="stable")
            ordered = key[order]
            starts = np.r_[True, ordered[1:] != ordered[:-1]]
            if starts.all():
                continue
            anchor = np.maximum.accumulate(np.where(starts, positions, 0))
            follower = np.flatnonzero(~starts)
            previous = follower - 1
            found.append(np.stack([order[anchor[follower]], order[follower]], axis=1))
            later = previous != anchor[follower]
            found.append(np.stack([order[previous[later]], order[follower[later]]], axis=1))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs.sort(axis=1)
    codes = np.unique(pairs[:, 0] * count + pairs[:, 1])
    return np.stack([codes // count, codes % count], axis=1)


def _agreement(
    signatures: Signatures, left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """How many signature values each pair shares."""
    out = np.empty(len(left), dtype=np.int64)
    for start in range(0, len(left), _PAIRS_CHUNK):
        end = start + _PAIRS_CHUNK
        out[start:end] = (signatures[left[start:end]] == signatures[right[start:end]]).sum(axis=1)
    return out


def group(signatures: Signatures, threshold: float, *, bands: int = BANDS, rows: int = ROWS) -> Grouping:
    """Group documents whose signatures are near-duplicates at ``threshold`` (see the module doc;
    ``bands`` of ``rows`` values: other LSH bands, for the benchmark)."""
    check_threshold(threshold)
    count = len(signatures)
    num_perm = signatures.shape[1] if signatures.ndim == 2 else NUM_PERM
    pivot = np.full(count, -1, dtype=np.int64)
    similarity = np.zeros(count, dtype=np.float64)
    pairs = candidate_pairs(signatures, bands, rows)
    if len(pairs):
        agree = _agreement(signatures, pairs[:, 0], pairs[:, 1])
        needed = int(np.ceil(threshold * num_perm - 1e-9))
        pairs = pairs[agree >= needed]
    if not len(pairs):
        return Grouping(pivot, similarity)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(count, count))
    _, labels = connected_components(graph, directed=False)
    sizes = np.bincount(labels)
    grouped = sizes[labels] >= 2
    degree = np.bincount(pairs.ravel(), minlength=count)
    members = np.flatnonzero(grouped)
    # The pivot of each component: the most pairs, then the lowest index.
    order = np.lexsort((members, -degree[members], labels[members]))
    ranked = members[order]
    firsts = np.r_[True, labels[ranked[1:]] != labels[ranked[:-1]]]
    pivot_of_label = np.full(len(sizes), -1, dtype=np.int64)
    pivot_of_label[labels[ranked[firsts]]] = ranked[firsts]
    pivot[members] = pivot_of_label[labels[members]]
    similarity[members] = _agreement(signatures, members, pivot[members]) / num_perm
    return Grouping(pivot, similarity)


def group_texts(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD, *, min_chars: int = MIN_CHARS, seed: int = SEED
) -> Grouping:
    """Group raw texts (tests, the benchmark): too-short texts are in no group."""
    normalised = [normalise(t) for t in texts]
    kept = [i for i, text in enumerate(normalised) if eligible(text, min_chars)]
    signatures = Signer(seed=seed).sign([normalised[i] for i in kept])
    inner = group(signatures, threshold)
    index = np.asarray(kept, dtype=np.int64)
    pivot = np.full(len(texts), -1, dtype=np.int64)
    similarity = np.zeros(len(texts), dtype=np.float64)
    if len(index):
        found = inner.pivot >= 0
        pivot[index[found]] = index[inner.pivot[found]]
        similarity[index] = inner.similarity
    return Grouping(pivot, similarity)


# --- a review set --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DuplicateRun:
    """What one computation did."""

    review_set_id: str
    threshold: float
    documents: int
    compared: int
    """Documents with enough text to be compared."""
    groups: int
    grouped: int
    seconds: float
    computed_at: datetime


@dataclass(frozen=True)
class _Row:
    doc_key: str
    kind: str
    message_ids: list[str]


def review_set_case(engine: Engine, review_set_id: str) -> str:
    """The case of the set (ReviewSetMissing when there is no such set)."""
    with engine.connect() as connection:
        case_id = connection.scalar(select(review_sets.c.case_id).where(review_sets.c.id == review_set_id))
    if case_id is None:
        raise ReviewSetMissing(f"no review set {review_set_id!r}")
    return str(case_id)


def _pages(engine: Engine, review_set_id: str) -> Iterator[tuple[Connection, list[_Row]]]:
    """The set's documents in its order, :data:`PAGE` at a time (keyset on position)."""
    columns = review_documents.c
    after: int | None = None
    while True:
        query = select(columns.position, columns.doc_key, columns.kind, columns.message_ids).where(
            columns.review_set_id == review_set_id
        )
        if after is not None:
            query = query.where(columns.position > after)
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(columns.position).limit(PAGE)).all()
            if not rows:
                return
            after = int(rows[-1].position)
            yield connection, [_Row(r.doc_key, r.kind, list(r.message_ids or [])) for r in rows]


def _size(engine: Engine, review_set_id: str) -> int:
    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count()).select_from(review_documents).where(review_documents.c.review_set_id == review_set_id)
        )
    return int(count or 0)


def _texts(connection: Connection, rows: Sequence[_Row], files: FileStore | None) -> list[str]:
    """The compared text of each row (see the module doc), "" when it has none."""
    messages = queries.message_texts(
        connection, [m for row in rows if row.kind != "attachment" for m in row.message_ids]
    )
    uploads: dict[str, str] = {}
    for row in rows:
        if row.kind == "attachment":
            uploads[row.doc_key] = parse_document_key(row.doc_key)[1]
    extracted = attachments.texts_for(connection, list(uploads.values())) if uploads and files is not None else {}
    out: list[str] = []
    for row in rows:
        if row.kind == "attachment":
            found = extracted.get(uploads[row.doc_key])
            out.append(_file_text(files, found.text_sha256) if files is not None and found is not None else "")
        else:
            out.append("\n".join(messages[m] for m in row.message_ids if m in messages))
    return out


def _file_text(files: FileStore, text_sha256: str | None) -> str:
    if text_sha256 is None:
        return ""
    try:
        with files.open(text_sha256) as source:
            head = source.read(MAX_TEXT_CHARS * 4)
    except (FileMissing, FileStoreError, OSError):
        return ""
    return head.decode("utf-8", "ignore")


def compute(
    engine: Engine,
    review_set_id: str,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    files: FileStore | None = None,
    min_chars: int = MIN_CHARS,
    seed: int = SEED,
) -> DuplicateRun:
    """Group the set's near-duplicates and store the grouping, replacing the previous one
    atomically (ReviewSetMissing, DuplicatesRefused). ``files``: where attachments' extracted
    texts are (None: attachments are not compared)."""
    check_threshold(threshold)
    review_set_case(engine, review_set_id)
    began = time.perf_counter()
    signer = Signer(seed=seed)
    keys: list[str] = []
    # Filled page by page (never a list of pages joined at the end: that held them twice).
    signatures = np.empty((_size(engine, review_set_id), NUM_PERM), dtype=np.uint32)
    documents = 0
    for connection, rows in _pages(engine, review_set_id):
        documents += len(rows)
        normalised = [normalise(text) for text in _texts(connection, rows, files)]
        kept = [i for i, text in enumerate(normalised) if eligible(text, min_chars)]
        if len(keys) + len(kept) > len(signatures):  # documents added while it ran
            signatures = np.concatenate([signatures, np.empty((len(kept), NUM_PERM), dtype=np.uint32)])
        signatures[len(keys) : len(keys) + len(kept)] = signer.sign([normalised[i] for i in kept])
        keys.extend(rows[i].doc_key for i in kept)
    grouping = group(signatures[: len(keys)], threshold)
    members = np.flatnonzero(grouping.pivot >= 0).tolist()
    values = [
        {
            "set_id": review_set_id,
            "key": keys[i],
            "group": keys[int(grouping.pivot[i])],
            "similarity": float(grouping.similarity[i]),
        }
        for i in members
    ]
    _store(engine, review_set_id, values)
    return DuplicateRun(
        review_set_id=review_set_id,
        threshold=threshold,
        documents=documents,
        compared=len(keys),
        groups=len({v["group"] for v in values}),
        grouped=len(values),
        seconds=time.perf_counter() - began,
        computed_at=datetime.now(UTC),
    )


def _store(engine: Engine, review_set_id: str, values: list[dict[str, Any]]) -> None:
    """Replace the set's grouping with ``values`` in one transaction."""
    columns = review_documents.c
    clear = (
        update(review_documents)
        .where(columns.review_set_id == review_set_id, columns.dup_group.is_not(None))
        .values(dup_group=None, dup_similarity=None)
    )
    assign = (
        update(review_documents)
        .where(columns.review_set_id == bindparam("set_id"), columns.doc_key == bindparam("key"))
        .values(dup_group=bindparam("group"), dup_similarity=bindparam("similarity"))
    )
    with engine.begin() as connection:
        connection.execute(clear)
        for start in range(0, len(values), 1000):
            _assign(connection, assign, values[start : start + 1000])


def _assign(connection: Connection, statement: Update, batch: list[dict[str, Any]]) -> None:
    connection.execute(statement, batch)


# --- reading the groups --------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    doc_key: str
    kind: str
    position: int
    summary: str
    similarity: float
    pivot: bool


@dataclass(frozen=True)
class DuplicateGroup:
    group: str
    """The pivot's document key."""
    size: int
    members: list[Member]
    """The pivot first, then the others in the set's order (at most the ``members`` asked for)."""


@dataclass(frozen=True)
class GroupPage:
    groups: list[DuplicateGroup]
    total_groups: int
    grouped: int


def _members(connection: Connection, review_set_id: str, names: Iterable[str], limit: int) -> dict[str, list[Member]]:
    columns = review_documents.c
    found: dict[str, list[Member]] = {}
    for name in names:
        rows = connection.execute(
            select(columns.doc_key, columns.kind, columns.position, columns.summary, columns.dup_similarity)
            .where(columns.review_set_id == review_set_id, columns.dup_group == name)
            .order_by(columns.doc_key != name, columns.position)
            .limit(limit)
        )
        found[name] = [
            Member(r.doc_key, r.kind, int(r.position), r.summary, float(r.dup_similarity or 0.0), r.doc_key == name)
            for r in rows
        ]
    return found


def groups(engine: Engine, review_set_id: str, *, limit: int = 50, offset: int = 0, members: int = 100) -> GroupPage:
    """The set's groups, largest first (then by pivot key), each with up to ``members`` members."""
    review_set_case(engine, review_set_id)
    columns = review_documents.c
    in_set = and_(columns.review_set_id == review_set_id, columns.dup_group.is_not(None))
    size = func.count().label("size")
    with engine.connect() as connection:
        totals = connection.execute(
            select(func.count(func.distinct(columns.dup_group)), func.count()).where(in_set)
        ).one()
        rows = connection.execute(
            select(columns.dup_group, size)
            .where(in_set)
            .group_by(columns.dup_group)
            .order_by(size.desc(), columns.dup_group)
            .limit(limit)
            .offset(offset)
        ).all()
        listed = _members(connection, review_set_id, [r.dup_group for r in rows], members)
    return GroupPage(
        groups=[DuplicateGroup(r.dup_group, int(r.size), listed[r.dup_group]) for r in rows],
        total_groups=int(totals[0]),
        grouped=int(totals[1]),
    )


def group_of(engine: Engine, review_set_id: str, doc_key: str, *, members: int = 100) -> DuplicateGroup | None:
    """The group of one document (None when it is in none); LookupError when the set has no such document."""
    review_set_case(engine, review_set_id)
    columns = review_documents.c
    with engine.connect() as connection:
        row = connection.execute(
            select(columns.dup_group).where(columns.review_set_id == review_set_id, columns.doc_key == doc_key)
        ).first()
        if row is None:
            raise ReviewSetMissing(f"review set {review_set_id!r} has no document {doc_key!r}")
        if row.dup_group is None:
            return None
        size = connection.scalar(
            select(func.count()).where(columns.review_set_id == review_set_id, columns.dup_group == row.dup_group)
        )
        listed = _members(connection, review_set_id, [row.dup_group], members)
    return DuplicateGroup(row.dup_group, int(size or 0), listed[row.dup_group])


def summary(engine: Engine, review_set_id: str) -> dict[str, int]:
    """How many groups the set has and how many documents are in one."""
    columns = review_documents.c
    with engine.connect() as connection:
        found = connection.execute(
            select(func.count(func.distinct(columns.dup_group)), func.count(columns.dup_group)).where(
                columns.review_set_id == review_set_id
            )
        ).one()
    return {"groups": int(found[0]), "grouped": int(found[1])}


def compute_audited(
    engine: Engine,
    caller: Principal,
    review_set_id: str,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    files: FileStore | None = None,
) -> DuplicateRun:
    """:func:`compute`, then one audit entry ``review_near_duplicates`` with the set's grouping
    before and after (counts) and the run's threshold and figures."""
    case_id = review_set_case(engine, review_set_id)
    before = summary(engine, review_set_id)
    run = compute(engine, review_set_id, threshold=threshold, files=files)
    audit.record(
        engine,
        caller,
        "review_near_duplicates",
        {
            "case_id": case_id,
            "review_set_id": review_set_id,
            "threshold": threshold,
            "before": before,
            "after": {"groups": run.groups, "grouped": run.grouped},
            "documents": run.documents,
            "compared": run.compared,
            "seconds": round(run.seconds, 3),
        },
    )
    return run
