"""Disposal from the adapters that support deletion: the Tantivy index and Elasticsearch
(through a recording client: the bulk and delete-by-query requests, no server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.base import SupportsDelete
from adapters.es_adapter import ElasticsearchAdapter
from adapters.index_adapter import TantivyIndexAdapter
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from tests.cases.helpers import at, post


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


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def bulk(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("bulk", request))
        return {"errors": False, "items": []}

    def delete_by_query(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("delete_by_query", request))
        return {"deleted": 1}


def test_elasticsearch_deletes_event_documents_and_the_messages_they_posted() -> None:
    client = RecordingClient()
    adapter = ElasticsearchAdapter(client, prefix="arch")
    assert isinstance(adapter, SupportsDelete)

    adapter.delete(["e1", "e2"])
    adapter.delete([])

    (bulk, bulk_request), (by_query, query_request) = client.calls
    assert bulk == "bulk"
    assert [operation["delete"]["_id"] for operation in bulk_request["operations"]] == ["e1", "e2"]
    assert all(operation["delete"]["_index"].startswith("arch-events") for operation in bulk_request["operations"])
    assert by_query == "delete_by_query"
    assert query_request["index"] == "arch-messages"
    assert query_request["query"] == {"terms": {"event_id": ["e1", "e2"]}}
