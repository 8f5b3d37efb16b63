"""``POST /api/v1/events`` under hostile input (issue 15): a per-event answer, never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from kombu import Connection

from adapters.archive import ArchiveAdapter
from archive.principals import create_token
from ingest.events import parse_event
from ingest.publisher import Publisher
from ingest.sink import BrokerSink, EventSink, StagingSink
from ingest.staging import StagingStore
from ingest.topology import Topology
from search_api.app import create_app
from search_api.deps import AppServices
from tests.factories import post_payload
from tests.services import AMQP_URL


def client_over(store: StagingStore, sink: EventSink, tmp_path: Path) -> TestClient:
    return TestClient(create_app(AppServices(engine=store.engine, index_dir=tmp_path / "index", sink=sink)))


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with client_over(store, StagingSink(store), tmp_path) as test_client:
        yield test_client


@pytest.fixture
def headers(store: StagingStore) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(store.engine, 'ingest', 'test ingest')}"}


def submit(client: TestClient, headers: dict[str, str], batch: list[Any]) -> dict[str, Any]:
    response = client.post(
        "/api/v1/events", content=json.dumps(batch), headers=headers | {"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_events_whose_validation_raised_get_a_reason_each_and_their_neighbours_are_staged(
    client: TestClient, headers: dict[str, str], store: StagingStore
) -> None:
    """Item 1: these answered 500 (OverflowError, TypeError inside validation)."""
    batch = [
        post_payload(1, run="route"),
        post_payload(2, run="route") | {"occurred_at": "0001-01-01T00:00:00+00:01"},
        post_payload(3, run="route") | {"occurred_at": "9999-12-31T23:59:59-23:59"},
        post_payload(4, run="route") | {"schema_version": [1]},
        post_payload(5, run="route") | {"schema_version": {"a": 1}},
        post_payload(6, run="route", text="nul \x00"),
        post_payload(7, run="route"),
    ]
    result = submit(client, headers, batch)
    assert result["accepted"] == 2
    assert [(r["index"], r["status"]) for r in result["rejected"]] == [(i, "invalid") for i in range(1, 6)]
    reasons = [r["reason"] for r in result["rejected"]]
    assert "outside the range the archive keeps" in reasons[0]
    assert "outside the range the archive keeps" in reasons[1]
    assert reasons[2].startswith("unknown schema_version a list")
    assert reasons[3].startswith("unknown schema_version an object")
    assert reasons[4].startswith("post.message.text: contains U+0000 (NUL)")
    assert store.event_ids() == {post_payload(i, run="route")["event_id"] for i in (1, 7)}


def test_a_conflict_is_answered_per_event_and_not_counted_as_accepted(
    client: TestClient, headers: dict[str, str], store: StagingStore
) -> None:
    """Item 15: against staging, the archive and the same batch; a copy stays a duplicate."""
    staged, archived = post_payload(1, run="c", text="staged words"), post_payload(2, run="c", text="archived words")
    ArchiveAdapter(store.engine).write([parse_event(archived)])
    assert submit(client, headers, [staged])["accepted"] == 1
    batch = [
        staged,
        post_payload(1, run="c", text="rewritten"),
        post_payload(2, run="c", text="rewritten too"),
        archived,
        post_payload(3, run="c", text="new"),
        post_payload(3, run="c", text="new, other"),
    ]
    result = submit(client, headers, batch)
    assert result["accepted"] == 3, "two copies and one new event"
    assert [(r["index"], r["status"]) for r in result["rejected"]] == [
        (1, "conflict"),
        (2, "conflict"),
        (5, "conflict"),
    ]
    assert "is staged already" in result["rejected"][0]["reason"]
    assert "is archived already" in result["rejected"][1]["reason"]
    assert "earlier in the same batch" in result["rejected"][2]["reason"]


def test_with_a_broker_known_conflicts_are_answered_and_not_published(
    sqlite_store: StagingStore, tmp_path: Path, topology: Topology
) -> None:
    archived = post_payload(2, run="b", text="archived words")
    ArchiveAdapter(sqlite_store.engine).write([parse_event(archived)])
    headers = {"Authorization": f"Bearer {create_token(sqlite_store.engine, 'ingest', 'test ingest')}"}
    with client_over(sqlite_store, BrokerSink(Publisher(AMQP_URL, topology)), tmp_path) as client:
        result = submit(client, headers, [post_payload(1, run="b"), post_payload(2, run="b", text="forged"), archived])
    assert result["accepted"] == 2
    assert [(r["index"], r["status"]) for r in result["rejected"]] == [(1, "conflict")]
    with Connection(AMQP_URL) as connection:
        channel = connection.channel()
        published = []
        while (message := channel.basic_get(topology.queue, no_ack=True)) is not None:
            published.append(json.loads(message.body)["event_id"])
    assert sorted(published) == sorted([post_payload(1, run="b")["event_id"], archived["event_id"]])


@pytest.mark.parametrize(
    "item",
    [
        [[[[[[[[[[1]]]]]]]]]],
        {"schema_version": 1, "x" * 300: 1},
        {"\ud800": 1, "schema_version": 1},
        {"schema_version": 1, "event_id": "\x00"},
        1e308,
        "x" * 100_000,
    ],
    ids=["nested", "long-key", "surrogate-key", "nul-id", "float", "long-string"],
)
def test_any_json_item_is_a_per_event_reason(client: TestClient, headers: dict[str, str], item: Any) -> None:
    result = submit(client, headers, [item, post_payload(1, run="any")])
    assert result["accepted"] == 1
    (error,) = result["rejected"]
    assert error["index"] == 0
    assert error["reason"].isprintable()
    assert len(error["reason"]) <= 2000
