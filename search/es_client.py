"""An :class:`~search.engine_client.EngineClient` over the ``elasticsearch`` Python client."""

from __future__ import annotations

from typing import Any

from search.engine_client import ELASTICSEARCH, Dialect, EngineRefused, Json, Refresh


class ElasticsearchEngine:
    """Elasticsearch through ``client`` (an ``elasticsearch.Elasticsearch``, or a test double
    answering the same keyword calls)."""

    dialect: Dialect = ELASTICSEARCH

    def __init__(self, client: Any) -> None:
        self.client = client

    def bulk(self, operations: list[Json], *, refresh: Refresh = False) -> Json:
        return dict(self.client.bulk(operations=operations, refresh=refresh))

    def search(self, index: str, body: Json) -> Json:
        from elasticsearch import BadRequestError

        # A search in a point in time names no index: the point in time does.
        where = {} if "pit" in body else {"index": index}
        try:
            return dict(self.client.search(**where, **body))
        except BadRequestError as error:  # e.g. a query nested deeper than the cluster allows
            raise EngineRefused(_reason(error.info, error.message)) from error

    def put_index_template(self, name: str, body: Json) -> None:
        self.client.indices.put_index_template(name=name, **body)

    def put_mapping(self, index: str, properties: Json) -> None:
        self.client.indices.put_mapping(index=index, properties=properties, allow_no_indices=True)

    def refresh(self, index: str) -> None:
        self.client.indices.refresh(index=index)

    def delete_by_query(self, index: str, query: Json) -> Json:
        return dict(
            self.client.delete_by_query(
                index=index, query=query, conflicts="proceed", refresh=True, wait_for_completion=True
            )
        )

    def open_point_in_time(self, index: str, keep_alive: str) -> str:
        return str(self.client.open_point_in_time(index=index, keep_alive=keep_alive)["id"])

    def close_point_in_time(self, pit_id: str) -> None:
        self.client.close_point_in_time(id=pit_id)

    def close(self) -> None:
        close = getattr(self.client, "close", None)
        if callable(close):
            close()


def _reason(info: object, fallback: str) -> str:
    """The root cause of an error answer (``{"error": {"root_cause": [{"reason": ...}]}}``)."""
    body = info if isinstance(info, dict) else {}
    error = body.get("error", {})
    if not isinstance(error, dict):
        return str(error or fallback)
    causes = error.get("root_cause") or [error]
    return str(causes[0].get("reason") or fallback) if causes and isinstance(causes[0], dict) else fallback
