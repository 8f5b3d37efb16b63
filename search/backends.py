"""One ``SearchBackend`` interface over the embedded Tantivy index, Elasticsearch and OpenSearch.

Both take the same query tree and answer with the same ``Page``; the archive answers what
the text indexes do not hold (``type:`` of events without text, membership intervals).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from search import date_facets
from search.engine_client import ELASTICSEARCH, Dialect, EngineClient, EngineIndexMissing, EngineRefused
from search.es_client import ElasticsearchEngine
from search.es_mapping import messages_index
from search.es_query import UnsupportedEsQuery, search_body
from search.memberships import Memberships
from search.opensearch_client import OpenSearchEngine
from search.query_ast import Node
from search.query_parser import SEARCH_TIME_BUDGET_SECONDS
from search.request import HitsCursor, SearchRequest
from search.results import After, AttachmentHit, Hit, HitIds, Page
from search.sent_days import UTC_ZONE, is_utc, local_day
from search.tantivy_backend import LightHits, search_page
from search.tantivy_schema import micros_since_epoch
from search.versions import Entry, Version, matched_versions, timeline

log = logging.getLogger(__name__)


class SearchBackend(Protocol):
    def search(self, request: SearchRequest) -> Page:
        """One page of hits (see :class:`~search.request.SearchRequest`)."""
        ...


@runtime_checkable
class WalksHitIds(Protocol):
    """A backend that walks every hit as ids and times only, a room at a time, without reading
    a document (what an export selects; any backend can page whole hits instead)."""

    def hit_ids(self, node: Node, *, memberships: Memberships | None = None, zone: ZoneInfo = UTC_ZONE) -> HitIds:
        """Every hit of ``node`` (its ``sent:`` dates days of ``zone``)."""
        ...


class TantivySearchBackend:
    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir

    def search(self, request: SearchRequest) -> Page:
        return search_page(
            self.index_dir,
            request.node,
            offset=request.offset,
            after=request.after,
            size=request.size,
            by_relevance=request.by_relevance,
            memberships=request.memberships,
            facets=request.facets,
            highlights=request.highlights,
            zone=request.time_zone,
        )

    def hit_ids(self, node: Node, *, memberships: Memberships | None = None, zone: ZoneInfo = UTC_ZONE) -> HitIds:
        return LightHits(self.index_dir, node, memberships=memberships, zone=zone)


@runtime_checkable
class WalksEveryHit(Protocol):
    """A backend that walks every hit in one consistent view of its index (a point in time)."""

    def every_hit(
        self, node: Node, *, memberships: Memberships | None = None, page: int = 1000, zone: ZoneInfo = UTC_ZONE
    ) -> list[Hit]:
        """Every hit of ``node`` in (sent, message_id) order."""
        ...


def every_hit(
    backend: SearchBackend,
    node: Node,
    *,
    memberships: Memberships | None = None,
    page: int = 1000,
    zone: ZoneInfo = UTC_ZONE,
) -> list[Hit]:
    """Every hit of ``node`` in (sent, message_id) order, whatever the backend (exports and
    cases need the whole set, not the top k); ``sent:`` dates are days of ``zone``."""
    if isinstance(backend, WalksEveryHit):
        return backend.every_hit(node, memberships=memberships, page=page, zone=zone)
    hits: list[Hit] = []
    after: After | None = None
    while True:
        result = backend.search(
            SearchRequest(
                node,
                size=page,
                memberships=memberships,
                cursor=None if after is None else HitsCursor(after),
                highlights=False,
                time_zone=zone,
            )
        )
        hits.extend(result.hits)
        if result.next_after is None:
            return hits
        after = result.next_after


FACET_AGGREGATIONS: dict[str, Any] = {
    "room": {"terms": {"field": "room_id", "size": 20}},
    "sender": {"terms": {"field": "sender_id", "size": 20}},
    # The hits' first and last moment choose the date facet's bucket (search.date_facets),
    # counted by a second request: a day histogram alone fails on hits centuries apart.
    "first": {"min": {"field": "sent"}},
    "last": {"max": {"field": "sent"}},
}


def date_aggregation(unit: date_facets.Granularity, zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """The date facet at ``unit``: non-empty buckets only, as Tantivy counts them; days (months,
    years) of ``zone``, which Elasticsearch cuts at that zone's midnights (daylight saving time
    included) and keys by the instant each bucket starts."""
    histogram: dict[str, Any] = {"field": "sent", "calendar_interval": unit, "min_doc_count": 1}
    if not is_utc(zone):
        histogram["time_zone"] = zone.key
    return {"day": {"date_histogram": histogram}}


def _day_of(millis: float, zone: ZoneInfo = UTC_ZONE) -> date:
    return local_day(_EPOCH + timedelta(milliseconds=int(millis)), zone)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def facet_span(response: dict[str, Any], zone: ZoneInfo = UTC_ZONE) -> tuple[date, date] | None:
    """The first and last day (of ``zone``) of the hits, from the ``first`` and ``last`` aggregations."""
    aggregations = response.get("aggregations") or {}
    first, last = (aggregations.get(name, {}).get("value") for name in ("first", "last"))
    if first is None or last is None:
        return None
    return _day_of(first, zone), _day_of(last, zone)


def date_facet(response: dict[str, Any], unit: date_facets.Granularity, zone: ZoneInfo = UTC_ZONE) -> dict[str, int]:
    """The date facet of a ``date_aggregation(unit, zone)`` response, named as Tantivy names it."""
    buckets = (response.get("aggregations") or {}).get("day", {}).get("buckets", [])
    return {
        date_facets.bucket_name(_day_of(bucket["key"], zone), unit): int(bucket["doc_count"])
        for bucket in buckets
        if bucket["doc_count"]
    }


def versions_in(source: dict[str, Any]) -> tuple[Version, ...]:
    """The versions of a message document of the messages index, each with when it was current."""
    entries = [
        Entry(entry["kind"], entry["event_id"], int(entry["at"]), entry["text"])
        for entry in source.get("version_log") or ()
    ]
    deleted_at = source.get("deleted_at")
    until = micros_since_epoch(datetime.fromisoformat(deleted_at)) if deleted_at and source.get("deleted") else None
    return timeline(entries, until)


def attachment_in(source: dict[str, Any], highlight: dict[str, Any]) -> AttachmentHit | None:
    """The file of a hit on a file document of the messages index (None for a message)."""
    if source.get("type") != "file_upload":
        return None
    extraction = source.get("extraction") or {}
    excerpt = highlight.get("attachment")
    return AttachmentHit(
        file_event_id=str(source.get("event_id") or ""),
        name=str(source.get("file_name") or source.get("text") or ""),
        size=int(source.get("file_size") or 0),
        sha256=str(source.get("file_sha256") or ""),
        content_type=str(source.get("file_content_type") or ""),
        file_type=str(source.get("file_type") or ""),
        extraction=str(extraction.get("state") or "pending"),
        reason=extraction.get("reason"),
        extractor=extraction.get("extractor"),
        extractor_version=extraction.get("extractor_version"),
        truncated=bool(extraction.get("truncated")),
        excerpt=str(excerpt[0]) if excerpt else None,
    )


def page_from_response(response: dict[str, Any], size: int | None = None, node: Node | None = None) -> Page:
    """An Elasticsearch search response as a ``Page`` (pure, so it is tested without a server).
    ``size``: the page size of a time-ordered request that asked for one hit more; ``node``:
    the query, to say which versions of each hit it matched."""
    hits = []
    for hit in response["hits"]["hits"]:
        source = hit["_source"]
        highlight = hit.get("highlight", {})
        highlighted = highlight.get("text")
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
                matched_versions=() if node is None else matched_versions(node, versions_in(source)),
                attachment=attachment_in(source, highlight),
            )
        )
    aggregations = response.get("aggregations")
    facets: dict[str, dict[str, int]] = {}
    if aggregations is not None:
        facets = {
            name: {
                str(bucket["key"]): int(bucket["doc_count"]) for bucket in aggregations.get(name, {}).get("buckets", [])
            }
            for name in ("room", "sender")
        }
        if "day" in aggregations:
            facets["day"] = date_facet(response, "day")
    next_after: After | None = None
    if size is not None and len(hits) > size:
        hits = hits[:size]
        next_after = (hits[-1].sent, hits[-1].message_id)
    return Page(total=int(response["hits"]["total"]["value"]), hits=hits, facets=facets, next_after=next_after)


class EngineSearchBackend:
    """Searches the messages index the ``elasticsearch`` or ``opensearch`` adapter writes."""

    POINT_IN_TIME_KEEP_ALIVE = "2m"
    """How long the engine keeps a walk's view between two of its pages."""

    def __init__(self, engine: EngineClient, prefix: str = "archivist") -> None:
        self.engine = engine
        self.prefix = prefix

    def search(self, request: SearchRequest) -> Page:
        body = search_request(
            request.node,
            memberships=request.memberships,
            size=request.size,
            by_relevance=request.by_relevance,
            after=request.after,
            offset=request.offset,
            facets=request.facets,
            zone=request.time_zone,
            dialect=self.engine.dialect,
        )
        if not request.highlights:
            body.pop("highlight", None)
        try:
            response = self._search(body)
        except EngineIndexMissing:  # nothing delivered yet: no hit
            empty: dict[str, dict[str, int]] = {"room": {}, "sender": {}, "day": {}} if request.facets else {}
            return Page(total=0, hits=[], facets=empty, next_after=None)
        page = page_from_response(response, size=None if request.by_relevance else request.size, node=request.node)
        if not request.facets:
            return page
        day: dict[str, int] = {}
        span = facet_span(response, request.time_zone)
        if span is not None:
            unit = date_facets.granularity(*span)
            aggregation = date_aggregation(unit, request.time_zone)
            counted = {"query": body["query"], "size": 0, "track_total_hits": False, "aggs": aggregation}
            day = date_facet(self._search({**counted, "timeout": body["timeout"]}), unit, request.time_zone)
        return replace(page, facets={**page.facets, "day": day})

    def every_hit(
        self, node: Node, *, memberships: Memberships | None = None, page: int = 1000, zone: ZoneInfo = UTC_ZONE
    ) -> list[Hit]:
        """Every hit, paged with ``search_after`` in one point in time: messages indexed or
        deleted while the walk runs neither shift its pages nor appear half-way. The sort ends
        on ``message_id`` (unique), not the engine's own tiebreaker (OpenSearch before 3.3 has none)."""
        try:
            pit_id = self.engine.open_point_in_time(messages_index(self.prefix), self.POINT_IN_TIME_KEEP_ALIVE)
        except EngineIndexMissing:
            return []  # nothing delivered yet
        hits: list[Hit] = []
        after: After | None = None
        try:
            while True:
                body = search_request(
                    node,
                    memberships=memberships,
                    size=page,
                    by_relevance=False,
                    after=after,
                    offset=0,
                    facets=False,
                    zone=zone,
                    dialect=self.engine.dialect,
                )
                body.pop("highlight", None)
                # Counting every hit on every page costs a full count; the walk counts them itself.
                body["track_total_hits"] = False
                body["pit"] = {"id": pit_id, "keep_alive": self.POINT_IN_TIME_KEEP_ALIVE}
                response = self._search(body)
                # An engine may hand a newer id for the same view on any page.
                pit_id = str(response.get("pit_id") or pit_id)
                found = page_from_response(_with_total(response), size=page, node=node)
                hits.extend(found.hits)
                if found.next_after is None:
                    return hits
                after = found.next_after
        finally:
            try:
                self.engine.close_point_in_time(pit_id)
            except Exception as error:  # the client raises many transport errors
                # The walk is complete; the engine frees the view itself after its keep-alive.
                log.warning("could not close the point in time of a finished walk: %s", error)

    def _search(self, body: dict[str, Any]) -> dict[str, Any]:
        name = self.engine.dialect.name
        try:
            response = self.engine.search(messages_index(self.prefix), body)
        except EngineRefused as error:  # e.g. a query nested deeper than the cluster allows
            raise UnsupportedEsQuery(f"{name} refused the query: {error}") from error
        if response.get("timed_out"):
            raise UnsupportedEsQuery(
                f"the search ran past its time budget of {SEARCH_TIME_BUDGET_SECONDS} s: narrow it with "
                "fewer conditions, a smaller NEAR distance, a room or a date range"
            )
        return response


def _with_total(response: dict[str, Any]) -> dict[str, Any]:
    """``response`` with a hit count where ``track_total_hits: false`` left none."""
    hits = response["hits"]
    if "total" in hits:
        return response
    return {**response, "hits": {**hits, "total": {"value": len(hits["hits"])}}}


class ElasticsearchSearchBackend(EngineSearchBackend):
    """Searches Elasticsearch through ``client`` (an ``elasticsearch.Elasticsearch``)."""

    def __init__(self, client: Any, prefix: str = "archivist") -> None:
        super().__init__(ElasticsearchEngine(client), prefix)
        self.client = client


def search_request(
    node: Node,
    *,
    memberships: Memberships | None,
    size: int,
    by_relevance: bool,
    after: After | None,
    offset: int,
    facets: bool,
    zone: ZoneInfo = UTC_ZONE,
    dialect: Dialect = ELASTICSEARCH,
) -> dict[str, Any]:
    """The search body for one page (pure). Time order asks for one hit more than the page to
    know whether another page follows; Elasticsearch keeps ``sent`` in milliseconds, so its
    order is (milliseconds, message_id), which ``search_after`` continues exactly."""
    if by_relevance:
        body = search_body(node, memberships=memberships, size=size, offset=offset, zone=zone, dialect=dialect)
        body["sort"] = ["_score", {"sent": "asc"}, {"message_id": "asc"}]
    else:
        body = search_body(node, memberships=memberships, size=size + 1, offset=0, zone=zone, dialect=dialect)
        if after is not None:
            body["search_after"] = [after[0] // 1000, after[1]]
    if facets:
        body["aggs"] = FACET_AGGREGATIONS
    return body


class OpenSearchSearchBackend(EngineSearchBackend):
    """Searches OpenSearch through ``client`` (an ``opensearchpy.OpenSearch``)."""

    def __init__(self, client: Any, prefix: str = "archivist") -> None:
        super().__init__(OpenSearchEngine(client), prefix)
        self.client = client
