"""The Elasticsearch adapter's logic (templates, bulk actions, response mapping, retries),
checked without a server; tests/search_engines/test_live_engines.py uses real ones."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.es_actions import (
    DELETE_SCRIPT,
    EDIT_SCRIPT,
    bulk_actions,
    bulk_body,
    chunk_actions,
    item_outcome,
    results_per_event,
)
from adapters.es_adapter import ElasticsearchAdapter
from ingest.events import Event, parse_event
from search.es_mapping import EVENT_PROPERTIES, MESSAGE_PROPERTIES, index_templates
from tests.factories import post, posts

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def event(kind: str, second: int, **fields: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": "user:ana", "name": "Ana"},
            **fields,
        }
    )


def test_templates_map_every_field_strictly_with_the_folding_analyzer() -> None:
    templates = index_templates("arch", shards=3, replicas=2)
    assert set(templates) == {"arch-messages", "arch-events"}
    messages = templates["arch-messages"]
    assert messages["index_patterns"] == ["arch-messages*"]
    settings = messages["template"]["settings"]
    assert (settings["number_of_shards"], settings["number_of_replicas"]) == (3, 2)
    assert settings["analysis"]["analyzer"]["archivist_text_v2"]["filter"] == [
        "archivist_long_words",
        "lowercase",
        "asciifolding",
    ]
    assert messages["template"]["mappings"]["dynamic"] == "strict"
    assert json.loads(json.dumps(templates)) == templates


def test_documents_only_use_mapped_fields() -> None:
    file = {"name": "q3.xlsx", "size": 1, "sha256": "d" * 64}
    batch = [
        event("post", 0, message={"id": "m1", "text": "see http://x.org #Q3 @bob"}),
        event("edit", 1, message={"id": "m1", "text": "fixed"}),
        event("delete", 2, message={"id": "m1"}),
        event("file_upload", 3, file=file),
        event("join", 4),
    ]
    for action in bulk_actions(batch, "arch"):
        (operation,) = action.header.values()
        allowed = MESSAGE_PROPERTIES if operation["_index"] == "arch-messages" else EVENT_PROPERTIES
        document = action.body.get("upsert", action.body)
        assert set(document) <= set(allowed), set(document) - set(allowed)


def test_every_event_is_indexed_by_event_id_and_messages_by_message_id() -> None:
    batch = [
        event("post", 0, message={"id": "m1", "text": "Café at 10? #meet @bob http://x.org/a"}),
        event("edit", 1, message={"id": "m1", "text": "Café at 11"}),
        event("delete", 2, message={"id": "m1"}),
        event("join", 3),
    ]
    actions = bulk_actions(batch, "arch")
    assert [a.event_index for a in actions] == [0, 0, 1, 1, 2, 2, 3]
    events = [a for a in actions if "index" in a.header and a.header["index"]["_index"] == "arch-events"]
    assert [a.header["index"]["_id"] for a in events] == [str(e.event_id) for e in batch]
    post_update = actions[1]
    assert post_update.header["update"]["_id"] == "m1"
    assert post_update.body["upsert"]["hashtags"] == ["meet"]
    assert post_update.body["upsert"]["mentions"] == ["bob"]
    assert post_update.body["upsert"]["urls"] == ["http://x.org/a"]
    assert actions[3].body["script"]["source"] == EDIT_SCRIPT
    assert actions[3].body["upsert"]["edit_event_ids"] == [str(batch[1].event_id)]
    assert actions[5].body["script"]["source"] == DELETE_SCRIPT
    assert actions[5].body["upsert"]["deleted"] is True


def test_a_posts_declared_mentions_and_hashtags_are_kept_beside_those_in_its_text() -> None:
    """As the Tantivy index keeps them: an IRC line addressed to ``bob:`` declares that mention."""
    declared = {"id": "m1", "text": "bob: see #q3 and @carol", "mentions": ["bob"], "hashtags": ["Deal"]}
    post_update = bulk_actions([event("post", 0, message=declared)], "arch")[1]
    for fields in (post_update.body["upsert"], post_update.body["script"]["params"]):
        assert fields["mentions"] == ["bob", "carol"]
        assert fields["hashtags"] == ["Deal", "q3"]
    edit = bulk_actions([event("edit", 1, message={"id": "m1", "text": "now @dave"})], "arch")[1]
    assert edit.body["script"]["params"]["mentions"] == ["dave"], "an edit's text says who it mentions"


def _keyword_fields(properties: dict[str, Any]) -> dict[str, Any]:
    found = {name: field for name, field in properties.items() if field.get("type") == "keyword"}
    for name, field in properties.items():
        found |= {f"{name}.{sub}": value for sub, value in _keyword_fields(field.get("fields", {})).items()}
    return found


def test_no_keyword_is_longer_than_lucenes_longest_term() -> None:
    """A term longer than 32,766 UTF-8 bytes refuses the whole document: every keyword field
    leaves longer values out of its index (8,191 characters of up to 4 bytes each fit)."""
    for template in index_templates("arch").values():
        keywords = _keyword_fields(template["template"]["mappings"]["properties"])
        assert keywords
        assert {name: field.get("ignore_above") for name, field in keywords.items()} == dict.fromkeys(keywords, 8191)


def test_a_message_id_longer_than_the_engines_longest_id_gets_a_digest_as_its_document_id() -> None:
    """The engines refuse an ``_id`` over 512 UTF-8 bytes (and with it the whole bulk request)."""
    long_id = "中" * 171  # 513 bytes
    for message_id, document_id in (
        ("m1", "m1"),
        ("中" * 170, "中" * 170),
        (long_id, "#sha256:" + hashlib.sha256(long_id.encode()).hexdigest()),
    ):
        post = event("post", 0, message={"id": message_id, "text": "hello"})
        update = bulk_actions([post], "arch")[1]
        assert update.header["update"]["_id"] == document_id
        assert update.body["upsert"]["message_id"] == message_id
    edit, delete = bulk_actions(
        [event("edit", 1, message={"id": long_id, "text": "hi"}), event("delete", 2, message={"id": long_id})], "arch"
    )[1::2]
    assert edit.header["update"]["_id"] == delete.header["update"]["_id"] == update.header["update"]["_id"]


def test_bulk_body_alternates_headers_and_bodies() -> None:
    actions = bulk_actions(posts(2), "arch")
    body = bulk_body(actions)
    assert len(body) == 2 * len(actions)
    assert body[0] == actions[0].header
    assert body[1] == actions[0].body


def test_chunks_respect_count_and_size_and_keep_order() -> None:
    actions = bulk_actions(posts(50), "arch")
    by_count = list(chunk_actions(actions, max_count=7))
    assert [a for chunk in by_count for a in chunk] == actions
    assert max(len(c) for c in by_count) == 7
    small = actions[0].size() * 3
    by_size = list(chunk_actions(actions, max_count=1000, max_bytes=small))
    assert [a for chunk in by_size for a in chunk] == actions
    assert all(sum(a.size() for a in c) <= small or len(c) == 1 for c in by_size)


def test_item_outcomes() -> None:
    assert item_outcome({"index": {"status": 201}}).ok
    busy = item_outcome(
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "busy"}}}
    )
    assert (busy.ok, busy.retryable) == (False, True)
    bad = item_outcome({"update": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad"}}})
    assert (bad.ok, bad.retryable) == (False, False)
    assert bad.reason == "elasticsearch 400 mapper_parsing_exception: bad"


def test_a_failed_action_fails_only_its_event() -> None:
    batch = posts(3)
    actions = bulk_actions(batch, "arch")
    outcomes = [item_outcome({"index": {"status": 200}})] * len(actions)
    outcomes[3] = item_outcome({"update": {"status": 400, "error": {"type": "x", "reason": "y"}}})
    results = results_per_event(actions, outcomes, len(batch))
    assert results[0] is None
    assert results[2] is None
    assert results[1] is not None
    assert "x: y" in results[1].reason


class FakeIndices:
    def __init__(self) -> None:
        self.templates: dict[str, Any] = {}
        self.mappings: dict[str, Any] = {}

    def put_index_template(self, *, name: str, **body: Any) -> None:
        self.templates[name] = body

    def put_mapping(self, *, index: str, **body: Any) -> None:
        self.mappings[index] = body


class FakeClient:
    """Answers bulk requests from a script of per-call statuses (default: all 200)."""

    def __init__(self, scripted: list[dict[int, int]] | None = None, fail_with: Exception | None = None) -> None:
        self.indices = FakeIndices()
        self.scripted = scripted or []
        self.fail_with = fail_with
        self.requests: list[list[dict[str, Any]]] = []

    def bulk(self, *, operations: list[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.requests.append(operations)
        statuses = self.scripted.pop(0) if self.scripted else {}
        headers = operations[::2]
        items = []
        for position, header in enumerate(headers):
            (kind,) = header
            status = statuses.get(position, 200)
            error = None if status < 300 else {"type": "es_rejected_execution_exception", "reason": "busy"}
            items.append({kind: {"status": status, "error": error}})
        return {"errors": any(s >= 300 for s in statuses.values()), "items": items}


def test_only_refused_items_are_sent_again() -> None:
    client = FakeClient(scripted=[{1: 429, 3: 503}])
    adapter = ElasticsearchAdapter(client, prefix="arch", sleep=lambda _s: None)
    batch = posts(3)
    assert adapter.write(batch) == [None, None, None]
    assert len(client.requests) == 2
    assert len(client.requests[1]) == 4, "two actions (header + body each) went out again"
    assert set(client.indices.templates) == {"arch-messages", "arch-events"}


def test_items_still_refused_after_every_attempt_fail_their_events() -> None:
    client = FakeClient(scripted=[{0: 429}] * 5)
    adapter = ElasticsearchAdapter(client, prefix="arch", attempts=3, sleep=lambda _s: None)
    results = adapter.write([post(1), post(2)])
    assert results[0] is not None
    assert "429" in results[0].reason
    assert results[1] is None
    assert len(client.requests) == 3


def test_an_unreachable_server_fails_the_batch_without_raising() -> None:
    adapter = ElasticsearchAdapter(FakeClient(fail_with=ConnectionError("refused")), sleep=lambda _s: None)
    results = adapter.write(posts(2))
    assert all(r is not None and "elasticsearch unavailable" in r.reason for r in results)
