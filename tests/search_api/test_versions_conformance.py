"""Exact hit sets over every version of a message, on both backends (issue 17, finding 1).

Real IRC messages, some edited once or twice (with the words of other messages, so words move
between versions) and some deleted, the edits delivered out of order. The oracle is the
reference evaluator applied version by version: a word condition holds when some version of the
message holds it (only the current version inside ``current:``). Tantivy answers for real;
Elasticsearch through its translation (:func:`search.es_query.search_body`), evaluated here over
the documents the messages index holds for the same messages (no server runs here;
tests/search_engines runs the painless scripts for real on the OpenSearch test node).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tantivy

from adapters.index_adapter import IndexedMessage, TantivyIndexAdapter, from_document
from ingest.events import Event, PostEvent, parse_event
from ingest.irc import read_irc_file
from search import tantivy_schema as fields
from search.es_query import search_body
from search.query_ast import And, Current, Filter, Near, Node, Not, Or, Phrase, Prefix, Term
from search.query_parser import parse_query
from search.tantivy_backend import all_hits
from tests.search_api.reference import Message, matches, message_of
from tests.search_api.test_tantivy_conformance import DEMO_LOGS

LOG = "2005-02-08.train-a.raw.txt"


def _changed(post: PostEvent, kind: str, seconds: int, text: str | None = None) -> Event:
    payload: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{post.event_id}:{kind}:{seconds}")),
        "type": kind,
        "occurred_at": (post.occurred_at + timedelta(seconds=seconds)).isoformat(),
        "room": post.room.model_dump(),
        "actor": post.actor.model_dump(),
        "message": {"id": post.message.id} | ({"text": text} if text is not None else {}),
    }
    return parse_event(payload)


def corpus() -> tuple[list[Event], dict[str, list[str]], set[str]]:
    """The events (edits shuffled among later batches), each message's texts in version order,
    and the deleted messages."""
    events = list(read_irc_file(DEMO_LOGS / LOG))
    posts = [e for e in events if isinstance(e, PostEvent)]
    chance = random.Random(17)
    versions = {p.message.id: [p.message.text] for p in posts}
    deleted: set[str] = set()
    late: list[Event] = []
    for post in posts:
        roll = chance.random()
        if roll < 0.2:
            for number in range(1 if roll < 0.12 else 2):
                text = chance.choice(posts).message.text
                late.append(_changed(post, "edit", 60 * (number + 1), text))
                versions[post.message.id].append(text)
        if chance.random() < 0.08:
            late.append(_changed(post, "delete", 600))
            deleted.add(post.message.id)
    chance.shuffle(late)
    return events + late, versions, deleted


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Message], dict[str, list[str]], set[str]]:
    events, versions, deleted = corpus()
    index_dir = tmp_path_factory.mktemp("versions") / "index"
    adapter = TantivyIndexAdapter(index_dir)
    try:
        for start in range(0, len(events), 300):  # several commits: edits meet their posts in the index
            batch = events[start : start + 300]
            assert list(adapter.write(batch)) == [None] * len(batch)
    finally:
        adapter.close()
    messages = [message_of(e) for e in events if isinstance(e, PostEvent)]
    return index_dir, messages, versions, deleted


def holds(node: Node, message: Message, texts: list[str], deleted: bool, *, current_only: bool = False) -> bool:
    """The oracle: ``node`` over a message whose versions have ``texts`` (the last is current)."""
    match node:
        case Term() | Phrase() | Prefix() | Near():
            candidates = texts[-1:] if current_only else texts
            return any(matches(node, replace(message, tokens=tuple(fields.text_terms(text)))) for text in candidates)
        case Current(item):
            return holds(item, message, texts, deleted, current_only=True)
        case Filter("is", value):
            return len(texts) > 1 if value == "edited" else deleted
        case Not(item):
            return not holds(item, message, texts, deleted, current_only=current_only)
        case And(items):
            return all(holds(item, message, texts, deleted, current_only=current_only) for item in items)
        case Or(items):
            return any(holds(item, message, texts, deleted, current_only=current_only) for item in items)
    return matches(node, message)


QUERIES = [
    "ubuntu",
    "install*",
    '"apt-get install"',
    "sudo NEAR/3 install",
    "current:ubuntu",
    "ubuntu -current:ubuntu",
    "current:install*",
    'current:"apt-get install"',
    "current:(sudo NEAR/3 install)",
    "is:edited",
    "is:deleted",
    "is:edited is:deleted",
    "is:edited ubuntu -current:ubuntu",
    "NOT is:edited (grub OR lilo)",
    "current:(grub OR lilo) OR is:deleted",
    "from:Agrajag is:edited",
    "in:#ubuntu is:edited current:(ubuntu OR the)",
    "is:deleted current:the",
    "the -is:deleted",
]


def expected(built: tuple[Path, list[Message], dict[str, list[str]], set[str]], query: str) -> set[str]:
    _, messages, versions, deleted = built
    node = parse_query(query)
    return {m.message_id for m in messages if holds(node, m, versions[m.message_id], m.message_id in deleted)}


@pytest.mark.parametrize("query", QUERIES)
def test_tantivy_gives_exactly_the_oracles_hits(
    built: tuple[Path, list[Message], dict[str, list[str]], set[str]], query: str
) -> None:
    assert {hit.message_id for hit in all_hits(built[0], parse_query(query))} == expected(built, query)


def test_the_corpus_exercises_versions(built: tuple[Path, list[Message], dict[str, list[str]], set[str]]) -> None:
    sizes = {query: len(expected(built, query)) for query in QUERIES}
    assert all(sizes[query] > 0 for query in QUERIES), sizes
    assert sizes["ubuntu"] > sizes["current:ubuntu"]


def test_the_hits_current_text_is_the_last_version(
    built: tuple[Path, list[Message], dict[str, list[str]], set[str]],
) -> None:
    index_dir, _, versions, _ = built
    hits = all_hits(index_dir, parse_query("is:edited"))
    assert hits
    for hit in hits:
        assert hit.text == versions[hit.message_id][-1]


# --- Elasticsearch, through its translation --------------------------------------------------


def es_documents(index_dir: Path) -> list[dict[str, Any]]:
    """What the messages index holds for the indexed messages (the fields queries read)."""
    index = fields.open_index(index_dir)
    searcher = index.searcher()
    result = searcher.search(tantivy.Query.all_query(), searcher.num_docs)
    return [_es_document(from_document(searcher.doc(address))) for _score, address in result.hits]


def _es_document(message: IndexedMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "type": message.type,
        "text": [fields.text_terms(message.text)],
        "history": [fields.text_terms(entry.text) for entry in message.history[:-1]],
        "attachment": [fields.text_terms(message.attachment)] if message.attachment else [],
        "edit_event_ids": list(message.edit_event_ids),
        "deleted": message.deleted,
        "sender_keys": list(fields.person_keys(message.sender_id, message.sender_name)),
        "room_keys": list(fields.room_keys(message.room_id, message.room_name)),
        "mentions": list(message.mentions),
        "hashtags": list(message.hashtags),
        "has_file": message.has_file,
        "sent": message.sent,
    }


Spans = set[tuple[int, int]]


def _spans(query: dict[str, Any], tokens: list[str]) -> Spans:
    ((kind, body),) = query.items()
    if kind == "span_term":
        ((_field, word),) = body.items()
        return {(i, i + 1) for i, token in enumerate(tokens) if token == word}
    if kind == "span_multi":
        ((_field, prefix),) = body["match"]["prefix"].items()
        return {(i, i + 1) for i, token in enumerate(tokens) if token.startswith(prefix["value"])}
    assert kind == "span_near", query
    clauses = [_spans(clause, tokens) for clause in body["clauses"]]
    slop, in_order = body["slop"], body["in_order"]
    found: Spans = set()
    if in_order:
        partial = clauses[0]
        for following in clauses[1:]:
            partial = {(s, e2) for s, e in partial for s2, e2 in following if e <= s2 <= e + slop}
        return partial
    left, right = clauses
    for s1, e1 in left:
        for s2, e2 in right:  # unordered: the sides may overlap, as in Lucene (tests/search_api/es_simulator.py)
            if max(e1, e2) - min(s1, s2) - (e1 - s1) - (e2 - s2) <= slop:
                found.add((min(s1, s2), max(e1, e2)))
    return found


def _field_of(body: dict[str, Any]) -> str:
    return next(iter(body))


def _values(document: dict[str, Any], field: str) -> list[list[str]]:
    return list(document[field])


def es_matches(query: dict[str, Any], document: dict[str, Any]) -> bool:
    """The messages index's answer to ``query`` for one document (the DSL the translation uses)."""
    ((kind, body),) = query.items()
    match kind:
        case "match_all":
            return True
        case "match_none":
            return False
        case "bool":
            must = all(es_matches(q, document) for q in body.get("must", []) + body.get("filter", []))
            must_not = any(es_matches(q, document) for q in body.get("must_not", []))
            should = body.get("should")
            wanted = body.get("minimum_should_match", 0)
            some = sum(es_matches(q, document) for q in should) >= wanted if should else True
            return must and not must_not and some
        case "match_phrase":
            ((field, text),) = body.items()
            words = fields.text_terms(text)
            return any(
                any(value[i : i + len(words)] == words for i in range(len(value) - len(words) + 1))
                for value in _values(document, field)
            )
        case "prefix":
            ((field, prefix),) = body.items()
            return any(token.startswith(prefix) for value in _values(document, field) for token in value)
        case "span_near" | "span_term" | "span_multi":
            field = _span_field(query)
            return any(_spans(query, value) for value in _values(document, field))
        case "term":
            ((field, value),) = body.items()
            held = document[field]
            return value in held if isinstance(held, list) else held == value
        case "terms":
            ((field, values),) = body.items()
            held = document[field]
            return bool(set(values) & (set(held) if isinstance(held, list) else {held}))
        case "exists":
            return bool(document[body["field"]])
        case "range":
            bounds = body["sent"]
            sent = fields.from_micros(document["sent"]).isoformat()
            return ("gte" not in bounds or sent >= bounds["gte"]) and ("lt" not in bounds or sent < bounds["lt"])
    raise AssertionError(f"the evaluator does not know {kind}")


def _span_field(query: dict[str, Any]) -> str:
    ((kind, body),) = query.items()
    if kind == "span_term":
        return _field_of(body)
    if kind == "span_multi":
        return _field_of(body["match"]["prefix"])
    return _span_field(body["clauses"][0])


@pytest.mark.parametrize("query", QUERIES)
def test_the_elasticsearch_translation_gives_exactly_the_oracles_hits(
    built: tuple[Path, list[Message], dict[str, list[str]], set[str]], query: str
) -> None:
    documents = es_documents(built[0])
    translated = search_body(parse_query(query))["query"]
    assert {d["message_id"] for d in documents if es_matches(translated, d)} == expected(built, query)
