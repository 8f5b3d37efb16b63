"""The ``opensearch`` adapter: :class:`~adapters.engine_adapter.SearchEngineAdapter` over
``opensearch-py`` (the same templates, bulk actions and scripts as the ``elasticsearch`` one)."""

from __future__ import annotations

from typing import Any

from adapters.base import AdapterContext
from adapters.engine_adapter import SearchEngineAdapter
from archive.file_store import FileStore
from search.opensearch_client import OpenSearchEngine, opensearch_client


class OpenSearchAdapter(SearchEngineAdapter):
    name = "opensearch"

    def __init__(self, client: Any, *, prefix: str = "archivist", file_store: FileStore | None = None) -> None:
        super().__init__(OpenSearchEngine(client), prefix=prefix, file_store=file_store)
        self.client = client


def create(context: AdapterContext) -> OpenSearchAdapter:
    if not context.opensearch_url:
        raise ValueError("the opensearch adapter needs ARCHIVIST_OPENSEARCH_URL")
    client = opensearch_client(context.opensearch_url, ca_certs=context.options.get("os_ca_certs"))
    return OpenSearchAdapter(
        client, prefix=context.options.get("es_prefix", "archivist"), file_store=context.file_store
    )
