from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import ingest.events
from ingest.errors import InvalidEvent
from ingest.events import (
    EVENT_TYPES,
    MAX_EVENT_BYTES,
    MAX_ID_LENGTH,
    SYSTEM_EVENT_TYPES,
    Event,
    PostEvent,
    admit_event,
    admit_event_json,
    derive_hashtags,
    derive_mentions,
    event_to_json,
    parse_event,
    parse_event_json,
)
from tests.factories import post_payload

FILE = {"name": "q3.xlsx", "size": 1024, "sha256": "a" * 64, "content_type": "application/vnd.ms-excel"}
EXTRA_FIELDS: dict[str, dict[str, Any]] = {
    "join": {},
    "leave": {},
    "post": {"message": {"id": "m1", "text": "hello"}},
    "edit": {"message": {"id": "m1", "text": "hello again"}},
    "delete": {"message": {"id": "m1"}},
    "read": {"read": {"message_id": "m1"}},
    "file_upload": {"file": FILE},
    "file_download": {"file": FILE},
    "file_text": {
        "extracted": {
            "file_event_id": "5b0e5d0c-2f4a-4a53-9d6e-0c1f8f3f2a10",
            "sha256": "a" * 64,
            "state": "extracted",
            "extractor": "openpyxl",
            "extractor_version": "3.1.5",
            "text_sha256": "b" * 64,
            "text_chars": 120,
        }
    },
    "disclaimer": {"disclaimer": {"rule_id": "r1", "version": 2, "locale": "de-DE", "text": "Achtung"}},
    "policy_decision": {
        "decision": {"action": "room_join", "outcome": "deny", "mode": "block", "wall_ids": ["w1"], "targets": ["u"]}
    },
    "room_update": {"room_update": {"name": "#desk", "created": True}},
    "supervision_hit": {
        "hit": {
            "item_id": "0b6f6c39-5c0e-4a8e-9f53-3f3f4b7d2a11",
            "policy_id": "p1",
            "policy_version": 2,
            "policy_name": "Promises of returns",
            "evaluated_event_id": "5b0e5d0c-2f4a-4a53-9d6e-0c1f8f3f2a10",
            "evaluated_type": "post",
            "evaluated_message": "m1",
            "reason": "lexicon",
            "matches": [{"term_id": "t1", "field": "text", "start": 0, "end": 5, "matched": "hello"}],
        }
    },
}


def payload(event_type: str, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema_version": 1,
        "event_id": str(uuid.uuid4()),
        "type": event_type,
        "occurred_at": "2026-11-22T09:15:02.120Z",
        "room": {"id": "room:ubuntu", "name": "#ubuntu", "kind": "room"},
        "actor": {"id": "user:crimsun", "name": "crimsun"},
        "source": {"server": "pchat01.example.com"},
    }
    base.update(EXTRA_FIELDS[event_type])
    base.update(overrides)
    return base


def test_every_event_type_has_an_example() -> None:
    assert set(EXTRA_FIELDS) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_type_validates_and_round_trips(event_type: str) -> None:
    event = parse_event(payload(event_type))
    assert event.type == event_type
    assert parse_event_json(event_to_json(event).encode()) == event


@pytest.mark.parametrize("event_type", [t for t in EVENT_TYPES if EXTRA_FIELDS[t]])
def test_each_type_requires_its_own_fields(event_type: str) -> None:
    data = payload(event_type)
    for field in EXTRA_FIELDS[event_type]:
        del data[field]
    with pytest.raises(InvalidEvent, match="Field required"):
        parse_event(data)


@pytest.mark.parametrize("admit", [admit_event, lambda data: admit_event_json(json.dumps(data))])
def test_producers_cannot_send_the_events_archivist_makes(admit: Any) -> None:
    with pytest.raises(InvalidEvent, match="file_text events are recorded by Archivist itself"):
        admit(payload("file_text"))
    assert parse_event(payload("file_text")).type == "file_text"  # what Archivist stages itself parses
    with pytest.raises(InvalidEvent, match="supervision_hit events are recorded by Archivist itself"):
        admit(payload("supervision_hit"))
    assert parse_event(payload("supervision_hit")).type == "supervision_hit"


def test_timestamps_without_a_zone_are_rejected() -> None:
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event(payload("join", occurred_at="2026-11-22T09:15:02"))


def test_timestamps_are_stored_in_utc() -> None:
    event = parse_event(payload("join", occurred_at="2026-11-22T10:15:02.5+01:00"))
    assert event.occurred_at == datetime(2026, 11, 22, 9, 15, 2, 500000, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert '"occurred_at":"2026-11-22T09:15:02.500000Z"' in event_to_json(event)


@pytest.mark.parametrize(
    "text",
    [
        "שלום עולם — מה נשמע?",  # right to left
        "مرحبا بالعالم",
        "emoji 😀👍🏽 and ZWJ 👨‍👩‍👧",
        "  leading and trailing spaces  ",
        "tabs\tand\nnewlines\r\n",
        "combining é vs precomposed é",
        "nul-free control \x07 bell",
    ],
)
def test_text_is_kept_byte_exact(text: str) -> None:
    event = parse_event(payload("post", message={"id": "m", "text": text}))
    assert isinstance(event, PostEvent)
    assert event.message.text.encode() == text.encode()
    again = parse_event_json(event_to_json(event).encode())
    assert isinstance(again, PostEvent)
    assert again.message.text.encode() == text.encode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"a string"', "must be a JSON object"),
        (json.dumps(post_payload(1) | {"schema_version": 2}).encode(), "unknown schema_version 2"),
        (json.dumps({k: v for k, v in post_payload(1).items() if k != "schema_version"}).encode(), "schema_version"),
        (json.dumps(post_payload(1) | {"type": "telepathy"}).encode(), "telepathy"),
        (json.dumps(post_payload(1) | {"event_id": "not-a-uuid"}).encode(), "event_id"),
        (json.dumps(post_payload(1) | {"occurred_at": 12}).encode(), "occurred_at"),
        (json.dumps(post_payload(1) | {"room": "general"}).encode(), "room"),
        (json.dumps(post_payload(1) | {"surprise": True}).encode(), "surprise"),
        (b"\xff\xfe garbage", "not valid JSON"),
    ],
)
def test_invalid_messages_explain_themselves(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        parse_event_json(body)
    assert reason in caught.value.reason


def test_mentions_and_hashtags_are_derived_when_not_given() -> None:
    event = parse_event(payload("post", message={"id": "m", "text": "@alice see #Q3-Results and #q3-results"}))
    assert isinstance(event, PostEvent)
    assert event.message.mentions == ("alice",)
    assert event.message.hashtags == ("q3-results",)


def test_given_mentions_are_kept() -> None:
    message = {"id": "m", "text": "kleedrac: try totem", "mentions": ["kleedrac"], "hashtags": []}
    event = parse_event(payload("post", message=message))
    assert isinstance(event, PostEvent)
    assert event.message.mentions == ("kleedrac",)
    assert event.message.hashtags == ()


def test_email_addresses_and_url_fragments_are_not_mentions_or_tags() -> None:
    assert derive_mentions("mail bob@example.com") == ()
    assert derive_hashtags("see http://x.org/page#section and &#39;") == ()


def test_events_are_frozen() -> None:
    event = parse_event(payload("join"))
    with pytest.raises(ValueError, match="frozen"):
        event.type = "leave"  # type: ignore[misc]


zones = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones, allow_imaginary=False
)


@given(text=st.text(), when=instants)
def test_any_text_and_zone_round_trip(text: str, when: datetime) -> None:
    event = parse_event(payload("post", occurred_at=when.isoformat(), message={"id": "m", "text": text}))
    assert isinstance(event, PostEvent)
    assert event.message.text == text
    assert event.occurred_at == when
    assert event.occurred_at.tzinfo == UTC
    assert parse_event_json(event_to_json(event)) == event


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(document=json_values)
def test_arbitrary_json_is_either_an_event_or_invalid(document: Any) -> None:
    try:
        parse_event_json(json.dumps(document))
    except InvalidEvent as error:
        assert error.reason


@given(field=st.sampled_from(["event_id", "occurred_at", "room", "actor", "type"]), value=json_values)
def test_corrupting_a_field_never_crashes(field: str, value: Any) -> None:
    data = post_payload(7) | {field: value}
    try:
        parse_event(data)
    except InvalidEvent as error:
        assert error.reason


@given(st.binary())
def test_arbitrary_bytes_never_crash(body: bytes) -> None:
    try:
        parse_event_json(body)
    except InvalidEvent as error:
        assert error.reason


@pytest.mark.parametrize("version", [True, 1.0, "1"])
def test_a_schema_version_equal_to_one_but_not_the_integer_is_refused_on_every_path(version: object) -> None:
    payload = post_payload(1, run="version") | {"schema_version": version}
    with pytest.raises(InvalidEvent, match="schema_version"):
        parse_event(payload)
    with pytest.raises(InvalidEvent, match="schema_version"):
        parse_event_json(json.dumps(payload))


# --- issue 15, item 1: whatever a validator raises becomes a reason -------------------------------


def reasons_on_both_paths(data: dict[str, Any]) -> list[str]:
    """The reasons :func:`admit_event` and :func:`admit_event_json` give for ``data``."""
    with pytest.raises(InvalidEvent) as from_python:
        admit_event(data)
    with pytest.raises(InvalidEvent) as from_json:
        admit_event_json(json.dumps(data))
    return [from_python.value.reason, from_json.value.reason]


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00+00:01", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00.000001+23:59"],
)
def test_a_time_outside_the_representable_range_after_conversion_to_utc_is_refused(occurred_at: str) -> None:
    data = post_payload(1, run="range") | {"occurred_at": occurred_at}
    for reason in reasons_on_both_paths(data):
        assert reason.startswith("post.occurred_at: ")
        assert "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z" in reason


@pytest.mark.parametrize(
    "occurred_at",
    ["0001-01-01T00:00:00Z", "0001-01-01T00:01:00+00:01", "9999-12-31T23:59:59.999999Z", "9999-12-31T00:00:00-23:59"],
)
def test_the_first_and_last_representable_instants_are_accepted(occurred_at: str) -> None:
    event = parse_event_json(json.dumps(post_payload(1, run="range") | {"occurred_at": occurred_at}))
    assert event.occurred_at.tzinfo == UTC
    assert parse_event_json(event_to_json(event)) == event


@pytest.mark.parametrize(
    "version", [[1], {"a": 1}, [], {}, "x" * 10_000, 10**5000, -(2**80)], ids=lambda v: type(v).__name__
)
def test_a_schema_version_of_any_json_type_is_a_reason_not_a_crash(version: object) -> None:
    data = post_payload(1, run="version") | {"schema_version": version}
    body = json.dumps(data) if not (isinstance(version, int) and version > 10**4000) else None
    with pytest.raises(InvalidEvent) as caught:
        parse_event(data)
    assert "schema_version" in caught.value.reason
    assert len(caught.value.reason) < 400
    if body is not None:
        with pytest.raises(InvalidEvent, match="schema_version"):
            parse_event_json(body)


def test_a_number_with_more_digits_than_python_will_read_is_refused() -> None:
    body = json.dumps(post_payload(1)).replace('"schema_version": 1', '"schema_version": ' + "9" * 5000)
    with pytest.raises(InvalidEvent, match=r"not valid JSON: .*number out of range"):
        parse_event_json(body)


def test_an_unexpected_exception_in_validation_becomes_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(value: datetime) -> datetime:
        raise ZeroDivisionError("a validator bug")

    monkeypatch.setattr(ingest.events, "_convert_to_utc", broken)
    data = post_payload(1, run="bug")
    for reason in reasons_on_both_paths(data):
        assert reason == "could not be validated: ZeroDivisionError: a validator bug"


def test_an_event_larger_than_the_limit_is_refused_with_its_size() -> None:
    text = "x" * MAX_EVENT_BYTES
    with pytest.raises(InvalidEvent, match=r"the event is 1,048,[0-9]{3} bytes; the limit is 1,048,576"):
        admit_event_json(json.dumps(post_payload(1, text=text)))
    near = admit_event_json(json.dumps(post_payload(1, text="x" * (MAX_EVENT_BYTES - 1000))))
    assert isinstance(near, PostEvent)
    assert isinstance(parse_event_json(json.dumps(post_payload(1, text=text))), PostEvent), "stored ones still read"


@given(key=st.text(min_size=1, max_size=50), nested=st.booleans())
def test_reasons_are_printable_whatever_the_input_names(key: str, nested: bool) -> None:
    data = post_payload(1, run="keys")
    if nested:
        data["message"] = data["message"] | {key: 1}
    else:
        data[key] = 1
    try:
        parse_event(data)
    except InvalidEvent as error:
        error.reason.encode("utf-8")  # a lone surrogate or NUL from the input would fail here (AMQP header)
        assert all(c.isprintable() for c in error.reason), error.reason


# --- issue 15, item 3: strings the databases cannot both store are refused, naming the field --------

STRING_FIELDS: list[tuple[str, tuple[str | int, ...]]] = [
    ("post", ("room", "id")),
    ("post", ("room", "name")),
    ("post", ("actor", "id")),
    ("post", ("actor", "name")),
    ("post", ("actor", "email")),
    ("post", ("source", "server")),
    ("post", ("message", "id")),
    ("post", ("message", "text")),
    ("post", ("message", "mentions", 0)),
    ("post", ("message", "hashtags", 0)),
    ("post", ("message", "reply_to")),
    ("edit", ("message", "text")),
    ("delete", ("message", "id")),
    ("read", ("read", "message_id")),
    ("file_upload", ("file", "name")),
    ("file_upload", ("file", "content_type")),
    ("file_download", ("file", "url")),
    ("disclaimer", ("disclaimer", "rule_id")),
    ("disclaimer", ("disclaimer", "locale")),
    ("disclaimer", ("disclaimer", "text")),
    ("policy_decision", ("decision", "wall_ids", 0)),
    ("policy_decision", ("decision", "targets", 0)),
    ("room_update", ("room_update", "name")),
    ("room_update", ("room_update", "description")),
]


def with_value(event_type: str, path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    """A valid event of ``event_type`` (every optional string filled in) with ``value`` at ``path``."""
    data: dict[str, Any] = json.loads(json.dumps(payload(event_type)))  # a deep copy: EXTRA_FIELDS is shared
    data["actor"]["email"] = "crimsun@example.com"
    if event_type == "post":
        data["message"] |= {"mentions": ["a"], "hashtags": ["t"]}
    if event_type == "file_download":
        data["file"]["url"] = "https://files.example.com/q3.xlsx"
    if event_type == "room_update":
        data["room_update"]["description"] = "the desk"
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(("event_type", "path"), STRING_FIELDS, ids=lambda p: str(p))
@pytest.mark.parametrize(
    ("value", "problem"),
    [("nul \x00 inside", "U+0000 (NUL)"), ("\x00", "U+0000 (NUL)"), ("lone \ud800 surrogate", "lone surrogate U+D800")],
)
def test_a_nul_or_a_lone_surrogate_in_any_string_field_is_refused_naming_the_field(
    event_type: str, path: tuple[str | int, ...], value: str, problem: str
) -> None:
    data = with_value(event_type, path, value)
    where = ".".join(str(p) for p in (event_type, *path))
    with pytest.raises(InvalidEvent) as caught:
        admit_event(data)
    assert caught.value.reason.startswith(f"{where}: "), caught.value.reason
    assert problem in caught.value.reason
    # JSON escapes (\u0000, \ud800) travel through the consumer's path: the same reason.
    with pytest.raises(InvalidEvent) as caught_json:
        admit_event_json(json.dumps(data).encode())
    assert caught_json.value.reason == caught.value.reason


def test_an_event_with_a_nul_stored_by_an_earlier_version_still_reads_back() -> None:
    """SQLite archives may hold one: exports and reindex must not fail on it."""
    stored = json.dumps(with_value("post", ("message", "text"), "nul \x00 kept"))
    for event in (parse_event_json(stored), parse_event(json.loads(stored))):
        assert isinstance(event, PostEvent)
        assert event.message.text == "nul \x00 kept"


def string_field_paths() -> set[tuple[str, str]]:
    """(event type, dotted path) of every ``str`` field, alone or in a tuple, of every event model."""
    found: set[tuple[str, str]] = set()

    def walk(event_type: str, model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            kinds = typing.get_args(field.annotation) or (field.annotation,)
            models = [k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)]
            if models:
                walk(event_type, models[0], f"{prefix}{name}.")
            elif str in kinds or str in typing.get_args(kinds[0]) or field.annotation is str:
                found.add((event_type, f"{prefix}{name}"))

    (union, *_rest) = typing.get_args(Event)
    for model in typing.get_args(union):
        walk(typing.get_args(model.model_fields["type"].annotation)[0], model, "")
    return found


def test_the_nul_tests_cover_every_string_field_of_the_contract() -> None:
    covered = {".".join(str(p) for p in path if not isinstance(p, int)) for _t, path in STRING_FIELDS}
    pattern_only = {"file.sha256", "occurred_offset"}  # patterns refuse NUL and surrogates first
    # system events are refused at admission whatever they hold (Archivist writes their strings printable)
    producers = {path for event_type, path in string_field_paths() if event_type not in SYSTEM_EVENT_TYPES}
    assert producers == covered | pattern_only


@pytest.mark.parametrize("char", ["\x01", "\x07", "\x1b", "\x7f", "\x85", "\u2028", "\ufeff", "\ufffe", "\U0010ffff"])
def test_other_control_and_unusual_characters_are_kept_exactly(char: str) -> None:
    data = with_value("post", ("message", "text"), f"a{char}b")
    data["actor"]["id"] = f"user:{char}"
    event = admit_event_json(json.dumps(data).encode())
    assert isinstance(event, PostEvent)
    assert event.message.text == f"a{char}b"
    assert event.actor.id == f"user:{char}"
    assert parse_event_json(event_to_json(event)) == event


ID_FIELDS = [(event_type, path) for event_type, path in STRING_FIELDS if path[-1] in ("id", "message_id", "rule_id")]


def test_the_id_length_tests_cover_every_id_field() -> None:
    named = {path for _t, path in string_field_paths() if path.rsplit(".", 1)[-1] in ("id", "message_id", "rule_id")}
    assert {".".join(str(p) for p in path) for _t, path in ID_FIELDS} == named


@pytest.mark.parametrize(("event_type", "path"), ID_FIELDS, ids=lambda p: str(p))
def test_an_id_longer_than_the_limit_is_refused_naming_the_field(event_type: str, path: tuple[str | int, ...]) -> None:
    """A longer id breaks index keys (PostgreSQL's btree row limit, Tantivy's fast-field terms)."""
    where = ".".join(str(p) for p in (event_type, *path))
    at_limit = with_value(event_type, path, "i" * MAX_ID_LENGTH)
    assert admit_event(at_limit).type == event_type
    assert admit_event_json(json.dumps(at_limit).encode()).type == event_type
    too_long = with_value(event_type, path, "界" * (MAX_ID_LENGTH + 1))
    with pytest.raises(InvalidEvent) as caught:
        admit_event(too_long)
    with pytest.raises(InvalidEvent) as caught_json:
        admit_event_json(json.dumps(too_long).encode())
    expected = f"{where}: an id of {MAX_ID_LENGTH + 1:,} characters; the limit is {MAX_ID_LENGTH}"
    assert caught.value.reason == caught_json.value.reason == expected
    # What an earlier version stored with a longer id still reads back.
    assert parse_event_json(json.dumps(too_long)).type == event_type


# The sender's offset (issue 17, finding 4): UTC stays the stored time and the sort key; the
# offset the time was sent with is kept beside it, in the stored JSON, for views and exports.


def test_the_offset_an_event_was_sent_with_is_kept_beside_its_utc_time() -> None:
    body = json.dumps(payload("post", occurred_at="2026-11-22T09:00:00+09:00"))
    event = admit_event_json(body)
    assert event.occurred_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    assert event.occurred_at.tzinfo == UTC
    assert event.occurred_offset == "+09:00"
    stored = event_to_json(event)
    assert '"occurred_at":"2026-11-22T00:00:00Z"' in stored
    assert '"occurred_offset":"+09:00"' in stored
    assert parse_event_json(stored) == event  # the stored form reads back to the same event
    assert admit_event(json.loads(body)).occurred_offset == "+09:00"  # and from Python values


@pytest.mark.parametrize(
    ("sent", "offset"),
    [
        ("2026-03-08T23:30:00-05:00", "-05:00"),
        ("2026-06-01T12:00:00+05:30", "+05:30"),
        ("2026-06-01T12:00:00-00:30", "-00:30"),
    ],
)
def test_negative_and_fractional_hour_offsets_are_kept(sent: str, offset: str) -> None:
    assert parse_event(payload("join", occurred_at=sent)).occurred_offset == offset


@pytest.mark.parametrize("sent", ["2026-11-22T09:15:02Z", "2026-11-22T09:15:02+00:00", "2026-11-22T09:15:02.5z"])
def test_a_time_sent_in_utc_stores_no_offset_so_existing_payloads_keep_their_bytes(sent: str) -> None:
    event = parse_event(payload("join", occurred_at=sent))
    assert event.occurred_offset is None
    assert "occurred_offset" not in event_to_json(event)


def test_an_archived_payload_without_an_offset_reads_back_byte_for_byte() -> None:
    stored = event_to_json(parse_event(payload("post", occurred_at="2026-11-22T09:15:02.120Z")))
    assert event_to_json(parse_event_json(stored)) == stored


def test_an_offset_that_contradicts_the_time_is_refused() -> None:
    data = payload("join", occurred_at="2026-11-22T09:00:00+09:00", occurred_offset="+01:00")
    with pytest.raises(InvalidEvent, match="occurred_offset"):
        parse_event(data)
    with pytest.raises(InvalidEvent, match="occurred_offset"):
        parse_event(payload("join", occurred_offset="9 hours"))
    # The stored form (UTC time, offset beside it) and the same offset twice are accepted.
    assert parse_event(payload("join", occurred_offset="+09:00")).occurred_offset == "+09:00"
    both = payload("join", occurred_at="2026-11-22T09:00:00+09:00", occurred_offset="+09:00")
    assert parse_event(both).occurred_at == datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
