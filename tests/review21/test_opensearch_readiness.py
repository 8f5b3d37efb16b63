"""Review of issue 21: /readyz's OpenSearch check with a comma-separated list of nodes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from search_api.health import check_opensearch

INFO = {
    "name": "node-2",
    "cluster_name": "review21",
    "version": {"number": "2.19.0", "distribution": "opensearch"},
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}


class _Info(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(INFO).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def live_node() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Info)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _dead_node() -> str:
    """A loopback port nothing listens on (connections are refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_stub_node_alone_is_ready(live_node: str) -> None:
    check_opensearch(live_node)  # the stub answers as a node does


def test_readiness_with_one_node_of_two_down(live_node: str) -> None:
    url = f"{_dead_node()},{live_node}"
    failures = []
    for _ in range(30):  # the client shuffles its nodes: the dead one comes first about half the time
        try:
            check_opensearch(url)
        except Exception as error:
            failures.append(f"{error.__class__.__name__}: {error}")
    assert not failures, failures[0]
