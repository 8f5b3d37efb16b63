"""One ``SearchBackend`` interface over the embedded Tantivy index and Elasticsearch.

Both take the same query tree and answer with the same ``Page``; the archive answers what
the text indexes do not hold (``type:`` of events without text, membership intervals).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from adapters.es_mapping import messages_index
from adapters.tantivy_schema import micros_since_epoch
from search_api.archive_queries import Interval
from search_api.es_query import search_body
from search_api.query_ast import Node
from search_api.tantivy_backend import Hit, Page, search_page

Memberships = Callable[[str], list[Interval]]


class SearchBackend(Protocol):
    def search(
        self, node: Node, *, offset: int, size: int, by_relevance: bool, memberships: Memberships | None
    ) -> Page: ...


class TantivySearchBackend:
    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def search(
        self, node: Node, *, offset: int, size: int, by_relevance: bool, memberships: Memberships | None
    ) -> Page:
        return search_page(
            self.index_dir, node, offset=offset, size=size, by_relevance=by_relevance, memberships=memberships
        )


FACET_AGGREGATIONS: dict[str, Any] = {
    "room": {"terms": {"field": "room_id", "size": 20}},
    "sender": {"terms": {"field": "sender_id", "size": 20}},
    "day": {"date_histogram": {"field": "sent", "calendar_interval": "day", "min_doc_count": 1}},
}


def page_from_response(response: dict[str, Any]) -> Page:
    """An Elasticsearch search response as a ``Page`` (pure, so it is tested without a server)."""
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        highlighted = hit.get("highlight", {}).get("text")
        sent = datetime.fromisoformat(source["sent"])
        hits.append(
            Hit(
                message_id=source["message_id"],
                event_id=source.get("event_id", ""),
                room_id=source.get("room_id", ""),
                sender_id=source.get("sender_id", ""),
                sent=micros_since_epoch(sent),
                text=source.get("text", ""),
                deleted=bool(source.get("deleted")),
                highlight=highlighted[0] if highlighted else None,
            )
        )
    aggregations = response.get("aggregations", {})
    facets = {
        name: {
            str(bucket.get("key_as_string", bucket["key"]))[:10] if name == "day" else str(bucket["key"]): int(
                bucket["doc_count"]
            )
            for bucket in aggregations.get(name, {}).get("buckets", [])
        }
        for name in FACET_AGGREGATIONS
    }
    return Page(total=int(response["hits"]["total"]["value"]), hits=hits, facets=facets)


class ElasticsearchSearchBackend:
    """Searches the messages index the ``elasticsearch`` adapter writes."""

    def __init__(self, client: Any, prefix: str = "archivist") -> None:
        self.client = client
        self.prefix = prefix

    def search(
        self, node: Node, *, offset: int, size: int, by_relevance: bool, memberships: Memberships | None
    ) -> Page:
        body = search_body(node, memberships=memberships, size=size, offset=offset)
        if by_relevance:
            body["sort"] = ["_score", {"sent": "asc"}]
        body["aggs"] = FACET_AGGREGATIONS
        return page_from_response(self.client.search(index=messages_index(self.prefix), **body))
