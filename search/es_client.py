"""An :class:`~search.engine_client.EngineClient` over the ``elasticsearch`` Python client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from search.engine_client import (
    ELASTICSEARCH,
    UNAVAILABLE_STATUSES,
    Dialect,
    EngineRefused,
    Json,
    Refresh,
    error_reason,
    index_missing_or,
)
from search.es_version import explain


class ElasticsearchEngine:
    """Elasticsearch through ``client`` (an ``elasticsearch.Elasticsearch``, or a test double
    answering the same keyword calls). A call the server refuses because it cannot be used with
    this client (the other major, or OpenSearch) raises :class:`~search.es_version.UnsupportedServer`
    saying so, whether or not the version was checked at start."""

    dialect: Dialect = ELASTICSEARCH

    def __init__(self, client: Any) -> None:
        self.client = client

    def bulk(self, operations: list[Json], *, refresh: Refresh = False) -> Json:
        with self._refusals():
            return dict(self.client.bulk(operations=operations, refresh=refresh))

    def search(self, index: str, body: Json) -> Json:
        from elasticsearch import BadRequestError, NotFoundError

        # A search in a point in time names no index: the point in time does.
        where = {} if "pit" in body else {"index": index}
        with self._refusals():
            try:
                return dict(self.client.search(**where, **body))
            except BadRequestError as error:  # e.g. a query nested deeper than the cluster allows
                if (unusable := explain(self.client, error)) is not None:
                    raise unusable from error  # the server refuses this client, not the query
                raise EngineRefused(error_reason(error.info, error.message)) from error
            except NotFoundError as error:
                raise index_missing_or(error, error.info) from error

    def put_index_template(self, name: str, body: Json) -> None:
        with self._refusals():
            self.client.indices.put_index_template(name=name, **body)

    def put_mapping(self, index: str, properties: Json) -> None:
        with self._refusals():
            self.client.indices.put_mapping(index=index, properties=properties, allow_no_indices=True)

    def refresh(self, index: str) -> None:
        with self._refusals():
            self.client.indices.refresh(index=index)

    def delete_by_query(self, index: str, query: Json) -> Json:
        with self._refusals():
            return dict(
                self.client.delete_by_query(
                    index=index, query=query, conflicts="proceed", refresh=True, wait_for_completion=True
                )
            )

    def open_point_in_time(self, index: str, keep_alive: str) -> str:
        from elasticsearch import NotFoundError

        with self._refusals():
            try:
                return str(self.client.open_point_in_time(index=index, keep_alive=keep_alive)["id"])
            except NotFoundError as error:
                raise index_missing_or(error, error.info) from error

    def close_point_in_time(self, pit_id: str) -> None:
        with self._refusals():
            self.client.close_point_in_time(id=pit_id)

    def unreachable(self, error: BaseException) -> bool:
        from elastic_transport import ConnectionError, ConnectionTimeout
        from elasticsearch import ApiError

        if isinstance(error, ConnectionError | ConnectionTimeout | OSError):
            return True
        return isinstance(error, ApiError) and error.meta.status in UNAVAILABLE_STATUSES

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        """Turn a refusal that means "this server cannot be used with this client" into the
        :class:`~search.es_version.UnsupportedServer` that says which versions and what to do."""
        try:
            yield
        except Exception as error:
            unusable = explain(self.client, error)
            if unusable is not None:
                raise unusable from error
            raise
