"""Review of issue 21: a search engine refusing a whole bulk request as busy (HTTP 429)."""

from __future__ import annotations

from typing import Any

from adapters.opensearch_adapter import OpenSearchAdapter
from tests.factories import posts

BUSY = {
    "error": {
        "root_cause": [
            {
                "type": "rejected_execution_exception",
                "reason": "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, "
                "replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_"
                "primary_bytes=53687091]",
            }
        ],
        "type": "rejected_execution_exception",
        "reason": "rejected execution of coordinating operation",
    },
    "status": 429,
}


class _Indices:
    def put_index_template(self, **_kwargs: Any) -> None:
        pass

    def put_mapping(self, **_kwargs: Any) -> None:
        pass


class BusyOpenSearch:
    """opensearch-py's client as it behaves when the coordinating node's indexing pressure (or a
    circuit breaker) refuses every bulk request with 429: it raises TransportError(429)."""

    def __init__(self) -> None:
        self.indices = _Indices()
        self.bulk_calls = 0

    def bulk(self, **_kwargs: Any) -> dict[str, Any]:
        from opensearchpy import TransportError

        self.bulk_calls += 1
        raise TransportError(429, "rejected_execution_exception", BUSY)

    def close(self) -> None:
        pass


def test_a_bulk_request_refused_as_busy_is_waited_out_not_parked() -> None:
    client = BusyOpenSearch()
    results = OpenSearchAdapter(client).write(posts(2))
    assert client.bulk_calls >= 1
    assert all(result is not None for result in results)
    assert all(result is not None and result.unreachable for result in results), [
        result.reason for result in results if result is not None
    ]
