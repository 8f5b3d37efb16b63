"""The compliance event contract, schema_version 1.

Every event a chat server publishes is one of the frozen models below, chosen by its
``type``. Timestamps must carry a zone and are normalised to UTC; text is never stripped,
normalised or re-encoded, so what the archive keeps is byte-for-byte what was said.

What validation refuses beyond the models' types, decided here once for every producer path
(the consumer, ``POST /api/v1/events``, ``archivist publish``, the importers: they all go
through :func:`admit_event_json` or :func:`admit_event`) and both databases alike:

- a time whose UTC value is outside :data:`EARLIEST` .. :data:`LATEST` (years 1 to 9999 in UTC,
  what Python, SQLite, PostgreSQL, the indexes and the exports all represent);
- a string anywhere in the event containing U+0000 (PostgreSQL text cannot hold it) or a lone
  surrogate (it has no UTF-8 encoding): refused naming the field, never altered;
- an event whose JSON is larger than :data:`MAX_EVENT_BYTES`;
- an id (room, actor, message, the message replied to, disclaimer rule) longer than :data:`MAX_ID_LENGTH` characters;
- an event of a type only Archivist makes (:data:`SYSTEM_EVENT_TYPES`: ``file_text``,
  ``supervision_hit``).

Every other character, control characters included, is accepted and kept exactly. Whatever a
validator raises, these functions raise only :class:`~ingest.errors.InvalidEvent`, whose
reason is printable text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self
from uuid import UUID, uuid5

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
from pydantic_core import PydanticCustomError

from ingest.errors import InvalidEvent

log = logging.getLogger(__name__)

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
    "file_text",
    "disclaimer",
    "policy_decision",
    "room_update",
    "supervision_hit",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

# A mention is "@nick"; a hashtag is "#tag". Both must start at a word boundary so that
# e-mail addresses and URL fragments ("a@b.com", "page#section") are not taken for them.
_MENTION = re.compile(r"(?<![\w@])@([\w][\w.\-|`^\[\]{}]*)")
_HASHTAG = re.compile(r"(?<![\w&#/])#(\w[\w\-]*)")

_RFC3339_START = re.compile(r"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")
_OFFSET_PATTERN = r"^[+-]\d\d:[0-5]\d(:[0-5]\d)?$"

MAX_EVENT_BYTES = 1_048_576
"""The largest event, as JSON, that any path accepts (1 MiB): a chat message, file record or
disclaimer is far smaller; anything larger is refused with its size, never half-read."""

EARLIEST = datetime.min.replace(tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
"""``occurred_at`` must fall within these once converted to UTC: 0001-01-01T00:00:00Z to
9999-12-31T23:59:59.999999Z. ``0001-01-01T00:00:00+00:01`` is refused: in UTC it is in year 0."""

RANGE_TEXT = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"

MAX_ID_LENGTH = 256
"""The longest id (room, actor, message, disclaimer rule) a producer may send, in characters.
Ids are index keys everywhere: PostgreSQL refuses a btree row over 2,704 bytes (the archive
indexes a room id and an actor id together) and Tantivy's fast fields fail on a term over
65,530 bytes. 256 characters are at most 1,024 bytes of UTF-8, so two ids and a time fit in a
row. Checked at admission, not in the models, so anything an earlier version stored still reads."""

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""U+0000 and lone surrogates: what no database here can store as text (see the module doc)."""

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
    reply_to: NonEmpty | None = None
    """The id of the message this one answers, for platforms that say (Slack's ``thread_ts``,
    Mattermost's ``root_id``, Teams' ``replyToId``: docs/threads.md); absent when the platform
    does not. Bounded like every id; a message cannot reply to itself."""

    @model_validator(mode="after")
    def _derive_entities(self) -> Self:
        if self.reply_to is not None and self.reply_to == self.id:
            raise PydanticCustomError(
                "reply_to_self",
                "message {id} cannot reply to itself: reply_to names the message it answers",
                {"id": printable(self.id, 100)},
            )
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
the same way (``archive.hashchain.event_payload_hash`` relies on it)."""


class FileInfo(_Frozen):
    name: NonEmpty
    size: Annotated[int, Field(ge=0, le=MAX_INTEGER)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    content_type: str = "application/octet-stream"
    url: str | None = None


class ExtractedText(_Frozen):
    """What text extraction found in the bytes of one uploaded file (a ``file_text`` event).

    The text itself is not in the event: it is stored in the file store as UTF-8, addressed by
    ``text_sha256`` (an extracted text can be far larger than an event may be), so the chain
    seals its hash and every reader gets exactly the bytes that were sealed."""

    file_event_id: UUID
    """The ``file_upload`` event whose file this is."""
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    """The file's bytes (as in the upload event)."""
    state: Literal["extracted", "empty", "unsupported", "failed"]
    reason: str | None = None
    """Why there is no (or only part of the) text: unsupported type, encrypted, corrupt, a limit."""
    extractor: NonEmpty
    extractor_version: NonEmpty
    text_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    """The extracted text (UTF-8) in the file store; None when there is none."""
    text_chars: Annotated[int, Field(ge=0, le=MAX_INTEGER)] = 0
    truncated: bool = False
    """The text was cut at the extraction limit (``reason`` says which)."""


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


class SupervisionMatch(_Frozen):
    """Where a lexicon term matched (``supervision.model.TermMatch``, restated here: the event
    contract is the bottom layer): ``field`` ``text`` (the message as said) or ``attachment``
    (an attached file's extracted text), the character offsets ``[start, end)`` in it."""

    term_id: NonEmpty
    field: Literal["text", "attachment"] = "text"
    start: Annotated[int, Field(ge=0, le=MAX_INTEGER)]
    end: Annotated[int, Field(ge=0, le=MAX_INTEGER)]
    matched: Annotated[str, Field(max_length=1_000)]


class SupervisionHit(_Frozen):
    """A review item a supervision policy made of one message (a ``supervision_hit`` event):
    which policy (at which version), which event it evaluated (a ``post``, an ``edit`` or a
    ``file_text``) of which message, why (a lexicon match, or the sampling draw) and the
    matches with their positions."""

    item_id: NonEmpty
    policy_id: NonEmpty
    policy_version: Annotated[int, Field(ge=1, le=MAX_INTEGER)]
    policy_name: str
    evaluated_event_id: UUID
    evaluated_type: Literal["post", "edit", "file_text"]
    evaluated_message: NonEmpty
    """The id of the message the evaluated event belongs to (an upload's event id for a
    ``file_text``: the upload is the message its text belongs to)."""
    reason: Literal["lexicon", "sample"]
    matches: tuple[SupervisionMatch, ...] = ()


class EventBase(_Frozen):
    schema_version: Literal[1]
    event_id: UUID
    occurred_at: AwareDatetime
    occurred_offset: Annotated[str, Field(pattern=_OFFSET_PATTERN)] | None = None
    """The UTC offset ``occurred_at`` was sent with (``+09:00``), when it was not UTC: the
    stored time is UTC (the sort key), this keeps the sender's clock. Derived from
    ``occurred_at`` when absent; an event that gives both must have them agree. A time sent in
    UTC stores none, so events archived before this field keep their bytes."""
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
    def _in_range(cls, value: datetime) -> datetime:
        _convert_to_utc(value)  # refuses, naming the field, a time outside the range in UTC
        return value

    @model_validator(mode="after")
    def _to_utc(self) -> Self:
        # Frozen model: the offset is read and the time converted once, at creation.
        sent = self.occurred_at
        if sent.tzinfo is UTC:
            return self
        offset = sent.utcoffset()
        if offset:
            said = offset_text(offset)
            if self.occurred_offset is not None and self.occurred_offset != said:
                raise PydanticCustomError(
                    "offset_mismatch",
                    "occurred_offset {given} contradicts occurred_at, which was sent at {said}",
                    {"given": self.occurred_offset, "said": said},
                )
            object.__setattr__(self, "occurred_offset", said)
        object.__setattr__(self, "occurred_at", sent.astimezone(UTC))
        return self


def offset_text(offset: timedelta) -> str:
    """``+09:00``, ``-05:00``, ``+05:30`` (seconds only when the offset has them)."""
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")


def _convert_to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise PydanticCustomError(
            "datetime_out_of_range",
            "{value} is outside the range the archive keeps, {range} in UTC",
            {"value": value.isoformat(), "range": RANGE_TEXT},
        ) from None


class JoinEvent(EventBase):
    type: Literal["join"]


class LeaveEvent(EventBase):
    type: Literal["leave"]


Recipients = tuple[Actor, ...] | None
"""Who a direct message was sent to (optional; absent in events written before it existed, which
hash as they always did: the stored JSON leaves out what is None). See :func:`present_by`."""


class PostEvent(EventBase):
    type: Literal["post"]
    message: PostedMessage
    recipients: Recipients = None


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
    recipients: Recipients = None


class FileDownloadEvent(EventBase):
    type: Literal["file_download"]
    file: FileInfo


class FileTextEvent(EventBase):
    """Made by Archivist's extraction, never by a producer (:data:`SYSTEM_EVENT_TYPES`): the
    text found in an uploaded file, with the room and uploader of its ``file_upload`` event."""

    type: Literal["file_text"]
    extracted: ExtractedText


class DisclaimerEvent(EventBase):
    type: Literal["disclaimer"]
    disclaimer: DisclaimerShown


class PolicyDecisionEvent(EventBase):
    type: Literal["policy_decision"]
    decision: PolicyDecision


class RoomUpdateEvent(EventBase):
    type: Literal["room_update"]
    room_update: RoomUpdate


class SupervisionHitEvent(EventBase):
    """Made by the ``supervision`` adapter, never by a producer (:data:`SYSTEM_EVENT_TYPES`):
    a review item was made of a message. Its actor is :data:`SUPERVISION_ACTOR`, its room the
    message's, its time when the item was made."""

    type: Literal["supervision_hit"]
    hit: SupervisionHit


Event = Annotated[
    JoinEvent
    | LeaveEvent
    | PostEvent
    | EditEvent
    | DeleteEvent
    | ReadEvent
    | FileUploadEvent
    | FileDownloadEvent
    | FileTextEvent
    | DisclaimerEvent
    | PolicyDecisionEvent
    | RoomUpdateEvent
    | SupervisionHitEvent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


SYSTEM_EVENT_TYPES: frozenset[str] = frozenset({"file_text", "supervision_hit"})
"""Event types only Archivist makes (staged by its own workers); every producer path refuses them."""
PRODUCER_EVENT_TYPES: tuple[str, ...] = tuple(kind for kind in EVENT_TYPES if kind not in SYSTEM_EVENT_TYPES)
"""The event types a chat server may send."""

FILE_TEXT_NAMESPACE = UUID("5d0e3f9a-7c1b-4e6a-9f2d-8b4a1c6e0f18")
"""The namespace of :func:`file_text_event_id` (fixed: changing it would give a re-extraction a
new event id, and an upload two texts)."""


def file_text_event_id(file_event_id: UUID) -> UUID:
    """The id of the ``file_text`` event describing the upload ``file_event_id``: one text per
    upload, so an extraction repeated after a crash stages the same event and the idempotent
    pipeline keeps one."""
    return uuid5(FILE_TEXT_NAMESPACE, str(file_event_id))


SUPERVISION_ACTOR = Actor(id="system:supervision", name="Supervision")
"""The actor of every ``supervision_hit`` event."""


PRESENCE_EVENTS = (PostEvent, FileUploadEvent)
"""Events that show their actor in the room whether or not a join was recorded."""


def present_by(event: Event) -> tuple[Actor, ...]:
    """Who ``event`` shows present in its room: the one rule, by room kind, that the archive's
    membership intervals (``members_at``, ``participant:``, the conversation page, holds) follow.

    - A post or file upload shows its actor present (a join opens presence, a leave ends it;
      someone who speaks without a recorded join is present from then).
    - In a direct conversation (``room.kind == "im"``) it also shows every one of its
      ``recipients`` present, from the first message that names them until they leave: the
      people written to are in the conversation before they reply.
    - In a room (``kind == "room"``) recipients do not make anyone present: a channel's
      audience is whoever joined it.

    Joins and leaves are not answered here (they open and close presence); every other event
    shows no one.
    """
    if not isinstance(event, PRESENCE_EVENTS):
        return ()
    if event.room.kind == "im" and event.recipients:
        return (event.actor, *(r for r in event.recipients if r.id != event.actor.id))
    return (event.actor,)


MAX_REASON = 2000
"""Reasons are for people (and fit in an AMQP header): longer ones are cut, saying so."""


def printable(text: str, limit: int = MAX_REASON) -> str:
    """``text`` safe to show and to send anywhere: characters that are not printable (control
    characters, NUL, lone surrogates, line breaks) as ``\\x..``/``\\u..`` escapes, at most
    ``limit`` characters."""
    shown = text if text.isprintable() else "".join(c if c.isprintable() else _escape(c) for c in text)
    if len(shown) > limit:
        return shown[: limit - 30] + f"... ({len(shown) - limit + 30:,} more characters)"
    return shown


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _brief(value: object) -> str:
    """A value from the input, shown without ever being huge (or unprintable)."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value) if value.bit_length() <= 64 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, str):
        return repr(printable(value, 40))
    if isinstance(value, dict):
        return "an object"
    return "a list" if isinstance(value, list) else type(value).__name__


def _describe(error: ValidationError) -> str:
    parts: list[str] = []
    for detail in error.errors(include_url=False, include_context=False):
        location = ".".join(printable(str(p), 100) for p in detail["loc"]) or "event"
        given = detail.get("input")
        if detail["type"] == "string_unicode" and isinstance(given, str) and _UNSTORABLE.search(given):
            # pydantic checks a constrained string in Rust, which refuses a lone surrogate itself
            parts.extend(_string_problem(given, location))
        else:
            parts.append(f"{location}: {printable(detail['msg'], 500)}")
    return printable("; ".join(parts))


def _check_version(data: Any) -> None:
    if not isinstance(data, dict):
        raise InvalidEvent(f"an event must be a JSON object, not {type(data).__name__}")
    if "schema_version" not in data or data["schema_version"] is None:
        raise InvalidEvent("schema_version: field required")
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version not in KNOWN_SCHEMA_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_SCHEMA_VERSIONS))
        raise InvalidEvent(f"unknown schema_version {_brief(version)}; this version of Archivist reads {known}")


def _unexpected(error: BaseException) -> InvalidEvent:
    """A validator raised something other than a validation error: still a reason, never a crash."""
    log.debug("event validation raised %s", type(error).__name__, exc_info=error)
    try:
        detail = str(error)
    except Exception:  # the message of a broken exception is not worth a crash
        detail = ""
    return InvalidEvent(printable(f"could not be validated: {type(error).__name__}: {detail}"))


def _unstorable(model: BaseModel, prefix: str = "") -> Iterator[str]:
    """Why a string of ``model`` (at any depth) cannot be stored, naming its field."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            yield from _unstorable(value, f"{prefix}{name}.")
        elif isinstance(value, str):
            yield from _string_problem(value, f"{prefix}{name}")
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, str):
                    yield from _string_problem(item, f"{prefix}{name}.{index}")
                elif isinstance(item, BaseModel):
                    yield from _unstorable(item, f"{prefix}{name}.{index}.")


def _string_problem(value: str, where: str) -> Iterator[str]:
    found = _UNSTORABLE.search(value)
    if found is None:
        return
    at = found.start()
    if found.group() == "\x00":
        yield (
            f"{where}: contains U+0000 (NUL) at character {at}, which the archive cannot store; "
            "remove it or escape it before sending"
        )
    else:
        code = ord(found.group())
        yield f"{where}: contains a lone surrogate U+{code:04X} at character {at}, which has no UTF-8 encoding"


_ID_PARTS = (("message", "id"), ("message", "reply_to"), ("read", "message_id"), ("disclaimer", "rule_id"))
"""The ids an event carries besides its room's and actor's (``tests/ingest/test_events.py``
checks that this names every id field of the contract)."""


def _long_ids(event: Event) -> Iterator[str]:
    """Why an id of ``event`` is too long to be a key, naming its field. Attribute by attribute,
    not a walk of the model: this runs for every event a producer sends."""
    ids: list[tuple[str, str | None]] = [("room.id", event.room.id), ("actor.id", event.actor.id)]
    for part, name in _ID_PARTS:
        holder = event.__dict__.get(part)  # no AttributeError raised and caught per missing part
        if holder is not None:
            ids.append((f"{part}.{name}", getattr(holder, name, None)))  # only a post's message has reply_to
    for index, recipient in enumerate(event.__dict__.get("recipients") or ()):
        ids.append((f"recipients.{index}.id", recipient.id))
    for where, value in ids:
        if value is not None and len(value) > MAX_ID_LENGTH:
            yield f"{event.type}.{where}: an id of {len(value):,} characters; the limit is {MAX_ID_LENGTH}"


def _refuse_long_ids(event: Event) -> Event:
    for problem in _long_ids(event):
        raise InvalidEvent(problem)
    if event.type in SYSTEM_EVENT_TYPES:
        raise InvalidEvent(_SYSTEM_REFUSALS[event.type])
    return event


_SYSTEM_REFUSALS = {
    "file_text": (
        "file_text events are recorded by Archivist itself (text extraction), not sent by producers; "
        "hand over a file's bytes with POST /api/v1/files instead"
    ),
    "supervision_hit": (
        "supervision_hit events are recorded by Archivist itself (supervision), not sent by producers; "
        "a supervision policy makes them"
    ),
}


def _refuse_unstorable(event: Event) -> Event:
    # Named like pydantic names a field, after the type that chose the model: post.message.text
    for problem in _unstorable(event, f"{event.type}."):
        raise InvalidEvent(problem)
    return event


def parse_event(data: Any) -> Event:
    """Validate a decoded JSON value as an event, or raise :class:`InvalidEvent` with why.
    Producers' input goes through :func:`admit_event`, which adds the admission limits."""
    try:
        _check_version(data)
        return EVENT_ADAPTER.validate_python(data)
    except InvalidEvent:
        raise
    except ValidationError as error:
        raise InvalidEvent(_describe(error)) from None
    except Exception as error:  # any validator failure is a rejection, never a crash
        raise _unexpected(error) from None


def admit_event(data: Any) -> Event:
    """Validate an event a producer built as a JSON value (an importer): :func:`parse_event`
    plus the admission limits on strings (see the module doc)."""
    return _refuse_long_ids(_refuse_unstorable(parse_event(data)))


_NOT_JSON: Any = object()


def _loads(body: bytes | str) -> Any:
    """``json.loads``, or :data:`_NOT_JSON` when the standard library cannot read it either."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return _NOT_JSON


def parse_event_json(body: bytes | str) -> Event:
    """Read a JSON document as an event, or raise :class:`InvalidEvent` with why.

    What producers send goes through :func:`admit_event_json`, which adds the admission limits;
    this is also how stored events are read back, so that what an earlier version admitted (a
    NUL in an SQLite archive, a larger event) stays readable.

    The fast path validates straight from JSON; only when that fails is the body decoded a
    second time, to tell a bad schema_version apart from other errors, and to name the field
    of a lone surrogate escape (which pydantic's JSON parser refuses as a whole).
    """
    try:
        try:
            return EVENT_ADAPTER.validate_json(body)
        except ValidationError as error:
            kinds = {detail["type"] for detail in error.errors(include_url=False)}
            data = _loads(body) if "json_type" not in kinds else _NOT_JSON
            if "json_invalid" in kinds or "json_type" in kinds:
                if data is not _NOT_JSON:
                    admit_event(data)  # raises, with the field that made it unreadable
                raise InvalidEvent(f"not valid JSON: {_describe(error)}") from None
            if data is not _NOT_JSON:
                _check_version(data)
            raise InvalidEvent(_describe(error)) from None
    except InvalidEvent:
        raise
    except Exception as error:  # any validator failure is a rejection, never a crash
        raise _unexpected(error) from None


def admit_event_json(body: bytes | str) -> Event:
    """Validate an event a producer sent (AMQP, HTTP, a file), or raise :class:`InvalidEvent`:
    :func:`parse_event_json` plus the admission limits (size, NUL, id length; see the module doc)."""
    try:
        _check_size(body)
        event = parse_event_json(body)
        # NUL can only arrive escaped (raw control characters are not JSON): most bodies skip the walk.
        if b"\\u0000" in body if isinstance(body, bytes) else "\\u0000" in body:
            _refuse_unstorable(event)
        return _refuse_long_ids(event)
    except InvalidEvent:
        raise
    except Exception as error:  # any validator failure is a rejection, never a crash
        raise _unexpected(error) from None


def _check_size(body: bytes | str) -> None:
    size = len(body)
    if isinstance(body, str) and size > MAX_EVENT_BYTES // 4:  # characters: up to 4 bytes each
        size = len(body.encode("utf-8", "surrogatepass"))
    if size > MAX_EVENT_BYTES:
        raise InvalidEvent(f"the event is {size:,} bytes; the limit is {MAX_EVENT_BYTES:,}")


def event_to_json(event: Event) -> str:
    """The stored form of an event: compact JSON, UTC timestamps, derived fields filled in."""
    return event.model_dump_json(exclude_none=True)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema of the event contract, as published in docs/ and by ``archivist schema``."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Archivist compliance event, schema_version {SCHEMA_VERSION}"
    return schema
