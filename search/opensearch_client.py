"""An :class:`~search.engine_client.EngineClient` over ``opensearch-py`` (the ``elasticsearch``
client refuses OpenSearch: it sends Elasticsearch's compatibility media types and checks the
``X-Elastic-Product`` header)."""

from __future__ import annotations

from typing import Any

from search.engine_client import (
    OPENSEARCH,
    UNAVAILABLE_STATUSES,
    Dialect,
    EngineRefused,
    Json,
    Refresh,
    error_reason,
    index_missing_or,
)


class OpenSearchEngine:
    """OpenSearch 2.x through ``client`` (an ``opensearchpy.OpenSearch``)."""

    dialect: Dialect = OPENSEARCH

    def __init__(self, client: Any) -> None:
        self.client = client

    def bulk(self, operations: list[Json], *, refresh: Refresh = False) -> Json:
        return dict(self.client.bulk(body=operations, refresh=_flag(refresh)))

    def search(self, index: str, body: Json) -> Json:
        from opensearchpy import NotFoundError, RequestError

        where = {} if "pit" in body else {"index": index}
        try:
            return dict(self.client.search(body=body, **where))
        except RequestError as error:
            raise EngineRefused(error_reason(error.info, str(error.error))) from error
        except NotFoundError as error:
            raise index_missing_or(error, error.info) from error

    def put_index_template(self, name: str, body: Json) -> None:
        self.client.indices.put_index_template(name=name, body=body)

    def put_mapping(self, index: str, properties: Json) -> None:
        self.client.indices.put_mapping(index=index, body={"properties": properties}, allow_no_indices=True)

    def refresh(self, index: str) -> None:
        self.client.indices.refresh(index=index)

    def delete_by_query(self, index: str, query: Json) -> Json:
        return dict(
            self.client.delete_by_query(
                index=index,
                body={"query": query},
                conflicts="proceed",
                refresh=True,
                wait_for_completion=True,
            )
        )

    def open_point_in_time(self, index: str, keep_alive: str) -> str:
        # OpenSearch 2.x answers ``pit_id`` (Elasticsearch: ``id``).
        from opensearchpy import NotFoundError

        try:
            return str(self.client.create_pit(index=index, params={"keep_alive": keep_alive})["pit_id"])
        except NotFoundError as error:
            raise index_missing_or(error, error.info) from error

    def close_point_in_time(self, pit_id: str) -> None:
        self.client.delete_pit(body={"pit_id": [pit_id]})

    def unreachable(self, error: BaseException) -> bool:
        from opensearchpy import ConnectionError, TransportError

        if isinstance(error, ConnectionError | OSError):  # ConnectionTimeout is a ConnectionError
            return True
        return isinstance(error, TransportError) and error.status_code in UNAVAILABLE_STATUSES

    def close(self) -> None:
        self.client.close()


def _flag(refresh: Refresh) -> str:
    return refresh if isinstance(refresh, str) else str(refresh).lower()


def opensearch_client(url: str, *, ca_certs: str | None = None, timeout: float = 30.0, max_retries: int = 3) -> Any:
    """An ``opensearchpy.OpenSearch`` for ``url`` (credentials may be in it:
    ``https://user:password@host:9200``), verifying TLS with ``ca_certs`` when given.

    ``url`` may list several nodes of one cluster, separated by commas: the client sends each
    request to one of them and, when a node does not answer, to the next, so a processor or the
    API keeps working while a node is down (with one URL it fails until that node is back)."""
    from opensearchpy import OpenSearch

    options: dict[str, Any] = {"timeout": timeout, "max_retries": max_retries}
    if ca_certs:
        options |= {"ca_certs": ca_certs, "verify_certs": True}
    return OpenSearch(node_urls(url), **options)


def node_urls(url: str) -> list[str]:
    """The nodes of a comma-separated ``ARCHIVIST_OPENSEARCH_URL``."""
    return [node.strip() for node in url.split(",") if node.strip()]
