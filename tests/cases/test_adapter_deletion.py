"""Disposal from the adapters that support deletion: the Tantivy index and Elasticsearch
(through a stateful fake of the bulk and delete-by-query requests, no server, that can refuse:
a refused deletion must fail, so that retention disposes of nothing and retries)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig, ObjectApiResponse
from elasticsearch import NotFoundError

from adapters.base import DeletionFailed, SupportsDelete
from adapters.es_adapter import ElasticsearchAdapter
from adapters.index_adapter import TantivyIndexAdapter
from cases.retention import RetentionFailed
from cases.store import RetentionStore
from ingest.events import PostEvent
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from tests.cases.helpers import at, post
from tests.cases.test_retention import (
    AFTER,
    BEFORE,
    ELSEWHERE,
    HELD,
    HISTORY,
    RECENT,
    WHILE_THERE,
    disposed_ids,
    run,
    texts,
    with_alices_hold,
)


def test_the_index_forgets_the_messages_of_disposed_posts(tmp_path: Path) -> None:
    kept, disposed = (
        post("user:bob", "room:r", at(40), "quarterly numbers"),
        post("user:bob", "room:r", at(40), "quarterly gossip"),
    )
    adapter = TantivyIndexAdapter(tmp_path / "index", hold_writer=False)
    assert isinstance(adapter, SupportsDelete)
    assert all(result is None for result in adapter.write([kept, disposed]))

    adapter.delete([str(disposed.event_id)])
    adapter.close()

    hits = every_hit(TantivySearchBackend(tmp_path / "index"), parse_query("quarterly"))
    assert [hit.message_id for hit in hits] == [kept.message.id]


class RefusingClient:
    """A stateful fake of the two requests disposal sends (bulk deletes of event documents,
    ``delete_by_query`` of the messages they posted), which can refuse: ``refuse`` gives a bulk
    item's status per event id (an ``error`` goes with it), ``by_query`` a delete-by-query
    answer to merge over the honest one (``failures``, ``timed_out``, ``version_conflicts``)."""

    def __init__(self, events: Iterable[str] = (), messages: dict[str, str] | None = None) -> None:
        self.events = set(events)
        self.messages = dict(messages or {})
        """Message document id -> the id of the event that posted it."""
        self.refuse: dict[str, int] = {}
        self.by_query: dict[str, Any] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.indices = self

    def refresh(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("refresh", request))
        return {"_shards": {"total": 1, "successful": 1, "failed": 0}}

    def bulk(self, **request: Any) -> ObjectApiResponse[Any]:
        self.calls.append(("bulk", request))
        items = []
        for operation in request["operations"]:
            event_id = operation["delete"]["_id"]
            if event_id in self.refuse:
                status = self.refuse[event_id]
                error = {"type": "es_rejected_execution_exception", "reason": "rejected execution of delete"}
                items.append({"delete": {"_id": event_id, "status": status, "error": error}})
            elif event_id in self.events:
                self.events.discard(event_id)
                items.append({"delete": {"_id": event_id, "status": 200, "result": "deleted"}})
            else:
                items.append({"delete": {"_id": event_id, "status": 404, "result": "not_found"}})
        return _answer({"errors": any(item["delete"]["status"] >= 300 for item in items), "items": items})

    def delete_by_query(self, **request: Any) -> ObjectApiResponse[Any]:
        self.calls.append(("delete_by_query", request))
        wanted = set(request["query"]["terms"]["event_id"])
        matched = [doc for doc, event_id in self.messages.items() if event_id in wanted]
        conflicts = int(self.by_query.get("version_conflicts", 0))
        failures = list(self.by_query.get("failures", []))
        deleted = 0 if failures else max(len(matched) - conflicts, 0)
        for doc in matched[:deleted]:
            del self.messages[doc]
        answer = {"timed_out": False, "total": len(matched), "deleted": deleted, "version_conflicts": 0, "failures": []}
        return _answer(answer | self.by_query | {"deleted": deleted})


def _answer(body: dict[str, Any]) -> ObjectApiResponse[Any]:
    """As the real client answers (its response type, not a dict)."""
    meta = ApiResponseMeta(200, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "localhost", 9200))
    return ObjectApiResponse(body=body, meta=meta)


def disposing(client: RefusingClient) -> ElasticsearchAdapter:
    return ElasticsearchAdapter(client, prefix="arch", sleep=lambda _s: None)


def test_documents_already_gone_count_as_disposed() -> None:
    client = RefusingClient(events={"e1"}, messages={"m1": "e1"})
    disposing(client).delete(["e1", "e2"])  # e2 was never indexed (or a previous run deleted it): 404
    assert client.events == set()
    assert client.messages == {}


@pytest.mark.parametrize("status", [429, 409, 500, 503])
def test_a_refused_event_document_fails_the_deletion(status: int) -> None:
    client = RefusingClient(events={"e1", "e2"})
    client.refuse["e2"] = status
    with pytest.raises(DeletionFailed, match=rf"e2.*{status}.*es_rejected_execution_exception"):
        disposing(client).delete(["e1", "e2"])


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            {"failures": [{"index": "arch-messages", "id": "m1", "cause": {"type": "x", "reason": "shard down"}}]},
            "shard down",
        ),
        ({"timed_out": True}, "timed out"),
        ({"version_conflicts": 1}, "version conflict"),
        ({"total": 3}, "deleted 1 of 3"),
    ],
)
def test_a_delete_by_query_that_did_not_delete_everything_fails_the_deletion(
    answer: dict[str, Any], reason: str
) -> None:
    client = RefusingClient(
        events={"e1"}, messages={"m1": "e1", "m2": "e1"} if "version_conflicts" in answer else {"m1": "e1"}
    )
    client.by_query = answer
    with pytest.raises(DeletionFailed, match=reason):
        disposing(client).delete(["e1"])


def test_the_messages_index_is_refreshed_first_and_the_deletion_waited_for() -> None:
    client = RefusingClient(events={"e1"}, messages={"m1": "e1"})
    disposing(client).delete(["e1"])
    kinds = [kind for kind, _request in client.calls]
    assert kinds.index("refresh") < kinds.index("delete_by_query")
    refresh = dict(client.calls)["refresh"]
    assert refresh["index"] == "arch-messages"
    by_query = dict(client.calls)["delete_by_query"]
    assert by_query["refresh"] is True
    assert by_query["wait_for_completion"] is True
    assert by_query["conflicts"] == "proceed"


def test_a_connection_failure_fails_the_deletion() -> None:
    class Down(RefusingClient):
        def bulk(self, **request: Any) -> ObjectApiResponse[Any]:
            raise ConnectionError("connection refused")

    with pytest.raises(DeletionFailed, match="connection refused"):
        disposing(Down(events={"e1"})).delete(["e1"])


def _not_found(error: str) -> NotFoundError:
    meta = ApiResponseMeta(404, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "localhost", 9200))
    cause = {"type": error, "reason": "no such index [arch-messages]"}
    return NotFoundError(error, meta, {"error": {"root_cause": [cause], **cause}, "status": 404})


class NoMessagesIndex(RefusingClient):
    """A cluster whose messages index does not exist (nothing was ever delivered to it)."""

    missing = "index_not_found_exception"

    def refresh(self, **request: Any) -> dict[str, Any]:
        raise _not_found(self.missing)

    def delete_by_query(self, **request: Any) -> ObjectApiResponse[Any]:
        raise _not_found(self.missing)


def test_a_messages_index_that_does_not_exist_has_no_message_left_to_dispose_of() -> None:
    client = NoMessagesIndex(events={"e1"})
    disposing(client).delete(["e1", "e2"])
    assert client.events == set()


def test_any_other_answer_of_not_found_fails_the_deletion() -> None:
    client = NoMessagesIndex(events={"e1"})
    client.missing = "resource_not_found_exception"
    with pytest.raises(DeletionFailed, match="resource_not_found_exception"):
        disposing(client).delete(["e1"])


def _indexed() -> RefusingClient:
    """A fake cluster holding every archived event and the message each post posted."""
    return RefusingClient(
        events={str(e.event_id) for e in HISTORY},
        messages={e.message.id: str(e.event_id) for e in HISTORY if isinstance(e, PostEvent)},
    )


@pytest.mark.parametrize("refusal", ["bulk item", "delete_by_query"])
def test_a_refused_elasticsearch_deletion_disposes_of_nothing_and_the_next_run_retries(
    store: StagingStore, refusal: str
) -> None:
    engine = store.engine
    with_alices_hold(engine)
    client = _indexed()
    if refusal == "bulk item":
        client.refuse[str(AFTER.event_id)] = 503
    else:
        client.by_query = {"version_conflicts": 1}

    with pytest.raises(RetentionFailed, match="elasticsearch"):
        run(engine, adapters=[disposing(client)])
    assert disposed_ids(engine) == set()
    assert "before alice" in texts(engine)
    assert RetentionStore(engine).runs()[0].error is not None
    gone = {str(e.event_id) for e in (BEFORE, AFTER, ELSEWHERE)}
    assert (client.events & gone) or (set(client.messages.values()) & gone), "the refusal left something indexed"

    client.refuse.clear()
    client.by_query = {}
    assert run(engine, adapters=[disposing(client)]).disposed == 3
    assert disposed_ids(engine) == gone
    assert client.events.isdisjoint(gone)
    assert set(client.messages) == {HELD.message.id, WHILE_THERE.message.id, RECENT.message.id}


def test_elasticsearch_deletes_event_documents_and_the_messages_they_posted() -> None:
    client = RefusingClient(events={"e1", "e2"}, messages={"m1": "e1"})
    adapter = ElasticsearchAdapter(client, prefix="arch")
    assert isinstance(adapter, SupportsDelete)

    adapter.delete(["e1", "e2"])
    adapter.delete([])

    calls = [(kind, request) for kind, request in client.calls if kind != "refresh"]
    (bulk, bulk_request), (by_query, query_request) = calls
    assert bulk == "bulk"
    assert [operation["delete"]["_id"] for operation in bulk_request["operations"]] == ["e1", "e2"]
    assert all(operation["delete"]["_index"].startswith("arch-events") for operation in bulk_request["operations"])
    assert by_query == "delete_by_query"
    assert query_request["index"] == "arch-messages"
    assert query_request["query"] == {"terms": {"event_id": ["e1", "e2"]}}
    assert client.events == set()
    assert client.messages == {}
