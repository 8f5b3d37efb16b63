"""The Tantivy backend gives exactly the reference's hit sets over real IRC logs."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.events import PostEvent, parse_event
from ingest.irc import read_irc_file
from search.backends import TantivySearchBackend, every_hit
from search.memberships import Interval, intervals_of
from search.query_ast import And, Filter, Near, Node, Not, Or, Prefix, SentRange, Term, UnsupportedQuery, to_query
from search.query_parser import parse_query
from search.tantivy_backend import all_hits, search_page
from tests.factories import BASE_TIME, post_payload
from tests.search_api.reference import Message, matches, message_of

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
LOGS = ["2005-02-08.train-a.raw.txt", "2009-03-03_10.raw.txt", "2007-09-07.train-a.raw.txt"]


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Message], Engine]:
    events = [e for name in LOGS for e in read_irc_file(DEMO_LOGS / name)]
    folder = tmp_path_factory.mktemp("conformance")
    adapter = TantivyIndexAdapter(folder / "index")
    assert all(result is None for result in adapter.write(events))
    adapter.close()
    engine = create_db_engine(f"sqlite:///{folder / 'archive.sqlite3'}")
    upgrade(engine)
    ArchiveAdapter(engine).write(events)
    return folder / "index", [message_of(e) for e in events if isinstance(e, PostEvent)], engine


@pytest.fixture(scope="module")
def corpus(archived: tuple[Path, list[Message], Engine]) -> tuple[Path, list[Message]]:
    return archived[0], archived[1]


def expected(node: Node, messages: list[Message]) -> set[str]:
    return {m.message_id for m in messages if matches(node, m)}


def found(index_dir: Path, node: Node) -> set[str]:
    hits = all_hits(index_dir, node)
    assert [h.sent for h in hits] == sorted(h.sent for h in hits), "oldest first"
    return {h.message_id for h in hits}


QUERIES = [
    "ubuntu",
    "UBUNTU install",
    "install*",
    '"apt-get install"',
    "sudo NEAR/3 install",
    "install w/2 sudo",
    "grub OR lilo",
    "xorg -nvidia",
    "NOT ubuntu sudo",
    "(wine OR windows) NOT linux",
    "from:ubotu",
    "in:#ubuntu help",
    "sent:2005-02-08 install",
    "sent>=2009-03-03 sent<2009-03-04 sudo",
    "http*",
    "café",
    "the-s*",
    "to-s*",
    "i-c*",
    "don't*",
]


@pytest.mark.parametrize("query", QUERIES)
def test_exact_hit_sets_match_the_reference(corpus: tuple[Path, list[Message]], query: str) -> None:
    index_dir, messages = corpus
    node = parse_query(query)
    assert found(index_dir, node) == expected(node, messages)


def test_the_queries_are_not_trivial(corpus: tuple[Path, list[Message]]) -> None:
    _, messages = corpus
    sizes = [len(expected(parse_query(q), messages)) for q in QUERIES[:11]]
    assert sum(1 for size in sizes if size > 0) >= 9, sizes


def test_mentions_come_from_irc_addressing(corpus: tuple[Path, list[Message]]) -> None:
    index_dir, messages = corpus
    counts = Counter(m for message in messages for m in message.mentions)
    nick, _ = counts.most_common(1)[0]
    node = parse_query(f"@{nick}")
    assert found(index_dir, node) == expected(node, messages)
    assert len(expected(node, messages)) == counts[nick]


def test_participant_follows_the_membership_intervals(archived: tuple[Path, list[Message], Engine]) -> None:
    index_dir, messages, engine = archived

    @functools.cache  # the reference asks once per message; the archive's answer does not change
    def memberships(actor: str) -> list[Interval]:
        return intervals_of(engine, actor)

    joined = Counter(m.sender_id.removeprefix("user:") for m in messages)
    checked = 0
    for nick, _ in joined.most_common(40):
        node = parse_query(f"participant:{nick} ubuntu")
        hits = {h.message_id for h in all_hits(index_dir, node, memberships=memberships)}
        wanted = {m.message_id for m in messages if matches(node, m, memberships)}
        assert hits == wanted, nick
        checked += bool(wanted)
    assert checked >= 5, "the corpus must exercise participant: for real"


def test_participant_without_the_archive_and_other_types_are_refused(corpus: tuple[Path, list[Message]]) -> None:
    index_dir, _ = corpus
    for query in ("participant:bob", "type:join"):
        with pytest.raises(UnsupportedQuery):
            all_hits(index_dir, parse_query(query))


def vocabulary(messages: list[Message]) -> list[str]:
    counts = Counter(t for m in messages for t in m.tokens if t.isalpha())
    return [word for word, _ in counts.most_common(60)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_queries_match_the_reference(corpus: tuple[Path, list[Message]], data: st.DataObject) -> None:
    index_dir, messages = corpus
    words = st.sampled_from(vocabulary(messages))
    leaves = st.one_of(
        words.map(Term),
        words.map(lambda w: Prefix(w[:3])),
        st.builds(Near, words, words, st.integers(1, 6)),
        st.builds(lambda a, b, c, n: Near(f"{a} {b}", c, n), words, words, words, st.integers(1, 6)),
        st.sampled_from(sorted({m.sender_id.removeprefix("user:") for m in messages})[:30]).map(
            lambda n: Filter("from", n)
        ),
        st.sampled_from([SentRange(start=None, end=m.sent.date()) for m in messages[::400]]),
    )
    tree = data.draw(
        st.recursive(
            leaves,
            lambda children: st.one_of(
                st.lists(children, min_size=2, max_size=3).map(lambda items: And(tuple(items))),
                st.lists(children, min_size=2, max_size=3).map(lambda items: Or(tuple(items))),
                children.map(Not),
            ),
            max_leaves=5,
        )
    )
    assert found(index_dir, tree) == expected(tree, messages), to_query(tree)


@pytest.mark.parametrize("query", ["ubuntu", "install*", "sudo NEAR/3 install", "from:ubotu OR grub"])
def test_a_page_has_the_exact_total_and_facets_of_the_full_set(corpus: tuple[Path, list[Message]], query: str) -> None:
    index_dir, _ = corpus
    node = parse_query(query)
    everything = all_hits(index_dir, node)
    first = search_page(index_dir, node, size=5)
    assert first.next_after is not None
    page = search_page(index_dir, node, after=first.next_after, size=7, facets=True)
    assert page.total == first.total == len(everything)
    assert [h.message_id for h in first.hits + page.hits] == [h.message_id for h in everything[:12]]
    assert first.facets == {}
    assert sum(page.facets["day"].values()) == page.total
    assert page.facets["room"] == dict(Counter(h.room_id for h in everything))
    assert all(h.highlight is not None for h in page.hits)


def test_relevance_order_has_the_same_hits_best_first(corpus: tuple[Path, list[Message]]) -> None:
    index_dir, _ = corpus
    node = parse_query("install OR grub")
    everything = {h.message_id for h in all_hits(index_dir, node)}
    ranked = search_page(index_dir, node, size=len(everything) + 10, by_relevance=True)
    assert ranked.total == len(everything)
    assert {h.message_id for h in ranked.hits} == everything
    by_time = search_page(index_dir, node, size=len(everything) + 10)
    assert [h.message_id for h in ranked.hits] != [h.message_id for h in by_time.hits]


@pytest.fixture(scope="module")
def tied_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 posts sent in only 4 distinct instants (as minute-resolution imports produce)."""
    index_dir = tmp_path_factory.mktemp("tied") / "index"
    events = []
    for i in range(90):
        payload = post_payload(i, run="tie")
        payload["occurred_at"] = (BASE_TIME + timedelta(minutes=i % 4)).isoformat()
        events.append(parse_event(payload))
    adapter = TantivyIndexAdapter(index_dir)
    adapter.write(events)
    adapter.close()
    return index_dir


@pytest.mark.parametrize("size", [1, 3, 7, 22, 23, 50, 100])
def test_paging_in_time_order_returns_every_hit_once_although_timestamps_tie(tied_index: Path, size: int) -> None:
    node = parse_query("message")
    everything = all_hits(tied_index, node)
    assert len(everything) == 90
    assert len({h.sent for h in everything}) == 4
    assert everything == sorted(everything, key=lambda h: (h.sent, h.message_id))
    page = search_page(tied_index, node, size=size)
    collected = [h.message_id for h in page.hits]
    while page.next_after is not None:
        page = search_page(tied_index, node, after=page.next_after, size=size)
        assert page.total == 90
        assert page.hits, "a continuation never leads to an empty page"
        collected += [h.message_id for h in page.hits]
    assert collected == [h.message_id for h in everything]


def test_relevance_pages_by_offset(corpus: tuple[Path, list[Message]]) -> None:
    index_dir, _ = corpus
    node = parse_query("install OR grub")
    whole = search_page(index_dir, node, size=1000, by_relevance=True)
    second = search_page(index_dir, node, size=10, offset=10, by_relevance=True)
    assert [h.message_id for h in second.hits] == [h.message_id for h in whole.hits[10:20]]
    assert second.next_after is None


@pytest.mark.parametrize("page", [7, 1000])
def test_every_hit_through_the_backend_interface_is_the_whole_set(
    corpus: tuple[Path, list[Message]], page: int
) -> None:
    index_dir, _ = corpus
    node = parse_query("ubuntu OR install*")
    through_interface = every_hit(TantivySearchBackend(index_dir), node, page=page)
    assert [h.message_id for h in through_interface] == [h.message_id for h in all_hits(index_dir, node)]


@pytest.fixture(scope="module")
def look_alikes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Rooms and people whose names contain each other's."""
    index_dir = tmp_path_factory.mktemp("look-alikes") / "index"
    rooms = [("room:ubuntu", "#ubuntu"), ("room:ubuntu-fr", "#ubuntu-fr"), ("room:help", "Ubuntu help desk")]
    people = [("user:john", "john"), ("user:jsmith", "John Smith"), ("user:john-doe", "john-doe"), ("user:zoe", "Zoë")]
    events = []
    for i, ((room_id, room_name), (actor_id, actor_name)) in enumerate(
        (room, person) for room in rooms for person in people
    ):
        payload = post_payload(i, run="alike", text="hello")
        payload["room"] = {"id": room_id, "name": room_name, "kind": "room"}
        payload["actor"] = {"id": actor_id, "name": actor_name}
        events.append(parse_event(payload))
    adapter = TantivyIndexAdapter(index_dir)
    adapter.write(events)
    adapter.close()
    return index_dir


@pytest.mark.parametrize(
    ("query", "rooms", "senders"),
    [
        ("in:#ubuntu", {"room:ubuntu"}, None),
        ("in:UBUNTU", {"room:ubuntu"}, None),
        ("in:room:ubuntu-fr", {"room:ubuntu-fr"}, None),
        ('in:"ubuntu help desk"', {"room:help"}, None),
        ("from:john", None, {"user:john"}),
        ("from:@JOHN", None, {"user:john"}),
        ('from:"john smith"', None, {"user:jsmith"}),
        ("from:user:john-doe", None, {"user:john-doe"}),
        ("from:zoe", None, {"user:zoe"}),
    ],
)
def test_in_and_from_match_whole_names_and_ids_not_words_inside_them(
    look_alikes: Path, query: str, rooms: set[str] | None, senders: set[str] | None
) -> None:
    hits = all_hits(look_alikes, parse_query(query))
    assert hits
    if rooms is not None:
        assert {h.room_id for h in hits} == rooms
    if senders is not None:
        assert {h.sender_id for h in hits} == senders
