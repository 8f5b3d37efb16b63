"""Two deliverers never send one delivery twice: a claimed delivery is leased (PostgreSQL's
``FOR UPDATE SKIP LOCKED`` while claiming), and an outcome is recorded only by its claimer."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import Engine, select, update

from supervision.schema import supervision_webhook_deliveries as deliveries
from supervision.webhooks import WebhookConfig, WebhookDeliverer
from tests.supervision.webhooks.helpers import SECRET, Clock, delivery, escalate
from tests.supervision.webhooks.receiver import Receiver, running


def config_for(url: str) -> WebhookConfig:
    return WebhookConfig(url=url, secret=SECRET, timeout=5.0, max_attempts=5, backoff_initial=10.0)


def test_two_deliverers_on_postgres_send_each_delivery_exactly_once(postgres_engine: Engine) -> None:
    clock = Clock()
    ids = [escalate(postgres_engine, clock()) for _ in range(40)]
    start = threading.Barrier(2)
    reports = []
    with running(Receiver(SECRET, clock)) as receiver:

        def deliver() -> None:
            deliverer = WebhookDeliverer(postgres_engine, config_for(receiver.url), clock=clock)
            start.wait()
            reports.append(deliverer.deliver_due(limit=100))

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    sent = Counter(one.delivery_id for one in receiver.received)
    assert sent == Counter({delivery_id: 1 for delivery_id in ids})
    attempted = Counter(one.delivery_id for report in reports for one in report.attempts)
    assert attempted == sent
    assert all(one.verified for one in receiver.received)
    with postgres_engine.connect() as connection:
        rows = connection.execute(select(deliveries.c.attempts, deliveries.c.delivered_at)).all()
    assert {(attempts, delivered is not None) for attempts, delivered in rows} == {(1, True)}


def test_a_row_being_claimed_elsewhere_is_skipped_not_waited_for(postgres_engine: Engine) -> None:
    clock = Clock()
    locked = escalate(postgres_engine, clock())
    free = escalate(postgres_engine, clock() + timedelta(seconds=1))
    clock.advance(5)
    with running(Receiver(SECRET, clock)) as receiver:
        deliverer = WebhookDeliverer(postgres_engine, config_for(receiver.url), clock=clock)
        with postgres_engine.connect() as other:  # another deliverer, mid-claim on the older row
            transaction = other.begin()
            other.execute(select(deliveries.c.id).where(deliveries.c.id == locked).with_for_update())
            report = deliverer.deliver_due()
            transaction.rollback()
    assert [one.delivery_id for one in report.attempts] == [free]
    assert [one.delivery_id for one in receiver.received] == [free]


def test_a_claim_is_leased_so_a_crashed_claimer_is_retried_after_the_lease(engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    with running(Receiver(SECRET, clock)) as receiver:
        crashed = WebhookDeliverer(engine, config_for(receiver.url), clock=clock)
        claim = crashed.claim_one()
        assert claim is not None
        assert claim.attempt == 1
        # While leased, no one else claims it.
        other = WebhookDeliverer(engine, config_for(receiver.url), clock=clock)
        assert other.claim_one() is None
        assert other.deliver_due().attempts == []
        clock.now = claim.lease_until
        [attempt] = other.deliver_due().attempts
        # The crashed claimer's late outcome does not overwrite the newer claim's.
        assert crashed.record(claim, status=500, error="HTTP 500", retry_after=None) is None
    assert (attempt.attempt, attempt.outcome) == (2, "delivered")
    row = delivery(engine, delivery_id)
    assert (row["attempts"], row["last_status"], row["last_error"]) == (2, 200, None)
    assert len(receiver.received) == 1


def test_a_delivered_row_is_never_claimed_again_even_if_due(engine: Engine) -> None:
    clock = Clock()
    delivery_id = escalate(engine, clock())
    with engine.begin() as connection:
        connection.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(delivered_at=clock()))
    assert WebhookDeliverer(engine, config_for("http://127.0.0.1:9/x"), clock=clock).claim_one() is None
