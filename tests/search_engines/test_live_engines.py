"""The search engines for real: one live conformance suite for every engine.

Each test runs against the OpenSearch test node (always: the node is required, a node that
cannot start fails the suite) and against a real Elasticsearch when ``ARCHIVIST_TEST_ES_URL``
names one (skipped without it: Elasticsearch cannot be installed on these machines). The
adapter writes, the painless scripts run, the engine analyses and searches; the answers are
checked against the reference evaluators (tests/search_api) and the Tantivy backend:

- exact hit sets on real IRC logs, every query form, random query trees, participant: from the
  archive's membership intervals, ``sent:`` days of a zone that is not UTC;
- cursors: time-ordered pages continuing a ``HitsCursor`` are the point-in-time walk
  ``every_hit``, also where a page ends inside one millisecond or messages come and go during
  the walk; relevance pages by offset, refused clearly past the engine's result window;
- highlights escaped as HTML (markup in a message stays text), a file past the highlight limit,
  facets as Tantivy counts them;
- every version of edited and deleted messages, edits out of order and re-delivered;
- every script; attachment text in either order of upload and text;
- delivery: a refused write fails its events; an index from before versions gets their fields;
- disposal: idempotent, and a refusal of the engine fails it with nothing recorded as disposed.

Indices are shared by the tests of a module-scoped fixture (one delivery per corpus and engine).
"""

from __future__ import annotations

import functools
import html
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from adapters.archive import ArchiveAdapter
from adapters.base import DeletionFailed
from adapters.engine_adapter import SearchEngineAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.fs_file_store import FsFileStore
from archivist.migrate import upgrade
from cases.retention import RetentionFailed
from ingest.db import create_db_engine
from ingest.events import Event, PostEvent, parse_event
from ingest.irc import read_irc_file
from ingest.staging import StagingStore
from search.backends import EngineSearchBackend, TantivySearchBackend, every_hit
from search.es_mapping import (
    ATTACHMENT_PROPERTIES,
    FOLDED_KEYWORD,
    MESSAGE_PROPERTIES,
    VERSION_PROPERTIES,
    events_index,
    index_templates,
    messages_index,
)
from search.es_query import UnsupportedEsQuery
from search.memberships import Interval, intervals_of
from search.query_ast import (
    And,
    Current,
    Filter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    Within,
    to_query,
)
from search.query_parser import MAX_CLAUSES, QuerySyntaxError, parse_query
from search.request import HitsCursor, RankCursor, SearchRequest
from search.results import Hit
from search.tantivy_schema import MAX_ATTACHMENT_CHARS
from tests.adapters.test_elasticsearch_logic import event
from tests.attachment_events import upload
from tests.cases.test_retention import (
    AFTER,
    BEFORE,
    ELSEWHERE,
    HELD,
    HISTORY,
    RECENT,
    WHILE_THERE,
    disposed_ids,
    run,
    texts,
    with_alices_hold,
)
from tests.exports import test_extreme_events as extreme
from tests.factories import BASE_TIME, post_payload
from tests.search_api import test_attachments_conformance as attachments
from tests.search_api import test_multilingual_conformance as multilingual
from tests.search_api import test_versions_conformance as versions
from tests.search_api.reference import Message, matches, message_of
from tests.search_api.test_tantivy_conformance import DEMO_LOGS, LOGS, QUERIES, expected, vocabulary
from tests.search_api.test_versions import FIRST_EDIT, ORIGINAL, SECOND_EDIT, the_story
from tests.search_api.test_versions import build as build_story_index
from tests.search_engines.live import (
    ES_SKIP_REASON,
    LiveEngine,
    count,
    deliver,
    elasticsearch_url,
    new_prefix,
    sources,
)


@pytest.fixture(scope="module", params=["opensearch", "elasticsearch"])
def live(request: pytest.FixtureRequest) -> LiveEngine:
    """The engine under test: the OpenSearch node, or the Elasticsearch of ARCHIVIST_TEST_ES_URL."""
    if request.param == "opensearch":
        return LiveEngine("opensearch", str(request.getfixturevalue("opensearch_url")))
    url = elasticsearch_url()
    if url is None:
        pytest.skip(ES_SKIP_REASON)
    return LiveEngine("elasticsearch", url)


@pytest.fixture
def fresh(live: LiveEngine) -> Iterator[SearchEngineAdapter]:
    """The engine's adapter over indices of this test's own."""
    prefix = new_prefix("live")
    adapter = live.adapter(prefix)
    try:
        yield adapter
    finally:
        adapter.close()
        live.drop(prefix)


# --- The shared corpus: real IRC logs and posts made to test one thing each -----------------
FAR_APART = ("0001-01-01T00:00:00+00:00", "1800-06-15T12:00:00+00:00", "9999-12-31T23:59:59.999+00:00")
TIE_ROOM, SUBMILLI_ROOM, ZONE_ROOM = "live-ties", "live-submilli", "live-ny"
MARKUP = "<script>alert('pwned')</script> & \"quoted\" markup stays text"
TAGGED = ("Quarterly review #Q3 #Budget with @Alice", "budget talk #budget @bob", "#Q3 numbers for @alice and @carol")
ZONE_SENT = (  # as tests/search_api/test_search_time_zones.py: New York's days, daylight saving time starting
    ("mar7-late", "2026-03-07T23:30:00-05:00"),  # 04:30Z on the 8th: the 7th in New York
    ("spring-before", "2026-03-08T00:30:00-05:00"),
    ("spring-late", "2026-03-08T23:30:00-04:00"),  # 03:30Z on the 9th: still the 8th in New York
    ("mar9-early", "2026-03-09T00:30:00-04:00"),
)
SUBMILLI = 30
"""Posts 100 microseconds apart (ten in each millisecond), message ids in the reverse order."""


def _post(
    run: str,
    number: int,
    text: str,
    *,
    sent: datetime | str | None = None,
    room: str | None = None,
    message_id: str | None = None,
) -> Event:
    payload = post_payload(number, run=run, text=text)
    if sent is not None:
        payload["occurred_at"] = sent if isinstance(sent, str) else sent.isoformat()
    if room is not None:
        payload["room"] = {"id": f"room:{room}", "name": f"#{room}", "kind": "room"}
    if message_id is not None:
        payload["message"]["id"] = message_id
    return parse_event(payload)


def made_posts() -> list[Event]:
    made = [_post("far", n, "ubuntu from far away", sent=moment) for n, moment in enumerate(FAR_APART)]
    # 90 posts in 4 instants (minute-resolution imports), 30 within 3 milliseconds.
    made += [
        _post("tie", i, f"tied post {i}", sent=BASE_TIME + timedelta(minutes=i % 4), room=TIE_ROOM) for i in range(90)
    ]
    made += [
        _post(
            "submilli",
            i,
            f"submillisecond post {i}",
            sent=BASE_TIME + timedelta(hours=1, microseconds=100 * i),
            room=SUBMILLI_ROOM,
            message_id=f"msg:submilli:{SUBMILLI - i:02d}",
        )
        for i in range(SUBMILLI)
    ]
    made.append(_post("markup", 0, MARKUP))
    made += [_post("tagged", i, text) for i, text in enumerate(TAGGED)]
    made += [
        _post("zone", i, f"zone check {name}", sent=at, room=ZONE_ROOM, message_id=f"msg:{name}")
        for i, (name, at) in enumerate(ZONE_SENT)
    ]
    return made


@dataclass(frozen=True)
class Corpus:
    events: list[Event]
    messages: list[Message]
    """What the reference evaluates (every post)."""
    tantivy: TantivySearchBackend
    """The same events in a Tantivy index."""
    archive: Engine
    """The IRC logs in an archive (membership intervals for ``participant:``)."""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    irc = [e for name in LOGS for e in read_irc_file(DEMO_LOGS / name)]
    events = irc + made_posts()
    folder = tmp_path_factory.mktemp("live-corpus")
    writer = TantivyIndexAdapter(folder / "index")
    assert all(result is None for result in writer.write(events))
    writer.close()
    archive = create_db_engine(f"sqlite:///{folder / 'archive.sqlite3'}")
    upgrade(archive)
    assert all(result is None for result in ArchiveAdapter(archive).write(irc))
    messages = [message_of(e) for e in events if isinstance(e, PostEvent)]
    return Corpus(events, messages, TantivySearchBackend(folder / "index"), archive)


@pytest.fixture(scope="module")
def searched(live: LiveEngine, corpus: Corpus) -> Iterator[EngineSearchBackend]:
    """The shared corpus delivered through the engine's adapter."""
    prefix = new_prefix("conformance")
    adapter = live.adapter(prefix)
    try:
        deliver(adapter, corpus.events)
        yield live.backend(adapter)
    finally:
        adapter.close()
        live.drop(prefix)


def ids(hits: list[Hit]) -> list[str]:
    return [hit.message_id for hit in hits]


@pytest.mark.parametrize("query", QUERIES)
def test_the_conformance_queries_find_exactly_the_reference_hits(
    corpus: Corpus, searched: EngineSearchBackend, query: str
) -> None:
    node = parse_query(query)
    hits = every_hit(searched, node, page=500)
    assert len(hits) == len(set(ids(hits))), "every hit once"
    assert set(ids(hits)) == expected(node, corpus.messages)


FORMS = [
    "#Q3",
    "#BUDGET",
    "mentions:alice",
    "@ALICE OR @carol",
    "#q3 -@carol",
    'from:ubotu OR "apt-get install"',
    "ubuntu AND NOT (grub OR lilo)",
    "(install* OR sudo) -from:ubotu",
    '"apt-get install" NEAR/4 sudo',
    "i NEAR/3 i",  # two occurrences: an unordered span_near lets its sides overlap
    "the NEAR/2 the",
    '"apt-get" NEAR/2 apt',
    "in:#live-ties tied",
    "in:live-submilli OR in:#live-ties",
    "sent<1900-01-01",
    "sent>=9000-01-01 ubuntu",
    "pwned OR alert*",
]


@pytest.mark.parametrize("query", FORMS)
def test_every_query_form_finds_exactly_the_reference_hits(
    corpus: Corpus, searched: EngineSearchBackend, query: str
) -> None:
    node = parse_query(query)
    wanted = expected(node, corpus.messages)
    assert wanted, "the corpus exercises the form"
    assert set(ids(every_hit(searched, node, page=500))) == wanted


LIMIT_WORDS = ["ubuntu", "install", "grub", "sudo", "apt", "the", "linux", "help"]


def _nested(levels: int) -> str:
    """A query of ``levels`` steps, each wrapping the last in NOT (... OR word) or (... word)."""
    query = LIMIT_WORDS[0]
    for step in range(1, levels):
        word = LIMIT_WORDS[step % len(LIMIT_WORDS)]
        query = f"NOT ({query} OR {word})" if step % 2 else f"({query} {word})"
    return query


def _wide(conditions: int) -> str:
    """``conditions`` phrases and prefixes joined by OR."""
    words = (LIMIT_WORDS * 10)[:conditions]
    return " OR ".join(f"{word[:3]}*" if i % 3 == 0 else f'"{word} the"' for i, word in enumerate(words))


@pytest.mark.parametrize("query", [_nested(22), _wide(MAX_CLAUSES)], ids=["deepest", "widest"])
def test_the_deepest_and_widest_queries_the_parser_accepts_find_exactly_the_reference_hits(
    corpus: Corpus, searched: EngineSearchBackend, query: str
) -> None:
    node = parse_query(query)
    for beyond in (_nested(23), _wide(MAX_CLAUSES + 1)):
        with pytest.raises(QuerySyntaxError):
            parse_query(beyond)
    assert set(ids(every_hit(searched, node, page=500))) == expected(node, corpus.messages)


def _random_trees(messages: list[Message]) -> st.SearchStrategy[Node]:
    """Query trees over the corpus's commonest words (as the Tantivy conformance draws them), its
    phrases and multi-word prefixes, senders, rooms, mentions and dates."""
    words = st.sampled_from(vocabulary(messages))
    runs = [m.tokens[i : i + 3] for m in messages[::7] for i in range(0, max(len(m.tokens) - 2, 0), 4)]
    mentioned = sorted({nick for m in messages for nick in m.mentions})
    leaves = st.one_of(
        words.map(Term),
        words.map(lambda w: Prefix(w[:3])),
        st.builds(Near, words, words, st.integers(1, 6)),
        st.builds(lambda a, b, c, n: Near(f"{a} {b}", c, n), words, words, words, st.integers(1, 6)),
        st.sampled_from(runs).map(lambda run: Phrase(" ".join(run))),
        st.sampled_from(runs).map(lambda run: Prefix(f"{run[0]} {run[1][:2]}")),
        st.sampled_from(sorted({m.sender_id.removeprefix("user:") for m in messages})[:30]).map(
            lambda n: Filter("from", n)
        ),
        st.sampled_from(sorted({m.room_name for m in messages})).map(lambda room: Filter("in", room)),
        st.sampled_from(mentioned[:40]).map(lambda nick: Filter("mentions", nick)),
        st.sampled_from([SentRange(start=None, end=m.sent.date()) for m in messages[::400]]),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
            st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
            children.map(Not),
        ),
        max_leaves=5,
    )


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_random_queries_find_exactly_the_hits_tantivy_finds(
    corpus: Corpus, searched: EngineSearchBackend, data: st.DataObject
) -> None:
    """Against the Tantivy backend (which tests/search_api/test_tantivy_conformance.py holds to the
    reference evaluator on the same trees): the reference itself is too slow for many trees."""
    tree = data.draw(_random_trees(corpus.messages))
    assert set(ids(every_hit(searched, tree, page=1000))) == set(ids(every_hit(corpus.tantivy, tree))), to_query(tree)


def test_mentions_come_from_irc_addressing(corpus: Corpus, searched: EngineSearchBackend) -> None:
    counts = Counter(m for message in corpus.messages for m in message.mentions)
    nick, times = counts.most_common(1)[0]
    node = parse_query(f"@{nick}")
    assert set(ids(every_hit(searched, node))) == expected(node, corpus.messages)
    assert len(expected(node, corpus.messages)) == times


def test_participant_follows_the_membership_intervals(corpus: Corpus, searched: EngineSearchBackend) -> None:
    @functools.cache  # the reference asks once per message; the archive's answer does not change
    def memberships(actor: str) -> list[Interval]:
        return intervals_of(corpus.archive, actor)

    joined = Counter(m.sender_id.removeprefix("user:") for m in corpus.messages)
    checked = 0
    for nick, _ in joined.most_common(15):
        node = parse_query(f"participant:{nick} ubuntu")
        hits = set(ids(every_hit(searched, node, memberships=memberships, page=500)))
        wanted = {m.message_id for m in corpus.messages if matches(node, m, memberships)}
        assert hits == wanted, nick
        checked += bool(wanted)
    assert checked >= 5, "the corpus must exercise participant: for real"


ZONE_QUERIES = [
    "zone",
    "zone sent:2026-03-07",
    "zone sent:2026-03-08",
    "zone sent>=2026-03-08",
    "zone sent<2026-03-08",
    "zone sent:2026-03-07..2026-03-08",
]


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kathmandu"])
@pytest.mark.parametrize("query", ZONE_QUERIES)
def test_sent_dates_and_the_day_facet_are_days_of_the_zone_as_on_tantivy(
    corpus: Corpus, searched: EngineSearchBackend, query: str, zone: str
) -> None:
    request = SearchRequest(parse_query(query), facets=True, time_zone=ZoneInfo(zone))
    found, wanted = searched.search(request), corpus.tantivy.search(request)
    assert ids(found.hits) == ids(wanted.hits)
    assert found.facets["day"] == wanted.facets["day"]


def test_the_day_daylight_saving_starts_in_new_york_has_its_two_posts(searched: EngineSearchBackend) -> None:
    request = SearchRequest(parse_query(f"in:#{ZONE_ROOM} sent:2026-03-08"), time_zone=ZoneInfo("America/New_York"))
    assert ids(searched.search(request).hits) == ["msg:spring-before", "msg:spring-late"]
    in_utc = SearchRequest(parse_query(f"in:#{ZONE_ROOM} sent:2026-03-08"))
    assert ids(searched.search(in_utc).hits) == ["msg:mar7-late", "msg:spring-before"]


FACET_QUERIES = [
    "ubuntu",  # the IRC logs and the far-apart posts: year buckets
    "ubuntu sent>=1000-01-01 sent<3000-01-01",  # 1800 to 2009: month buckets
    "ubuntu sent>=2000-01-01 sent<3000-01-01",  # the IRC logs: day buckets
    "install OR grub",
    "nothingmatchesthis",
]


def _clear_winners(counts: dict[str, int]) -> dict[str, int]:
    """The buckets above the smallest count shown (engines break ties at the cut differently)."""
    floor = min(counts.values(), default=0)
    return {key: number for key, number in counts.items() if number > floor}


@pytest.mark.parametrize("query", FACET_QUERIES)
def test_facets_are_tantivys_even_for_dates_centuries_apart(
    corpus: Corpus, searched: EngineSearchBackend, query: str
) -> None:
    """Issue 15, bug 2: the date facet's buckets (day, month or year) are chosen and named alike."""
    request = SearchRequest(parse_query(query), size=10, facets=True)
    found, wanted = searched.search(request), corpus.tantivy.search(request)
    assert found.total == wanted.total
    assert found.facets["day"] == wanted.facets["day"]
    assert sum(found.facets["day"].values()) == found.total
    for name in ("room", "sender"):
        assert _clear_winners(found.facets[name]) == _clear_winners(wanted.facets[name])


CURSORS = [
    ("ubuntu OR install*", 50),
    ("ubuntu OR install*", 1000),
    (f"in:#{TIE_ROOM}", 7),
    (f"in:#{TIE_ROOM}", 22),
    (f"in:#{SUBMILLI_ROOM}", 3),
    (f"in:#{SUBMILLI_ROOM}", 10),
]


def _paged(backend: EngineSearchBackend, query: str, size: int) -> list[Hit]:
    """Every hit, page after page, each continuing the last one's cursor."""
    node = parse_query(query)
    hits: list[Hit] = []
    cursor: HitsCursor | None = None
    while True:
        page = backend.search(SearchRequest(node, size=size, cursor=cursor))
        assert page.hits, "a continuation never leads to an empty page"
        hits += page.hits
        if page.next_after is None:
            assert len(hits) == page.total
            return hits
        cursor = HitsCursor(page.next_after)


@pytest.mark.parametrize(("query", "size"), CURSORS)
def test_cursor_pages_are_the_point_in_time_walk(
    corpus: Corpus, searched: EngineSearchBackend, query: str, size: int
) -> None:
    walked = every_hit(searched, parse_query(query), page=size)
    assert len(walked) == len(set(ids(walked))), "every hit once"
    assert ids(_paged(searched, query, size)) == ids(walked)
    # The engines keep milliseconds: their order is (millisecond, message_id), Tantivy's where
    # instants differ by a millisecond or more.
    tantivy = every_hit(corpus.tantivy, parse_query(query))
    assert ids(walked) == ids(sorted(tantivy, key=lambda hit: (hit.sent // 1000, hit.message_id)))


def test_pages_end_inside_one_millisecond(corpus: Corpus, searched: EngineSearchBackend) -> None:
    """Ten posts in each millisecond, pages of three: the cursor continues inside the millisecond."""
    query = f"in:#{SUBMILLI_ROOM}"
    hits = _paged(searched, query, 3)
    assert len(hits) == SUBMILLI
    assert len({hit.sent // 1000 for hit in hits}) == SUBMILLI // 10
    assert [hit.sent for hit in hits] != sorted(hit.sent for hit in hits), "the ids, not the microseconds, order"
    assert ids(hits) == [hit.message_id for hit in sorted(hits, key=lambda hit: (hit.sent // 1000, hit.message_id))]


def test_a_walk_keeps_its_point_in_time_while_messages_come_and_go(
    live: LiveEngine, fresh: SearchEngineAdapter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Posts delivered (earlier in time: they would shift every page) and disposed of between two
    pages of the walk neither appear nor vanish half-way; the next walk sees them."""
    first = [_post("walk", i, f"walking {i}", sent=BASE_TIME + timedelta(minutes=i)) for i in range(30)]
    later = [_post("walk-late", i, f"walking late {i}", sent=BASE_TIME - timedelta(minutes=i)) for i in range(10)]
    deliver(fresh, first)
    backend = live.backend(fresh)
    search = backend.engine.search
    pages: list[int] = []

    def interfering(index: str, body: dict[str, Any]) -> dict[str, Any]:
        pages.append(len(pages))
        if len(pages) == 2:
            deliver(fresh, later)
            fresh.delete([str(event.event_id) for event in first[10:20]])
        return search(index, body)

    monkeypatch.setattr(backend.engine, "search", interfering)
    walked = every_hit(backend, parse_query("walking"), page=4)
    assert ids(walked) == [event.message.id for event in first if isinstance(event, PostEvent)]
    assert len(pages) == 8
    monkeypatch.undo()
    again = every_hit(backend, parse_query("walking"), page=4)
    kept = first[:10] + first[20:]
    assert set(ids(again)) == {event.message.id for event in later + kept if isinstance(event, PostEvent)}


def test_relevance_pages_by_offset(searched: EngineSearchBackend) -> None:
    node = parse_query("install OR grub")
    whole = searched.search(SearchRequest(node, size=1000, by_relevance=True))
    second = searched.search(SearchRequest(node, size=10, by_relevance=True, cursor=RankCursor(10)))
    assert ids(second.hits) == ids(whole.hits)[10:20]
    assert second.next_after is None
    assert whole.total == len(whole.hits) == second.total
    assert set(ids(whole.hits)) == set(ids(every_hit(searched, node)))


def test_relevance_pages_past_the_engines_result_window_are_refused_clearly(searched: EngineSearchBackend) -> None:
    """The engines answer relevance pages up to their ``index.max_result_window`` (10,000 hits):
    past it the query is refused with the engine's reason, not answered in part."""
    request = SearchRequest(parse_query("ubuntu"), size=10, by_relevance=True, cursor=RankCursor(10_000))
    with pytest.raises(UnsupportedEsQuery, match=r"refused the query: .*[Rr]esult window is too large"):
        searched.search(request)


def test_markup_in_a_message_comes_back_escaped_in_its_highlight(searched: EngineSearchBackend) -> None:
    [hit] = searched.search(SearchRequest(parse_query("pwned"))).hits
    assert hit.text == MARKUP
    assert hit.highlight is not None
    assert "<script>" not in hit.highlight
    assert "&lt;script&gt;" in hit.highlight
    assert "<b>pwned</b>" in hit.highlight
    assert html.unescape(hit.highlight.replace("<b>", "").replace("</b>", "")) == MARKUP


def test_every_hit_of_a_page_is_highlighted(searched: EngineSearchBackend) -> None:
    page = searched.search(SearchRequest(parse_query("ubuntu"), size=20))
    assert len(page.hits) == 20
    assert all(hit.highlight is not None and "<b>" in hit.highlight for hit in page.hits)
    plain = searched.search(SearchRequest(parse_query("ubuntu"), size=20, highlights=False))
    assert ids(plain.hits) == ids(page.hits)
    assert all(hit.highlight is None for hit in plain.hits)


# --- Versions: edited and deleted IRC messages, the edits out of order ----------------------
@dataclass(frozen=True)
class VersionsCorpus:
    events: list[Event]
    built: tuple[Path, list[Message], dict[str, list[str]], set[str]]
    """What tests/search_api/test_versions_conformance's oracle takes (the Tantivy index first)."""


@pytest.fixture(scope="module")
def versions_corpus(tmp_path_factory: pytest.TempPathFactory) -> VersionsCorpus:
    events, texts_of, deleted = versions.corpus()
    index_dir = tmp_path_factory.mktemp("live-versions") / "index"
    build_story_index(index_dir, *[events[start : start + 300] for start in range(0, len(events), 300)])
    messages = [message_of(e) for e in events if isinstance(e, PostEvent)]
    return VersionsCorpus(events, (index_dir, messages, texts_of, deleted))


@pytest.fixture(scope="module")
def versions_searched(live: LiveEngine, versions_corpus: VersionsCorpus) -> Iterator[EngineSearchBackend]:
    prefix = new_prefix("versions")
    adapter = live.adapter(prefix)
    try:
        deliver(adapter, versions_corpus.events, chunk=300)  # several batches: edits meet their posts late
        yield live.backend(adapter)
    finally:
        adapter.close()
        live.drop(prefix)


def _versions_seen(hits: list[Hit]) -> list[tuple[str, str, bool, list[str]]]:
    return sorted((h.message_id, h.text, h.deleted, [v.label for v in h.matched_versions]) for h in hits)


@pytest.mark.parametrize("query", versions.QUERIES)
def test_every_version_is_searched_as_the_oracle_says_and_reported_as_on_tantivy(
    versions_corpus: VersionsCorpus, versions_searched: EngineSearchBackend, query: str
) -> None:
    node = parse_query(query)
    found = every_hit(versions_searched, node, page=500)
    assert set(ids(found)) == versions.expected(versions_corpus.built, query)
    tantivy = every_hit(TantivySearchBackend(versions_corpus.built[0]), node)
    assert _versions_seen(found) == _versions_seen(tantivy)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_random_queries_over_versions_find_and_report_what_tantivy_does(
    versions_corpus: VersionsCorpus, versions_searched: EngineSearchBackend, data: st.DataObject
) -> None:
    messages = versions_corpus.built[1]
    words = st.sampled_from(vocabulary(messages)[:40])
    leaves = st.one_of(
        words.map(Term),
        words.map(lambda w: Prefix(w[:3])),
        st.builds(Near, words, words, st.integers(1, 4)),
        st.sampled_from([Filter("is", "edited"), Filter("is", "deleted")]),
    )
    tree = data.draw(
        st.recursive(
            leaves,
            lambda children: st.one_of(
                st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
                st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
                children.map(Not),
                children.map(Current),
            ),
            max_leaves=4,
        )
    )
    found = every_hit(versions_searched, tree, page=1000)
    assert _versions_seen(found) == _versions_seen(every_hit(TantivySearchBackend(versions_corpus.built[0]), tree))


def test_the_story_out_of_order_and_redelivered_is_searched_as_on_tantivy(
    live: LiveEngine, fresh: SearchEngineAdapter, tmp_path: Path
) -> None:
    """Issue 17, finding 1, with the painless scripts run for real: the story's events out of
    order and re-delivered give the same hits and matched versions as the Tantivy index."""
    post, first, second, deleted, other = the_story()
    batches = [[second], [deleted, first], [post, second], [first, other], [post]]
    for batch in batches:
        assert fresh.write(batch) == [None] * len(batch)
    fresh.engine.refresh(f"{fresh.prefix}-*")
    tantivy_dir = build_story_index(tmp_path / "index", *batches)
    backends = (live.backend(fresh), TantivySearchBackend(tantivy_dir))
    for query in ("announcement", '"buy 10,000 shares"', "current:tomorrow", "current:ACME", "is:edited", "lunch"):
        pages = [backend.search(SearchRequest(parse_query(query))) for backend in backends]
        found = [[(h.message_id, h.text, [v.label for v in h.matched_versions]) for h in page.hits] for page in pages]
        assert found[0] == found[1], query
    [source] = sources(fresh, {"term": {"message_id": "m1"}})
    assert [v["text"] for v in source["version_log"]] == [ORIGINAL, FIRST_EDIT, SECOND_EDIT]
    assert source["text"] == SECOND_EDIT


def test_delivery_search_edit_delete_and_redelivery(fresh: SearchEngineAdapter) -> None:
    post = event("post", 0, message={"id": "m1", "text": "Rendez-vous au CAFÉ #Q3 @bob"})
    edit = event("edit", 5, message={"id": "m1", "text": "Rendez-vous au café demain"})
    assert fresh.write([post]) == [None]
    assert [d["message_id"] for d in sources(fresh, {"match": {"text": "cafe"}})] == ["m1"]
    assert sources(fresh, {"term": {"hashtags": "q3"}})

    assert fresh.write([edit]) == [None]
    assert fresh.write([post]) == [None], "re-delivering the post never undoes the edit"
    (document,) = sources(fresh, {"match": {"text": "demain"}})
    assert document["versions"] == 2

    assert fresh.write([event("delete", 9, message={"id": "m1"})]) == [None]
    (deleted,) = sources(fresh, {"term": {"deleted": True}})
    assert deleted["message_id"] == "m1"
    assert count(fresh, events_index(fresh.prefix)) == 3


def test_a_write_the_engine_refuses_fails_each_of_its_events_and_redelivery_succeeds(
    live: LiveEngine, fresh: SearchEngineAdapter
) -> None:
    batch = [event("post", i, message={"id": f"m{i}", "text": f"refused {i}"}) for i in range(3)]
    deliver(fresh, batch[:1])
    live.block_writes(messages_index(fresh.prefix), True)
    try:
        results = list(fresh.write(batch))
    finally:
        live.block_writes(messages_index(fresh.prefix), False)
    assert all(result is not None and "cluster_block_exception" in result.reason for result in results)
    assert all(result is not None and result.reason.startswith(f"{live.kind} 403 ") for result in results)
    assert fresh.write(batch) == [None, None, None]
    assert sorted(d["message_id"] for d in sources(fresh, {"match": {"text": "refused"}})) == ["m0", "m1", "m2"]


LONG = 40_000
"""Characters of the longest names and ids below: past Lucene's longest term (32,766 UTF-8 bytes)."""


def test_events_with_names_and_ids_longer_than_the_engines_longest_term_are_delivered_and_found(
    live: LiveEngine, fresh: SearchEngineAdapter
) -> None:
    """As the Tantivy index takes them (tests/exports/test_extreme_events.py feeds such events to
    every format): a keyword too long to index is kept, not refused with the whole event."""
    huge_id = "m" * LONG
    payload = post_payload(0, run="long", text=f"immense names @{'x' * LONG} #{'y' * LONG} http://x.org/{'z' * LONG}")
    payload["actor"] = {"id": "user:" + "a" * LONG, "name": "中" * LONG}
    payload["room"] = {"id": "room:" + "r" * LONG, "name": "ש" * LONG, "kind": "room"}
    post = parse_event(payload)
    payload = post_payload(1, run="long", text="the second message")
    payload["message"]["id"] = huge_id
    second = parse_event(payload)
    uploaded = upload("f" * LONG + ".pdf", content_type="application/" + "p" * LONG)
    batch = [post, second, uploaded]
    results = list(fresh.write(batch))
    assert results == [None, None, None], [result.reason[:300] for result in results if result is not None]
    assert fresh.write(batch) == [None, None, None]
    fresh.engine.refresh(f"{fresh.prefix}-*")
    backend = live.backend(fresh)
    assert isinstance(post, PostEvent)
    assert ids(every_hit(backend, parse_query("immense"))) == [post.message.id]
    assert ids(every_hit(backend, parse_query('"second message"'))) == [huge_id]
    assert ids(every_hit(backend, parse_query("filetype:pdf"))) == [f"file:{uploaded.event_id}"]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
@given(raw=st.lists(extreme.payloads(), min_size=1, max_size=6))
def test_extreme_events_of_every_kind_are_delivered_and_redelivered(
    fresh: SearchEngineAdapter, raw: list[dict[str, Any]]
) -> None:
    """The events tests/exports/test_extreme_events.py feeds every format (the first and last
    instants, control characters, 40,000-character strings in every field) reach the engine."""
    events = extreme.archived(raw)
    results = list(fresh.write(events))
    assert results == [None] * len(events), [result.reason[:300] for result in results if result is not None]
    assert list(fresh.write(events)) == [None] * len(events)


def test_a_messages_index_from_before_versions_and_attachments_gets_their_fields(
    live: LiveEngine, fresh: SearchEngineAdapter, tmp_path: Path
) -> None:
    """The adapter adds the fields of issues 17 and 18 to a messages index made without them."""
    from tests.attachment_events import file_text, upload

    added = set(VERSION_PROPERTIES) | set(ATTACHMENT_PROPERTIES)
    properties = {name: value for name, value in MESSAGE_PROPERTIES.items() if name not in added}
    template = index_templates(fresh.prefix)[messages_index(fresh.prefix)]["template"]
    mappings = {"dynamic": "strict", "properties": properties | {"file_name": FOLDED_KEYWORD}}
    live.create_index(messages_index(fresh.prefix), {"settings": template["settings"], "mappings": mappings})

    store = FsFileStore(tmp_path / "files")
    fresh.file_store = store
    uploaded = upload("minutes.pdf")
    post = event("post", 0, message={"id": "m1", "text": "the original wording"})
    edit = event("edit", 5, message={"id": "m1", "text": "the edited wording"})
    deliver(fresh, [post, edit, uploaded, file_text(uploaded, "minutes of the board", store)])
    backend = live.backend(fresh)
    assert ids(every_hit(backend, parse_query("original -current:original"))) == ["m1"]
    assert ids(every_hit(backend, parse_query("attachment:board"))) == [f"file:{uploaded.event_id}"]


# --- Every script ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scripts_searched(live: LiveEngine) -> Iterator[EngineSearchBackend]:
    """The multilingual conformance corpus (issue 17)."""
    prefix = new_prefix("scripts")
    adapter = live.adapter(prefix)
    try:
        deliver(adapter, [parse_event(post_payload(m.number, run="ml", text=m.text)) for m in multilingual.CORPUS])
        yield live.backend(adapter)
    finally:
        adapter.close()
        live.drop(prefix)


@pytest.mark.parametrize("query", multilingual.QUERIES)
def test_every_script_finds_exactly_the_oracle_hits(scripts_searched: EngineSearchBackend, query: str) -> None:
    node = parse_query(query)
    assert set(ids(every_hit(scripts_searched, node, page=500))) == multilingual.oracle(node)


@settings(max_examples=30, deadline=None)
@given(
    tree=st.recursive(
        multilingual.WORDS.map(Term),
        lambda children: st.one_of(
            st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
            st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
            children.map(Not),
        ),
        max_leaves=4,
    )
)
def test_boolean_combinations_of_every_script_find_exactly_the_oracle_hits(
    scripts_searched: EngineSearchBackend, tree: Node
) -> None:
    assert set(ids(every_hit(scripts_searched, tree, page=500))) == multilingual.oracle(tree), to_query(tree)


# --- Attachments ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def attachments_searched(
    live: LiveEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EngineSearchBackend, list[attachments.Doc]]]:
    """IRC messages and uploaded files whose texts arrive before or after their uploads (issue 18)."""
    store = FsFileStore(tmp_path_factory.mktemp("live-attachments") / "files")
    events, docs = attachments.corpus(store)
    prefix = new_prefix("attachments")
    adapter = live.adapter(prefix, file_store=store)
    try:
        deliver(adapter, events, chunk=250)
        yield live.backend(adapter), docs
    finally:
        adapter.close()
        live.drop(prefix)


@pytest.mark.parametrize("query", attachments.QUERIES)
def test_attachments_and_files_are_found_as_the_oracle_says(
    attachments_searched: tuple[EngineSearchBackend, list[attachments.Doc]], query: str
) -> None:
    backend, docs = attachments_searched
    assert set(ids(every_hit(backend, parse_query(query), page=500))) == attachments.expected(docs, query)


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_random_queries_over_messages_and_files_find_exactly_the_oracle_hits(
    attachments_searched: tuple[EngineSearchBackend, list[attachments.Doc]], data: st.DataObject
) -> None:
    backend, docs = attachments_searched
    words = st.sampled_from([*attachments.TOPICS, "the", "guide", "notes", "ubu", "東京", "資料"])
    leaves = st.one_of(
        words.map(Term),
        words.map(lambda w: Prefix(w[:3])),
        st.builds(Near, words, words, st.integers(1, 4)),
        st.sampled_from(["pdf", "png", "docx", "txt", "xlsx"]).map(lambda kind: Filter("filetype", kind)),
        st.just(Filter("has", "file")),
        st.sampled_from(["Agrajag", "crimsun"]).map(lambda nick: Filter("from", nick)),
    )
    tree = data.draw(
        st.recursive(
            leaves,
            lambda children: st.one_of(
                st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
                st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
                children.map(Not),
                children.map(Current),
                children.map(lambda item: Within("attachment", item)),
                children.map(lambda item: Within("file", item)),
            ),
            max_leaves=4,
        )
    )
    query = to_query(tree)
    assert set(ids(every_hit(backend, parse_query(query), page=1000))) == attachments.expected(docs, query), query


def test_type_finds_posts_or_files(attachments_searched: tuple[EngineSearchBackend, list[attachments.Doc]]) -> None:
    backend, docs = attachments_searched
    files = {doc.message_id for doc in docs if doc.file_name is not None}
    everything = {doc.message_id for doc in docs}

    def found(query: str) -> set[str]:
        return set(ids(every_hit(backend, parse_query(query), page=500)))

    assert found("type:file_upload") == files
    assert found("type:post") == everything - files
    install = attachments.expected(docs, "install")
    assert found("type:post install") == install - files
    assert found("type:file_upload install") == install & files != set()


@pytest.mark.parametrize("word", attachments.MULTILINGUAL_QUERIES)
def test_attachment_text_in_every_script_is_found(
    attachments_searched: tuple[EngineSearchBackend, list[attachments.Doc]], word: str
) -> None:
    from tests.search_api import script_oracle

    backend, docs = attachments_searched
    wanted = {d.message_id for d in docs if d.file_name is not None and script_oracle.finds(word, d.attachment)}
    assert set(ids(every_hit(backend, parse_query(f'attachment:"{word}"')))) == wanted


@pytest.mark.parametrize("text_first", [False, True])
def test_attachment_text_is_searched_whatever_order_upload_and_text_arrive_in(
    live: LiveEngine, fresh: SearchEngineAdapter, tmp_path: Path, text_first: bool
) -> None:
    """Issue 18, the painless scripts run for real: the file document keeps the upload's fields
    and the text, in either order, and re-delivery changes nothing."""
    from tests.attachment_events import file_text, upload

    store = FsFileStore(tmp_path / "files")
    fresh.file_store = store
    uploaded = upload("Contract.pdf")
    text = file_text(uploaded, "The supplier ACME agrees", store)
    for batch in ([text], [uploaded]) if text_first else ([uploaded], [text]):
        assert fresh.write(batch) == [None]
    assert fresh.write([uploaded, text]) == [None, None]
    fresh.engine.refresh(f"{fresh.prefix}-*")
    backend = live.backend(fresh)
    [hit] = backend.search(SearchRequest(parse_query("attachment:acme"))).hits
    assert hit.message_id == f"file:{uploaded.event_id}"
    assert hit.attachment is not None
    assert (hit.attachment.name, hit.attachment.file_type, hit.attachment.extraction) == (
        "Contract.pdf",
        "pdf",
        "extracted",
    )
    assert hit.attachment.excerpt is not None
    assert "<b>ACME</b>" in hit.attachment.excerpt
    assert ids(backend.search(SearchRequest(parse_query("filetype:pdf"))).hits) == [hit.message_id]


def test_a_file_longer_than_the_highlight_limit_is_found_and_excerpted(
    live: LiveEngine, fresh: SearchEngineAdapter, tmp_path: Path
) -> None:
    """The first MAX_ATTACHMENT_CHARS characters of a file are indexed; past the engines' default
    highlight limit (a million UTF-16 units, and an emoji takes two) the search names the limit in
    its own dialect (``max_analyzer_offset`` on OpenSearch) instead of failing."""
    from tests.attachment_events import file_text, upload

    store = FsFileStore(tmp_path / "files")
    fresh.file_store = store
    uploaded = upload("huge.txt", content_type="text/plain")
    filler = "filler 😀 " * (MAX_ATTACHMENT_CHARS // 9 + 1000)
    text = file_text(uploaded, "beginning of the contract " + filler + " farbeyond", store)
    assert fresh.write([uploaded, text]) == [None, None]
    fresh.engine.refresh(f"{fresh.prefix}-*")
    backend = live.backend(fresh)
    [hit] = backend.search(SearchRequest(parse_query("attachment:beginning"))).hits
    assert hit.attachment is not None
    assert hit.attachment.excerpt is not None
    assert "<b>beginning</b> of the contract" in hit.attachment.excerpt
    assert backend.search(SearchRequest(parse_query("attachment:farbeyond"))).hits == []


# --- Disposal -------------------------------------------------------------------------------
def test_disposal_deletes_the_event_and_its_message_and_can_be_asked_again(fresh: SearchEngineAdapter) -> None:
    kept = event("post", 0, message={"id": "m-kept", "text": "kept"})
    disposed = event("post", 1, message={"id": "m-disposed", "text": "disposed"})
    assert fresh.write([kept, disposed]) == [None, None]

    fresh.delete([str(disposed.event_id)])  # no refresh between: delete() sees the fresh message
    fresh.delete([str(disposed.event_id)])  # a run retried after a rollback: 404s, not a failure

    assert [d["message_id"] for d in sources(fresh, {"match_all": {}})] == ["m-kept"]
    assert count(fresh, events_index(fresh.prefix)) == 1


def test_disposal_before_anything_was_delivered_succeeds(live: LiveEngine, fresh: SearchEngineAdapter) -> None:
    """No messages index yet: it holds no message of the disposed events, which is what was asked."""
    fresh.delete(["never-delivered-1", "never-delivered-2"])
    fresh.delete(["never-delivered-1"])
    assert fresh.write([event("post", 0, message={"id": "m1", "text": "after the disposal"})]) == [None]
    assert [d["message_id"] for d in sources(fresh, {"match_all": {}})] == ["m1"]


REFUSALS = {
    # index -> (how it refuses, what the engine says)
    "read-only events": ("events", "read-only", "cluster_block_exception"),
    "read-only messages": ("messages", "read-only", "cluster_block_exception"),
    "closed messages": ("messages", "closed", "index_closed_exception"),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_a_refusal_of_the_engine_fails_the_disposal_and_nothing_is_disposed(
    live: LiveEngine, fresh: SearchEngineAdapter, sqlite_store: StagingStore, refusal: str
) -> None:
    which, how, reason = REFUSALS[refusal]
    archive = sqlite_store.engine
    with_alices_hold(archive)
    deliver(fresh, HISTORY)
    index = events_index(fresh.prefix) if which == "events" else messages_index(fresh.prefix)
    gone = {str(e.event_id) for e in (BEFORE, AFTER, ELSEWHERE)}

    def refuse(refusing: bool) -> None:
        if how == "read-only":
            live.block_writes(index, refusing)
        else:
            live.set_open(index, not refusing)

    refuse(True)
    try:
        with pytest.raises(DeletionFailed, match=reason):
            fresh.delete(sorted(gone))
        with pytest.raises(RetentionFailed, match=fresh.name):
            run(archive, adapters=[fresh])
    finally:
        refuse(False)
    assert disposed_ids(archive) == set()
    assert "before alice" in texts(archive)

    assert run(archive, adapters=[fresh]).disposed == 3
    assert disposed_ids(archive) == gone
    messages = {d["message_id"] for d in sources(fresh, {"match_all": {}})}
    assert messages == {e.message.id for e in (HELD, WHILE_THERE, RECENT)}
    assert gone.isdisjoint(d["event_id"] for d in sources(fresh, {"match_all": {}}, events_index(fresh.prefix)))
