"""Request and response bodies of cases, holds and retention (frozen pydantic models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from formats.time_zones import time_zone

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")]
"""A user or room id (matched exactly)."""
Name = Annotated[str, Field(min_length=1, max_length=500)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _DateRange(_Frozen):
    date_from: AwareDatetime | None = None
    date_to: AwareDatetime | None = None
    """Inclusive bounds; a missing bound is open."""

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.date_from is not None and self.date_to is not None and self.date_from > self.date_to:
            raise ValueError("date_from must not be after date_to")
        return self


# --- cases ---------------------------------------------------------------------------------------


class CaseSpec(_DateRange):
    name: Name
    description: Annotated[str, Field(max_length=20_000)] = ""
    custodians: tuple[Identifier, ...] = ()
    """User ids of the people whose communications the matter concerns."""
    rooms: tuple[Identifier, ...] = ()
    time_zone: Annotated[str, Field(max_length=100)] | None = None
    """The IANA zone the case's exports and pages show times in by default (None: UTC); an
    export or a reader may choose another."""

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str | None) -> str | None:
        if name is not None:
            time_zone(name)  # refused with the closest names
        return name


class Case(CaseSpec):
    id: str
    created_by: str
    created_at: datetime
    closed_at: datetime | None = None


class SavedSearchSpec(_Frozen):
    name: Name
    query: Annotated[str, Field(min_length=1, max_length=10_000)]


class SavedSearch(SavedSearchSpec):
    id: str
    case_id: str
    created_by: str
    created_at: datetime


class NoteSpec(_Frozen):
    text: Annotated[str, Field(min_length=1, max_length=100_000)]


class Note(NoteSpec):
    id: str
    case_id: str
    author: str
    created_at: datetime


# --- legal holds ---------------------------------------------------------------------------------


class HoldScope(_DateRange):
    """What a hold preserves. The parts combine with AND; a missing part means "any".

    ``custodians``: events a custodian sent, and every event in a room while a custodian was in
    it (from the archive's membership intervals). ``query``: the hits of a search query (the
    whole message: its post, edits, deletion and reads)."""

    custodians: tuple[Identifier, ...] = ()
    rooms: tuple[Identifier, ...] = ()
    query: Annotated[str, Field(min_length=1, max_length=10_000)] | None = None


class HoldSpec(_Frozen):
    reason: Annotated[str, Field(min_length=1, max_length=5_000)]
    scope: HoldScope | None = None
    """None: the case's own custodians, rooms and dates."""


class HoldRelease(_Frozen):
    reason: Annotated[str, Field(min_length=1, max_length=5_000)]


class Hold(_Frozen):
    id: str
    case_id: str
    scope: HoldScope
    reason: str
    placed_by: str
    placed_at: datetime
    released_by: str | None = None
    released_at: datetime | None = None
    release_reason: str | None = None

    @property
    def active(self) -> bool:
        return self.released_at is None


# --- retention -----------------------------------------------------------------------------------

ScopeKind = Literal["default", "room", "group"]


class RetentionPolicySpec(_Frozen):
    scope_kind: ScopeKind
    scope_id: Identifier | None = None
    """The room or group id; none for the default policy."""
    keep_days: Annotated[int, Field(ge=1, le=100_000)] | None = None
    """Keep events this many days after they occurred; None keeps them forever."""

    @model_validator(mode="after")
    def _scope_named(self) -> Self:
        if (self.scope_kind == "default") != (self.scope_id is None):
            raise ValueError("scope_id names the room or group, and only for a room or group policy")
        return self

    @property
    def label(self) -> str:
        return "default" if self.scope_kind == "default" else f"{self.scope_kind}:{self.scope_id}"


class RetentionPolicy(RetentionPolicySpec):
    id: str
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime


class RetentionRun(_Frozen):
    id: str
    started_at: datetime
    finished_at: datetime | None = None
    dry_run: bool
    by: str
    counts: dict[str, Any]
    error: str | None = None
