"""Three test nodes form one cluster, lose a node to SIGKILL and take it back (the fault test's ground)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, helpers

from tests.opensearch.node import OpenSearchNode, OpenSearchNodeError, start_cluster, wait_for_health

NAMES = ("n1", "n2", "n3")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[OpenSearchNode]]:
    try:
        nodes = start_cluster(tmp_path, NAMES, cluster_name="archivist-trio")
    except OpenSearchNodeError as error:
        pytest.fail(f"the 3-node OpenSearch cluster did not start: {error}")
    try:
        wait_for_health(nodes[0].url, status="green", nodes=len(NAMES))
        yield nodes
    finally:
        for node in nodes:
            node.stop()


def test_three_nodes_survive_losing_one(cluster: list[OpenSearchNode]) -> None:
    client = OpenSearch([node.url for node in cluster], timeout=60)
    client.indices.create(index="trio", body={"settings": {"number_of_shards": 3, "number_of_replicas": 1}})
    helpers.bulk(client, ({"_index": "trio", "_id": str(i), "n": i} for i in range(500)), refresh=True)
    wait_for_health(cluster[0].url, status="green", nodes=3)

    victim = cluster[1]
    with pytest.raises(OpenSearchNodeError, match="still running"):
        victim.restart()
    http_port, transport_port = victim.http_port, victim.transport_port
    victim.kill()
    survivor = OpenSearch(cluster[0].url, timeout=60)
    assert survivor.count(index="trio")["count"] == 500
    assert wait_for_health(cluster[2].url, status="yellow", nodes=2)["number_of_nodes"] == 2

    victim.restart()
    # The same ports: a client configured with the node's URL finds it again.
    assert (victim.http_port, victim.transport_port) == (http_port, transport_port)
    wait_for_health(cluster[0].url, status="green", nodes=3)
    assert OpenSearch(victim.url, timeout=60).count(index="trio")["count"] == 500
    names = {node["name"] for node in OpenSearch(victim.url, timeout=60).cat.nodes(format="json")}
    assert names == set(NAMES)
