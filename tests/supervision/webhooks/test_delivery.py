"""Delivering the escalation outbox to a real HTTP receiver that checks every signature."""

from __future__ import annotations

import random
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from supervision.webhooks import WebhookConfig, WebhookDeliverer, delivery_state
from tests.supervision.webhooks.helpers import SECRET, Clock, delivery, escalate
from tests.supervision.webhooks.receiver import Receiver, running


def config_for(url: str, **overrides: object) -> WebhookConfig:
    values: dict[str, object] = {
        "url": url,
        "secret": SECRET,
        "timeout": 5.0,
        "max_attempts": 5,
        "backoff_initial": 10.0,
        "backoff_maximum": 120.0,
        "max_age": timedelta(hours=24),
    }
    values.update(overrides)
    return WebhookConfig(**values)  # type: ignore[arg-type]


def test_an_escalation_is_delivered_the_first_time_signed_and_byte_identical(engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    recorded = delivery(engine, delivery_id)["body"]
    clock.advance(2)
    with running(Receiver(SECRET, clock)) as receiver:
        report = WebhookDeliverer(engine, config_for(receiver.url), clock=clock).deliver_due()
    assert [(one.delivery_id, one.outcome, one.status) for one in report.attempts] == [(delivery_id, "delivered", 200)]
    [received] = receiver.received
    assert received.verified, received.refusal
    assert received.delivery_id == delivery_id
    assert received.path == "/hooks/archivist"
    assert received.content_type == "application/json"
    assert received.body == recorded.encode("utf-8")
    assert received.timestamp == str(int(clock().timestamp()))
    row = delivery(engine, delivery_id)
    assert (row["attempts"], row["last_status"], row["last_error"], row["delivered_at"]) == (1, 200, None, clock())
    assert delivery_state(row) == "delivered"
    # Delivered once: the next run finds nothing due.
    assert WebhookDeliverer(engine, config_for(receiver.url), clock=clock).deliver_due().attempts == []


def test_two_server_errors_then_success_record_each_attempt_with_growing_backoff(engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    with running(Receiver(SECRET, clock, statuses=[500, 500, 200])) as receiver:
        deliverer = WebhookDeliverer(engine, config_for(receiver.url), clock=clock, jitter=random.Random(7).random)
        first = deliverer.deliver_due().attempts
        row = delivery(engine, delivery_id)
        assert (row["attempts"], row["last_status"], row["delivered_at"]) == (1, 500, None)
        assert row["last_error"].startswith("HTTP 500")
        first_delay = (row["next_attempt_at"] - clock()).total_seconds()
        assert 5.0 <= first_delay <= 10.0  # half the base delay, plus jitter up to the other half
        assert deliverer.deliver_due().attempts == []  # not yet due
        clock.now = row["next_attempt_at"]
        second = deliverer.deliver_due().attempts
        row = delivery(engine, delivery_id)
        assert (row["attempts"], row["last_status"], row["delivered_at"]) == (2, 500, None)
        second_delay = (row["next_attempt_at"] - clock()).total_seconds()
        assert 10.0 <= second_delay <= 20.0
        assert second_delay >= first_delay
        clock.now = row["next_attempt_at"]
        third = deliverer.deliver_due().attempts
    assert [one.outcome for one in first + second + third] == ["retry", "retry", "delivered"]
    assert [one.attempt for one in first + second + third] == [1, 2, 3]
    row = delivery(engine, delivery_id)
    assert (row["attempts"], row["last_status"], row["last_error"], row["delivered_at"]) == (3, 200, None, clock())
    # Every attempt signed anew (its own timestamp) over the same bytes.
    assert len({one.timestamp for one in receiver.received}) == 3
    assert all(one.verified for one in receiver.received)
    assert set(receiver.bodies_of(delivery_id)) == {row["body"].encode("utf-8")}


def test_backoff_doubles_up_to_the_maximum_and_jitter_stays_within_half() -> None:
    deliverer = WebhookDeliverer(
        None, config_for("https://hooks.example.com/x", backoff_initial=10.0, backoff_maximum=60.0), jitter=lambda: 1.0
    )
    assert [deliverer.backoff(attempt) for attempt in range(1, 7)] == [10.0, 20.0, 40.0, 60.0, 60.0, 60.0]
    low = WebhookDeliverer(None, config_for("https://hooks.example.com/x"), jitter=lambda: 0.0)
    assert low.backoff(1) == 5.0


def test_a_timeout_is_recorded_and_retried(engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    hold = threading.Event()
    with running(Receiver(SECRET, clock, hold=hold)) as receiver:
        report = WebhookDeliverer(engine, config_for(receiver.url, timeout=0.3), clock=clock).deliver_due()
        hold.set()
    [attempt] = report.attempts
    assert (attempt.outcome, attempt.status) == ("retry", None)
    row = delivery(engine, delivery_id)
    assert (row["attempts"], row["last_status"], row["delivered_at"]) == (1, None, None)
    assert "timed out" in row["last_error"]
    assert row["next_attempt_at"] > clock()
    assert delivery_state(row) == "retrying"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_recorded_and_retried(engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    [attempt] = WebhookDeliverer(engine, config_for(url), clock=clock).deliver_due().attempts
    assert attempt.outcome == "retry"
    row = delivery(engine, delivery_id)
    assert row["attempts"] == 1
    assert row["last_status"] is None
    assert "refused" in row["last_error"]


@pytest.mark.parametrize("status", [400, 404, 410])
def test_a_permanent_refusal_gives_up_at_once(engine: Engine, status: int) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    with running(Receiver(SECRET, clock, statuses=[status])) as receiver:
        deliverer = WebhookDeliverer(engine, config_for(receiver.url), clock=clock)
        [attempt] = deliverer.deliver_due().attempts
        clock.advance(3600)
        assert deliverer.deliver_due().attempts == []
    assert attempt.outcome == "gave_up"
    assert len(receiver.received) == 1
    row = delivery(engine, delivery_id)
    assert (row["attempts"], row["last_status"], row["delivered_at"]) == (1, status, None)
    assert row["last_error"].startswith(f"gave up: HTTP {status}")
    assert delivery_state(row) == "gave_up"


@pytest.mark.parametrize("status", [408, 429, 503])
def test_busy_and_timeout_answers_are_retried(sqlite_engine: Engine, status: int) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    with running(Receiver(SECRET, clock, statuses=[status, 200])) as receiver:
        deliverer = WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=clock)
        assert [one.outcome for one in deliverer.deliver_due().attempts] == ["retry"]
        clock.now = delivery(sqlite_engine, delivery_id)["next_attempt_at"]
        assert [one.outcome for one in deliverer.deliver_due().attempts] == ["delivered"]


def test_retry_after_is_honoured_up_to_the_maximum(sqlite_engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    with running(Receiver(SECRET, clock, statuses=[429], headers={429: {"Retry-After": "90"}})) as receiver:
        WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=clock, jitter=lambda: 0.0).deliver_due()
        assert delivery(sqlite_engine, delivery_id)["next_attempt_at"] == clock() + timedelta(seconds=90)
        clock.advance(90)
        receiver.headers[429] = {"Retry-After": "100000"}
        WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=clock, jitter=lambda: 0.0).deliver_due()
        assert delivery(sqlite_engine, delivery_id)["next_attempt_at"] == clock() + timedelta(seconds=120)


def test_a_redirect_is_not_followed_and_gives_up(sqlite_engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    with (
        running(Receiver(SECRET, clock)) as target,
        running(
            Receiver(SECRET, clock, statuses=[307], headers={307: {"Location": "http://127.0.0.1:1/elsewhere"}})
        ) as redirecting,
    ):
        target_url = target.url
        redirecting.headers[307] = {"Location": target_url}
        [attempt] = WebhookDeliverer(sqlite_engine, config_for(redirecting.url), clock=clock).deliver_due().attempts
    assert attempt.outcome == "gave_up"
    assert target.received == []
    row = delivery(sqlite_engine, delivery_id)
    assert row["last_status"] == 307
    assert "redirect" in row["last_error"]
    assert "not followed" in row["last_error"]


def test_it_gives_up_after_the_maximum_attempts(sqlite_engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    with running(Receiver(SECRET, clock, statuses=[502])) as receiver:
        deliverer = WebhookDeliverer(sqlite_engine, config_for(receiver.url, max_attempts=3), clock=clock)
        outcomes = []
        for _ in range(5):
            outcomes += [one.outcome for one in deliverer.deliver_due().attempts]
            clock.now = max(clock(), delivery(sqlite_engine, delivery_id)["next_attempt_at"])
    assert outcomes == ["retry", "retry", "gave_up"]
    assert len(receiver.received) == 3
    row = delivery(sqlite_engine, delivery_id)
    assert row["attempts"] == 3
    assert row["last_error"].startswith("gave up after 3 attempts: HTTP 502")


def test_it_gives_up_when_the_next_attempt_would_pass_the_maximum_age(sqlite_engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    with running(Receiver(SECRET, clock, statuses=[500])) as receiver:
        deliverer = WebhookDeliverer(
            sqlite_engine, config_for(receiver.url, max_age=timedelta(seconds=25), max_attempts=50), clock=clock
        )
        outcomes = []
        for _ in range(6):
            outcomes += [one.outcome for one in deliverer.deliver_due().attempts]
            clock.now = max(clock(), delivery(sqlite_engine, delivery_id)["next_attempt_at"])
    assert outcomes[-1] == "gave_up"
    assert set(outcomes[:-1]) == {"retry"}
    assert "older than" in delivery(sqlite_engine, delivery_id)["last_error"]


def test_an_old_notice_never_tried_gets_one_attempt(sqlite_engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    clock.advance(7 * 24 * 3600)  # the notifier was not running for a week
    with running(Receiver(SECRET, clock)) as receiver:
        [attempt] = WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=clock).deliver_due().attempts
    assert attempt.outcome == "delivered"
    assert delivery(sqlite_engine, delivery_id)["delivered_at"] == clock()


def test_a_receiver_with_another_secret_detects_the_mismatch(sqlite_engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(sqlite_engine, clock())
    with running(Receiver("the-receivers-own-secret-0123456789", clock)) as receiver:
        [attempt] = WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=clock).deliver_due().attempts
    [received] = receiver.received
    assert not received.verified
    assert received.refusal is not None
    assert "no signature matches" in received.refusal
    assert attempt.outcome == "gave_up"  # 401: refused by the receiver
    assert delivery(sqlite_engine, delivery_id)["last_status"] == 401


def test_a_receiver_refuses_a_replay_outside_its_tolerance(sqlite_engine: Engine) -> None:
    sender_clock = Clock()
    escalate(sqlite_engine, sender_clock())
    receiver_clock = Clock(now=sender_clock() + timedelta(minutes=10))  # a captured request, replayed later
    with running(Receiver(SECRET, receiver_clock)) as receiver:
        WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=sender_clock).deliver_due()
    [received] = receiver.received
    assert not received.verified
    assert received.refusal is not None
    assert "older than" in received.refusal


def test_follow_polls_with_the_injected_sleep_until_stopped(sqlite_engine: Engine) -> None:
    clock = Clock()
    first = escalate(sqlite_engine, clock())
    with running(Receiver(SECRET, clock, statuses=[500, 200, 200])) as receiver:
        deliverer = WebhookDeliverer(sqlite_engine, config_for(receiver.url), clock=clock, jitter=lambda: 1.0)
        later: list[str] = []

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            if len(clock.slept) == 1:
                later.append(escalate(sqlite_engine, clock()))

        report = deliverer.follow(interval=5.0, sleep=sleep, should_stop=lambda: len(clock.slept) >= 4)
    assert clock.slept == [5.0, 5.0, 5.0, 5.0]
    assert [(one.delivery_id, one.outcome) for one in report.attempts] == [
        (first, "retry"),
        (later[0], "delivered"),
        (first, "delivered"),
    ]
    assert all(one.verified for one in receiver.received)


def test_given_up_notices_can_be_requeued_once_the_receiver_is_fixed(engine: Engine) -> None:
    clock = Clock()
    refused, delivered = escalate(engine, clock()), escalate(engine, clock() + timedelta(seconds=1))
    clock.advance(2)
    with running(Receiver(SECRET, clock, statuses=[404, 200, 200])) as receiver:
        deliverer = WebhookDeliverer(engine, config_for(receiver.url), clock=clock)
        assert [one.outcome for one in deliverer.deliver_due().attempts] == ["gave_up", "delivered"]
        assert deliverer.requeue_given_up() == [refused]
        assert delivery_state(delivery(engine, refused)) == "pending"
        assert deliverer.requeue_given_up() == []
        [attempt] = deliverer.deliver_due().attempts
    assert (attempt.delivery_id, attempt.attempt, attempt.outcome) == (refused, 1, "delivered")
    assert delivery(engine, delivered)["attempts"] == 1
