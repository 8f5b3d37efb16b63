"""The Elasticsearch search backend's request and response handling, without a server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from search.backends import ElasticsearchSearchBackend, page_from_response
from search.query_ast import UnsupportedQuery
from search.query_parser import SEARCH_TIME_BUDGET_SECONDS, parse_query
from search.request import HitsCursor, RankCursor, SearchRequest

RESPONSE: dict[str, Any] = {
    "hits": {
        "total": {"value": 2, "relation": "eq"},
        "hits": [
            {
                "_source": {
                    "message_id": "m1",
                    "event_id": "e1",
                    "room_id": "room:desk",
                    "sender_id": "user:ana",
                    "sent": "2026-11-22T09:00:00+00:00",
                    "text": "Café at ten",
                    "deleted": False,
                },
                "highlight": {"text": ["<b>Café</b> at ten"]},
            },
            {
                "_source": {
                    "message_id": "m2",
                    "sent": "2026-11-22T09:05:00.250000+00:00",
                    "text": "cafe?",
                    "deleted": True,
                }
            },
        ],
    },
    "aggregations": {
        "room": {"buckets": [{"key": "room:desk", "doc_count": 2}]},
        "sender": {"buckets": [{"key": "user:ana", "doc_count": 1}, {"key": "user:bob", "doc_count": 1}]},
        "day": {"buckets": [{"key": 1795305600000, "key_as_string": "2026-11-22T00:00:00.000Z", "doc_count": 2}]},
        "first": {"value": 1795338000000.0, "value_as_string": "2026-11-22T09:00:00.000Z"},
        "last": {"value": 1795338300250.0, "value_as_string": "2026-11-22T09:05:00.250Z"},
    },
}
DATES: dict[str, Any] = {
    "hits": {"total": {"value": 0, "relation": "gte"}, "hits": []},
    "aggregations": {"day": {"buckets": [{"key": 1795305600000, "doc_count": 2}]}},
}


class FakeSearchClient:
    """Answers a search with RESPONSE, and the date facet's request (size 0) with ``dates``."""

    def __init__(self, response: dict[str, Any] = RESPONSE, dates: dict[str, Any] = DATES) -> None:
        self.requests: list[dict[str, Any]] = []
        self.response = response
        self.dates = dates

    def search(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        return self.dates if request["size"] == 0 else self.response


def test_a_response_becomes_a_page() -> None:
    page = page_from_response(RESPONSE)
    assert page.total == 2
    assert [h.message_id for h in page.hits] == ["m1", "m2"]
    assert page.hits[0].highlight == "<b>Café</b> at ten"
    assert page.hits[1].highlight is None
    assert page.hits[1].deleted is True
    assert page.hits[1].sent - page.hits[0].sent == 300_250_000
    assert page.facets == {
        "room": {"room:desk": 2},
        "sender": {"user:ana": 1, "user:bob": 1},
        "day": {"2026-11-22": 2},
    }


def test_the_request_carries_the_translated_query_paging_sort_and_facets() -> None:
    client = FakeSearchClient()
    backend = ElasticsearchSearchBackend(client, prefix="arch")
    page = backend.search(
        SearchRequest(
            parse_query("cafe"), cursor=RankCursor(50), size=25, by_relevance=True, memberships=None, facets=True
        )
    )
    request, dates = client.requests
    assert request["index"] == "arch-messages"
    assert (request["from"], request["size"]) == (50, 25)
    assert request["sort"][0] == "_score"
    assert set(request["aggs"]) == {"room", "sender", "first", "last"}
    assert request["query"]["bool"]["filter"] == [{"terms": {"type": ["post", "file_upload"]}}]
    # The date facet: the same query, hits within one day, so counted per day.
    assert dates["query"] == request["query"]
    assert dates["size"] == 0
    assert dates["aggs"]["day"]["date_histogram"]["calendar_interval"] == "day"
    assert dates["aggs"]["day"]["date_histogram"]["min_doc_count"] == 1
    assert page.facets["day"] == {"2026-11-22": 2}


def test_time_order_continues_after_the_last_hit_and_asks_one_more() -> None:
    client = FakeSearchClient()
    backend = ElasticsearchSearchBackend(client, prefix="arch")
    page = backend.search(
        SearchRequest(
            parse_query("cafe"),
            size=1,
            by_relevance=False,
            memberships=None,
            cursor=HitsCursor((1_700_000_000_123_456, "m0")),
        )
    )
    (request,) = client.requests
    assert request["sort"] == [{"sent": "asc"}, {"message_id": "asc"}]
    assert request["search_after"] == [1_700_000_000_123, "m0"]
    assert (request["from"], request["size"]) == (0, 2)
    assert "aggs" not in request
    assert [h.message_id for h in page.hits] == ["m1"]
    assert page.next_after == (page.hits[0].sent, "m1")


def test_the_last_page_has_no_continuation() -> None:
    page = page_from_response(RESPONSE, size=2)
    assert len(page.hits) == 2
    assert page.next_after is None


class RefusingClient:
    """An Elasticsearch client whose cluster refuses the query, as it does past max_nested_depth."""

    def search(self, **_request: Any) -> dict[str, Any]:
        import elastic_transport
        from elasticsearch import BadRequestError

        meta = elastic_transport.ApiResponseMeta(
            status=400,
            http_version="1.1",
            headers=elastic_transport.HttpHeaders(),
            duration=0.0,
            node=elastic_transport.NodeConfig("http", "localhost", 9200),
        )
        body = {"error": {"root_cause": [{"reason": "The nested depth of the query exceeds [20]"}]}}
        raise BadRequestError("search_phase_execution_exception", meta, body)


def test_a_query_the_cluster_refuses_is_an_unsupported_query_not_a_server_error() -> None:
    backend = ElasticsearchSearchBackend(RefusingClient())
    with pytest.raises(UnsupportedQuery, match="nested depth of the query exceeds"):
        backend.search(SearchRequest(parse_query("a (b OR (c -d))"), size=10, by_relevance=False, memberships=None))


def _millis(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000


def test_hits_centuries_apart_are_counted_per_year_named_as_tantivy_names_them() -> None:
    """Bug 2: a day histogram over hits from year 1 to 9999 needs 3.6 million buckets. The
    first and last hit choose the bucket, as on Tantivy (search.date_facets)."""
    spread = {
        **RESPONSE,
        "aggregations": {
            **RESPONSE["aggregations"],
            "first": {"value": _millis("0001-01-01")},
            "last": {"value": _millis("9999-12-31T23:59:59.999")},
        },
    }
    years = {
        "aggregations": {
            "day": {
                "buckets": [
                    {"key": _millis("0001-01-01"), "doc_count": 1},
                    {"key": _millis("1800-01-01"), "doc_count": 0},
                    {"key": _millis("2026-01-01"), "doc_count": 2},
                    {"key": _millis("9999-01-01"), "doc_count": 1},
                ]
            }
        }
    }
    client = FakeSearchClient(spread, years)
    page = ElasticsearchSearchBackend(client).search(
        SearchRequest(parse_query("cafe"), size=10, by_relevance=False, memberships=None, facets=True)
    )
    assert client.requests[1]["aggs"]["day"]["date_histogram"]["calendar_interval"] == "year"
    assert page.facets["day"] == {
        "0001-01-01..0001-12-31": 1,
        "2026-01-01..2026-12-31": 2,
        "9999-01-01..9999-12-31": 1,
    }


def test_no_hits_means_an_empty_date_facet_and_one_request() -> None:
    empty = {
        "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
        "aggregations": {
            "room": {"buckets": []},
            "sender": {"buckets": []},
            "first": {"value": None},
            "last": {"value": None},
        },
    }
    client = FakeSearchClient(empty)
    page = ElasticsearchSearchBackend(client).search(
        SearchRequest(parse_query("cafe"), size=10, by_relevance=False, memberships=None, facets=True)
    )
    assert len(client.requests) == 1
    assert page.facets == {"room": {}, "sender": {}, "day": {}}


def test_a_search_past_its_time_budget_is_refused_not_answered_in_part() -> None:
    client = FakeSearchClient({**RESPONSE, "timed_out": True})
    backend = ElasticsearchSearchBackend(client)
    with pytest.raises(UnsupportedQuery, match=f"time budget of {SEARCH_TIME_BUDGET_SECONDS} s"):
        backend.search(SearchRequest(parse_query("cafe"), size=10, by_relevance=False, memberships=None))
    assert client.requests[0]["timeout"] == f"{SEARCH_TIME_BUDGET_SECONDS}s"
