"""The contract every adapter keeps: one result per event in order, idempotent re-delivery,
Unicode kept exactly, and a failure reported per event instead of raised."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pytest
from lxml import etree
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from adapters.base import Adapter, DeliveryResult
from adapters.es_adapter import ElasticsearchAdapter
from adapters.index_adapter import TantivyIndexAdapter
from adapters.thread_adapter import ThreadAdapter
from adapters.xml_adapter import LyncXmlAdapter
from archive.schema import archive_messages, archive_thread_links
from ingest.events import Event
from ingest.staging import StagingStore
from search.tantivy_schema import exact_text, open_index
from supervision.adapter import SupervisionAdapter
from supervision.model import PolicySpec
from supervision.policy_store import create_policy
from supervision.schema import supervision_items
from tests.adapters.test_actiance_adapter import ActianceHarness
from tests.adapters.test_elasticsearch_logic import FakeClient
from tests.factories import post, posts
from tests.search_engines.live import LiveEngine, elasticsearch_url, new_prefix, sources
from tests.supervision.detect.fake_lexicon import fake_compiler

UNICODE_TEXTS = ["שלום עולם", "مرحبا", "emoji 😀👍🏽 ZWJ 👨‍👩‍👧", "naïve café", "tab\tand line\nbreak"]


class Harness(Protocol):
    """How the suite builds an adapter and reads back what it stored."""

    def adapter(self) -> Adapter: ...

    def stored_texts(self) -> list[str]: ...

    def broken_adapter(self) -> Adapter: ...


class ArchiveHarness:
    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.store = store

    def adapter(self) -> Adapter:
        return ArchiveAdapter(self.store.engine)

    def stored_texts(self) -> list[str]:
        with self.store.engine.connect() as connection:
            return list(connection.execute(select(archive_messages.c.text)).scalars())

    def broken_adapter(self) -> Adapter:
        from ingest.db import create_db_engine

        return ArchiveAdapter(create_db_engine("sqlite:////nonexistent-dir/x.sqlite3"))


class ThreadsHarness:
    """The ``threads`` adapter, delivered after the archive as the processor delivers it (it
    reads a room's history from the archive); what it stores is a link per message, read back
    as the linked messages' texts."""

    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.store = store

    def adapter(self) -> Adapter:
        return _AfterTheArchive(ArchiveAdapter(self.store.engine), ThreadAdapter(self.store.engine))

    def stored_texts(self) -> list[str]:
        links, messages = archive_thread_links.c, archive_messages.c
        with self.store.engine.connect() as connection:
            joined = links.message_id == messages.message_id
            return list(
                connection.execute(
                    select(messages.text).select_from(archive_thread_links.join(archive_messages, joined))
                ).scalars()
            )

    def broken_adapter(self) -> Adapter:
        from ingest.db import create_db_engine

        return ThreadAdapter(create_db_engine("sqlite:////nonexistent-dir/x.sqlite3"))


class _AfterTheArchive:
    def __init__(self, archive: ArchiveAdapter, threads: Adapter) -> None:
        self.archive, self.threads = archive, threads
        self.name = threads.name

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        assert self.archive.write(batch) == [None] * len(batch)
        return self.threads.write(batch)

    def close(self) -> None:
        self.threads.close()


class SupervisionHarness:
    """The ``supervision`` adapter, delivered after the archive, with a policy that draws every
    message (sampling at 100%, the lexicon a stand-in: tests/supervision/detect/fake_lexicon.py);
    what it stores is an item per message, read back as the messages' texts."""

    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.store = store
        with store.engine.begin() as connection:
            spec = PolicySpec(name="everything", sampling_percent=100.0, sampling_seed="contract")
            create_policy(connection, spec, "officer", "contract suite", datetime.now(UTC))

    def adapter(self) -> Adapter:
        supervision = SupervisionAdapter(self.store.engine, compiler=fake_compiler)
        return _AfterTheArchive(ArchiveAdapter(self.store.engine), supervision)

    def stored_texts(self) -> list[str]:
        items, messages = supervision_items.c, archive_messages.c
        with self.store.engine.connect() as connection:
            joined = items.message_id == messages.message_id
            return list(
                connection.execute(
                    select(messages.text).select_from(supervision_items.join(archive_messages, joined))
                ).scalars()
            )

    def broken_adapter(self) -> Adapter:
        from ingest.db import create_db_engine

        return SupervisionAdapter(create_db_engine("sqlite:////nonexistent-dir/x.sqlite3"), compiler=fake_compiler)


class IndexHarness:
    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.path = tmp_path / "index"
        self.broken_path = tmp_path / "a-file"
        self.broken_path.write_text("not an index")

    def adapter(self) -> Adapter:
        return TantivyIndexAdapter(self.path)

    def stored_texts(self) -> list[str]:
        index = open_index(self.path)
        index.reload()
        searcher = index.searcher()
        query = index.parse_query("*")
        return [exact_text(searcher.doc(a)) for _s, a in searcher.search(query, 10_000).hits]

    def broken_adapter(self) -> Adapter:
        return TantivyIndexAdapter(self.broken_path)


class XmlHarness:
    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.path = tmp_path / "xml"
        self.blocked = tmp_path / "blocked"
        self.blocked.write_text("a file where the directory should be")

    def adapter(self) -> Adapter:
        return LyncXmlAdapter(self.path)

    def stored_texts(self) -> list[str]:
        """Each distinct CHAT message once (files are per batch; a re-sent batch rewrites its own)."""
        seen: dict[str, str] = {}
        for path in sorted(self.path.glob("*.xml")):
            for message in etree.parse(str(path)).iterfind(".//Messages/Message[@type='CHAT']"):
                seen[message.get("id") or ""] = message.get("content") or ""
        return list(seen.values())

    def broken_adapter(self) -> Adapter:
        return LyncXmlAdapter(self.blocked)


class ElasticsearchHarness:
    """The Elasticsearch adapter over an in-memory fake of the bulk API (the real engines are in
    tests/search_engines, and in LIVE_HARNESSES below)."""

    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.client = InMemoryBulk()

    def adapter(self) -> Adapter:
        return ElasticsearchAdapter(self.client, sleep=lambda _s: None)

    def stored_texts(self) -> list[str]:
        return [doc["upsert"]["text"] for key, doc in self.client.documents.items() if key[0] == "archivist-messages"]

    def broken_adapter(self) -> Adapter:
        return ElasticsearchAdapter(FakeClient(fail_with=ConnectionError("refused")), sleep=lambda _s: None)


class InMemoryBulk(FakeClient):
    """Keeps the last body per (index, id): enough to count documents and read text back."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: dict[tuple[str, str], dict[str, Any]] = {}

    def bulk(self, *, operations: list[dict[str, Any]], refresh: bool = False) -> dict[str, Any]:
        for header, body in zip(operations[::2], operations[1::2], strict=True):
            (target,) = header.values()
            self.documents[(target["_index"], target["_id"])] = body
        return super().bulk(operations=operations, refresh=refresh)


class LiveEngineHarness:
    """The ``opensearch`` (or ``elasticsearch``) adapter on a real engine (tests/search_engines/live.py),
    over indices of its own, read back with a search of its messages index."""

    def __init__(self, live: LiveEngine) -> None:
        self.live = live
        self.prefix = new_prefix("contract")
        self.reader = live.adapter(self.prefix)

    def adapter(self) -> Adapter:
        return self.live.adapter(self.prefix)

    def stored_texts(self) -> list[str]:
        return [document["text"] for document in sources(self.reader, {"match_all": {}})]

    def broken_adapter(self) -> Adapter:
        """The adapter of an engine that is not there (a port nothing listens on)."""
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            port = free.getsockname()[1]
        return LiveEngine(self.live.kind, f"http://127.0.0.1:{port}").adapter(self.prefix)

    def close(self) -> None:
        self.reader.close()
        self.live.drop(self.prefix)


HARNESSES: dict[str, Any] = {
    "archive": ArchiveHarness,
    "index": IndexHarness,
    "xml": XmlHarness,
    "elasticsearch": ElasticsearchHarness,
    "actiance": ActianceHarness,
    "threads": ThreadsHarness,
    "supervision": SupervisionHarness,
}
LIVE_HARNESSES = ["opensearch-node"] + (["elasticsearch-server"] if elasticsearch_url() else [])
"""The real engines: the OpenSearch test node always, an Elasticsearch when ARCHIVIST_TEST_ES_URL names one."""


@pytest.fixture(params=sorted(HARNESSES) + LIVE_HARNESSES)
def harness(request: pytest.FixtureRequest, sqlite_store: StagingStore, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "opensearch-node":
        live = LiveEngine("opensearch", str(request.getfixturevalue("opensearch_url")))
    elif request.param == "elasticsearch-server":
        live = LiveEngine("elasticsearch", str(elasticsearch_url()))
    else:
        built: Harness = HARNESSES[request.param](sqlite_store, tmp_path)
        yield built
        return
    engine = LiveEngineHarness(live)
    try:
        yield engine
    finally:
        engine.close()


def write(adapter: Adapter, batch: Sequence[Event]) -> list[Any]:
    results = list(adapter.write(batch))
    assert len(results) == len(batch)
    return results


def test_one_success_per_event_in_order(harness: Harness) -> None:
    adapter = harness.adapter()
    assert write(adapter, posts(50)) == [None] * 50
    adapter.close()


def test_redelivery_keeps_one_copy(harness: Harness) -> None:
    adapter = harness.adapter()
    batch = posts(30)
    write(adapter, batch)
    write(adapter, batch)
    write(adapter, batch[10:20] + batch[:5])
    adapter.close()
    assert len(harness.stored_texts()) == 30


def test_unicode_round_trips_exactly(harness: Harness) -> None:
    adapter = harness.adapter()
    write(adapter, [post(i, run="unicode", text=text) for i, text in enumerate(UNICODE_TEXTS)])
    adapter.close()
    assert sorted(harness.stored_texts()) == sorted(UNICODE_TEXTS)


def test_a_failing_store_reports_a_failure_per_event(harness: Harness) -> None:
    adapter = harness.broken_adapter()
    results = write(adapter, posts(4))
    adapter.close()
    assert all(r is not None and r.reason for r in results)
