"""Three test nodes form one cluster, lose a node to SIGKILL and take it back (the fault test's ground)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch, helpers

from tests.opensearch.node import OpenSearchNode, build, start_node, wait_for_health

NAMES = ("n1", "n2", "n3")


def free_ports(count: int) -> list[int]:
    """Fixed transport ports are needed for seed hosts: ask the kernel for free ones (released before use)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[OpenSearchNode]]:
    classpath = build()
    seeds = [f"127.0.0.1:{port}" for port in free_ports(len(NAMES))]
    nodes: list[OpenSearchNode] = []
    try:
        for name, seed in zip(NAMES, seeds, strict=True):
            nodes.append(
                start_node(
                    tmp_path / name,
                    classpath=classpath,
                    cluster_name="archivist-trio",
                    node_name=name,
                    transport_port=int(seed.rsplit(":", 1)[1]),
                    seed_hosts=seeds,
                    initial_managers=NAMES,
                )
            )
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
    victim.kill()
    survivor = OpenSearch(cluster[0].url, timeout=60)
    assert survivor.count(index="trio")["count"] == 500
    assert wait_for_health(cluster[2].url, status="yellow", nodes=2)["number_of_nodes"] == 2

    restarted = start_node(
        victim.home,
        classpath=build(),
        cluster_name=victim.cluster_name,
        node_name=victim.node_name,
        transport_port=victim.transport_port,
        seed_hosts=[node.transport_address for node in cluster],
        initial_managers=NAMES,
    )
    cluster[1] = restarted
    wait_for_health(cluster[0].url, status="green", nodes=3)
    assert OpenSearch(restarted.url, timeout=60).count(index="trio")["count"] == 500
