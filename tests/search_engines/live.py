"""The real search engines the live suite runs against, one interface for each.

OpenSearch: the session's test node (``opensearch_url``, tests/opensearch/fixtures.py), always.
Elasticsearch: the server ``ARCHIVIST_TEST_ES_URL`` names, when it is set (a real Elasticsearch
cannot be assembled from the package registries these machines reach, so it is not started here).

Every user of an engine takes indices of its own (``archivist-<what>-<uuid8>``) and drops them
after: the engines' own operations (bulk, search, refresh) go through the adapter's
:class:`~search.engine_client.EngineClient`; the administration the tests need (dropping
indices, blocking writes, closing an index) through the engine's own Python client.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from adapters.engine_adapter import SearchEngineAdapter
from adapters.es_adapter import ElasticsearchAdapter
from adapters.opensearch_adapter import OpenSearchAdapter
from archive.file_store import FileStore
from ingest.events import Event
from search.backends import ElasticsearchSearchBackend, EngineSearchBackend, OpenSearchSearchBackend
from search.es_mapping import events_index, messages_index
from search.opensearch_client import opensearch_client

ES_URL_VARIABLE = "ARCHIVIST_TEST_ES_URL"
ES_SKIP_REASON = (
    f"{ES_URL_VARIABLE} is not set: a real Elasticsearch cannot be installed on these machines (its modules are "
    "not on Maven Central), so this suite runs against it only when that variable names a server"
)
Kind = Literal["opensearch", "elasticsearch"]


def elasticsearch_url() -> str | None:
    return os.environ.get(ES_URL_VARIABLE) or None


@dataclass(frozen=True)
class LiveEngine:
    """One real engine at ``url``."""

    kind: Kind
    url: str

    def client(self) -> Any:
        """A new client of the engine's own Python library (the caller closes it)."""
        if self.kind == "opensearch":
            return opensearch_client(self.url, timeout=60)
        from elasticsearch import Elasticsearch

        return Elasticsearch(self.url, request_timeout=60)

    def adapter(self, prefix: str, *, file_store: FileStore | None = None) -> SearchEngineAdapter:
        """The engine's adapter over indices named by ``prefix``, with a client of its own."""
        if self.kind == "opensearch":
            return OpenSearchAdapter(self.client(), prefix=prefix, file_store=file_store)
        return ElasticsearchAdapter(self.client(), prefix=prefix, file_store=file_store)

    def backend(self, adapter: SearchEngineAdapter) -> EngineSearchBackend:
        """The engine's search backend over ``adapter``'s indices, sharing its client."""
        client = getattr(adapter, "client")  # noqa: B009 (both adapters keep their client)
        if self.kind == "opensearch":
            return OpenSearchSearchBackend(client, prefix=adapter.prefix)
        return ElasticsearchSearchBackend(client, prefix=adapter.prefix)

    def drop(self, prefix: str) -> None:
        """Delete ``prefix``'s indices and templates (by name: Elasticsearch 8 refuses wildcards)."""
        client = self.client()
        try:
            names = [messages_index(prefix), events_index(prefix)]
            if self.kind == "opensearch":
                client.indices.delete(index=",".join(names), ignore_unavailable=True)
                for name in names:
                    client.indices.delete_index_template(name=name, ignore=404)
            else:
                client.indices.delete(index=",".join(names), ignore_unavailable=True)
                for name in names:
                    client.options(ignore_status=404).indices.delete_index_template(name=name)
        finally:
            client.close()

    def block_writes(self, index: str, blocked: bool) -> None:
        """Set ``index.blocks.write`` (a read-only index refuses every write and delete)."""
        settings = {"index.blocks.write": blocked}
        client = self.client()
        try:
            if self.kind == "opensearch":
                client.indices.put_settings(index=index, body=settings)
            else:
                client.indices.put_settings(index=index, settings=settings)
        finally:
            client.close()

    def create_index(self, index: str, body: dict[str, Any]) -> None:
        """Create ``index`` with ``body`` (its ``settings`` and ``mappings``), templates aside."""
        client = self.client()
        try:
            if self.kind == "opensearch":
                client.indices.create(index=index, body=body)
            else:
                client.indices.create(index=index, **body)
        finally:
            client.close()

    def set_open(self, index: str, is_open: bool) -> None:
        """Close ``index`` (it answers no request until opened again) or open it."""
        client = self.client()
        try:
            if is_open:
                client.indices.open(index=index, wait_for_active_shards="1")
            else:
                client.indices.close(index=index)
        finally:
            client.close()


def new_prefix(what: str) -> str:
    return f"archivist-{what}-{uuid.uuid4().hex[:8]}"


def deliver(adapter: SearchEngineAdapter, events: Sequence[Event], chunk: int = 1000) -> None:
    """Deliver ``events`` in batches of ``chunk`` (every event must succeed), then refresh."""
    for start in range(0, len(events), chunk):
        batch = events[start : start + chunk]
        assert list(adapter.write(batch)) == [None] * len(batch)
    adapter.engine.refresh(f"{adapter.prefix}-*")


def sources(adapter: SearchEngineAdapter, query: dict[str, Any], index: str | None = None) -> list[dict[str, Any]]:
    """The documents of the messages index (or ``index``) that ``query`` matches, after a refresh."""
    where = index or messages_index(adapter.prefix)
    adapter.engine.refresh(where)
    response = adapter.engine.search(where, {"query": query, "size": 1000, "sort": ["_doc"]})
    return [hit["_source"] for hit in response["hits"]["hits"]]


def count(adapter: SearchEngineAdapter, index: str) -> int:
    adapter.engine.refresh(index)
    response = adapter.engine.search(index, {"query": {"match_all": {}}, "size": 0, "track_total_hits": True})
    return int(response["hits"]["total"]["value"])
