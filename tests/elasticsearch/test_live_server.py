"""The Elasticsearch adapter against a real server, when ARCHIVIST_TEST_ES_URL names one.

Elasticsearch cannot be installed on the project's CI machines, so without the variable these
tests are skipped (the logic is covered by tests/adapters/test_elasticsearch_logic.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.es_adapter import ElasticsearchAdapter
from adapters.index_adapter import TantivyIndexAdapter
from ingest.events import PostEvent, parse_event
from ingest.irc import read_irc_file
from search.backends import ElasticsearchSearchBackend, TantivySearchBackend, every_hit
from search.query_parser import parse_query
from search.request import SearchRequest
from tests.adapters.test_elasticsearch_logic import event
from tests.factories import post_payload
from tests.search_api import test_multilingual_conformance as multilingual
from tests.search_api.reference import Message, message_of
from tests.search_api.test_tantivy_conformance import DEMO_LOGS, LOGS, QUERIES, expected
from tests.search_api.test_versions import FIRST_EDIT, ORIGINAL, SECOND_EDIT, the_story
from tests.search_api.test_versions import build as build_story_index

ES_URL = os.environ.get("ARCHIVIST_TEST_ES_URL")
pytestmark = pytest.mark.skipif(not ES_URL, reason="set ARCHIVIST_TEST_ES_URL to test against a real Elasticsearch")


@pytest.fixture
def adapter() -> Iterator[ElasticsearchAdapter]:
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ES_URL)
    prefix = f"archivist-test-{uuid.uuid4().hex[:8]}"
    built = ElasticsearchAdapter(client, prefix=prefix)
    yield built
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    for name in (f"{prefix}-messages", f"{prefix}-events"):
        client.options(ignore_status=404).indices.delete_index_template(name=name)
    client.close()


def search(adapter: ElasticsearchAdapter, query: dict[str, Any]) -> list[dict[str, Any]]:
    client = adapter.client
    client.indices.refresh(index=f"{adapter.prefix}-*")
    response = client.search(index=f"{adapter.prefix}-messages", query=query, size=100)
    return [hit["_source"] for hit in response["hits"]["hits"]]


def test_delivery_search_edit_delete_and_redelivery(adapter: ElasticsearchAdapter) -> None:
    post = event("post", 0, message={"id": "m1", "text": "Rendez-vous au CAFÉ #Q3 @bob"})
    edit = event("edit", 5, message={"id": "m1", "text": "Rendez-vous au café demain"})
    assert adapter.write([post]) == [None]
    assert [d["message_id"] for d in search(adapter, {"match": {"text": "cafe"}})] == ["m1"]
    assert search(adapter, {"term": {"hashtags": "q3"}})

    assert adapter.write([edit]) == [None]
    assert adapter.write([post]) == [None], "re-delivering the post never undoes the edit"
    (document,) = search(adapter, {"match": {"text": "demain"}})
    assert document["versions"] == 2

    assert adapter.write([event("delete", 9, message={"id": "m1"})]) == [None]
    (deleted,) = search(adapter, {"term": {"deleted": True}})
    assert deleted["message_id"] == "m1"
    client = adapter.client
    client.indices.refresh(index=f"{adapter.prefix}-events")
    assert client.count(index=f"{adapter.prefix}-events")["count"] == 3


@pytest.fixture(scope="module")
def conformance_backend() -> Iterator[tuple[ElasticsearchSearchBackend, list[Message]]]:
    """The conformance corpus (real IRC logs) delivered through the adapter into a live server."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ES_URL)
    prefix = f"archivist-conformance-{uuid.uuid4().hex[:8]}"
    events = [e for name in LOGS for e in read_irc_file(DEMO_LOGS / name)]
    adapter = ElasticsearchAdapter(client, prefix=prefix)
    for start in range(0, len(events), 1000):
        assert all(result is None for result in adapter.write(events[start : start + 1000]))
    client.indices.refresh(index=f"{prefix}-*")
    yield ElasticsearchSearchBackend(client, prefix=prefix), [message_of(e) for e in events if isinstance(e, PostEvent)]
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    for name in (f"{prefix}-messages", f"{prefix}-events"):
        client.options(ignore_status=404).indices.delete_index_template(name=name)
    client.close()


@pytest.mark.parametrize("query", QUERIES)
def test_the_conformance_queries_find_exactly_the_reference_hits(
    conformance_backend: tuple[ElasticsearchSearchBackend, list[Message]], query: str
) -> None:
    backend, messages = conformance_backend
    node = parse_query(query)
    hits = every_hit(backend, node, page=500)
    assert len(hits) == len({h.message_id for h in hits}), "every hit once"
    assert {h.message_id for h in hits} == expected(node, messages)


FAR_APART = ("0001-01-01T00:00:00+00:00", "1800-06-15T12:00:00+00:00", "9999-12-31T23:59:59.999+00:00")
FACET_QUERIES = [
    "ubuntu",  # the IRC logs and the far-apart posts: year buckets
    "ubuntu sent>=1000-01-01 sent<3000-01-01",  # 1800 to 2009: month buckets
    "ubuntu sent>=2000-01-01 sent<3000-01-01",  # the IRC logs: day buckets
    "install OR grub",
    "nothingmatchesthis",
]


@pytest.fixture(scope="module")
def facet_backends(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ElasticsearchSearchBackend, TantivySearchBackend]]:
    """The conformance corpus plus posts in years 1, 1800 and 9999, in a live Elasticsearch and
    in a Tantivy index."""
    from elasticsearch import Elasticsearch

    events: list[Any] = [e for name in LOGS for e in read_irc_file(DEMO_LOGS / name)]
    for number, moment in enumerate(FAR_APART):
        payload = post_payload(number, run="far", text="ubuntu from far away")
        payload["occurred_at"] = moment
        events.append(parse_event(payload))
    client = Elasticsearch(ES_URL)
    prefix = f"archivist-facets-{uuid.uuid4().hex[:8]}"
    adapter = ElasticsearchAdapter(client, prefix=prefix)
    for start in range(0, len(events), 1000):
        assert all(result is None for result in adapter.write(events[start : start + 1000]))
    client.indices.refresh(index=f"{prefix}-*")
    index_dir = tmp_path_factory.mktemp("facets") / "index"
    writer = TantivyIndexAdapter(index_dir)
    writer.write(events)
    writer.close()
    yield ElasticsearchSearchBackend(client, prefix=prefix), TantivySearchBackend(index_dir)
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    for name in (f"{prefix}-messages", f"{prefix}-events"):
        client.options(ignore_status=404).indices.delete_index_template(name=name)
    client.close()


def _clear_winners(counts: dict[str, int]) -> dict[str, int]:
    """The buckets above the smallest count shown (engines break ties at the cut differently)."""
    floor = min(counts.values(), default=0)
    return {key: count for key, count in counts.items() if count > floor}


@pytest.mark.parametrize("query", FACET_QUERIES)
def test_both_backends_give_the_same_facets_even_for_dates_centuries_apart(
    facet_backends: tuple[ElasticsearchSearchBackend, TantivySearchBackend], query: str
) -> None:
    """Issue 15, bug 2: the date facet's buckets (day, month or year) are chosen and named alike."""
    elasticsearch, tantivy = facet_backends
    node = parse_query(query)
    pages = [
        backend.search(SearchRequest(node, size=10, by_relevance=False, memberships=None, facets=True))
        for backend in (elasticsearch, tantivy)
    ]
    assert pages[0].total == pages[1].total
    assert pages[0].facets["day"] == pages[1].facets["day"]
    assert sum(pages[0].facets["day"].values()) == pages[0].total
    for name in ("room", "sender"):
        assert _clear_winners(pages[0].facets[name]) == _clear_winners(pages[1].facets[name])


@pytest.fixture(scope="module")
def multilingual_backend() -> Iterator[ElasticsearchSearchBackend]:
    """The multilingual conformance corpus (issue 17) delivered into a live server."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(ES_URL)
    prefix = f"archivist-scripts-{uuid.uuid4().hex[:8]}"
    events = [parse_event(post_payload(m.number, run="ml", text=m.text)) for m in multilingual.CORPUS]
    adapter = ElasticsearchAdapter(client, prefix=prefix)
    assert all(result is None for result in adapter.write(events))
    client.indices.refresh(index=f"{prefix}-*")
    yield ElasticsearchSearchBackend(client, prefix=prefix)
    client.indices.delete(index=f"{prefix}-*", ignore_unavailable=True)
    for name in (f"{prefix}-messages", f"{prefix}-events"):
        client.options(ignore_status=404).indices.delete_index_template(name=name)
    client.close()


@pytest.mark.parametrize("query", multilingual.QUERIES)
def test_every_script_finds_exactly_the_oracle_hits(
    multilingual_backend: ElasticsearchSearchBackend, query: str
) -> None:
    node = parse_query(query)
    assert {h.message_id for h in every_hit(multilingual_backend, node, page=500)} == multilingual.oracle(node)


def test_every_version_is_searched_and_reported_as_on_tantivy(adapter: ElasticsearchAdapter, tmp_path: Path) -> None:
    """Issue 17, finding 1, with the painless scripts run for real: the story's events out of
    order and re-delivered give the same hits and matched versions as the Tantivy index."""
    post, first, second, deleted, other = the_story()
    batches = [[second], [deleted, first], [post, second], [first, other], [post]]
    for batch in batches:
        assert adapter.write(batch) == [None] * len(batch)
    adapter.client.indices.refresh(index=f"{adapter.prefix}-*")
    tantivy_dir = build_story_index(tmp_path / "index", *batches)
    backends = (ElasticsearchSearchBackend(adapter.client, prefix=adapter.prefix), TantivySearchBackend(tantivy_dir))
    for query in ("announcement", '"buy 10,000 shares"', "current:tomorrow", "current:ACME", "is:edited", "lunch"):
        pages = [backend.search(SearchRequest(parse_query(query))) for backend in backends]
        found = [[(h.message_id, h.text, [v.label for v in h.matched_versions]) for h in page.hits] for page in pages]
        assert found[0] == found[1], query
    [source] = [d for d in search(adapter, {"term": {"message_id": "m1"}})]
    assert [v["text"] for v in source["version_log"]] == [ORIGINAL, FIRST_EDIT, SECOND_EDIT]
    assert source["text"] == SECOND_EDIT


@pytest.mark.parametrize("text_first", [False, True])
def test_attachment_text_is_searched_whatever_order_upload_and_text_arrive_in(
    adapter: ElasticsearchAdapter, tmp_path: Path, text_first: bool
) -> None:
    """Issue 18, the painless scripts run for real: the file document keeps the upload's fields
    and the text, in either order, and re-delivery changes nothing."""
    from archive.fs_file_store import FsFileStore
    from tests.attachment_events import file_text, upload

    store = FsFileStore(tmp_path / "files")
    adapter.file_store = store
    uploaded = upload("Contract.pdf")
    text = file_text(uploaded, "The supplier ACME agrees", store)
    for batch in ([text], [uploaded]) if text_first else ([uploaded], [text]):
        assert adapter.write(batch) == [None]
    assert adapter.write([uploaded, text]) == [None, None]
    adapter.client.indices.refresh(index=f"{adapter.prefix}-*")
    backend = ElasticsearchSearchBackend(adapter.client, prefix=adapter.prefix)
    [hit] = backend.search(SearchRequest(parse_query("attachment:acme"), memberships=None)).hits
    assert hit.message_id == f"file:{uploaded.event_id}"
    assert hit.attachment is not None
    assert (hit.attachment.name, hit.attachment.file_type, hit.attachment.extraction) == (
        "Contract.pdf",
        "pdf",
        "extracted",
    )
    assert hit.attachment.excerpt is not None
    assert "<b>ACME</b>" in hit.attachment.excerpt
    assert [
        h.message_id for h in backend.search(SearchRequest(parse_query("filetype:pdf"), memberships=None)).hits
    ] == [hit.message_id]


def test_disposal_deletes_the_event_and_its_message_and_can_be_asked_again(adapter: ElasticsearchAdapter) -> None:
    kept = event("post", 0, message={"id": "m-kept", "text": "kept"})
    disposed = event("post", 1, message={"id": "m-disposed", "text": "disposed"})
    assert adapter.write([kept, disposed]) == [None, None]

    adapter.delete([str(disposed.event_id)])  # no refresh between: delete() sees the fresh message
    adapter.delete([str(disposed.event_id)])  # a run retried after a rollback: 404s, not a failure

    assert [d["message_id"] for d in search(adapter, {"match_all": {}})] == ["m-kept"]
    client = adapter.client
    assert client.count(index=f"{adapter.prefix}-events")["count"] == 1
