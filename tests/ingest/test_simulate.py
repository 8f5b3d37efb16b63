from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.events import (
    EVENT_TYPES,
    SYSTEM_EVENT_TYPES,
    DeleteEvent,
    EditEvent,
    Event,
    FileDownloadEvent,
    FileUploadEvent,
    PostEvent,
    ReadEvent,
    event_to_json,
    parse_event_json,
)
from ingest.simulate import simulate_events

NEEDS_MEMBERSHIP = {"post", "read", "edit", "delete", "file_upload", "file_download"}


def check_causality(events: list[Event]) -> None:
    """The rules a real chat server obeys, which the simulator must too."""
    members: dict[str, set[str]] = {}
    authors: dict[str, tuple[str, str]] = {}
    deleted: set[str] = set()
    uploads: dict[str, set[str]] = {}
    previous = None
    for event in events:
        if previous is not None:
            assert event.occurred_at >= previous, "time order"
        previous = event.occurred_at
        room = event.room.id
        present = members.setdefault(room, set())
        if event.type == "join":
            present.add(event.actor.id)
        elif event.type == "leave":
            present.discard(event.actor.id)
        if event.room.kind == "room" and event.type in {
            "post",
            "read",
            "edit",
            "delete",
            "file_upload",
            "file_download",
        }:
            assert event.actor.id in present, f"{event.type} by {event.actor.id} who is not in {room}"
        match event:
            case PostEvent():
                authors[event.message.id] = (event.actor.id, room)
            case EditEvent() | DeleteEvent():
                assert authors[event.message.id] == (event.actor.id, room), "only the author edits or deletes"
                assert event.message.id not in deleted, "nothing happens to a deleted message"
                if isinstance(event, DeleteEvent):
                    deleted.add(event.message.id)
            case ReadEvent():
                assert event.read.message_id in authors
            case FileUploadEvent():
                uploads.setdefault(room, set()).add(event.file.sha256)
            case FileDownloadEvent():
                assert event.file.sha256 in uploads.get(room, set())
            case _:
                pass


def test_same_seed_same_events_different_seed_different_events() -> None:
    first = [event_to_json(e) for e in simulate_events(events=500, seed=7)]
    assert first == [event_to_json(e) for e in simulate_events(events=500, seed=7)]
    assert first != [event_to_json(e) for e in simulate_events(events=500, seed=8)]


def test_exact_count_and_unique_ids() -> None:
    events = list(simulate_events(events=5_000, rooms=8, users=40, seed=1))
    assert len(events) == 5_000
    assert len({e.event_id for e in events}) == 5_000


def test_realistic_mix_with_every_kind_of_chat_event() -> None:
    events = list(simulate_events(events=5_000, rooms=8, users=40, seed=2))
    kinds = Counter(e.type for e in events)
    assert set(kinds) >= set(EVENT_TYPES) - {"policy_decision"} - SYSTEM_EVENT_TYPES
    assert 0.5 < kinds["post"] / len(events) < 0.75
    posts = [e for e in events if isinstance(e, PostEvent)]
    assert sum(1 for p in posts if p.message.mentions) > len(posts) * 0.1
    assert sum(1 for p in posts if p.message.hashtags) > len(posts) * 0.08
    assert any(e.room.kind == "im" for e in events)
    assert any(not e.actor.internal for e in events)
    assert any(not e.actor.name.isascii() for e in events if e.actor.name)


def test_events_obey_chat_causality_and_round_trip() -> None:
    events = list(simulate_events(events=5_000, rooms=6, users=25, seed=3))
    check_causality(events)
    assert all(parse_event_json(event_to_json(e)) == e for e in events)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"events": -1}, "events must be 0 or more"),
        ({"events": 5, "rooms": 0}, "rooms must be 1 or more"),
        ({"events": 5, "users": 1}, "users must be 2 or more"),
    ],
)
def test_bad_arguments_are_explained(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        list(simulate_events(**arguments))


@settings(max_examples=40, deadline=None)
@given(
    events=st.integers(min_value=0, max_value=400),
    rooms=st.integers(min_value=1, max_value=6),
    users=st.integers(min_value=2, max_value=12),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_any_shape_of_traffic_is_causal(events: int, rooms: int, users: int, seed: int) -> None:
    generated = list(simulate_events(events=events, rooms=rooms, users=users, seed=seed))
    assert len(generated) == events
    check_causality(generated)
