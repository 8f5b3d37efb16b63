"""The words of a text exactly as the full-text index finds them, and where they were said.

A lexicon term must match a message when, and only when, the same query finds it in the index
(``search.tantivy_backend``): so the words here are the index's words. The index analyses
:func:`search.tantivy_schema.searchable` text with a regex tokenizer
(:data:`~search.tantivy_schema.TOKEN_PATTERN`), drops tokens over
:data:`~search.tantivy_schema.MAX_TOKEN_BYTES` (their positions stay taken), lower-cases and
ASCII-folds. Asking Tantivy for every message would cost more than the whole match (about 30 µs
a line for ``pre_tokenize``), so:

- the tokenizer is a Python regular expression over the same character classes, read from
  Tantivy itself once (``render_token_table`` probes every code point; the result is shipped in
  :mod:`supervision.token_table`, and a test fails when a Tantivy upgrade changes it);
- a token is lower-cased and folded by Tantivy's own analyzer the first time it is seen, then
  from a cache (ASCII text, most of it, is only lower-cased: folding leaves ASCII unchanged);
- offsets are computed only for the words a match reports, mapped back through the folding and
  composition onto the text as said (so ``text[start:end]`` is what a page highlights).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path
from typing import Final, cast

import tantivy

from search.tantivy_schema import (
    FLAG_RANGE,
    MAX_TOKEN_BYTES,
    SCRIPT_FOLDING,
    TOKEN_PATTERN,
    searchable,
    text_analyzer,
)
from supervision.token_table import SINGLE_RANGES, WORD_RANGES

Ranges = tuple[tuple[int, int], ...]
_ASTRAL: Final = 0x10000


def _class(ranges: Ranges) -> str:
    return "".join(
        re.escape(chr(first)) if first == last else f"{re.escape(chr(first))}-{re.escape(chr(last))}"
        for first, last in ranges
    )


def _token_regex(words: Ranges, singles: Ranges) -> re.Pattern[str]:
    """The index's tokenizer as a Python pattern. The classes are disjoint, so the order of the
    alternatives only matters for flags (a pair before a lone one). Characters past the BMP are
    behind a lookahead: the ``re`` module checks them range by range, and without it every
    space and punctuation mark would be tested against all of them."""
    astral = r"(?=[\U00010000-\U0010ffff])"
    word_bmp = _class(tuple(r for r in words if r[1] < _ASTRAL))
    word_astral = _class(tuple(r for r in words if r[0] >= _ASTRAL))
    single_bmp = _class(tuple(r for r in singles if r[1] < _ASTRAL))
    single_astral = _class(tuple(r for r in singles if r[0] >= _ASTRAL))
    flag = _class((FLAG_RANGE,))
    return re.compile(
        f"(?:[{word_bmp}]+|{astral}[{word_astral}]+)+|[{single_bmp}]"
        f"|{astral}(?:[{single_astral}]|[{flag}]{{2}}|[{flag}])"
    )


_TOKEN: Final = _token_regex(WORD_RANGES, SINGLE_RANGES)
_ASCII_TOKEN: Final = re.compile(r"[a-z0-9]+")
"""In ASCII text (lower-cased first) the words are runs of letters and digits: nothing else in
ASCII is Alphabetic or a Number, and no ASCII character is a CJK character or an emoji."""
_FOLDABLE: Final = re.compile("|".join(map(re.escape, sorted(SCRIPT_FOLDING, key=len, reverse=True))))
_FOLDED_CACHE_LIMIT: Final = 500_000
_ANALYZER: Final = text_analyzer()
_folded: dict[str, str | None] = {}


def _term(token: str) -> str | None:
    """The index term of one token (lower-cased, ASCII-folded), ``None`` when dropped as too long."""
    term = _folded.get(token, "")
    if term != "":
        return term
    if len(_folded) >= _FOLDED_CACHE_LIMIT:
        _folded.clear()
    terms = _ANALYZER.analyze(token)  # not text_terms: the token is searchable already, and
    found = terms[0] if terms else None  # folding twice is not folding once ("Е" + U+0308 is "Ё")
    _folded[token] = found
    return found


class Analysed:
    """One text's words: ``terms[i]`` is the word at position ``i`` (``None``: a token too long
    to index, which still takes its position). ``starts``/``ends`` (computed on first use) are
    each word's character offsets in the text as said."""

    __slots__ = ("_ends", "_positions", "_searchable", "_starts", "terms", "text")

    def __init__(self, text: str, searchable_text: str, terms: list[str | None]) -> None:
        self.text = text
        self.terms = terms
        self._searchable = searchable_text
        self._positions: dict[str, list[int]] | None = None
        self._starts: list[int] | None = None
        self._ends: list[int] | None = None

    @property
    def positions(self) -> dict[str, list[int]]:
        """Where each term occurs (positions, ascending)."""
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for position, term in enumerate(self.terms):
                if term is not None:
                    positions.setdefault(term, []).append(position)
            self._positions = positions
        return self._positions

    def _offsets(self) -> tuple[list[int], list[int]]:
        if self._starts is None or self._ends is None:
            spans = [match.span() for match in _TOKEN.finditer(self._searchable)]
            if self._searchable != self.text:
                first, last = _source_spans(self.text)
                spans = [(first[start], last[end - 1]) for start, end in spans]
            self._starts = [start for start, _ in spans]
            self._ends = [end for _, end in spans]
        return self._starts, self._ends

    @property
    def starts(self) -> list[int]:
        return self._offsets()[0]

    @property
    def ends(self) -> list[int]:
        return self._offsets()[1]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The offsets in the text as said of the words at positions ``first`` to ``last``."""
        starts, ends = self._offsets()
        return starts[first], ends[last]


def analyse(text: str) -> Analysed:
    """The words of ``text`` as the index's ``text`` field holds them, with their positions."""
    if text.isascii():
        tokens: list[str] = _ASCII_TOKEN.findall(text.lower())
        if len(text) > MAX_TOKEN_BYTES and max(map(len, tokens), default=0) > MAX_TOKEN_BYTES:
            return Analysed(text, text, [None if len(token) > MAX_TOKEN_BYTES else token for token in tokens])
        return Analysed(text, text, cast("list[str | None]", tokens))
    folded = searchable(text)
    return Analysed(text, folded, [_term(token) for token in _TOKEN.findall(folded)])


@functools.lru_cache(maxsize=4096)
def _starter(character: str) -> bool:
    """Whether ``character`` decomposes (NFD) to a starter first: U+0F73 has combining class 0
    but decomposes to two non-starters, which canonical ordering moves past the accents after
    it (``a`` U+0F73 U+0301 is ``á`` U+0F71 U+0F72), so it is no place to cut."""
    return unicodedata.combining(unicodedata.normalize("NFD", character)[0]) == 0


def _composition(source: str) -> tuple[list[int], list[int]]:
    """For each character of ``NFC(source)``: the offsets in ``source`` of the characters it was
    composed from (start, end). Normalization works between starters, so ``source`` is cut
    before every starter (decomposing to a starter first) that does not compose with what
    precedes it; when the pieces do not give the whole text back (it never happened in the
    tests), everything maps to the whole."""
    target = unicodedata.normalize("NFC", source)
    first: list[int] = []
    last: list[int] = []
    pieces: list[str] = []
    start = 0
    while start < len(source):
        end = start + 1
        while end < len(source):
            character = source[end]
            if _starter(character):
                before = unicodedata.normalize("NFC", source[start:end])
                if unicodedata.normalize("NFC", source[start : end + 1]) == before + unicodedata.normalize(
                    "NFC", character
                ):
                    break
            end += 1
        piece = unicodedata.normalize("NFC", source[start:end])
        pieces.append(piece)
        first += [start] * len(piece)
        last += [end] * len(piece)
        start = end
    if "".join(pieces) != target:
        return [0] * len(target), [len(source)] * len(target)
    return first, last


def nfc_spans(text: str) -> tuple[str, list[int], list[int]] | None:
    """``NFC(text)`` and, for each of its characters, the offsets in ``text`` of the characters
    it was composed from (start, end); ``None`` when ``text`` is in NFC already."""
    if text.isascii() or unicodedata.is_normalized("NFC", text):
        return None
    first, last = _composition(text)
    return unicodedata.normalize("NFC", text), first, last


def _folding(composed: str) -> tuple[str, list[int], list[int]]:
    """``composed`` with the script folding of :func:`searchable` (before its final NFC), and for
    each folded character the offsets of the characters it replaces."""
    pieces: list[str] = []
    first: list[int] = []
    last: list[int] = []
    position = 0
    for match in _FOLDABLE.finditer(composed):
        pieces.append(composed[position : match.start()])
        first += range(position, match.start())
        last += range(position + 1, match.start() + 1)
        replacement = SCRIPT_FOLDING[match.group()]
        pieces.append(replacement)
        first += [match.start()] * len(replacement)
        last += [match.end()] * len(replacement)
        position = match.end()
    pieces.append(composed[position:])
    first += range(position, len(composed))
    last += range(position + 1, len(composed) + 1)
    return "".join(pieces), first, last


def _source_spans(text: str) -> tuple[list[int], list[int]]:
    """For each character of ``searchable(text)``: the offsets in ``text`` of what it stands for."""
    composed = unicodedata.normalize("NFC", text)
    to_text = _composition(text) if composed != text else None
    folded, folded_first, folded_last = _folding(composed)
    final = unicodedata.normalize("NFC", folded)
    to_folded = _composition(folded) if final != folded else None
    first: list[int] = []
    last: list[int] = []
    for index in range(len(final)):
        start, end = (to_folded[0][index], to_folded[1][index]) if to_folded else (index, index + 1)
        start, end = folded_first[start], folded_last[end - 1]
        if to_text is not None:
            start, end = to_text[0][start], to_text[1][end - 1]
        first.append(start)
        last.append(end)
    return first, last


# --- the character table (read from Tantivy, shipped in supervision/token_table.py) ----------

_TABLE_PATH: Final = Path(__file__).with_name("token_table.py")


def probe_token_classes() -> tuple[Ranges, Ranges]:
    """The code points Tantivy's tokenizer joins into words, and those it makes a word each (CJK,
    emoji, skin tones), as ranges; regional indicators (flags, a pair a word) are left out. Every
    code point is written twice between spaces: a word character gives one two-character
    token, a single one two tokens, any other none."""
    tokenizer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(TOKEN_PATTERN)).build()
    kinds = bytearray(0x110000)
    code_points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    chunk = 50_000
    for index in range(0, len(code_points), chunk):
        batch = code_points[index : index + chunk]
        probe = " ".join(chr(c) * 2 for c in batch)
        for token in tokenizer.pre_tokenize(probe).tokens:
            start, end = token.char_offset_from, token.char_offset_to
            code = batch[start // 3]
            kinds[code] = 1 if end - start == 2 else 2
    for code in range(FLAG_RANGE[0], FLAG_RANGE[1] + 1):
        kinds[code] = 0
    return _runs(kinds, 1), _runs(kinds, 2)


def _runs(kinds: bytearray, kind: int) -> Ranges:
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for code in range(len(kinds) + 1):
        inside = code < len(kinds) and kinds[code] == kind
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            runs.append((start, code - 1))
            start = None
    return tuple(runs)


def render_token_table() -> str:
    """The source of :mod:`supervision.token_table` for the installed Tantivy."""
    words, singles = probe_token_classes()

    def listing(ranges: Ranges) -> str:
        return "".join(f"    (0x{first:X}, 0x{last:X}),\n" for first, last in ranges)

    return (
        '"""Generated by ``supervision.analysis.write_token_table()`` from Tantivy\'s tokenizer (do not edit).\n\n'
        "WORD_RANGES: code points that join into words (letters and digits but CJK); SINGLE_RANGES:\n"
        'code points that are a word each (CJK characters, emoji, skin tones); flags apart."""\n\n'
        f"WORD_RANGES: tuple[tuple[int, int], ...] = (\n{listing(words)})\n"
        f"SINGLE_RANGES: tuple[tuple[int, int], ...] = (\n{listing(singles)})\n"
    )


def write_token_table() -> None:
    _TABLE_PATH.write_text(render_token_table(), encoding="utf-8")
