"""The vocabulary of supervision: policies (versioned), lexicon terms, matches and review items.

Every value crossing a boundary (API bodies, stored policy versions, the ``supervision_hit``
event's matches) is one of these models, so the API, the pages, the adapter and the backtest
read a policy the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Label = Annotated[str, Field(min_length=1, max_length=200, description="a reviewer: their API token's label")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$", description="ISO 639-1/639-3 code, lower case")]

MAX_LEXICON_TERMS = 2_000
"""Terms in one policy's lexicon (the bench runs 1,000 across 50 policies)."""
MAX_EXPRESSION_LENGTH = 1_000
"""Characters of one term's query or regular expression."""

Direction = Literal["internal", "external", "im"]
"""``internal``: every participant of the room is inside the firm; ``external``: at least one is
outside (the directory's ``external`` users); ``im``: a direct (one-to-one) conversation."""
DIRECTIONS: tuple[Direction, ...] = ("internal", "external", "im")

TermKind = Literal["query", "regex"]

ItemState = Literal["pending", "in_review", "escalated", "closed"]
ITEM_STATES: tuple[ItemState, ...] = ("pending", "in_review", "escalated", "closed")
Disposition = Literal["no_issue", "false_positive", "breach", "reported"]
DISPOSITIONS: tuple[Disposition, ...] = ("no_issue", "false_positive", "breach", "reported")
COMMENT_REQUIRED: frozenset[str] = frozenset({"escalated", "breach"})
"""An escalation and a ``breach`` disposition are refused without a comment."""

ItemReason = Literal["lexicon", "sample"]
"""Why an item exists: a lexicon term matched, or the message was drawn by the sampling rate."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LexiconTerm(_Frozen):
    """One entry of a lexicon: ``query`` is the e-discovery query language (terms, phrases,
    ``NEAR/n``, prefixes ``word*``, fields such as ``from:``); ``regex`` a regular expression
    run by a linear-time engine (RE2) under a memory bound, over the message's text."""

    id: Identifier
    """Stable within the policy (reports count hits per term id across versions)."""
    kind: TermKind = "query"
    expression: Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH)]
    label: str | None = Field(default=None, max_length=200)
    language: LanguageCode | None = None


class Scope(_Frozen):
    """Who is supervised. Empty ``people``, ``groups`` and ``rooms`` mean everybody; a message is
    in scope when its sender is one of ``people`` or a member of one of ``groups`` (directory
    groups, subgroups included) or it is in one of ``rooms``, and its room's direction is one of
    ``directions``."""

    people: tuple[Identifier, ...] = ()
    groups: tuple[Identifier, ...] = ()
    rooms: tuple[Identifier, ...] = ()
    directions: tuple[Direction, ...] = DIRECTIONS


class PolicySpec(_Frozen):
    """What a compliance officer writes; every saved change is a new version of it."""

    name: Name
    description: str = Field(default="", max_length=4_000)
    scope: Scope = Scope()
    lexicon: tuple[LexiconTerm, ...] = Field(default=(), max_length=MAX_LEXICON_TERMS)
    exclusions: tuple[Annotated[str, Field(min_length=1, max_length=MAX_EXPRESSION_LENGTH)], ...] = ()
    """Queries (the query language) whose messages are never items: disclaimers, newsletters."""
    languages: tuple[LanguageCode, ...] = ()
    """The lexicon terms used: those without a language and those in one of these (empty: all)."""
    sampling_percent: float = Field(default=0.0, ge=0.0, le=100.0)
    """Of the in-scope messages the lexicon does not match, the share drawn for review."""
    sampling_seed: str = Field(default="", max_length=200)
    """With the policy id, makes the draw reproducible: a message is drawn when the SHA-256 of
    (seed, policy id, message event id) falls under the rate, so any auditor can recompute it."""
    effective_from: AwareDatetime | None = None
    effective_until: AwareDatetime | None = None
    reviewers: tuple[Label, ...] = ()
    escalation_reviewers: tuple[Label, ...] = ()
    sla_hours: int = Field(default=72, ge=1, le=24 * 365)
    """An item open longer than this is overdue (the queue and the report show it)."""
    enabled: bool = True
    """A disabled policy is a draft: kept and backtested, never run by the adapter."""

    @model_validator(mode="after")
    def _consistent(self) -> PolicySpec:
        ids = [term.id for term in self.lexicon]
        repeated = sorted({term_id for term_id in ids if ids.count(term_id) > 1})
        if repeated:
            raise ValueError(f"lexicon term ids must be unique; repeated: {', '.join(repeated)}")
        if self.effective_from and self.effective_until and self.effective_until <= self.effective_from:
            raise ValueError("effective_until must be after effective_from")
        return self


class Policy(_Frozen):
    """A policy at one of its versions."""

    id: str
    version: int
    spec: PolicySpec
    changed_by: str
    changed_at: datetime
    comment: str = ""


class TermMatch(_Frozen):
    """Where a lexicon term matched: ``field`` ``text`` (the message as said) or ``attachment``
    (an attached file's extracted text), and the match's character offsets ``[start, end)`` in
    that text (Python string indices), so pages highlight exactly what matched."""

    term_id: str
    field: Literal["text", "attachment"] = "text"
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    matched: str = Field(max_length=1_000)
    """The matched characters (cut at 1,000)."""
