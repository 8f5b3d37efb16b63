"""The search engine adapters say when a failure is the engine's state rather than the event's
(``Failure.unreachable``): the processor then waits the outage out instead of parking."""

from __future__ import annotations

from adapters.es_actions import bulk_actions, item_outcome, results_per_event
from adapters.es_adapter import ElasticsearchAdapter
from adapters.opensearch_adapter import OpenSearchAdapter
from ingest.retry import Backoff
from search.opensearch_client import opensearch_client
from tests.adapters.test_elasticsearch_logic import FakeClient
from tests.factories import posts

CLOSED = "http://127.0.0.1:1"


def test_opensearch_out_of_reach_is_unreachable() -> None:
    adapter = OpenSearchAdapter(opensearch_client(CLOSED, max_retries=0))
    results = adapter.write(posts(2))
    assert all(result is not None and result.unreachable for result in results)
    assert all(result is not None and "opensearch unavailable" in result.reason for result in results)


def test_elasticsearch_out_of_reach_is_unreachable() -> None:
    from elasticsearch import Elasticsearch

    adapter = ElasticsearchAdapter(Elasticsearch(CLOSED, max_retries=0))
    results = adapter.write(posts(2))
    assert all(result is not None and result.unreachable for result in results)


def test_a_request_the_engine_refuses_is_not_an_outage() -> None:
    adapter = ElasticsearchAdapter(FakeClient(fail_with=ValueError("template refused")))
    results = adapter.write(posts(2))
    assert all(result is not None and not result.unreachable for result in results)


def test_items_still_refused_as_busy_after_every_retry_are_unreachable() -> None:
    client = FakeClient(scripted=[{0: 429}, {0: 429}])
    adapter = ElasticsearchAdapter(client, attempts=2, backoff=Backoff(initial=0, maximum=0), sleep=lambda _s: None)
    [busy, fine] = adapter.write(posts(2))
    assert busy is not None
    assert busy.unreachable
    assert fine is None


def test_an_event_refused_for_itself_is_at_fault_even_beside_a_busy_refusal() -> None:
    batch = posts(1)
    actions = bulk_actions(batch, "arch")
    assert len(actions) == 2, "a post: its event document and its message"
    busy = item_outcome({"index": {"status": 429, "error": {"type": "rejected", "reason": "busy"}}})
    bad = item_outcome({"update": {"status": 400, "error": {"type": "mapper_parsing_exception", "reason": "bad"}}})
    for outcomes in ([busy, bad], [bad, busy]):
        [result] = results_per_event(actions, outcomes, 1)
        assert result is not None
        assert not result.unreachable
        assert "mapper_parsing_exception" in result.reason
