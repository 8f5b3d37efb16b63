"""``reply_to`` on a posted message (issue 20): the message it answers, optional, bounded like
every id, never the message itself."""

from __future__ import annotations

import json

import pytest

from ingest.errors import InvalidEvent
from ingest.events import MAX_ID_LENGTH, PostEvent, admit_event, admit_event_json, event_to_json, parse_event_json
from tests.ingest.test_events import payload


def reply(reply_to: str, message_id: str = "m2") -> dict[str, object]:
    return payload("post", message={"id": message_id, "text": "yes", "reply_to": reply_to})


def test_a_reply_names_the_message_it_answers_and_reads_back() -> None:
    event = admit_event_json(json.dumps(reply("m1")))
    assert isinstance(event, PostEvent)
    assert event.message.reply_to == "m1"
    stored = event_to_json(event)
    assert '"reply_to":"m1"' in stored
    assert parse_event_json(stored) == event


def test_a_post_without_reply_to_stores_no_field_so_earlier_payloads_keep_their_bytes() -> None:
    event = admit_event(payload("post"))
    assert isinstance(event, PostEvent)
    assert event.message.reply_to is None
    assert "reply_to" not in event_to_json(event)


def test_a_message_cannot_reply_to_itself() -> None:
    data = reply("m2", message_id="m2")
    with pytest.raises(InvalidEvent) as caught:
        admit_event(data)
    with pytest.raises(InvalidEvent) as caught_json:
        admit_event_json(json.dumps(data))
    assert caught.value.reason == caught_json.value.reason
    assert caught.value.reason.startswith("post.message: ")
    assert "message m2 cannot reply to itself" in caught.value.reason


def test_an_empty_reply_to_is_refused() -> None:
    with pytest.raises(InvalidEvent) as caught:
        admit_event(reply(""))
    assert caught.value.reason.startswith("post.message.reply_to: ")


def test_a_reply_to_longer_than_an_id_may_be_is_refused_naming_the_field() -> None:
    assert admit_event(reply("r" * MAX_ID_LENGTH)).type == "post"
    with pytest.raises(InvalidEvent) as caught:
        admit_event_json(json.dumps(reply("界" * (MAX_ID_LENGTH + 1))))
    assert caught.value.reason == (
        f"post.message.reply_to: an id of {MAX_ID_LENGTH + 1:,} characters; the limit is {MAX_ID_LENGTH}"
    )
