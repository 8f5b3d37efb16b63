"""Review of issue 21: searching an OpenSearch cluster nothing has been delivered to yet."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from search.backends import OpenSearchSearchBackend, every_hit
from search.opensearch_client import opensearch_client
from search.query_parser import parse_query
from search.request import SearchRequest


@pytest.fixture
def client(opensearch_url: str) -> Iterator[Any]:
    client = opensearch_client(opensearch_url)
    yield client
    client.close()


@pytest.fixture
def backend(client: Any) -> Iterator[OpenSearchSearchBackend]:
    prefix = f"review21-{uuid.uuid4().hex[:8]}"
    yield OpenSearchSearchBackend(client, prefix=prefix)
    client.indices.delete(index=f"{prefix}-*", allow_no_indices=True, ignore_unavailable=True)


def test_a_search_before_any_delivery_is_an_empty_page(backend: OpenSearchSearchBackend) -> None:
    page = backend.search(SearchRequest(node=parse_query("ubuntu")))
    assert page.total == 0
    assert page.hits == []


def test_every_hit_before_any_delivery_is_no_hit(backend: OpenSearchSearchBackend) -> None:
    assert every_hit(backend, parse_query("ubuntu")) == []
