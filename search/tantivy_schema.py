"""The embedded full-text index: its schema, its analyzers and how to open it.

One place for everything the writer (the ``index`` adapter) and the reader (the Tantivy search
backend) must agree on. Always open the index through :func:`open_index`: Tantivy keeps only
the *names* of custom analyzers in the index, so every process must register them again.

Analysis
--------
``text`` (and any field declared with ``tokenizer_name=TEXT_ANALYZER`` whose value goes
through :func:`searchable`) uses ``archivist_text_v2``, in two steps (``sender_name`` and
``room_name`` use the analyzer on their composed form only: no query searches them, and the
stored name must stay as given, see ``adapters.index_adapter``):

1. :func:`searchable` (Python, the one place): Unicode NFC, then the folding of scripts whose
   spelling varies: Arabic as Lucene's ``ArabicNormalizationFilter`` (tashkeel/harakat and
   tatweel removed; alef with hamza or madda to alef, alef maksura to yeh, teh marbuta to
   heh), Hebrew without niqqud and cantillation marks, Greek without accents (tonos,
   dialytika, polytonic marks) and final sigma as sigma, Russian io as ie (U+0451 as U+0435),
   half-width katakana as full-width (``ﾃｽﾄ`` is ``テスト``). A composed (macOS sends ``e`` +
   U+0301) and a folded text are canonically what was said; when the original differs from
   its searchable form, its exact characters are stored in ``text_original`` (see
   :func:`exact_text`) and highlights are mapped back onto it.
2. The Tantivy analyzer (:data:`TOKEN_PATTERN`, a regex tokenizer, then lower-case and ASCII
   folding): letters and digits form words as Tantivy's simple tokenizer made them (``Café``,
   ``CAFÉ`` and ``cafe`` are one term, ``Straße`` is ``strasse``); every Chinese, Japanese
   (kanji, kana) and Korean (hangul) character is a word of its own, so a CJK word is searched
   as a phrase of its characters: ``東京`` finds ``東京の取引``, exactly where the characters
   follow each other (see docs/search.md for why this, not Lucene's bigrams or a dictionary
   segmenter: measured with ``bench/cjk_analysis.py``); every emoji is a word, a skin tone is
   a word after its emoji (``👍`` finds every thumbs-up, ``👍🏽`` only that tone), a ZWJ sequence
   is its emoji in a row (``👨‍👩‍👧`` finds the family, ``👩`` too), a flag is one word. Tokens
   over 255 bytes are dropped (base64 blobs), which still keeps hashes and commit ids findable.

An index built with the analyzer of before (``archivist_text``) does not open: it raises
:class:`IndexSchemaMismatch` and ``archivist reindex`` rebuilds it.

URLs, @mentions and #hashtags are also indexed whole, in the keyword fields ``urls``,
``mentions`` and ``hashtags`` with ``archivist_keyword`` (no splitting; lower-case and ASCII
folding only), so ``@kleedrac``, ``#media`` and ``http://gsvn.tigris.org/`` match exactly
instead of as loose word sequences. Mentions and hashtags are indexed without their sigil
(``kleedrac``, ``media``), as the event contract derives them. Build term queries on these
fields with :func:`fold_keyword`; URL prefixes work with ``Query.regex_query`` on ``urls``.
Their words are in ``text`` too, so a plain ``kleedrac`` or ``tigris`` also finds them.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Final

import tantivy

TEXT_ANALYZER: Final = "archivist_text_v2"
"""Scripts-aware analysis (issue 17); ``archivist_text`` was the simple tokenizer of before. A
field declared with it is given ``searchable(value)`` (Tantivy runs no Python at index time, so
the script folding happens there) and is queried with ``text_terms(words)``."""
OLD_TEXT_ANALYZERS: Final = ("archivist_text",)
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

# Uploaded files (documents ``file:<event_id>``; see ``adapters.index_adapter``).
FILE_NAME: Final = "file_name"
"""The file's name, analysed as ``text`` (``file:``)."""
FILE_TYPE: Final = "file_type"
"""The file's type, one raw lower-case word: its name's extension, else from its content type
(``pdf``, ``docx``, ``png``; ``filetype:``)."""
ATTACHMENT: Final = "attachment"
"""The text extracted from the file (a ``file_text`` event), analysed and stored as ``text`` (in
its searchable form), at most its first :data:`MAX_ATTACHMENT_CHARS` characters. Plain words
search it with the message text; ``attachment:`` searches it alone."""
FILE_INFO: Final = "file_info"
"""Stored only: the file's size, SHA-256, content type and extraction state, as JSON."""
MAX_ATTACHMENT_CHARS: Final = 1_000_000
"""How much of an extracted text is indexed (and stored for excerpts): its first million
characters. The whole text stays in the file store; a word past this point is not found."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def build_schema(*, fast_message_id: bool = True) -> tantivy.Schema:
    """The index's fields. ``fast_message_id=False`` is the layout with message ids that are not a
    fast field, as before 2026-11-24: it still opens and works, and an export reads its message
    ids from the stored documents instead. Indexes built before every version of a message was
    indexed (``history``, 2026-12-06) or before attachment text was (``attachment``, issue 18)
    do not open: :func:`open_index` asks for `archivist reindex`."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(MESSAGE_ID, stored=True, fast=fast_message_id, tokenizer_name=EXACT)
    for name in (EVENT_ID, EDIT_EVENT_IDS):
        builder.add_text_field(name, stored=True, tokenizer_name=EXACT)
    for name in (TYPE, SENDER_ID, ROOM_ID):
        builder.add_text_field(name, stored=True, fast=True, tokenizer_name=EXACT)
    for name in (TEXT, SENDER_NAME, ROOM_NAME, FILE_NAME, ATTACHMENT):
        builder.add_text_field(name, stored=True, tokenizer_name=TEXT_ANALYZER)
    builder.add_text_field(FILE_TYPE, stored=True, tokenizer_name=EXACT)
    builder.add_bytes_field(FILE_INFO, stored=True)  # JSON, stored only
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


# Character ranges of the analysis, written once for Tantivy (Rust regex) and Elasticsearch (Java).
CJK_RANGES: Final = (
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3041, 0x309F),  # Hiragana
    (0x30A1, 0x30FA),  # Katakana (without ゠ and the middle dot)
    (0x30FC, 0x30FF),  # ー and the katakana iteration marks
    (0x3131, 0x318E),  # Hangul compatibility Jamo
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK Extension A
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0xA960, 0xA97F),  # Hangul Jamo Extended-A
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xD7B0, 0xD7FF),  # Hangul Jamo Extended-B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK Extensions B to H
)
EMOJI_RANGES: Final = (
    (0x2300, 0x23FF),  # Miscellaneous Technical (⌚ ⏰)
    (0x2600, 0x27BF),  # Miscellaneous Symbols, Dingbats (☀ ✅ ❤)
    (0x2B00, 0x2BFF),  # Miscellaneous Symbols and Arrows (⭐ ⬛)
    (0x1F000, 0x1F1E5),  # Mahjong, dominoes, cards, enclosed alphanumerics
    (0x1F200, 0x1F3FA),  # Enclosed ideographs, Miscellaneous Symbols and Pictographs
    (0x1F400, 0x1FAFF),  # ... Emoticons, Transport, Supplemental Symbols, Symbols Extended-A
)
FLAG_RANGE: Final = (0x1F1E6, 0x1F1FF)
"""Regional indicators: a pair is a flag (one word)."""
SKIN_TONE_RANGE: Final = (0x1F3FB, 0x1F3FF)


def _ranges(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(f"\\x{{{start:X}}}-\\x{{{end:X}}}" for start, end in ranges)


def token_pattern(dialect: str = "rust") -> str:
    """The regular expression whose matches are the words of ``text`` (before lower-casing and
    ASCII folding): a flag, a lone regional indicator or skin tone, an emoji, a CJK character,
    or a run of letters and digits (Unicode Alphabetic or Number, as Tantivy's simple
    tokenizer), in that order of preference. ``dialect``: ``rust`` (Tantivy) or ``java``
    (Elasticsearch's pattern tokenizer); both mean the same."""
    flags, tones, cjk, emoji = (
        _ranges([FLAG_RANGE]),
        _ranges([SKIN_TONE_RANGE]),
        _ranges(CJK_RANGES),
        _ranges(EMOJI_RANGES),
    )
    if dialect == "rust":
        pictures = f"[[{emoji}]--[\\p{{Alphabetic}}\\p{{N}}]]"
        word = f"[[\\p{{Alphabetic}}\\p{{N}}]--[{cjk}]]+"
    elif dialect == "java":
        pictures = f"[{emoji}&&[^\\p{{IsAlphabetic}}\\p{{N}}]]"
        word = f"[\\p{{IsAlphabetic}}\\p{{N}}&&[^{cjk}]]+"
    else:
        raise ValueError(f"unknown regex dialect {dialect!r}")
    return f"[{flags}]{{2}}|[{flags}{tones}]|{pictures}|[{cjk}]|{word}"


TOKEN_PATTERN: Final = token_pattern()


def text_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.regex(TOKEN_PATTERN))
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
            raise IndexSchemaMismatch(_mismatch(path)) from error
    index.register_tokenizer(TEXT_ANALYZER, text_analyzer())
    index.register_tokenizer(KEYWORD_ANALYZER, keyword_analyzer())
    return index


def _mismatch(path: Path) -> str:
    try:
        meta = (path / "meta.json").read_text(encoding="utf-8")
    except OSError:
        meta = ""
    if any(f'"tokenizer":"{name}"' in meta.replace(" ", "") for name in OLD_TEXT_ANALYZERS):
        return (
            f"the index at {path} was built with the text analyzer of before (CJK, emoji, Arabic and "
            "Hebrew were not searchable word by word); rebuild it with `archivist reindex`"
        )
    # An index built before every version of a message was indexed would silently miss
    # edited-away text: it is rebuilt, not opened.
    return (
        f"the index at {path} was built with another schema (before every version of a message "
        "or the text of attachments was searchable, or by another release); rebuild it from the "
        "archive with `archivist reindex`"
    )


def _script_folding() -> dict[str, str]:
    """What :func:`searchable` replaces after NFC, character (or half-width kana and its sound
    mark) to its folded form ("" removes it). Elasticsearch's char filter is built from it too."""
    folding = {chr(c): "" for c in range(0x064B, 0x0653)}  # Arabic tashkeel: fathatan to sukun
    folding["\u0640"] = ""  # tatweel
    folding |= {"\u0622": "\u0627", "\u0623": "\u0627", "\u0625": "\u0627"}  # alef forms to alef
    folding |= {"\u0649": "\u064a", "\u0629": "\u0647"}  # alef maksura to yeh, teh marbuta to heh
    folding |= {chr(c): "" for c in range(0x0591, 0x05C8) if unicodedata.category(chr(c)) == "Mn"}  # Hebrew marks
    for code in (*range(0x0386, 0x03D0), *range(0x1F00, 0x2000)):  # Greek (and polytonic) without accents
        letter = chr(code)
        base = unicodedata.normalize("NFD", letter)[0]
        if base != letter and unicodedata.name(base, "").startswith("GREEK"):
            folding[letter] = base
    folding["\u03c2"] = "\u03c3"  # final sigma as sigma (lower-casing makes every capital sigma σ)
    folding |= {"\u0451": "\u0435", "\u0401": "\u0415"}  # Russian ё as е
    for code in range(0xFF61, 0xFFA0):  # half-width katakana (and their punctuation) to full width
        kana = chr(code)
        folding[kana] = unicodedata.normalize("NFKC", kana)
        for mark in ("\uff9e", "\uff9f"):
            voiced = unicodedata.normalize("NFKC", kana + mark)
            if len(voiced) == 1:
                folding[kana + mark] = voiced
    return folding


SCRIPT_FOLDING: Final = _script_folding()
_FOLDABLE: Final = re.compile("|".join(map(re.escape, sorted(SCRIPT_FOLDING, key=len, reverse=True))))
_FOLDS_SOMETHING: Final = re.compile("[" + "".join(sorted({re.escape(key[0]) for key in SCRIPT_FOLDING})) + "]")


VERSION_GAP: Final = " ".join(["x" * (MAX_TOKEN_BYTES + 1)] * 51) + " "
"""Put before every ``history`` value but the first: 51 words the analyzer drops (over
``MAX_TOKEN_BYTES``) that still take their positions, so no phrase or NEAR (at most 50 words
apart, ``search.query_parser.MAX_NEAR_DISTANCE``) reaches from one version into the next."""


def history_values(texts: Iterable[str]) -> list[str]:
    """The ``history`` values of a message's earlier versions (searchable form, gaps between)."""
    return [(VERSION_GAP if position else "") + searchable(text) for position, text in enumerate(texts)]


def composed(text: str) -> str:
    """``text`` canonically composed (NFC) and nothing more: the form URLs, mentions, hashtags
    and keyword values are read in (their matching is unchanged by the script folding)."""
    return unicodedata.normalize("NFC", text)


def searchable(text: str) -> str:
    """The form of ``text`` that is analysed: canonically composed (NFC), Arabic, Hebrew and
    half-width katakana folded (see the module's documentation). Every analysed field's value
    and every query's words go through it."""
    composed = unicodedata.normalize("NFC", text)
    if _FOLDS_SOMETHING.search(composed) is None:
        return composed
    return unicodedata.normalize("NFC", _FOLDABLE.sub(lambda match: SCRIPT_FOLDING[match.group()], composed))


def folded_offsets(text: str) -> tuple[str, list[int]] | None:
    """``text`` in NFC and, for each character of ``searchable(text)`` and its end, the offset in
    it where that character starts (the end maps to its length); ``None`` when folding changes
    nothing but the composition, or changes it in a way offsets cannot follow."""
    composed = unicodedata.normalize("NFC", text)
    starts: list[int] = []
    pieces: list[str] = []
    position = 0
    for match in _FOLDABLE.finditer(composed):
        pieces.append(composed[position : match.start()])
        starts.extend(range(position, match.start()))
        replacement = SCRIPT_FOLDING[match.group()]
        pieces.append(replacement)
        starts.extend([match.start()] * len(replacement))
        position = match.end()
    if not pieces:
        return None
    pieces.append(composed[position:])
    starts.extend(range(position, len(composed)))
    folded = "".join(pieces)
    if unicodedata.normalize("NFC", folded) != folded:
        return None
    return composed, [*starts, len(composed)]


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
    terms = _KEYWORD.analyze(composed(value))
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


_EXTENSION: Final = re.compile(r"\.([0-9a-z]{1,10})$")
_NO_TYPE: Final = frozenset({"application/octet-stream", "binary/octet-stream", ""})


@lru_cache(maxsize=4096)
def file_type(name: str, content_type: str | None) -> str:
    """What ``filetype:`` matches a file on: its name's extension in lower case (``pdf``,
    ``docx``), else the usual extension of its content type, else ""."""
    found = _EXTENSION.search(composed(name).strip().lower())
    if found is not None:
        return found.group(1)
    media = (content_type or "").split(";")[0].strip().lower()
    if media in _NO_TYPE:
        return ""
    guessed = mimetypes.guess_extension(media, strict=False)
    return guessed.lstrip(".") if guessed else ""


def filetype_key(value: str) -> str:
    """The ``file_type`` a ``filetype:`` value names (``PDF`` and ``.pdf`` are ``pdf``)."""
    return composed(value).strip().lower().lstrip(".")


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
