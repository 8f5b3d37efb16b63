"""Two processors drain one staging table into the archive and the live OpenSearch node at once.

Processors run as separate processes on one PostgreSQL (as ``archivist process`` does), with the
archive, the ``opensearch`` adapter and the default extras (xml in one shared directory, extract,
threads). Neither waits for the other's search engine: both make progress, no delivery fails,
every message and event is in OpenSearch exactly once, the archive's chain verifies and staging
ends empty. About 20 s on a quiet machine (3,000 events).
"""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.base import AdapterContext
from adapters.processor import BatchOutcome, BatchProcessor, ProcessorOptions
from adapters.registry import build_adapters
from archive.record import archived_count, verify_archive
from archive.schema import archive_messages
from ingest.db import create_db_engine
from ingest.events import Event, PostEvent
from ingest.simulate import simulate_events
from ingest.staging import StagingStore, staged_events, to_row
from search.es_mapping import events_index, index_templates, messages_index
from search.opensearch_client import opensearch_client

EVENTS = 3000
ADAPTERS = "archive,opensearch,xml,extract,threads"
PROCESSORS = 2


def _processor(
    database_url: str, opensearch_url: str, prefix: str, data_dir: str, start: Any, done: Any, number: int
) -> None:
    engine = create_db_engine(database_url)
    context = AdapterContext(
        engine=engine, data_dir=Path(data_dir), opensearch_url=opensearch_url, options={"es_prefix": prefix}
    )
    adapters = build_adapters(ADAPTERS, context)
    try:
        processor = BatchProcessor(engine, adapters, ProcessorOptions(batch_size=100), owner=f"processor-{number}")
        start.wait(120)  # both built and connected: neither starts with the staging table to itself
        outcome = processor.run(interval=0.1, until_empty=True)
        done.put((number, _summary(outcome)))
    except BaseException as error:
        done.put((number, {"error": f"{error.__class__.__name__}: {error}"}))
        raise
    finally:
        for adapter in adapters:
            adapter.close()
        engine.dispose()


def _summary(outcome: BatchOutcome) -> dict[str, Any]:
    return {
        "claimed": outcome.claimed,
        "completed": outcome.completed,
        "failed": outcome.failed,
        "parked": outcome.parked,
        "per_adapter_failures": outcome.per_adapter_failures,
    }


def _duplicates(client: Any, index: str, field: str) -> list[Any]:
    """Values of ``field`` held by more than one document of ``index``."""
    response = client.search(
        index=index,
        body={"size": 0, "aggs": {"twice": {"terms": {"field": field, "min_doc_count": 2, "size": 10}}}},
    )
    return [bucket["key"] for bucket in response["aggregations"]["twice"]["buckets"]]


def _ids(client: Any, index: str, field: str, query: dict[str, Any]) -> list[str]:
    """``field`` of every document of ``index`` matching ``query`` (a scroll: the node holds a few thousand)."""
    found: list[str] = []
    response = client.search(index=index, body={"query": query, "_source": [field], "size": 1000}, scroll="1m")
    try:
        while response["hits"]["hits"]:
            found += [hit["_source"][field] for hit in response["hits"]["hits"]]
            response = client.scroll(scroll_id=response["_scroll_id"], scroll="1m")
    finally:
        client.clear_scroll(scroll_id=response["_scroll_id"])
    return found


def test_two_processors_drain_staging_into_archive_and_opensearch_in_parallel(
    postgres_url: str, postgres_store: StagingStore, opensearch_url: str, tmp_path: Path
) -> None:
    events: list[Event] = list(simulate_events(events=EVENTS, rooms=8, users=40, seed=21))
    postgres_store.insert([to_row(e) for e in events])
    prefix = f"archivist-parallel-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("fork")
    start = context.Barrier(PROCESSORS)
    done: Any = context.Queue()
    workers = [
        context.Process(
            target=_processor,
            args=(postgres_url, opensearch_url, prefix, str(tmp_path / "data"), start, done, number),
        )
        for number in range(PROCESSORS)
    ]
    client = opensearch_client(opensearch_url)
    try:
        for worker in workers:
            worker.start()
        results = dict(done.get(timeout=300) for _ in workers)
        for worker in workers:
            worker.join(60)
        assert all("error" not in result for result in results.values()), results
        for number, result in results.items():
            assert result["completed"] > 0, f"processor {number} made no progress: {results}"
            assert (result["failed"], result["parked"], result["per_adapter_failures"]) == (0, 0, {}), (
                f"processor {number} had failed deliveries (a lock, a conflict?): {results}"
            )
        assert sum(result["completed"] for result in results.values()) == EVENTS
        assert sum(result["claimed"] for result in results.values()) == EVENTS, "no event claimed twice"

        assert postgres_store.counts().staged == 0
        assert postgres_store.counts().parked == 0
        with postgres_store.engine.connect() as connection:
            assert connection.execute(select(staged_events.c.event_id)).first() is None
            posted = set(connection.execute(select(archive_messages.c.message_id)).scalars())
        assert archived_count(postgres_store.engine) == EVENTS
        report = verify_archive(postgres_store.engine)
        assert report.ok, report.problem
        assert report.checked == EVENTS

        client.indices.refresh(index=f"{prefix}-*")
        event_ids = _ids(client, events_index(prefix), "event_id", {"match_all": {}})
        assert sorted(event_ids) == sorted(str(e.event_id) for e in events), "each event once in the events index"
        assert _duplicates(client, events_index(prefix), "event_id") == []
        messages = _ids(client, messages_index(prefix), "message_id", {"term": {"type": "post"}})
        assert len(messages) == len(set(messages)), "each message once in the messages index"
        assert _duplicates(client, messages_index(prefix), "message_id") == []
        expected = {e.message.id for e in events if isinstance(e, PostEvent)}
        assert set(messages) == expected
        assert posted >= expected, "the archive holds every posted message too"
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
        client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
        for name in index_templates(prefix):
            client.indices.delete_index_template(name=name, ignore=[404])
        client.close()
