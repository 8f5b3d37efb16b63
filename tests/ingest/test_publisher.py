"""The publisher's confirm bookkeeping, without a broker (the broker tests are in integration/)."""

from __future__ import annotations

import logging
import socket

import pytest
from kombu.exceptions import OperationalError

from ingest.publisher import OutgoingMessage, Publisher, _ConfirmWindow, event_message
from tests.factories import post


def window_with(count: int) -> _ConfirmWindow:
    window = _ConfirmWindow()
    for tag in range(1, count + 1):
        window.pending[tag] = OutgoingMessage("post", str(tag).encode())
    return window


def test_single_and_multiple_acks_clear_exactly_their_tags() -> None:
    window = window_with(10)
    window.on_ack(3, multiple=False)
    assert 3 not in window.pending
    window.on_ack(6, multiple=True)
    assert sorted(window.pending) == [7, 8, 9, 10]


def test_nacked_messages_are_kept_for_publishing_again() -> None:
    window = window_with(5)
    window.on_nack(2, multiple=True)
    window.on_nack(4, multiple=False)
    assert [m.body for m in window.refused] == [b"1", b"2", b"4"]
    assert sorted(window.pending) == [3, 5]


def test_acks_for_unknown_tags_are_ignored() -> None:
    window = window_with(2)
    window.on_ack(99, multiple=False)
    assert sorted(window.pending) == [1, 2]


def test_event_message_routes_by_type_and_carries_the_event_id() -> None:
    event = post(3)
    message = event_message(event)
    assert message.routing_key == "post"
    assert message.message_id == str(event.event_id)
    assert b'"schema_version":1' in message.body


def test_a_refused_connection_is_retried_until_the_deadline(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe is closed
    publisher = Publisher(f"amqp://guest:guest@127.0.0.1:{port}//", connect_deadline=3.0)
    with caplog.at_level(logging.WARNING, logger="ingest.retry"), pytest.raises(OperationalError):
        publisher.publish([event_message(post(0))])
    retried = [r for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retried) >= 1, "a refused connection is retried, not the end of the publisher"
