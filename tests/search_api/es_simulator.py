"""Elasticsearch's analysis and query evaluation, simulated from the index template and the query
DSL that :mod:`search.es_query` writes (no server here; tests/search_engines runs the same corpora
against the OpenSearch test node, and a real Elasticsearch when ARCHIVIST_TEST_ES_URL is set).

The analyzer is read from :data:`search.es_mapping.ANALYSIS` as Elasticsearch reads it: the
``mapping`` char filter (longest rule first), the ``pattern`` tokenizer with ``group: 0`` (the
Java pattern run by the ``regex`` module), Lucene's ``lowercase`` (per code point, as Java's
``Character.toLowerCase``) and ``asciifolding``. Queries: ``match_phrase``, ``prefix``,
``span_near``/``span_term``/``span_multi``, ``bool``, ``match_all``/``match_none`` on the text
fields (``text``, ``history``, ``attachment``, ``file_name``), ``term``/``terms``/``exists`` on
keyword and boolean fields (an uploaded file's document: :func:`file_document`).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex
import tantivy

from search.es_mapping import ANALYSIS

Json = dict[str, Any]
_FOLD = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.raw()).filter(tantivy.Filter.ascii_fold()).build()
"""Tantivy's ``AsciiFoldingFilter`` is a port of Lucene's ``ASCIIFoldingFilter``."""


def _unescape(rule: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda match: chr(int(match.group(1), 16)), rule)


@cache
def _analyzer() -> tuple[dict[str, str], regex.Pattern[str], int]:
    (analyzer,) = ANALYSIS["analyzer"].values()
    (char_filter_name,) = analyzer["char_filter"]
    mapping: dict[str, str] = {}
    for rule in ANALYSIS["char_filter"][char_filter_name]["mappings"]:
        source, target = rule.split("=>")
        mapping[_unescape(source.strip())] = _unescape(target.strip())
    tokenizer = ANALYSIS["tokenizer"][analyzer["tokenizer"]]
    assert tokenizer["type"] == "pattern"
    assert tokenizer["group"] == 0
    long_words, *folding = analyzer["filter"]
    assert folding == ["lowercase", "asciifolding"]
    length = ANALYSIS["filter"][long_words]
    assert (length["type"], length["min"]) == ("length", 0)
    pattern = tokenizer["pattern"].replace(r"\p{IsAlphabetic}", r"\p{Alphabetic}")
    pattern = re.sub(r"\\x\{([0-9A-Fa-f]+)\}", lambda match: f"\\U{int(match.group(1), 16):08X}", pattern)
    return mapping, regex.compile(pattern, regex.V1), int(length["max"])


def _char_filter(text: str, mapping: dict[str, str]) -> str:
    longest = max(map(len, mapping))
    out, position = [], 0
    while position < len(text):
        for width in range(longest, 0, -1):
            if text[position : position + width] in mapping:
                out.append(mapping[text[position : position + width]])
                position += width
                break
        else:
            out.append(text[position])
            position += 1
    return "".join(out)


def _lowercase(token: str) -> str:
    return "".join(lower if len(lower := c.lower()) == 1 else c for c in token)


def _utf16_units(token: str) -> int:
    return len(token.encode("utf-16-le", "surrogatepass")) // 2


def analyze(text: str) -> list[str]:
    """The terms of ``text`` (a word dropped by the ``length`` filter leaves no gap here: phrases
    across one are not modelled)."""
    mapping, pattern, longest = _analyzer()
    words = (match.group() for match in pattern.finditer(_char_filter(text, mapping)))
    tokens = [_lowercase(word) for word in words if _utf16_units(word) <= longest]
    return [folded for token in tokens for folded in _FOLD.analyze(token)]


TEXT_FIELDS = ("text", "history", "attachment", "file_name")


@dataclass(frozen=True)
class Document:
    """A document's analysed fields: ``text`` (the current text), ``history`` (earlier versions;
    none for the posts of the corpus), ``attachment`` and ``file_name`` (an uploaded file's);
    ``keywords``: the values of its keyword and boolean fields, as Elasticsearch compares them."""

    message_id: str
    fields: dict[str, tuple[str, ...]]
    keywords: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)


def document(message_id: str, text: str, keywords: dict[str, tuple[str, ...]] | None = None) -> Document:
    analysed = {name: () for name in TEXT_FIELDS} | {"text": tuple(analyze(text))}
    return Document(message_id, analysed, {"type": ("post",), "has_file": ("false",)} | (keywords or {}))


def file_document(
    message_id: str, name: str, attachment: str, keywords: dict[str, tuple[str, ...]] | None = None
) -> Document:
    """An uploaded file's document as ``adapters.es_actions`` writes it: its name is its ``text``
    and its ``file_name``, the extracted text its ``attachment``."""
    analysed = {name: () for name in TEXT_FIELDS} | {
        "text": tuple(analyze(name)),
        "file_name": tuple(analyze(name)),
        "attachment": tuple(analyze(attachment)),
    }
    return Document(message_id, analysed, {"type": ("file_upload",), "has_file": ("true",)} | (keywords or {}))


def _keyword(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _only(body: Json) -> tuple[str, Any]:
    ((field, value),) = body.items()
    return field, value


def _spans(clause: Json, fields: dict[str, tuple[str, ...]]) -> list[tuple[int, int]]:
    """Where a span clause matches: (start, end) token positions, end exclusive."""
    if "span_term" in clause:
        field, word = _only(clause["span_term"])
        return [(i, i + 1) for i, token in enumerate(fields[field]) if token == word]
    if "span_multi" in clause:
        field, prefix = _only(clause["span_multi"]["match"]["prefix"])
        return [(i, i + 1) for i, token in enumerate(fields[field]) if token.startswith(prefix["value"])]
    near = clause["span_near"]
    parts = [_spans(part, fields) for part in near["clauses"]]
    slop, ordered = near["slop"], near["in_order"]
    found: list[tuple[int, int]] = []
    if ordered:
        runs = [[span] for span in parts[0]]
        for following in parts[1:]:
            runs = [[*run, span] for run in runs for span in following if span[0] >= run[-1][1]]
        for run in runs:
            gaps = sum(b[0] - a[1] for a, b in itertools.pairwise(run))
            if gaps <= slop:
                found.append((run[0][0], run[-1][1]))
        return found
    # Unordered, as Lucene's NearSpansUnordered: the two sides may overlap (one "i" is both sides
    # of "i NEAR/1 i"; tests/search_engines/test_live_engines.py saw it on a real node).
    (first, second) = parts
    for a in first:
        for b in second:
            start, end = min(a[0], b[0]), max(a[1], b[1])
            if end - start - (a[1] - a[0]) - (b[1] - b[0]) <= slop:
                found.append((start, end))
    return found


def _phrase(words: list[str], tokens: tuple[str, ...]) -> bool:
    width = len(words)
    return bool(words) and any(list(tokens[i : i + width]) == words for i in range(len(tokens) - width + 1))


def matches(query: Json, doc: Document) -> bool:
    (kind,) = query
    body = query[kind]
    match kind:
        case "match_all":
            return True
        case "match_none":
            return False
        case "match_phrase":
            field, text = _only(body)
            return _phrase(analyze(text), doc.fields[field])
        case "prefix":
            field, prefix = _only(body)
            return any(token.startswith(prefix) for token in doc.fields[field])
        case "span_near" | "span_term" | "span_multi":
            return bool(_spans(query, doc.fields))
        case "term":
            field, value = _only(body)
            return _keyword(value) in doc.keywords.get(field, ())
        case "terms":
            field, values = _only(body)
            return bool({_keyword(value) for value in values} & set(doc.keywords.get(field, ())))
        case "exists":
            return bool(doc.keywords.get(body["field"]))
        case "bool":
            must = all(matches(q, doc) for q in body.get("must", []) + body.get("filter", []))
            should = body.get("should")
            any_should = any(matches(q, doc) for q in should) if should else True
            return must and any_should and not any(matches(q, doc) for q in body.get("must_not", []))
    raise ValueError(f"the simulator does not evaluate {kind}")
