"""A search as the API and the search page answer it: parsed, run through
:func:`search.service.search`, and audited (the search, or why it was refused or failed)."""

from __future__ import annotations

import html
import logging
from datetime import datetime
from typing import Any, Literal

from fastapi import HTTPException
from pydantic import BaseModel, Field, field_validator

from archive import audit
from archive.people import names_on_events
from archive.principals import Principal
from formats.time_zones import DEFAULT_ZONE, time_zone
from search import service
from search.highlight import highlight_html
from search.query_ast import TAG_OUTSIDE_REVIEW, UnsupportedQuery, uses_tags
from search.query_parser import MAX_QUERY_LENGTH, QuerySyntaxError, parse_query
from search.request import Cursor
from search.request import SearchRequest as PageRequest
from search.results import ArchivePage, AttachmentHit, Page
from search.tantivy_schema import IndexSchemaMismatch, from_micros
from search.versions import Version
from search_api import cursors
from search_api.deps import AppServices

log = logging.getLogger("archivist.api")
_MAX_REASON = 2000


class SearchRequest(BaseModel):
    # The length is checked by the parser (MAX_QUERY_LENGTH), not here, so that a query refused
    # for its length is audited like every other refused query.
    query: str = Field(
        min_length=1,
        examples=['"media player" from:crimsun sent>=2005-01-01'],
        description=f"at most {MAX_QUERY_LENGTH} characters",
        json_schema_extra={"maxLength": MAX_QUERY_LENGTH},
    )
    sort: Literal["time", "relevance"] = "time"
    size: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(
        default=None,
        max_length=2000,
        description="next_cursor of the previous page of the same query and sort",
    )
    facets: bool = Field(
        default=True, description="count every hit per room, sender and day (false: skip it, for speed)"
    )
    time_zone: str = Field(
        default=DEFAULT_ZONE,
        max_length=100,
        examples=["America/New_York"],
        description="IANA time zone whose days sent: dates and the day facet are (midnight to midnight there, "
        "daylight saving time included); default UTC",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        time_zone(name)  # UnknownTimeZone is a ValueError: a 422 naming the closest zones
        return name


class HitVersion(BaseModel):
    """One version of a message that the query matched, and when it was the message's text."""

    number: int = Field(description="0 for the original, N for the N-th edit")
    label: str = Field(examples=["original", "edit 2"])
    text: str
    valid_from: datetime = Field(description="when this version became the message's text")
    valid_until: datetime | None = Field(
        description="when the next version replaced it or the message was deleted; null while current"
    )
    current: bool
    deleted: bool = Field(description="this is the text the message had when it was deleted")


class HitAttachment(BaseModel):
    """The uploaded file a hit is, with an excerpt of the text extracted from it."""

    file_event_id: str = Field(description="the file_upload event")
    name: str
    size: int
    sha256: str
    content_type: str
    file_type: str = Field(description="what filetype: matches: the name's extension, else from the content type")
    extraction: str = Field(
        description="pending (no text yet), extracted, empty, unsupported or failed", examples=["extracted"]
    )
    reason: str | None = Field(default=None, description="why there is no (or only part of the) text")
    extractor: str | None = None
    extractor_version: str | None = None
    truncated: bool = False
    excerpt: str | None = Field(
        default=None,
        description="a piece of the extracted text, the matched words in <b>...</b> (HTML-escaped); "
        "its beginning when the words matched the name; null without text",
    )
    link: str = Field(description="where the file is downloaded (through the session, audited)")


class SearchHit(BaseModel):
    event_id: str
    type: str = "post"
    message_id: str | None
    room: str
    actor: str
    actor_name: str | None = Field(
        default=None, description="the actor's display name of the moment (on the event), beside the id"
    )
    occurred_at: datetime
    text: str
    deleted: bool
    highlight: str
    matched_versions: list[HitVersion] = Field(
        default_factory=list,
        description="the versions of the message the query matched (every version is searched; "
        "text is the current or deleted text)",
    )
    attachment: HitAttachment | None = Field(
        default=None, description="for a hit on an uploaded file (type file_upload): the file and an excerpt"
    )


class PersonFound(BaseModel):
    id: str
    names: list[str] = Field(description="every display name the person was seen with, oldest first")


class PeopleFound(BaseModel):
    field: str
    value: str
    people: list[PersonFound] = Field(description="everyone the value names: more than one when a name was shared")


class SearchResults(BaseModel):
    total: int
    hits: list[SearchHit]
    people: list[PeopleFound] = Field(
        default_factory=list,
        description="who each from:/participant: value of the query matched (by id, e-mail or any name they had)",
    )
    facets: dict[str, dict[str, int]] = Field(description="room, sender and day counts (when asked for)")
    time_zone: str = Field(
        default=DEFAULT_ZONE, description="the IANA time zone whose days the sent: dates and the day facet are"
    )
    next_cursor: str | None = Field(description="pass as cursor for the next page; null on the last page")


def audited_search(request: SearchRequest, services: AppServices, caller: Principal) -> SearchResults:
    """The answer, returned only once its audit entry is committed (blocking: database, index)."""
    try:
        node = parse_query(request.query)
        if uses_tags(node):  # a review set's coding: the archive's search knows nothing of it
            raise HTTPException(status_code=400, detail={"message": TAG_OUTSIDE_REVIEW})
        asked = PageRequest(
            node,
            size=request.size,
            by_relevance=request.sort == "relevance",
            cursor=_cursor(request),
            facets=request.facets,
            time_zone=time_zone(request.time_zone),
        )
        people = service.PeopleLookup(services.engine)
        try:
            found = service.search(services.search_backend(), services.engine, asked, people)
        except service.WrongCursor as error:
            raise HTTPException(status_code=422, detail={"message": str(error)}) from error
        except IndexSchemaMismatch as error:  # an index of an older layout: `archivist reindex`
            raise HTTPException(status_code=503, detail={"message": str(error)}) from error
        results = _results(request, asked, found)
        results = _with_people(services, asked, results, people)
    except IndexSchemaMismatch as error:
        # An index of an older layout (before every version was indexed): rebuilt, never half-read.
        _audit_failure(services, caller, request, "search_failed", 503, str(error))
        raise HTTPException(status_code=503, detail={"message": str(error)}) from error
    except (QuerySyntaxError, UnsupportedQuery, HTTPException) as error:
        # A refused search is still a search someone tried: it is audited with the reason.
        reason = error.detail if isinstance(error, HTTPException) else str(error)
        status = error.status_code if isinstance(error, HTTPException) else 422
        _audit_failure(services, caller, request, "search_refused", status, reason)
        raise
    except Exception as error:
        # A search the backend failed to answer (the caller gets a 500) is audited too.
        _audit_failure(services, caller, request, "search_failed", 500, f"{type(error).__name__}: {error}")
        raise
    audit.record(
        services.engine,
        caller,
        "search",
        {"query": request.query, "sort": request.sort, "hits": results.total, "page_after": request.cursor},
    )
    return results


def _audit_failure(
    services: AppServices, caller: Principal, request: SearchRequest, action: str, status: int, reason: object
) -> None:
    """The audit entry of a search that was not answered: who, what query, which status and why."""
    record_failure(
        services, caller, action, request.query, status, reason, {"sort": request.sort, "page_after": request.cursor}
    )


def record_failure(
    services: AppServices,
    caller: Principal,
    action: str,
    query: str | None,
    status: int,
    reason: object,
    extra: dict[str, object],
) -> None:
    """A query too long to search is recorded up to the limit, with its length."""
    details: dict[str, object] = {
        "query": None if query is None else query[:MAX_QUERY_LENGTH],
        **extra,
        "status": status,
        "reason": reason if isinstance(reason, dict) else str(reason)[:_MAX_REASON],
    }
    if query is not None and len(query) > MAX_QUERY_LENGTH:
        details["query_length"] = len(query)
    try:
        audit.record(services.engine, caller, action, details)
    except Exception:  # the search's own error is what the caller must see; this one is logged
        log.exception("could not audit a %s", action)


def _cursor(request: SearchRequest) -> Cursor | None:
    if request.cursor is None:
        return None
    try:
        return cursors.decode(request.cursor, query=request.query, sort=request.sort, time_zone=request.time_zone)
    except cursors.BadCursor as error:
        raise HTTPException(status_code=422, detail={"message": str(error)}) from error


def _version(version: Version) -> HitVersion:
    return HitVersion(
        number=version.number,
        label=version.label,
        text=version.text,
        valid_from=from_micros(version.valid_from),
        valid_until=None if version.valid_until is None else from_micros(version.valid_until),
        current=version.current,
        deleted=version.deleted,
    )


def _with_people(
    services: AppServices, asked: PageRequest, results: SearchResults, lookup: service.PeopleLookup | None = None
) -> SearchResults:
    """The results with each hit's name of the moment and who the query's people filters named
    (read from ``lookup``, the search's own, so the archive is not asked again)."""
    names = names_on_events(services.engine, [hit.event_id for hit in results.hits])
    for hit in results.hits:  # hits made for this answer alone: set in place (a copy each cost ~10 us)
        hit.actor_name = names.get(hit.event_id)
    people = [
        PeopleFound(
            field=match.field,
            value=match.value,
            people=[PersonFound(id=person.id, names=list(person.names)) for person in match.people],
        )
        for match in service.people_in(services.engine, asked.node, lookup)
    ]
    return results.model_copy(update={"people": people})


def _file_fields(attachment: AttachmentHit | None) -> dict[str, Any]:
    """A file hit's type and attachment (nothing for a message)."""
    if attachment is None:
        return {}
    file = HitAttachment(
        file_event_id=attachment.file_event_id,
        name=attachment.name,
        size=attachment.size,
        sha256=attachment.sha256,
        content_type=attachment.content_type,
        file_type=attachment.file_type,
        extraction=attachment.extraction,
        reason=attachment.reason,
        extractor=attachment.extractor,
        extractor_version=attachment.extractor_version,
        truncated=attachment.truncated,
        excerpt=None if attachment.excerpt is None else highlight_html(attachment.excerpt, ""),
        link=f"/files/{attachment.file_event_id}",
    )
    return {"type": "file_upload", "attachment": file}


def _results(request: SearchRequest, asked: PageRequest, found: Page | ArchivePage) -> SearchResults:
    following = service.next_cursor(asked, found)
    next_cursor = (
        None
        if following is None
        else cursors.encode(following, query=request.query, sort=request.sort, time_zone=request.time_zone)
    )
    if isinstance(found, ArchivePage):
        return SearchResults(
            total=found.total,
            hits=[
                SearchHit(
                    event_id=event["event_id"],
                    type=event["event_type"],
                    message_id=event["message_id"],
                    room=event["room_id"],
                    actor=event["actor_id"],
                    occurred_at=event["occurred_at"],
                    text=event["text"],
                    deleted=False,
                    highlight=html.escape(event["text"]),
                )
                for event in found.events
            ],
            facets={},
            next_cursor=next_cursor,
            time_zone=request.time_zone,
        )
    return SearchResults(
        total=found.total,
        hits=[
            SearchHit(
                event_id=hit.event_id,
                message_id=hit.message_id,
                room=hit.room_id,
                actor=hit.sender_id,
                occurred_at=from_micros(hit.sent),
                text=hit.text,
                deleted=hit.deleted,
                highlight=highlight_html(hit.highlight, hit.text),
                matched_versions=[_version(version) for version in hit.matched_versions],
                **_file_fields(hit.attachment),
            )
            for hit in found.hits
        ],
        facets=found.facets,
        next_cursor=next_cursor,
        time_zone=request.time_zone,
    )
