"""A tiny HTTP server that answers like an Elasticsearch 7, 8 or 9 node (or an OpenSearch node)
does for the calls Archivist makes, in a thread on a free loopback port.

What it copies from the real servers (sources in docs/elasticsearch-versions.md):

- ``GET /`` answers the node's root document (``version.number``, ``build_flavor``,
  ``tagline``; OpenSearch adds ``version.distribution: opensearch``).
- Elasticsearch sends ``X-Elastic-Product: Elasticsearch`` on every answer; OpenSearch does not,
  and answers a body sent as ``application/vnd.elasticsearch+json; compatible-with=N`` with HTTP
  406 "Content-Type header [...] is not supported" (seen on the OpenSearch 2.19 test node).
- REST API compatibility: an ``Accept`` or ``Content-Type`` of
  ``application/vnd.elasticsearch+json; compatible-with=N`` is accepted when N is the server's
  major or the one before it; otherwise Elasticsearch answers HTTP 400
  ``media_type_header_exception`` caused by "Accept version must be either version 8 or 7,
  but found 9. Accept=..." (the body elasticsearch-py 9.x meets on an 8.x server, issue 2923).
  A compatible answer carries the compatible media type back.
- The index calls (templates, mappings, bulk, search, point in time, refresh, delete by query)
  answer minimal well-formed bodies; every request is recorded for the test to inspect.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

_COMPATIBLE = re.compile(r"compatible-with=(\d+)")


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class StubNode:
    """What the stub answers as: ``version`` (e.g. ``8.17.0``), and ``distribution``
    (``elasticsearch`` or ``opensearch``); ``root_status`` other than 200 refuses ``GET /``
    (an API key without the ``monitor`` privilege gets 403)."""

    version: str
    distribution: str = "elasticsearch"
    root_status: int = 200
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def root_document(self) -> dict[str, Any]:
        if self.distribution == "opensearch":
            return {
                "name": "stub",
                "cluster_name": "stub",
                "cluster_uuid": "stub-uuid",
                "version": {
                    "distribution": "opensearch",
                    "number": self.version,
                    "build_type": "tar",
                    "lucene_version": "9.12.1",
                    "minimum_wire_compatibility_version": "7.10.0",
                    "minimum_index_compatibility_version": "7.0.0",
                },
                "tagline": "The OpenSearch Project: https://opensearch.org/",
            }
        return {
            "name": "stub",
            "cluster_name": "stub",
            "cluster_uuid": "stub-uuid",
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2025-01-01T00:00:00.000000000Z",
                "build_snapshot": False,
                "lucene_version": "10.2.2" if self.major >= 9 else "9.12.0",
                "minimum_wire_compatibility_version": f"{self.major - 1}.19.0",
                "minimum_index_compatibility_version": f"{self.major - 1}.0.0",
            },
            "tagline": "You Know, for Search",
        }

    def paths(self) -> list[str]:
        return [f"{request.method} {request.path}" for request in self.requests]


def _media_type_refusal(major: int, found: int, accept: str) -> dict[str, Any]:
    reason = "Invalid media-type value on headers [Accept, Content-Type]"
    return {
        "error": {
            "root_cause": [{"type": "media_type_header_exception", "reason": reason}],
            "type": "media_type_header_exception",
            "reason": reason,
            "caused_by": {
                "type": "status_exception",
                "reason": f"Accept version must be either version {major} or {major - 1}, "
                f"but found {found}. Accept={accept}",
            },
        },
        "status": 400,
    }


def _answer(node: StubNode, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    if path == "/" and method in ("GET", "HEAD"):
        if node.root_status != 200:
            return node.root_status, {"error": {"type": "security_exception", "reason": "forbidden"}, "status": 403}
        return 200, node.root_document()
    if path.startswith("/_index_template/") or path.endswith("/_mapping"):
        return 200, {"acknowledged": True}
    if path == "/_bulk":
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        items = []
        for line in lines:
            if len(line) == 1 and (action := next(iter(line))) in ("index", "create", "update", "delete"):
                meta = line[action]
                items.append({action: {"_index": meta.get("_index"), "_id": meta.get("_id"), "status": 200}})
        return 200, {"took": 1, "errors": False, "items": items}
    if path.endswith("/_pit") and method == "POST":
        return 200, {"id": "stub-pit-id"}
    if path == "/_pit" and method == "DELETE":
        return 200, {"succeeded": True, "num_freed": 1}
    if path.endswith("/_search"):
        return 200, {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []},
            **({"pit_id": "stub-pit-id"} if path == "/_search" else {}),
        }
    if path.endswith("/_refresh"):
        return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
    if path.endswith("/_delete_by_query"):
        return 200, {"took": 1, "timed_out": False, "total": 0, "deleted": 0, "failures": []}
    return 404, {"error": {"type": "stub_exception", "reason": f"the stub does not answer {method} {path}"}}


class _Handler(BaseHTTPRequestHandler):
    node: StubNode
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.node.requests.append(Recorded(self.command, split.path, split.query, headers, body))
        status, document = self._respond(split.path, headers, body)
        self._send(status, document, headers)

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        node = self.node
        if node.distribution == "opensearch" and "compatible-with" in headers.get("content-type", ""):
            # OpenSearch 2.19 (the test node, seen): 406 for a body sent as Elasticsearch's media type.
            unsupported = f"Content-Type header [{headers['content-type']}] is not supported"
            return 406, {"error": unsupported, "status": 406}
        if node.distribution == "elasticsearch":
            for name in ("accept", "content-type"):
                found = _COMPATIBLE.search(headers.get(name, ""))
                if found and int(found.group(1)) not in (node.major, node.major - 1):
                    return 400, _media_type_refusal(node.major, int(found.group(1)), headers.get("accept", ""))
        return _answer(node, self.command, path, body)

    def _send(self, status: int, document: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        compatible = _COMPATIBLE.search(headers.get("accept", ""))
        if self.node.distribution == "elasticsearch":
            self.send_header("X-Elastic-Product", "Elasticsearch")
        if compatible and self.node.distribution == "elasticsearch" and status < 400:
            media_type = f"application/vnd.elasticsearch+json;compatible-with={compatible.group(1)}"
            self.send_header("Content-Type", media_type)
        else:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()


@contextmanager
def serve(node: StubNode) -> Iterator[StubNode]:
    """Serve ``node`` on a free loopback port (``node.url``) until the block ends."""
    handler = type("Handler", (_Handler,), {"node": node})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    node.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="es-stub", daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
