"""The ingest path for real: RabbitMQ -> consumer -> PostgreSQL staging."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from kombu import Connection

from adapters.archive import ArchiveAdapter
from ingest.consumer import ConsumerOptions, ConsumeStats, StagingConsumer
from ingest.events import parse_event
from ingest.publisher import OutgoingMessage, Publisher
from ingest.staging import StagedRow, StageOutcome, StagingStore
from ingest.topology import ERROR_HEADER, Topology, broker_depths
from tests.factories import post_payload, posts
from tests.processes import archivist_env, run_archivist, start_archivist, wait_until
from tests.services import AMQP_URL


def consume_until_idle(store: StagingStore, topology: Topology, **options: Any) -> ConsumeStats:
    consumer = StagingConsumer(AMQP_URL, store, topology, ConsumerOptions(idle_timeout=1.5, **options))
    return consumer.run()


def dead_letters(topology: Topology) -> list[tuple[bytes, dict[str, Any]]]:
    found = []
    with Connection(AMQP_URL) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(topology.dead_letter_queue, no_ack=True)) is not None:
            found.append((bytes(message.body), dict(message.headers or {})))
    return found


def test_ten_thousand_events_staged_exactly_once_even_when_published_twice(
    postgres_store: StagingStore, topology: Topology
) -> None:
    events = posts(10_000, run="ten-k")
    with Publisher(AMQP_URL, topology) as publisher:
        assert publisher.publish_events(events) == 10_000
    first = consume_until_idle(postgres_store, topology)
    assert (first.received, first.staged, first.dead_lettered) == (10_000, 10_000, 0)
    assert postgres_store.counts().staged == 10_000

    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish_events(events)
    second = consume_until_idle(postgres_store, topology)
    assert (second.received, second.staged, second.duplicates) == (10_000, 0, 10_000)
    assert postgres_store.counts().staged == 10_000
    assert postgres_store.event_ids() == {str(e.event_id) for e in events}
    assert broker_depths(AMQP_URL, topology) == (0, 0)


def test_poison_messages_are_dead_lettered_with_reasons_and_never_block(
    postgres_store: StagingStore, topology: Topology
) -> None:
    good = [json.dumps(post_payload(i, run="poison")).encode() for i in range(6)]
    poison = {
        b"{this is not json": "not valid JSON",
        json.dumps(post_payload(90) | {"schema_version": 7}).encode(): "unknown schema_version 7",
        json.dumps({k: v for k, v in post_payload(91).items() if k != "actor"}).encode(): "actor: Field required",
        json.dumps(post_payload(92) | {"occurred_at": "yesterday"}).encode(): "occurred_at",
    }
    bodies = [good[0], *list(poison)[:2], *good[1:4], *list(poison)[2:], *good[4:]]
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish(OutgoingMessage("post", body) for body in bodies)

    stats = consume_until_idle(postgres_store, topology, batch_size=3, prefetch=3)

    assert stats.dead_lettered == 4
    assert postgres_store.counts().staged == 6
    parked = dead_letters(topology)
    assert {body for body, _ in parked} == set(poison)
    for body, headers in parked:
        assert poison[body] in headers[ERROR_HEADER]
    assert broker_depths(AMQP_URL, topology) == (0, 0)


def test_consumer_killed_with_sigkill_loses_and_duplicates_nothing(
    postgres_url: str, postgres_store: StagingStore, topology: Topology
) -> None:
    store = postgres_store
    events = posts(10_000, run="sigkill")
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish_events(events)
    env = archivist_env(
        database_url=postgres_url, broker_url=AMQP_URL, topology=topology, batch_size="200", prefetch="400"
    )
    consumer = start_archivist(["consume"], env)
    try:
        wait_until(lambda: store.counts().staged >= 2_000, timeout=60, what="the consumer to stage 2,000 events")
    finally:
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=10)
    assert consumer.returncode == -signal.SIGKILL
    assert store.counts().staged < 10_000, "the kill must land mid-stream"

    finished = run_archivist(["consume", "--until-idle", "--idle-seconds", "1.5"], env)
    assert finished.returncode == 0, finished.stderr
    assert store.counts().staged == 10_000
    assert store.event_ids() == {str(e.event_id) for e in events}
    assert broker_depths(AMQP_URL, topology) == (0, 0)


def test_sigterm_finishes_the_current_batch_and_exits_zero(
    postgres_url: str, postgres_store: StagingStore, topology: Topology
) -> None:
    store = postgres_store
    env = archivist_env(database_url=postgres_url, broker_url=AMQP_URL, topology=topology, batch_size="100")
    consumer = start_archivist(["consume"], env)
    try:
        with Publisher(AMQP_URL, topology) as publisher:
            publisher.publish_events(posts(3_000, run="sigterm"))
        wait_until(lambda: store.counts().staged >= 500, timeout=60, what="500 staged events")
        consumer.send_signal(signal.SIGTERM)
        _, stderr = consumer.communicate(timeout=30)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert consumer.returncode == 0, stderr
    queued, _ = broker_depths(AMQP_URL, topology)
    assert store.counts().staged + queued == 3_000


def test_consumer_carries_on_through_a_rabbitmq_restart(postgres_store: StagingStore, topology: Topology) -> None:
    events = posts(10_000, run="restart")
    consumer = StagingConsumer(
        AMQP_URL, postgres_store, topology, ConsumerOptions(batch_size=250, prefetch=500, idle_timeout=8)
    )
    # Declare the topology first so that messages published before the consumer starts are queued.
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish_events(events[:100])
    consuming = threading.Thread(target=consumer.run)
    consuming.start()
    publish_error: list[BaseException] = []

    def publish_rest() -> None:
        try:
            with Publisher(AMQP_URL, topology, connect_deadline=120) as publisher:
                for start in range(100, len(events), 500):
                    publisher.publish_events(events[start : start + 500])
        except BaseException as error:
            publish_error.append(error)

    publishing = threading.Thread(target=publish_rest)
    publishing.start()
    try:
        wait_until(lambda: postgres_store.counts().staged >= 1_000, timeout=60, what="1,000 staged events")
        subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=120)
        publishing.join(timeout=180)
        assert not publish_error, publish_error
        wait_until(
            lambda: postgres_store.counts().staged == 10_000, timeout=120, what="every event staged after the restart"
        )
    finally:
        consumer.stop()
        consuming.join(timeout=60)
    assert consumer.stats.reconnects >= 1
    assert postgres_store.event_ids() == {str(e.event_id) for e in events}


def test_two_consumers_share_the_queue_without_duplicates(postgres_store: StagingStore, topology: Topology) -> None:
    events = posts(10_000, run="two")
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish_events(events)
    consumers = [
        StagingConsumer(AMQP_URL, postgres_store, topology, ConsumerOptions(batch_size=200, idle_timeout=1.5))
        for _ in range(2)
    ]
    threads = [threading.Thread(target=c.run) for c in consumers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(c.stats.received for c in consumers) == 10_000
    assert all(c.stats.received > 0 for c in consumers)
    assert postgres_store.counts().staged == 10_000


def test_status_reports_queue_and_dead_letters(postgres_url: str, topology: Topology) -> None:
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish_events(posts(25, run="status"))
        publisher.publish([OutgoingMessage("post", b"nope")], exchange=topology.dead_letter_exchange)
    env = archivist_env(database_url=postgres_url, broker_url=AMQP_URL, topology=topology)
    result = run_archivist(["status", "--json"], env)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["queue_depth"] == 25
    assert figures["dead_letters"] == 1
    assert {"staged", "parked"} <= set(figures)


# --- issue 15: no message stops the consumer, and a conflict is never taken for a duplicate ---------


def test_messages_that_made_validators_raise_are_dead_lettered_and_their_neighbours_staged(
    postgres_store: StagingStore, topology: Topology
) -> None:
    """Item 1 and 3: OverflowError and TypeError inside validation, and NUL (which PostgreSQL
    cannot store), each cost one message, never the consumer or the batch around it."""
    good = [json.dumps(post_payload(i, run="raising")).encode() for i in range(6)]
    actor_nul = post_payload(93, run="raising")
    actor_nul["actor"]["id"] = "user:\x00mallory"
    poison = {
        json.dumps(post_payload(90) | {"occurred_at": "0001-01-01T00:00:00+00:01"}).encode(): "outside the range",
        json.dumps(post_payload(91) | {"occurred_at": "9999-12-31T23:59:59-23:59"}).encode(): "outside the range",
        json.dumps(post_payload(92) | {"schema_version": [1]}).encode(): "unknown schema_version a list",
        json.dumps(post_payload(94) | {"schema_version": {"a": 1}}).encode(): "unknown schema_version an object",
        json.dumps(post_payload(95, text="nul \x00 in text")).encode(): "post.message.text: contains U+0000 (NUL)",
        json.dumps(actor_nul).encode(): "post.actor.id: contains U+0000 (NUL)",
    }
    bodies = [good[0], *list(poison)[:3], *good[1:4], *list(poison)[3:], *good[4:]]
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish(OutgoingMessage("post", body) for body in bodies)

    stats = consume_until_idle(postgres_store, topology, batch_size=3, prefetch=6)

    assert (stats.received, stats.staged, stats.dead_lettered) == (12, 6, 6)
    assert postgres_store.event_ids() == {json.loads(body)["event_id"] for body in good}
    parked = dead_letters(topology)
    assert {body for body, _ in parked} == set(poison)
    for body, headers in parked:
        assert poison[body] in headers[ERROR_HEADER], headers[ERROR_HEADER]
    assert broker_depths(AMQP_URL, topology) == (0, 0)


def test_an_event_id_sent_again_with_other_content_is_dead_lettered_as_a_conflict(
    postgres_store: StagingStore, topology: Topology
) -> None:
    """Item 15: against staging, inside one batch, and against the archive once staging let go."""
    original = post_payload(1, run="conflict", text="what was said")
    archived = post_payload(2, run="conflict", text="archived words")
    ArchiveAdapter(postgres_store.engine).write([parse_event(archived)])
    forged = {**original, "message": {**original["message"], "text": "a rewrite"}}
    forged_archived = {**archived, "message": {**archived["message"], "text": "history rewritten"}}
    bodies = [
        json.dumps(original).encode(),
        json.dumps(forged).encode(),  # same batch as the original
        json.dumps(original).encode(),  # an honest redelivery
        json.dumps(post_payload(3, run="conflict")).encode(),
        json.dumps(forged_archived).encode(),
        json.dumps(archived).encode(),
    ]
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish(OutgoingMessage("post", body) for body in bodies[:3])
    first = consume_until_idle(postgres_store, topology, batch_size=3, prefetch=3)
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish(OutgoingMessage("post", body) for body in [bodies[1], *bodies[3:]])
    second = consume_until_idle(postgres_store, topology, batch_size=10)

    assert (first.staged, first.duplicates, first.conflicts) == (1, 1, 1)
    assert (second.staged, second.duplicates, second.conflicts) == (1, 1, 2)
    parked = dead_letters(topology)
    assert sorted(body for body, _ in parked) == sorted([bodies[1], bodies[1], bodies[4]])
    for body, headers in parked:
        assert headers[ERROR_HEADER].startswith(f"conflict: event_id {json.loads(body)['event_id']}")
    assert postgres_store.event_ids() == {original["event_id"], post_payload(3, run="conflict")["event_id"]}


class RefusingStore(StagingStore):
    """Staging whose database refuses any row mentioning "refuse me" (a stand-in for whatever a
    database may refuse one day that validation let through)."""

    def stage(self, rows: Sequence[StagedRow]) -> StageOutcome:
        if any("refuse me" in row.payload for row in rows):
            raise psycopg.DataError("invalid byte sequence (simulated)")
        return super().stage(rows)


def test_a_row_the_database_refuses_is_dead_lettered_alone(postgres_store: StagingStore, topology: Topology) -> None:
    store = RefusingStore(postgres_store.engine)
    bodies = [
        json.dumps(post_payload(i, run="refused", text="refuse me" if i == 4 else None)).encode() for i in range(9)
    ]
    with Publisher(AMQP_URL, topology) as publisher:
        publisher.publish(OutgoingMessage("post", body) for body in bodies)
    stats = consume_until_idle(store, topology, batch_size=9, prefetch=9)
    assert (stats.staged, stats.dead_lettered) == (8, 1)
    ((body, headers),) = dead_letters(topology)
    assert body == bodies[4]
    assert "the database refused it: DataError: invalid byte sequence (simulated)" in headers[ERROR_HEADER]
