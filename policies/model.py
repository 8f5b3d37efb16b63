"""The policy vocabulary: directory, ethical walls, disclaimer rules, checks and decisions.

These frozen models are the API's request and response bodies, what the store keeps, and what
the pure evaluation (:mod:`policies.evaluate`) reads. Identities are the ``actor.id`` of
events (``user:alice``); group ids are free text (``group:research``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

Action = Literal["im", "room_join", "room_post", "file_share"]
ACTIONS: tuple[Action, ...] = ("im", "room_join", "room_post", "file_share")
Mode = Literal["block", "alert", "log"]
MODE_STRENGTH: dict[str, int] = {"log": 1, "alert": 2, "block": 3}
Trigger = Literal["conversation_start", "room_join", "external_participant", "group_membership"]

Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\x00-\x1f]+$")]
"""An id: no whitespace or control characters (ids are matched exactly)."""
Name = Annotated[str, Field(min_length=1, max_length=500)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- directory ----------------------------------------------------------------------------------


class User(_Frozen):
    id: Identifier
    name: str | None = None
    email: str | None = None
    external: bool = False
    """Outside the firm (federated): what the ``external_participant`` disclaimer trigger reads."""


class Group(_Frozen):
    id: Identifier
    name: Name
    members: tuple[Identifier, ...] = ()
    """User ids."""
    subgroups: tuple[Identifier, ...] = ()
    """Group ids whose members (transitively) belong to this group too."""

    @model_validator(mode="after")
    def _not_its_own_subgroup(self) -> Self:
        if self.id in self.subgroups:
            raise ValueError(f"group {self.id} cannot contain itself")
        return self


class Directory(_Frozen):
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()


# --- ethical walls --------------------------------------------------------------------------------


class Segment(_Frozen):
    """One side of a wall is a list of segments: groups (with their subgroups) or single users."""

    kind: Literal["group", "user"]
    id: Identifier


class WallException(_Frozen):
    """People allowed across the wall (exceptions only ever allow).

    Anyone in ``who`` may talk to anyone in ``with_whom`` across the wall, in both directions;
    an empty ``with_whom`` means anyone on the other side.
    """

    name: Name
    who: tuple[Segment, ...] = Field(min_length=1)
    with_whom: tuple[Segment, ...] = ()


class WallSpec(_Frozen):
    """A wall as a security admin writes it (the API's request body)."""

    name: Name
    side_a: tuple[Segment, ...] = Field(min_length=1)
    side_b: tuple[Segment, ...] = Field(min_length=1)
    mode: Mode = "block"
    scopes: tuple[Action, ...] = ACTIONS
    effective_from: AwareDatetime | None = None
    effective_until: AwareDatetime | None = None
    exceptions: tuple[WallException, ...] = ()
    enabled: bool = True

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, value: tuple[Action, ...]) -> tuple[Action, ...]:
        if not value:
            raise ValueError("a wall needs at least one scope: " + ", ".join(ACTIONS))
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.effective_from and self.effective_until and self.effective_until <= self.effective_from:
            raise ValueError("effective_until must be after effective_from")
        return self


class Wall(WallSpec):
    id: Identifier
    version: int = Field(default=1, ge=1)

    def in_force(self, at: datetime) -> bool:
        if not self.enabled:
            return False
        if self.effective_from is not None and at < self.effective_from:
            return False
        return self.effective_until is None or at < self.effective_until


# --- disclaimers ------------------------------------------------------------------------------------


class DisclaimerSpec(_Frozen):
    """A disclaimer rule: when it triggers, and its text per locale (jinja2 templates over
    ``participants`` (names), ``actor`` (name), ``room`` (name) and ``date`` (YYYY-MM-DD))."""

    name: Name
    trigger: Trigger
    group_id: Identifier | None = None
    """For ``group_membership``: the group whose members (any participant) trigger it."""
    texts: dict[Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")], str]
    """Locale (``en``, ``fr-CA``) to template."""
    default_locale: str = "en"
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.texts:
            raise ValueError("a disclaimer needs a text in at least one locale")
        if self.default_locale not in self.texts:
            raise ValueError(f"default_locale {self.default_locale!r} has no text; texts are in {sorted(self.texts)}")
        if (self.trigger == "group_membership") != (self.group_id is not None):
            raise ValueError("group_id is required for the group_membership trigger, and only for it")
        return self


class DisclaimerRule(DisclaimerSpec):
    id: Identifier
    version: int = Field(default=1, ge=1)
    """Bumped on every change; every version is kept, so the archive shows the exact text seen."""


# --- the check ---------------------------------------------------------------------------------------


class CheckRoom(_Frozen):
    id: Identifier
    name: str | None = None
    members: tuple[Identifier, ...] | None = None
    """The people in the room now; when absent, taken from the archive's membership intervals."""


class CheckRequest(_Frozen):
    """What a chat server asks before it lets something happen."""

    action: Action
    actor: Identifier
    targets: tuple[Identifier, ...] = ()
    """The other people (an instant message, a file sent to people)."""
    room: CheckRoom | None = None
    locale: str | None = None
    at: AwareDatetime | None = None
    """When; now if absent."""

    @model_validator(mode="after")
    def _someone_on_the_other_side(self) -> Self:
        if self.action in ("room_join", "room_post") and self.room is None:
            raise ValueError(f"{self.action} needs the room")
        if self.action == "im" and not self.targets:
            raise ValueError("im needs at least one target")
        if self.action == "file_share" and not self.targets and self.room is None:
            raise ValueError("file_share needs targets or a room")
        return self


class WallMatch(_Frozen):
    wall_id: str
    wall_name: str
    mode: Mode
    counterparts: tuple[str, ...]
    """The people across the wall from the actor in this check."""


class Disclaimer(_Frozen):
    rule_id: str
    version: int
    locale: str
    text: str


class Decision(_Frozen):
    outcome: Literal["allow", "deny"]
    mode: Mode | None
    """The strongest mode among the walls that matched; None when none did."""
    walls: tuple[WallMatch, ...] = ()
    disclaimers: tuple[Disclaimer, ...] = ()
