"""The OpenSearch test node itself: a real 2.19 server with the modules the adapter relies on.

These run in the normal test command and fail (never skip) when the node cannot be built or started.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from tests.opensearch.node import OpenSearchNodeError, build, start_node


@pytest.fixture
def client(opensearch_url: str) -> Iterator[OpenSearch]:
    client = OpenSearch(opensearch_url, timeout=60)
    yield client
    client.close()


@pytest.fixture
def index(client: OpenSearch) -> Iterator[str]:
    name = f"node-test-{uuid.uuid4().hex[:8]}"
    yield name
    client.indices.delete(index=name, ignore_unavailable=True)


def test_the_node_is_opensearch_2_19(client: OpenSearch) -> None:
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.19.")
    assert client.cluster.health()["status"] in {"green", "yellow"}


def test_the_modules_are_loaded(client: OpenSearch) -> None:
    nodes = client.nodes.info(metric="plugins")["nodes"]
    (node,) = nodes.values()
    names = {plugin["name"].rsplit(".", 1)[-1] for plugin in node["plugins"]}
    assert names == {
        "Netty4Plugin",
        "CommonAnalysisPlugin",
        "PainlessPlugin",
        "MapperExtrasPlugin",
        "ReindexPlugin",
        "ParentJoinPlugin",
    }


def test_asciifolding_and_a_painless_script_query(client: OpenSearch, index: str) -> None:
    client.indices.create(
        index=index,
        body={
            "settings": {
                "number_of_replicas": 0,
                "analysis": {
                    "analyzer": {"folded": {"tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}
                },
            },
            "mappings": {"properties": {"body": {"type": "text", "analyzer": "folded"}, "n": {"type": "integer"}}},
        },
    )
    client.index(index=index, id="1", body={"body": "Café Zürich", "n": 5})
    client.index(index=index, id="2", body={"body": "cafe zurich", "n": 1})
    client.index(index=index, id="3", body={"body": "Tea in Bern", "n": 9})
    client.indices.refresh(index=index)
    script = {"script": {"lang": "painless", "source": "doc['n'].value > params.min", "params": {"min": 3}}}
    found = client.search(
        index=index,
        body={"query": {"bool": {"must": {"match": {"body": "CAFE zurich"}}, "filter": {"script": script}}}},
    )
    assert [hit["_id"] for hit in found["hits"]["hits"]] == ["1"]


def test_point_in_time_is_the_opensearch_2_form(client: OpenSearch, index: str) -> None:
    client.indices.create(index=index, body={"settings": {"number_of_replicas": 0}})
    client.index(index=index, id="a", body={"k": "a"}, refresh=True)
    pit = client.create_pit(index=index, params={"keep_alive": "1m"})
    try:
        page = client.search(
            body={"pit": {"id": pit["pit_id"], "keep_alive": "1m"}, "sort": [{"_id": "asc"}], "size": 10}
        )
        assert [hit["_id"] for hit in page["hits"]["hits"]] == ["a"]
    finally:
        client.delete_pit(body={"pit_id": [pit["pit_id"]]})


def test_a_node_that_cannot_start_is_an_error_with_its_log(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OpenSearchNodeError, match="exited") as raised:
            start_node(tmp_path / "home", classpath=build(), http_port=port, timeout=120)
    assert "BindHttpException" in str(raised.value) or "Address already in use" in str(raised.value)
