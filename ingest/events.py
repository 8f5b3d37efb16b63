"""The compliance event contract, schema_version 1.

Every event a chat server publishes is one of the frozen models below, chosen by its
``type``. Timestamps must carry a zone and are normalised to UTC; text is never stripped,
normalised or re-encoded, so what the archive keeps is byte-for-byte what was said.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from ingest.errors import InvalidEvent

SCHEMA_VERSION = 1
KNOWN_SCHEMA_VERSIONS: frozenset[int] = frozenset({SCHEMA_VERSION})

EventType = Literal[
    "join",
    "leave",
    "post",
    "edit",
    "delete",
    "read",
    "file_upload",
    "file_download",
    "disclaimer",
    "policy_decision",
    "room_update",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

# A mention is "@nick"; a hashtag is "#tag". Both must start at a word boundary so that
# e-mail addresses and URL fragments ("a@b.com", "page#section") are not taken for them.
_MENTION = re.compile(r"(?<![\w@])@([\w][\w.\-|`^\[\]{}]*)")
_HASHTAG = re.compile(r"(?<![\w&#/])#(\w[\w\-]*)")

_RFC3339_START = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")

NonEmpty = Annotated[str, Field(min_length=1)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Room(_Frozen):
    id: NonEmpty
    name: str | None = None
    kind: Literal["room", "im"] = "room"


class Actor(_Frozen):
    id: NonEmpty
    name: str | None = None
    email: str | None = None
    internal: bool = True


class Source(_Frozen):
    server: str | None = None


def derive_mentions(text: str) -> tuple[str, ...]:
    """Nicks written as ``@nick`` in ``text``, in order of first appearance."""
    return tuple(dict.fromkeys(m.rstrip(".") for m in _MENTION.findall(text)))


def derive_hashtags(text: str) -> tuple[str, ...]:
    """Tags written as ``#tag`` in ``text``, lower-cased, in order of first appearance."""
    return tuple(dict.fromkeys(tag.lower() for tag in _HASHTAG.findall(text)))


class PostedMessage(_Frozen):
    id: NonEmpty
    text: str
    format: Literal["text/plain", "text/html"] = "text/plain"
    mentions: tuple[str, ...] | None = None
    hashtags: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _derive_entities(self) -> Self:
        # Frozen model: fill the derived fields through object.__setattr__ once, at creation.
        if self.mentions is None:
            object.__setattr__(self, "mentions", derive_mentions(self.text))
        if self.hashtags is None:
            object.__setattr__(self, "hashtags", derive_hashtags(self.text))
        return self


class EditedMessage(_Frozen):
    id: NonEmpty
    text: str
    format: Literal["text/plain", "text/html"] = "text/plain"


class MessageRef(_Frozen):
    id: NonEmpty


class ReadReceipt(_Frozen):
    message_id: str | None = None
    """The message seen; absent when the person viewed the room's history as a whole."""


MAX_INTEGER = 2**63 - 1
"""The largest integer an event may carry: what the archive's BIGINT columns hold. Bounded
integers and no floats mean an event's JSON has only numbers that every JSON library writes
the same way (``adapters.hashchain.event_payload_hash`` relies on it)."""


class FileInfo(_Frozen):
    name: NonEmpty
    size: Annotated[int, Field(ge=0, le=MAX_INTEGER)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    content_type: str = "application/octet-stream"
    url: str | None = None


class DisclaimerShown(_Frozen):
    rule_id: NonEmpty
    version: Annotated[int, Field(ge=1, le=MAX_INTEGER)]
    locale: NonEmpty
    text: str


class PolicyDecision(_Frozen):
    action: Literal["im", "room_join", "room_post", "file_share"]
    outcome: Literal["allow", "deny"]
    mode: Literal["block", "alert", "log"]
    wall_ids: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()


class RoomUpdate(_Frozen):
    name: str | None = None
    description: str | None = None
    created: bool = False


class EventBase(_Frozen):
    schema_version: Literal[1]
    event_id: UUID
    occurred_at: AwareDatetime
    room: Room
    actor: Actor
    source: Source | None = None

    @field_validator("schema_version", mode="before")
    @classmethod
    def _an_integer(cls, value: object) -> object:
        # JSON true and 1.0 compare equal to 1; a version must be the integer itself.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be the integer {SCHEMA_VERSION}, not {value!r}")
        return value

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339_only(cls, value: object) -> object:
        # pydantic would also take Unix numbers; the contract says RFC 3339 with a zone.
        if isinstance(value, datetime) or (isinstance(value, str) and _RFC3339_START.match(value)):
            return value
        raise ValueError("must be an RFC 3339 timestamp with a zone, like 2026-11-22T09:15:02.120Z")

    @field_validator("occurred_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)


class JoinEvent(EventBase):
    type: Literal["join"]


class LeaveEvent(EventBase):
    type: Literal["leave"]


class PostEvent(EventBase):
    type: Literal["post"]
    message: PostedMessage


class EditEvent(EventBase):
    type: Literal["edit"]
    message: EditedMessage


class DeleteEvent(EventBase):
    type: Literal["delete"]
    message: MessageRef


class ReadEvent(EventBase):
    type: Literal["read"]
    read: ReadReceipt


class FileUploadEvent(EventBase):
    type: Literal["file_upload"]
    file: FileInfo


class FileDownloadEvent(EventBase):
    type: Literal["file_download"]
    file: FileInfo


class DisclaimerEvent(EventBase):
    type: Literal["disclaimer"]
    disclaimer: DisclaimerShown


class PolicyDecisionEvent(EventBase):
    type: Literal["policy_decision"]
    decision: PolicyDecision


class RoomUpdateEvent(EventBase):
    type: Literal["room_update"]
    room_update: RoomUpdate


Event = Annotated[
    JoinEvent
    | LeaveEvent
    | PostEvent
    | EditEvent
    | DeleteEvent
    | ReadEvent
    | FileUploadEvent
    | FileDownloadEvent
    | DisclaimerEvent
    | PolicyDecisionEvent
    | RoomUpdateEvent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def _describe(error: ValidationError) -> str:
    parts = []
    for detail in error.errors(include_url=False):
        location = ".".join(str(p) for p in detail["loc"]) or "event"
        parts.append(f"{location}: {detail['msg']}")
    return "; ".join(parts)


def _check_version(data: Any) -> None:
    if not isinstance(data, dict):
        raise InvalidEvent(f"an event must be a JSON object, not {type(data).__name__}")
    version = data.get("schema_version")
    if version is None:
        raise InvalidEvent("schema_version: field required")
    if version not in KNOWN_SCHEMA_VERSIONS or isinstance(version, bool):
        known = ", ".join(str(v) for v in sorted(KNOWN_SCHEMA_VERSIONS))
        raise InvalidEvent(f"unknown schema_version {version!r}; this version of Archivist reads {known}")


def parse_event(data: Any) -> Event:
    """Validate a decoded JSON value as an event, or raise :class:`InvalidEvent` with why."""
    _check_version(data)
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as error:
        raise InvalidEvent(_describe(error)) from None


def parse_event_json(body: bytes | str) -> Event:
    """Validate a JSON document as an event, or raise :class:`InvalidEvent` with why.

    The fast path validates straight from JSON; only when that fails is the body decoded a
    second time to tell a bad schema_version apart from other errors.
    """
    try:
        return EVENT_ADAPTER.validate_json(body)
    except ValidationError as error:
        kinds = {detail["type"] for detail in error.errors(include_url=False)}
        if "json_invalid" in kinds or "json_type" in kinds:
            raise InvalidEvent(f"not valid JSON: {_describe(error)}") from None
        _check_version(json.loads(body))
        raise InvalidEvent(_describe(error)) from None


def event_to_json(event: Event) -> str:
    """The stored form of an event: compact JSON, UTC timestamps, derived fields filled in."""
    return event.model_dump_json(exclude_none=True)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of the event contract, as published in docs/ and by ``archivist schema``."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Archivist compliance event, schema_version {SCHEMA_VERSION}"
    return schema


def utc_now() -> datetime:
    return datetime.now(UTC)
