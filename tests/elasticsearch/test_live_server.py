"""The Elasticsearch adapter against a real server, when ARCHIVIST_TEST_ES_URL names one.

Elasticsearch cannot be installed on the project's CI machines, so without the variable these
tests are skipped (the logic is covered by tests/adapters/test_elasticsearch_logic.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.es_adapter import ElasticsearchAdapter
from ingest.events import PostEvent
from ingest.irc import read_irc_file
from search_api.backends import ElasticsearchSearchBackend, every_hit
from search_api.query_parser import parse_query
from tests.adapters.test_elasticsearch_logic import event
from tests.search_api.reference import Message, message_of
from tests.search_api.test_tantivy_conformance import DEMO_LOGS, LOGS, QUERIES, expected

ES_URL = os.environ.get("ARCHIVIST_TEST_ES_URL")
pytestmark = pytest.mark.skipif(not ES_URL, reason="set ARCHIVIST_TEST_ES_URL to test against a real Elasticsearch")


@pytest.fixture
def adapter() -> Iterator[ElasticsearchAdapter]:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ES_URL)
    prefix = f"archivist-test-{uuid.uuid4().hex[:8]}"
    built = ElasticsearchAdapter(client, prefix=prefix)
    yield built
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    for name in (f"{prefix}-messages", f"{prefix}-events"):
        client.options(ignore_status=404).indices.delete_index_template(name=name)
    client.close()


def search(adapter: ElasticsearchAdapter, query: dict[str, Any]) -> list[dict[str, Any]]:
    client = adapter.client
    client.indices.refresh(index=f"{adapter.prefix}-*")
    response = client.search(index=f"{adapter.prefix}-messages", query=query, size=100)
    return [hit["_source"] for hit in response["hits"]["hits"]]


def test_delivery_search_edit_delete_and_redelivery(adapter: ElasticsearchAdapter) -> None:
    post = event("post", 0, message={"id": "m1", "text": "Rendez-vous au CAFÉ #Q3 @bob"})
    edit = event("edit", 5, message={"id": "m1", "text": "Rendez-vous au café demain"})
    assert adapter.write([post]) == [None]
    assert [d["message_id"] for d in search(adapter, {"match": {"text": "cafe"}})] == ["m1"]
    assert search(adapter, {"term": {"hashtags": "q3"}})

    assert adapter.write([edit]) == [None]
    assert adapter.write([post]) == [None], "re-delivering the post never undoes the edit"
    (document,) = search(adapter, {"match": {"text": "demain"}})
    assert document["versions"] == 2

    assert adapter.write([event("delete", 9, message={"id": "m1"})]) == [None]
    (deleted,) = search(adapter, {"term": {"deleted": True}})
    assert deleted["message_id"] == "m1"
    client = adapter.client
    client.indices.refresh(index=f"{adapter.prefix}-events")
    assert client.count(index=f"{adapter.prefix}-events")["count"] == 3


@pytest.fixture(scope="module")
def conformance_backend() -> Iterator[tuple[ElasticsearchSearchBackend, list[Message]]]:
    """The conformance corpus (real IRC logs) delivered through the adapter into a live server."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ES_URL)
    prefix = f"archivist-conformance-{uuid.uuid4().hex[:8]}"
    events = [e for name in LOGS for e in read_irc_file(DEMO_LOGS / name)]
    adapter = ElasticsearchAdapter(client, prefix=prefix)
    for start in range(0, len(events), 1000):
        assert all(result is None for result in adapter.write(events[start : start + 1000]))
    client.indices.refresh(index=f"{prefix}-*")
    yield ElasticsearchSearchBackend(client, prefix=prefix), [message_of(e) for e in events if isinstance(e, PostEvent)]
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    for name in (f"{prefix}-messages", f"{prefix}-events"):
        client.options(ignore_status=404).indices.delete_index_template(name=name)
    client.close()


@pytest.mark.parametrize("query", QUERIES)
def test_the_conformance_queries_find_exactly_the_reference_hits(
    conformance_backend: tuple[ElasticsearchSearchBackend, list[Message]], query: str
) -> None:
    backend, messages = conformance_backend
    node = parse_query(query)
    hits = every_hit(backend, node, page=500)
    assert len(hits) == len({h.message_id for h in hits}), "every hit once"
    assert {h.message_id for h in hits} == expected(node, messages)
