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
from tests.adapters.test_elasticsearch_logic import event

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
