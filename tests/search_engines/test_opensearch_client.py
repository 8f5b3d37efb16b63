"""``OpenSearchEngine`` without a server: the exact calls it makes of an ``opensearch-py`` client
(a double answering the same keyword calls), the point in time in OpenSearch 2's form, a
refused request as ``EngineRefused`` with its root cause, and the highlight limit in each
engine's dialect, the client built from a URL with credentials and a CA file.
tests/search_engines/test_live_engines.py makes the same calls of a real node."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import ConnectionError as OpenSearchConnectionError
from opensearchpy import RequestError

from search.backends import ElasticsearchSearchBackend, OpenSearchSearchBackend
from search.engine_client import OPENSEARCH, EngineRefused
from search.es_query import UnsupportedEsQuery
from search.opensearch_client import OpenSearchEngine, opensearch_client
from search.query_parser import parse_query
from search.request import SearchRequest
from search.tantivy_schema import MAX_ATTACHMENT_CHARS
from tests.search_api.test_backends import RESPONSE, FakeSearchClient

Call = tuple[str, dict[str, Any]]
ROOT_CAUSE = {
    "error": {
        "root_cause": [{"type": "query_shard_exception", "reason": "failed to create query: too many clauses"}],
        "type": "search_phase_execution_exception",
        "reason": "all shards failed",
    },
    "status": 400,
}


def _hit(message_id: str, sent: str) -> dict[str, Any]:
    return {"_source": {"message_id": message_id, "sent": sent, "text": "hello"}, "sort": [0, message_id]}


class Indices:
    def __init__(self, calls: list[Call]) -> None:
        self.calls = calls

    def put_index_template(self, *, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("indices.put_index_template", {"name": name, "body": body}))
        return {"acknowledged": True}

    def put_mapping(self, *, index: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        self.calls.append(("indices.put_mapping", {"index": index, "body": body, **params}))
        return {"acknowledged": True}

    def refresh(self, *, index: str) -> dict[str, Any]:
        self.calls.append(("indices.refresh", {"index": index}))
        return {"_shards": {"total": 1, "successful": 1, "failed": 0}}


class OpenSearchDouble:
    """Keyword calls as ``opensearchpy.OpenSearch`` takes them (a ``body=``, query parameters as
    keywords or in ``params=``); searches answer from ``pages`` in turn (each a list of hits),
    or raise ``refuse``."""

    def __init__(self, pages: list[list[dict[str, Any]]] | None = None, refuse: Exception | None = None) -> None:
        self.calls: list[Call] = []
        self.indices = Indices(self.calls)
        self.pages = list(pages or [])
        self.refuse = refuse

    def bulk(self, *, body: list[dict[str, Any]], **params: Any) -> dict[str, Any]:
        self.calls.append(("bulk", {"body": body, **params}))
        return {"errors": False, "items": [{"index": {"status": 201}} for _ in body[::2]]}

    def search(self, *, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        self.calls.append(("search", {"body": body, **params}))
        if self.refuse is not None:
            raise self.refuse
        hits = self.pages.pop(0) if self.pages else []
        counted = {} if body.get("track_total_hits") is False else {"total": {"value": len(hits), "relation": "eq"}}
        return {"pit_id": f"pit-after-{len(self.calls)}", "timed_out": False, "hits": {"hits": hits, **counted}}

    def delete_by_query(self, *, index: str, body: dict[str, Any], **params: Any) -> dict[str, Any]:
        self.calls.append(("delete_by_query", {"index": index, "body": body, **params}))
        return {"timed_out": False, "total": 1, "deleted": 1, "version_conflicts": 0, "failures": []}

    def create_pit(self, *, index: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("create_pit", {"index": index, "params": params}))
        return {"pit_id": "pit-1", "_shards": {"total": 1, "successful": 1}, "creation_time": 0}

    def delete_pit(self, *, body: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("delete_pit", {"body": body}))
        return {"pits": [{"pit_id": pit, "successful": True} for pit in body["pit_id"]]}

    def close(self) -> None:
        self.calls.append(("close", {}))


def test_every_request_is_made_as_opensearch_py_takes_it() -> None:
    client = OpenSearchDouble()
    engine = OpenSearchEngine(client)
    operations: list[dict[str, Any]] = [{"index": {"_index": "a-events", "_id": "e1"}}, {"type": "post"}]
    engine.bulk(operations)
    engine.bulk(operations, refresh="wait_for")
    engine.bulk(operations, refresh=True)
    engine.put_index_template("a-messages", {"index_patterns": ["a-messages*"]})
    engine.put_mapping("a-messages*", {"versions": {"type": "integer"}})
    engine.refresh("a-messages")
    engine.delete_by_query("a-messages", {"terms": {"event_id": ["e1"]}})
    engine.search("a-messages", {"query": {"match_all": {}}})
    engine.close()
    assert client.calls == [
        ("bulk", {"body": operations, "refresh": "false"}),
        ("bulk", {"body": operations, "refresh": "wait_for"}),
        ("bulk", {"body": operations, "refresh": "true"}),
        ("indices.put_index_template", {"name": "a-messages", "body": {"index_patterns": ["a-messages*"]}}),
        (
            "indices.put_mapping",
            {
                "index": "a-messages*",
                "body": {"properties": {"versions": {"type": "integer"}}},
                "allow_no_indices": True,
            },
        ),
        ("indices.refresh", {"index": "a-messages"}),
        (
            "delete_by_query",
            {
                "index": "a-messages",
                "body": {"query": {"terms": {"event_id": ["e1"]}}},
                "conflicts": "proceed",
                "refresh": True,
                "wait_for_completion": True,
            },
        ),
        ("search", {"body": {"query": {"match_all": {}}}, "index": "a-messages"}),
        ("close", {}),
    ]
    assert engine.dialect == OPENSEARCH


def test_a_point_in_time_is_opened_with_keep_alive_in_params_and_closed_by_its_pit_id() -> None:
    client = OpenSearchDouble()
    engine = OpenSearchEngine(client)
    assert engine.open_point_in_time("a-messages", "2m") == "pit-1"
    engine.search("a-messages", {"pit": {"id": "pit-1", "keep_alive": "2m"}, "size": 10})
    engine.close_point_in_time("pit-1")
    assert client.calls == [
        ("create_pit", {"index": "a-messages", "params": {"keep_alive": "2m"}}),
        ("search", {"body": {"pit": {"id": "pit-1", "keep_alive": "2m"}, "size": 10}}),  # the pit names the index
        ("delete_pit", {"body": {"pit_id": ["pit-1"]}}),
    ]


def test_a_walk_pages_in_one_point_in_time_on_message_id_and_closes_the_newest_id() -> None:
    m3 = _hit("m3", "2026-11-22T09:00:00.000500+00:00")
    pages = [[_hit("m1", "2026-11-22T09:00:00+00:00"), _hit("m2", "2026-11-22T09:00:00+00:00"), m3], [m3]]
    client = OpenSearchDouble(pages=pages)
    hits = OpenSearchSearchBackend(client, prefix="a").every_hit(parse_query("hello"), page=2)
    assert [hit.message_id for hit in hits] == ["m1", "m2", "m3"]
    create, first, second, delete = client.calls
    assert create == ("create_pit", {"index": "a-messages", "params": {"keep_alive": "2m"}})
    for (_kind, request), pit_id in ((first, "pit-1"), (second, "pit-after-2")):
        body = request["body"]
        assert "index" not in request
        assert body["pit"] == {"id": pit_id, "keep_alive": "2m"}, "each page continues the newest id"
        assert body["sort"] == [{"sent": "asc"}, {"message_id": "asc"}], "no _shard_doc before OpenSearch 3.3"
        assert body["size"] == 3
        assert body["track_total_hits"] is False
        assert "highlight" not in body
    assert "search_after" not in first[1]["body"]
    assert second[1]["body"]["search_after"] == [1795338000000, "m2"]
    assert delete == ("delete_pit", {"body": {"pit_id": ["pit-after-3"]}})


def test_a_walk_that_fails_still_closes_its_point_in_time() -> None:
    client = OpenSearchDouble(refuse=OpenSearchConnectionError("N/A", "connection refused", None))
    with pytest.raises(OpenSearchConnectionError):
        OpenSearchSearchBackend(client, prefix="a").every_hit(parse_query("hello"))
    assert client.calls[-1] == ("delete_pit", {"body": {"pit_id": ["pit-1"]}})


def test_a_refused_request_is_engine_refused_with_its_root_cause() -> None:
    engine = OpenSearchEngine(
        OpenSearchDouble(refuse=RequestError(400, "search_phase_execution_exception", ROOT_CAUSE))
    )
    with pytest.raises(EngineRefused, match=r"^failed to create query: too many clauses$"):
        engine.search("a-messages", {"query": {"match_all": {}}})


def test_a_refused_query_is_an_unsupported_query_naming_opensearch() -> None:
    client = OpenSearchDouble(refuse=RequestError(400, "search_phase_execution_exception", ROOT_CAUSE))
    with pytest.raises(UnsupportedEsQuery, match="OpenSearch refused the query: failed to create query: too many"):
        OpenSearchSearchBackend(client, prefix="a").search(SearchRequest(parse_query("hello")))


def test_a_refusal_without_a_body_keeps_the_error_name() -> None:
    engine = OpenSearchEngine(OpenSearchDouble(refuse=RequestError(400, "illegal_argument_exception", "not json")))
    with pytest.raises(EngineRefused, match="illegal_argument_exception"):
        engine.search("a-messages", {})


def test_an_unreachable_engine_is_not_a_refusal() -> None:
    engine = OpenSearchEngine(OpenSearchDouble(refuse=OpenSearchConnectionError("N/A", "connection refused", None)))
    with pytest.raises(OpenSearchConnectionError):
        engine.search("a-messages", {})


def test_the_highlight_limit_is_named_in_each_engines_dialect() -> None:
    opensearch = OpenSearchDouble(pages=[[]])
    OpenSearchSearchBackend(opensearch).search(SearchRequest(parse_query("hello")))
    [(_kind, request)] = opensearch.calls
    assert request["body"]["highlight"]["max_analyzer_offset"] == MAX_ATTACHMENT_CHARS
    assert "max_analyzed_offset" not in request["body"]["highlight"]

    elasticsearch = FakeSearchClient(RESPONSE)
    ElasticsearchSearchBackend(elasticsearch).search(SearchRequest(parse_query("hello")))
    [asked] = elasticsearch.requests
    assert asked["highlight"]["max_analyzed_offset"] == MAX_ATTACHMENT_CHARS
    assert "max_analyzer_offset" not in asked["highlight"]


def test_the_client_takes_credentials_from_the_url_and_verifies_tls_with_the_ca_file(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("not read until a connection is made")
    client = opensearch_client("https://ana:s%40cret@search.example:9200", ca_certs=str(ca_file))
    connection = client.transport.get_connection()
    assert connection.host == "https://search.example:9200"
    assert connection.headers["authorization"] == "Basic " + base64.b64encode(b"ana:s@cret").decode()
    assert (connection.pool.ca_certs, connection.pool.cert_reqs) == (str(ca_file), "CERT_REQUIRED")
    assert connection.timeout == 30.0
