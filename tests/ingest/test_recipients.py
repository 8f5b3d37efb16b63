"""The recipients of a direct message in the event contract (issue 17, finding 5): optional,
validated like every other actor, absent from events that had none (which store and hash as
before), and the room-kind rule of who an event shows present."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archive.hashchain import canonical_json, content_hash, event_payload_hash
from ingest.errors import InvalidEvent
from ingest.events import MAX_ID_LENGTH, PostEvent, admit_event, event_to_json, parse_event, present_by

ANN = {"id": "user:ann", "name": "Ann"}
BOB = {"id": "user:bob", "name": "Bob", "email": "bob@example.com"}


def payload(kind: str = "im", **extra: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": "7b0c63c5-3c4e-4a52-9f7b-2f0f3b1c2d3e",
        "type": "post",
        "occurred_at": "2026-11-22T09:00:00Z",
        "room": {"id": "im:ann:bob", "kind": kind},
        "actor": ANN,
        "message": {"id": "m1", "text": "hi"},
        **extra,
    }


def test_an_event_without_recipients_is_stored_and_hashed_as_before() -> None:
    stored = event_to_json(parse_event(payload()))
    assert "recipients" not in json.loads(stored)
    # What this version stored before recipients existed: the same document, the same hash.
    before = payload() | {
        "occurred_at": "2026-11-22T09:00:00Z",
        "actor": {**ANN, "internal": True},
        "room": {"id": "im:ann:bob", "kind": "im"},
        "message": {"id": "m1", "text": "hi", "format": "text/plain", "mentions": [], "hashtags": []},
    }
    assert json.loads(stored) == before
    assert event_payload_hash(stored) == content_hash(canonical_json(before).decode())


def test_recipients_round_trip() -> None:
    event = parse_event(payload(recipients=[BOB]))
    assert isinstance(event, PostEvent)
    assert event.recipients is not None
    assert [r.id for r in event.recipients] == ["user:bob"]
    again = parse_event(json.loads(event_to_json(event)))
    assert again == event


@pytest.mark.parametrize(
    ("recipient", "named"),
    [
        ({"id": "user:bob", "name": "B\x00b"}, "post.recipients.0.name"),
        ({"id": "u" * (MAX_ID_LENGTH + 1)}, "post.recipients.0.id"),
        ({"name": "no id"}, "recipients.0.id"),
    ],
)
def test_a_bad_recipient_is_refused_naming_it(recipient: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidEvent, match=named.replace(".", r"\.")):
        admit_event(payload(recipients=[recipient]))


def test_in_a_direct_conversation_the_recipients_are_present() -> None:
    event = parse_event(payload(recipients=[BOB, ANN]))
    assert [a.id for a in present_by(event)] == ["user:ann", "user:bob"]  # the sender once


def test_in_a_room_recipients_do_not_make_anyone_present() -> None:
    assert [a.id for a in present_by(parse_event(payload("room", recipients=[BOB])))] == ["user:ann"]


def test_a_join_shows_no_one_by_this_rule() -> None:
    join = {k: v for k, v in payload().items() if k != "message"} | {"type": "join"}
    assert present_by(parse_event(join)) == ()
