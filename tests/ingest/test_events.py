from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.errors import InvalidEvent
from ingest.events import (
    EVENT_TYPES,
    PostEvent,
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
    "disclaimer": {"disclaimer": {"rule_id": "r1", "version": 2, "locale": "de-DE", "text": "Achtung"}},
    "policy_decision": {
        "decision": {"action": "room_join", "outcome": "deny", "mode": "block", "wall_ids": ["w1"], "targets": ["u"]}
    },
    "room_update": {"room_update": {"name": "#desk", "created": True}},
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
