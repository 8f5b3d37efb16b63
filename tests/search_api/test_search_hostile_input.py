"""Issue 15 on the search route: what one event stores, or one query asks, never breaks search.

- Dates far apart (years 1, 1800, 9999) answer a faceted search with 200 and buckets that stay
  few (bug 2): the date facet grows from days to months to years.
- Stored markup in a message reaches the answer and the page as text (bug 5), whatever the
  backend.
- Costly queries are refused with a 422 naming the limit (bug 7).
- Every search that is not answered, refused (422) or failed (500), is audited with the reason.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.index_adapter import TantivyIndexAdapter
from archive import audit
from archive.principals import create_token
from ingest.events import parse_event
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search import date_facets
from search.backends import ElasticsearchSearchBackend
from search.query_ast import Node, SentRange
from search.query_parser import (
    MAX_CLAUSES,
    MAX_NEAR_CLAUSES,
    MAX_NEAR_DISTANCE,
    MAX_QUERY_LENGTH,
    parse_query,
)
from search.results import Page
from search.tantivy_backend import LightHits, search_page
from search_api.app import create_app
from search_api.deps import AppServices
from tests.factories import post_payload

FAR_APART = ("0001-01-01T00:00:00+00:00", "1800-06-15T12:00:00+00:00", "9999-12-31T23:59:59.999999+00:00")
HOSTILE = 'Look <meta http-equiv="refresh" content="0;url=https://evil.example/"> and <script>alert(1)</script> here'


def _index(index_dir: Path, dated: list[tuple[str, str]]) -> None:
    """An index of one post per (occurred_at, text)."""
    events = []
    for number, (moment, text) in enumerate(dated):
        payload = post_payload(number, run=index_dir.name, text=text)
        payload["occurred_at"] = moment
        events.append(parse_event(payload))
    writer = TantivyIndexAdapter(index_dir)
    writer.write(events)
    writer.close()


def _client(store: StagingStore, index_dir: Path, backend: Any = None) -> TestClient:
    services = AppServices(engine=store.engine, index_dir=index_dir, sink=StagingSink(store), backend=backend)
    return TestClient(create_app(services), raise_server_exceptions=False)


@pytest.fixture
def headers(store: StagingStore) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(store.engine, 'legal', 'hostile input')}"}


@pytest.fixture
def far_apart(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    dated = [(moment, "hello from far away") for moment in FAR_APART]
    dated += [("2024-03-05T10:00:00+00:00", "hello today"), ("2024-03-05T11:00:00+00:00", "hello again")]
    dated += [("2024-03-07T10:00:00+00:00", f"tagged {HOSTILE}")]
    _index(tmp_path / "far", dated)
    with _client(store, tmp_path / "far") as client:
        yield client


# --- Bug 2: the date facet ----------------------------------------------------------------------


def test_a_faceted_search_over_years_1_1800_and_9999_answers_with_year_buckets(
    far_apart: TestClient, headers: dict[str, str]
) -> None:
    answer = far_apart.post("/api/v1/search", json={"query": "hello", "facets": True}, headers=headers)
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["total"] == 5
    assert result["facets"]["day"] == {
        "0001-01-01..0001-12-31": 1,
        "1800-01-01..1800-12-31": 1,
        "2024-01-01..2024-12-31": 2,
        "9999-01-01..9999-12-31": 1,
    }
    # Each bucket's name is the query that finds exactly its hits.
    for name, count in result["facets"]["day"].items():
        narrowed = far_apart.post("/api/v1/search", json={"query": f"hello sent:{name}"}, headers=headers).json()
        assert narrowed["total"] == count, name


def test_hits_within_a_few_years_keep_day_buckets(far_apart: TestClient, headers: dict[str, str]) -> None:
    answer = far_apart.post("/api/v1/search", json={"query": "hello sent>=2000-01-01 sent<3000-01-01"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["facets"]["day"] == {"2024-03-05": 2}


def test_hits_centuries_apart_but_within_the_limit_in_months_get_month_buckets(
    far_apart: TestClient, headers: dict[str, str]
) -> None:
    answer = far_apart.post("/api/v1/search", json={"query": "hello sent>=1000-01-01 sent<3000-01-01"}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["facets"]["day"] == {"1800-06-01..1800-06-30": 1, "2024-03-01..2024-03-31": 2}


def test_no_hit_means_no_buckets(far_apart: TestClient, headers: dict[str, str]) -> None:
    answer = far_apart.post("/api/v1/search", json={"query": "nothingmatches"}, headers=headers)
    assert answer.status_code == 200
    assert answer.json()["facets"] == {"room": {}, "sender": {}, "day": {}}


@given(st.dates(), st.dates())
@settings(max_examples=300, deadline=None)
def test_the_buckets_tile_the_span_and_their_names_are_their_queries(a: date, b: date) -> None:
    first, last = min(a, b), max(a, b)
    unit = date_facets.granularity(first, last)
    starts = date_facets.bucket_starts(first, last, unit)
    assert 1 <= len(starts) <= date_facets.MAX_DATE_BUCKETS
    assert starts[0] <= first
    ends = [date_facets.next_start(start, unit) for start in starts]
    assert ends[:-1] == starts[1:], "each bucket ends where the next starts"
    assert ends[-1] is None or last < ends[-1]
    for start, end in {
        (starts[0], ends[0]),
        (starts[-1], ends[-1]),
        (starts[len(starts) // 2], ends[len(starts) // 2]),
    }:
        query = parse_query(f"sent:{date_facets.bucket_name(start, unit)}")
        assert query == SentRange(start, end)


EDGES = [
    datetime(1, 1, 1),
    datetime(1, 1, 1, 23, 59, 59, 999_999),
    datetime(1684, 12, 31, 23, 59, 59, 999_999),
    datetime(2255, 6, 5, 23, 59, 59, 999_999),
    datetime(9999, 12, 30, 23, 59, 59, 999_999),
    datetime(9999, 12, 31, 23, 59, 59, 999_999),
]


def _expected_buckets(moments: list[datetime]) -> dict[str, int]:
    days = [moment.date() for moment in moments]
    unit = date_facets.granularity(min(days), max(days))
    return dict(Counter(date_facets.bucket_name(date_facets.bucket_start(day, unit), unit) for day in days))


@given(st.lists(st.one_of(st.datetimes(), st.sampled_from(EDGES)), min_size=1, max_size=6))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_spread_of_dates_counts_every_hit_in_its_own_bucket(tmp_path: Path, moments: list[datetime]) -> None:
    """Also in the last microsecond of a day far from 1970, where Tantivy's histogram, reading
    values as floating point, counted a hit on the next day (or on 10000-01-01)."""
    index_dir = tmp_path / f"spread-{uuid.uuid4().hex}"
    _index(index_dir, [(moment.isoformat() + "+00:00", "spread") for moment in moments])
    page: Page = search_page(index_dir, parse_query("spread"), facets=True)
    assert page.total == len(moments)
    assert page.facets["day"] == _expected_buckets(moments)


# --- Bug 5: highlights are escaped text with our markers only -----------------------------------


def test_stored_markup_is_text_in_the_answer(far_apart: TestClient, headers: dict[str, str]) -> None:
    answer = far_apart.post("/api/v1/search", json={"query": "tagged"}, headers=headers).json()
    (hit,) = answer["hits"]
    assert "<meta" not in hit["highlight"]
    assert "<script" not in hit["highlight"]
    assert "&lt;meta http-equiv=&quot;refresh&quot;" in hit["highlight"]
    assert "<b>tagged</b>" in hit["highlight"]


class _EsClientReturningMarkup:
    """An Elasticsearch client answering as a cluster asked without ``encoder: html`` did:
    the stored markup raw inside the highlight."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def search(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        source = {
            "message_id": "m1",
            "event_id": "e1",
            "room_id": "room:desk",
            "sender_id": "user:ana",
            "sent": "2024-03-07T10:00:00+00:00",
            "text": f"tagged {HOSTILE}",
        }
        highlight = f"<b>tagged</b> {HOSTILE} <b>stray"
        return {
            "hits": {
                "total": {"value": 1, "relation": "eq"},
                "hits": [{"_source": source, "highlight": {"text": [highlight]}}],
            },
        }


def test_markup_an_elasticsearch_highlight_carries_is_escaped_too(
    store: StagingStore, tmp_path: Path, headers: dict[str, str]
) -> None:
    es = _EsClientReturningMarkup()
    with _client(store, tmp_path, ElasticsearchSearchBackend(es)) as client:
        answer = client.post("/api/v1/search", json={"query": "tagged", "facets": False}, headers=headers)
    assert answer.status_code == 200, answer.text
    (hit,) = answer.json()["hits"]
    assert es.requests[0]["highlight"]["encoder"] == "html"
    assert "<meta" not in hit["highlight"]
    assert "<script" not in hit["highlight"]
    assert hit["highlight"].startswith("<b>tagged</b> Look &lt;meta http-equiv=&quot;refresh&quot;")
    assert hit["highlight"].endswith("<b>stray</b>"), "a marker left open is closed"


# --- Bug 7: the cost of a query is bounded ------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "limit"),
    [
        ("the NEAR/1000 the", f"between 1 and {MAX_NEAR_DISTANCE}"),
        (" OR ".join(["the NEAR/50 the"] * 180), f"at most {MAX_NEAR_CLAUSES}"),
        (" OR ".join(f"w{i}" for i in range(MAX_CLAUSES + 1)), f"at most {MAX_CLAUSES}"),
        ("x" * (MAX_QUERY_LENGTH + 1), f"at most {MAX_QUERY_LENGTH} characters"),
    ],
)
def test_costly_queries_are_refused_naming_the_limit_and_audited(
    far_apart: TestClient, headers: dict[str, str], store: StagingStore, query: str, limit: str
) -> None:
    answer = far_apart.post("/api/v1/search", json={"query": query}, headers=headers)
    assert answer.status_code == 422
    assert limit in answer.json()["detail"]["message"]
    entry = audit.entries(store.engine, limit=1)[0]
    assert entry["action"] == "search_refused"
    assert entry["details"]["status"] == 422
    assert limit in entry["details"]["reason"]
    assert entry["details"]["query"] == query[:MAX_QUERY_LENGTH]


def test_queries_at_the_limits_are_answered(far_apart: TestClient, headers: dict[str, str]) -> None:
    at_limits = " OR ".join([f"hello NEAR/{MAX_NEAR_DISTANCE} far"] * MAX_NEAR_CLAUSES)
    at_limits += " OR " + " OR ".join(f"w{i}" for i in range(MAX_CLAUSES - MAX_NEAR_CLAUSES))
    assert len(at_limits) <= MAX_QUERY_LENGTH
    answer = far_apart.post("/api/v1/search", json={"query": at_limits}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["total"] == 3


# --- Searches that fail are audited ---------------------------------------------------------------


class _BrokenBackend:
    def search(self, node: Node, **_options: Any) -> Page:
        raise RuntimeError("the index is unreadable")


def test_a_search_the_backend_fails_is_a_500_and_audited_with_the_reason(
    store: StagingStore, tmp_path: Path, headers: dict[str, str]
) -> None:
    with _client(store, tmp_path, _BrokenBackend()) as client:
        answer = client.post("/api/v1/search", json={"query": "anything"}, headers=headers)
    assert answer.status_code == 500
    assert "the index is unreadable" not in answer.text, "the reason is for the audit log, not the caller"
    entry = audit.entries(store.engine, limit=1)[0]
    assert (entry["action"], entry["role"]) == ("search_failed", "legal")
    assert entry["details"]["query"] == "anything"
    assert entry["details"]["status"] == 500
    assert entry["details"]["reason"] == "RuntimeError: the index is unreadable"
    assert audit.verify_audit(store.engine).ok


@pytest.mark.parametrize(
    ("body", "query", "problem"),
    [
        ({"query": "ubuntu", "size": 0}, "ubuntu", "size"),
        ({"query": ["ubuntu"]}, None, "query"),
        ('{"query": "ubuntu", ', None, "JSON"),
    ],
)
def test_a_search_refused_for_its_request_body_is_audited(
    far_apart: TestClient,
    headers: dict[str, str],
    store: StagingStore,
    body: dict[str, Any] | str,
    query: str | None,
    problem: str,
) -> None:
    sent = {"content": body} if isinstance(body, str) else {"json": body}
    answer = far_apart.post("/api/v1/search", headers={**headers, "Content-Type": "application/json"}, **sent)
    assert answer.status_code == 422
    entry = audit.entries(store.engine, limit=1)[0]
    assert (entry["action"], entry["role"]) == ("search_refused", "legal")
    assert entry["details"]["query"] == query
    assert entry["details"]["status"] == 422
    assert problem.lower() in entry["details"]["reason"].lower()


def test_a_refused_body_without_a_valid_token_is_not_audited_as_a_search(
    far_apart: TestClient, store: StagingStore
) -> None:
    before = len(audit.entries(store.engine, limit=1000))
    for headers in ({}, {"Authorization": "Bearer arch_nothing_here"}):
        far_apart.post("/api/v1/search", json={"query": "ubuntu", "size": 0}, headers=headers)
    assert len(audit.entries(store.engine, limit=1000)) == before


def test_an_export_reads_the_exact_days_of_hits_centuries_apart(tmp_path: Path) -> None:
    """The export's per-room days come from the same floating-point histogram, which reads the
    last microsecond of 9999-12-31 as day 10000-01-01, no date can hold (before, the bucket
    limit's error sent such a room to the stored documents by luck; now the span decides)."""
    moments = [*EDGES, datetime(2024, 3, 5, 10)]
    _index(tmp_path / "export", [(moment.isoformat() + "+00:00", "exported") for moment in moments])
    hits = LightHits(tmp_path / "export", parse_query("exported"))
    message_ids, days = hits.room_ids_and_days("room:ubuntu")
    assert len(message_ids) == len(moments)
    epoch = date(1970, 1, 1).toordinal()
    assert days == {moment.date().toordinal() - epoch for moment in moments}
