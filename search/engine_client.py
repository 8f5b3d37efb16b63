"""The search engine behind the ``elasticsearch`` and ``opensearch`` adapters and backends.

Elasticsearch and OpenSearch take the same index templates, bulk actions, painless scripts and
query DSL (:mod:`search.es_mapping`, :mod:`adapters.es_actions`, :mod:`search.es_query`); what
differs is the Python client (``elasticsearch`` takes ``operations=``/``query=`` keywords,
``opensearch-py`` a ``body=``), the error a refused request raises, the name of the highlight
limit and the point in time API. :class:`EngineClient` is the small surface the adapter and
the backend use; :mod:`search.es_client` and :mod:`search.opensearch_client` implement it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

Json = dict[str, Any]
Refresh = bool | Literal["wait_for"]


class EngineRefused(Exception):
    """The engine refused a request as malformed (HTTP 400): the query, not the engine, is at fault."""


class EngineIndexMissing(Exception):
    """The index searched does not exist: nothing was delivered to it yet (no hit, not an error)."""


@dataclass(frozen=True)
class Dialect:
    """What differs in the request bodies of one engine."""

    name: str
    """What the engine is called in messages ("Elasticsearch", "OpenSearch")."""
    highlight_limit: str
    """The highlight setting bounding how much of a field is analysed: ``max_analyzed_offset``
    on Elasticsearch, ``max_analyzer_offset`` on OpenSearch."""


ELASTICSEARCH = Dialect(name="Elasticsearch", highlight_limit="max_analyzed_offset")
OPENSEARCH = Dialect(name="OpenSearch", highlight_limit="max_analyzer_offset")


class EngineClient(Protocol):
    """The requests Archivist makes of Elasticsearch or OpenSearch, answers as plain dicts."""

    dialect: Dialect

    def bulk(self, operations: list[Json], *, refresh: Refresh = False) -> Json:
        """Send bulk actions (header and source lines); the answer has one item per action."""
        ...

    def search(self, index: str, body: Json) -> Json:
        """One search; raises :class:`EngineRefused` when the engine calls the request malformed,
        :class:`EngineIndexMissing` when ``index`` does not exist."""
        ...

    def put_index_template(self, name: str, body: Json) -> None: ...

    def put_mapping(self, index: str, properties: Json) -> None:
        """Add ``properties`` to every index matching ``index`` (none matching is not an error)."""
        ...

    def refresh(self, index: str) -> None: ...

    def delete_by_query(self, index: str, query: Json) -> Json:
        """Delete what ``query`` matches, waiting for completion, proceeding past version
        conflicts (counted in the answer), refreshing afterwards."""
        ...

    def open_point_in_time(self, index: str, keep_alive: str) -> str:
        """A point in time of ``index`` (a consistent view for walking every hit); raises
        :class:`EngineIndexMissing` when ``index`` does not exist."""
        ...

    def close_point_in_time(self, pit_id: str) -> None: ...

    def close(self) -> None: ...

    def unreachable(self, error: BaseException) -> bool:
        """Whether ``error`` (raised by a request above) says the engine could not be reached or
        could not answer (no connection, a timeout, HTTP 429 or 502-504), not that a request was wrong."""
        ...


UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})
"""A whole request refused for the engine's state: too busy (429: indexing pressure, a circuit
breaker) or unavailable (502-504). Waited out like a lost connection, never the event's fault."""


def index_missing_or(error: Exception, info: object) -> Exception:
    """:class:`EngineIndexMissing` for a 404 that says the index does not exist, else ``error``."""
    body = info if isinstance(info, dict) else {}
    cause = body.get("error")
    kind = cause.get("type") if isinstance(cause, dict) else None
    return EngineIndexMissing(error_reason(info, str(error))) if kind == "index_not_found_exception" else error


def error_reason(info: object, fallback: str) -> str:
    """The root cause of an error answer (``{"error": {"root_cause": [{"reason": ...}]}}``)."""
    body = info if isinstance(info, dict) else {}
    error = body.get("error", {})
    if not isinstance(error, dict):
        return str(error or fallback)
    causes = error.get("root_cause") or [error]
    return str(causes[0].get("reason") or fallback) if causes and isinstance(causes[0], dict) else fallback
