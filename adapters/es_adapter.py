"""The ``elasticsearch`` adapter: :class:`~adapters.engine_adapter.SearchEngineAdapter` over the
``elasticsearch`` Python client."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from adapters.base import AdapterContext
from adapters.engine_adapter import DEFAULT_BACKOFF, SearchEngineAdapter
from archive.file_store import FileStore
from ingest.retry import Backoff
from search.es_client import ElasticsearchEngine
from search.es_version import check_at_start


class ElasticsearchAdapter(SearchEngineAdapter):
    name = "elasticsearch"

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "archivist",
        attempts: int = 5,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        file_store: FileStore | None = None,
    ) -> None:
        super().__init__(
            ElasticsearchEngine(client),
            prefix=prefix,
            attempts=attempts,
            backoff=backoff,
            sleep=sleep,
            file_store=file_store,
        )
        self.client = client


def create(context: AdapterContext) -> ElasticsearchAdapter:
    if not context.elasticsearch_url:
        raise ValueError("the elasticsearch adapter needs ARCHIVIST_ELASTICSEARCH_URL")
    from elasticsearch import Elasticsearch

    options: dict[str, Any] = {}
    if api_key := context.options.get("es_api_key"):
        options["api_key"] = api_key
    if ca_certs := context.options.get("es_ca_certs"):
        options["ca_certs"] = ca_certs
    client = Elasticsearch(context.elasticsearch_url, request_timeout=30, **options)
    # A server this client cannot use (the other major, OpenSearch) stops the processor here,
    # with the versions and the extra to install, instead of failing every batch.
    check_at_start(client)
    return ElasticsearchAdapter(
        client, prefix=context.options.get("es_prefix", "archivist"), file_store=context.file_store
    )
