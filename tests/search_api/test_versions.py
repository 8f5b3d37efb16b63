"""Issue 17, finding 1: every version of a message is evidence. The text a message was posted
with, every edit and the text it had when deleted are searched; a hit says which version
matched and when it was current; ``is:edited``, ``is:deleted`` and ``current:`` narrow it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import tantivy
from sqlalchemy import create_engine

from adapters.es_actions import bulk_actions
from adapters.index_adapter import TantivyIndexAdapter, reindex
from exports.selection import select_hits
from ingest.events import Event
from ingest.simulate import simulate_events
from search import service
from search import tantivy_schema as fields
from search.backends import TantivySearchBackend, page_from_response
from search.query_ast import And, Current, Filter, Or, Term, UnsupportedQuery, to_query
from search.query_parser import QuerySyntaxError, parse_query
from search.request import SearchRequest
from search.tantivy_backend import all_hits, search_page
from search.tantivy_schema import micros_since_epoch
from tests.adapters.test_tantivy_index import T0, delete, edit, say

ORIGINAL = "buy 10,000 shares of ACME before the announcement"
FIRST_EDIT = "lunch at noon?"
SECOND_EDIT = "never mind, see you tomorrow"


def micros(seconds: float) -> int:
    return micros_since_epoch(T0 + timedelta(seconds=seconds))


def the_story() -> list[Event]:
    return [
        say("m1", ORIGINAL, 0),
        edit("m1", FIRST_EDIT, 60),
        edit("m1", SECOND_EDIT, 120),
        delete("m1", 180),
        say("m2", "the announcement is public now", 30, actor="bob"),
    ]


def build(index_dir: Path, *batches: list[Event]) -> Path:
    adapter = TantivyIndexAdapter(index_dir)
    try:
        for batch in batches:
            assert list(adapter.write(batch)) == [None] * len(batch)
    finally:
        adapter.close()
    return index_dir


def ids(index_dir: Path, query: str) -> list[str]:
    return [hit.message_id for hit in all_hits(index_dir, parse_query(query))]


@pytest.fixture
def story(tmp_path: Path) -> Path:
    return build(tmp_path / "index", the_story())


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("announcement", ["m2", "m1"]),
        ('"buy 10,000 shares"', ["m1"]),
        ("ACME", ["m1"]),
        ("lunch", ["m1"]),
        ("tomorrow", ["m1"]),
        ("is:edited", ["m1"]),
        ("is:deleted", ["m1"]),
        ("announcement -is:edited", ["m2"]),
        ("current:announcement", ["m2"]),
        ("current:ACME", []),
        ("current:tomorrow", ["m1"]),
        ('current:"see you tomorrow"', ["m1"]),
        ("current:(lunch OR tomorrow)", ["m1"]),
        ("current:lunch", []),
        ("acm*", ["m1"]),
        ("current:acm*", []),
        ("ACME NEAR/3 shares", ["m1"]),
        ("current:(ACME NEAR/3 shares)", []),
    ],
)
def test_every_version_is_searched(story: Path, query: str, expected: list[str]) -> None:
    assert sorted(ids(story, query)) == sorted(expected)


def test_a_hit_keeps_showing_the_current_text_and_says_which_version_matched(story: Path) -> None:
    [hit] = search_page(story, parse_query('"buy 10,000 shares"')).hits
    assert hit.text == SECOND_EDIT
    assert hit.deleted
    [version] = hit.matched_versions
    assert (version.label, version.number, version.text) == ("original", 0, ORIGINAL)
    assert (version.valid_from, version.valid_until) == (micros(0), micros(60))
    assert not version.current

    [hit] = search_page(story, parse_query("lunch")).hits
    assert [(v.label, v.valid_from, v.valid_until) for v in hit.matched_versions] == [
        ("edit 1", micros(60), micros(120))
    ]

    [hit] = search_page(story, parse_query("tomorrow")).hits
    [version] = hit.matched_versions
    assert (version.label, version.current, version.deleted) == ("edit 2", True, True)
    assert (version.valid_from, version.valid_until) == (micros(120), micros(180))


def test_a_phrase_or_near_never_spans_two_versions(tmp_path: Path) -> None:
    index_dir = build(tmp_path / "index", [say("m1", "alpha beta", 0), edit("m1", "gamma delta", 10)])
    assert ids(index_dir, '"beta gamma"') == []
    assert ids(index_dir, "beta NEAR/50 gamma") == []
    assert ids(index_dir, "alpha NEAR/1 beta") == ["m1"]


def test_edits_out_of_order_and_redelivered_keep_one_history(tmp_path: Path) -> None:
    story = the_story()
    post, first, second, deleted, other = story
    index_dir = build(tmp_path / "index", [second], [deleted, first], [post, second], [first, other], [post])
    [hit] = search_page(index_dir, parse_query("m1 OR ACME")).hits
    assert hit.text == SECOND_EDIT
    [hit] = search_page(index_dir, parse_query("ACME OR lunch OR tomorrow")).hits
    assert [v.label for v in hit.matched_versions] == ["original", "edit 1", "edit 2"]
    assert [v.valid_from for v in hit.matched_versions] == [micros(0), micros(60), micros(120)]
    assert ids(index_dir, "current:tomorrow") == ["m1"]
    assert ids(index_dir, "current:lunch OR current:ACME") == []


def test_type_edit_with_words_points_to_is_edited_and_current(story: Path) -> None:
    engine = create_engine("sqlite://")
    request = SearchRequest(parse_query("type:edit ACME"))
    with pytest.raises(UnsupportedQuery, match=r"is:edited ACME .* current:ACME"):
        service.search(TantivySearchBackend(story), engine, request)
    assert ids(story, "is:edited ACME") == ["m1"]


def test_an_export_selects_a_message_found_only_in_an_old_version(story: Path) -> None:
    selection = select_hits(TantivySearchBackend(story), parse_query('"buy 10,000 shares"'))
    assert selection.messages == 1
    assert selection.room_hits("room:desk").message_ids == {"m1"}


def test_elasticsearch_hits_say_which_version_matched() -> None:
    events = the_story()
    documents: dict[str, Any] = {}
    for action in bulk_actions(events[:1]):
        if "update" in action.header:
            documents = action.body["upsert"]
    assert documents["version_log"] == [
        {"kind": "post", "event_id": str(events[0].event_id), "at": micros(0), "text": ORIGINAL}
    ]
    assert documents["history"] == []
    # What the scripts leave after the two edits and the delete (tests/search_engines runs them on the real engines).
    source = documents | {
        "text": SECOND_EDIT,
        "history": [ORIGINAL, FIRST_EDIT],
        "version_log": [
            documents["version_log"][0],
            {"kind": "edit", "event_id": str(events[1].event_id), "at": micros(60), "text": FIRST_EDIT},
            {"kind": "edit", "event_id": str(events[2].event_id), "at": micros(120), "text": SECOND_EDIT},
        ],
        "deleted": True,
        "deleted_at": (T0 + timedelta(seconds=180)).isoformat(),
    }
    response = {"hits": {"total": {"value": 1}, "hits": [{"_source": source}]}}
    [hit] = page_from_response(response, node=parse_query("announcement")).hits
    assert hit.text == SECOND_EDIT
    assert [(v.label, v.valid_from, v.valid_until) for v in hit.matched_versions] == [
        ("original", micros(0), micros(60))
    ]
    [hit] = page_from_response(response, node=parse_query("tomorrow")).hits
    assert [(v.label, v.current, v.deleted, v.valid_until) for v in hit.matched_versions] == [
        ("edit 2", True, True, micros(180))
    ]


def test_the_demo_messages_first_words_find_it(tmp_path: Path) -> None:
    events = list(simulate_events(events=3000, rooms=12, users=80, seed=2026))
    index_dir = build(tmp_path / "index", events)
    hits = search_page(index_dir, parse_query('"the KYC file is sorted"'), size=1000).hits
    [hit] = [h for h in hits if h.message_id == "msg:sim:2026:1"]
    assert hit.text == "correction: flagging the client call for review"
    assert [v.label for v in hit.matched_versions] == ["original"]
    assert "msg:sim:2026:1" not in ids(index_dir, 'current:"KYC file is sorted"')
    assert "msg:sim:2026:1" in ids(index_dir, "is:edited KYC")


def index_built_before_versions(index_dir: Path) -> None:
    """An index with the layout ``search.tantivy_schema.build_schema`` had before this change
    (no ``history``, no ``version_log``), holding the story as it was indexed then."""
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(fields.MESSAGE_ID, stored=True, fast=True, tokenizer_name=fields.EXACT)
    for name in (fields.EVENT_ID, fields.EDIT_EVENT_IDS):
        builder.add_text_field(name, stored=True, tokenizer_name=fields.EXACT)
    for name in (fields.TYPE, fields.SENDER_ID, fields.ROOM_ID):
        builder.add_text_field(name, stored=True, fast=True, tokenizer_name=fields.EXACT)
    for name in (fields.TEXT, fields.SENDER_NAME, fields.ROOM_NAME):
        builder.add_text_field(name, stored=True, tokenizer_name=fields.TEXT_ANALYZER)
    builder.add_bytes_field(fields.TEXT_ORIGINAL, stored=True)
    for name in (fields.URLS, fields.MENTIONS, fields.HASHTAGS):
        builder.add_text_field(name, stored=True, tokenizer_name=fields.KEYWORD_ANALYZER)
    for name in (fields.SENDER_KEYS, fields.ROOM_KEYS):
        builder.add_text_field(name, stored=False, tokenizer_name=fields.KEYWORD_ANALYZER)
    for name in (fields.SENT, fields.EDITED, fields.VERSIONS, fields.DELETED, fields.HAS_FILE):
        builder.add_integer_field(name, stored=True, indexed=True, fast=True)
    builder.add_integer_field(fields.TEXT_UPDATED, stored=True)
    index_dir.mkdir(parents=True)
    index = tantivy.Index(builder.build(), path=str(index_dir))
    index.register_tokenizer(fields.TEXT_ANALYZER, fields.text_analyzer())
    index.register_tokenizer(fields.KEYWORD_ANALYZER, fields.keyword_analyzer())
    writer = index.writer()
    writer.add_document(tantivy.Document(message_id="m1", type="post", text=SECOND_EDIT, sent=micros(0), edited=1))
    writer.commit()
    writer.wait_merging_threads()


def test_anindex_built_before_versions_asks_for_reindex_which_rebuilds_them(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    index_built_before_versions(index_dir)
    with pytest.raises(fields.IndexSchemaMismatch, match="archivist reindex"):
        fields.open_index(index_dir)
    with pytest.raises(fields.IndexSchemaMismatch, match="archivist reindex"):
        search_page(index_dir, parse_query("ACME"))

    # archivist reindex replays the archive in occurrence order: every version comes back.
    assert reindex(index_dir, sorted(the_story(), key=lambda e: e.occurred_at)) == 2
    [hit] = search_page(index_dir, parse_query("ACME")).hits
    assert (hit.text, [v.label for v in hit.matched_versions]) == (SECOND_EDIT, ["original"])


@pytest.mark.parametrize(
    "query",
    [
        "current:ACME",
        'current:"buy now"',
        "current:(buy OR sell) -current:acme*",
        "current:a NEAR/3 b",
        "NOT current:(NOT x)",
        "is:edited is:deleted ACME",
        '"current:x" current:"is:edited"',
        "CURRENT:x IS:Deleted",
    ],
)
def test_the_new_syntax_prints_back_to_the_same_tree(query: str) -> None:
    node = parse_query(query)
    assert parse_query(to_query(node)) == node


def test_the_new_syntax_parses_as_documented() -> None:
    assert parse_query("current:ACME") == Current(Term("ACME"))
    assert parse_query("current:(a OR b) c") == And((Current(Or((Term("a"), Term("b")))), Term("c")))
    assert parse_query("IS:Edited") == Filter("is", "edited")
    assert parse_query('"current:x"') == Term("current:x")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("is:edit", "did you mean is:edited?"),
        ("is:delete", "did you mean is:deleted?"),
        ("is:current x", "current:word searches only the current text"),
        ("is:bold", "is: knows is:edited and is:deleted"),
        ("current: ACME", "right after it, as in current:ACME"),
        ("current:", "right after it, as in current:ACME"),
        ("current:-ACME", "right after it, as in current:ACME"),
    ],
)
def test_the_new_syntax_explains_its_mistakes(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as refused:
        parse_query(query)
    assert message in refused.value.message
