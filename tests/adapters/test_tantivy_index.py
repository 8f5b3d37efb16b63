"""The ``index`` adapter: the embedded Tantivy index, read back the way the search API reads it."""

from __future__ import annotations

import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tantivy
from sqlalchemy import create_engine

from adapters import index_adapter
from adapters.base import AdapterContext, BatchFailed, Failure
from adapters.index_adapter import IndexedMessage, IndexLocked, ReindexFailed, TantivyIndexAdapter, create, reindex
from ingest.events import Event, parse_event
from search import tantivy_schema as fields
from tests.factories import post, posts

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ALL = 1_000_000


def event(kind: str, seconds: float, actor: str = "alice", **type_fields: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=seconds)).isoformat(),
            "room": {"id": "room:desk", "name": "#desk", "kind": "room"},
            "actor": {"id": f"user:{actor}", "name": actor.title()},
            **type_fields,
        }
    )


def say(message_id: str, text: str, seconds: float = 0, actor: str = "alice") -> Event:
    return event("post", seconds, actor, message={"id": message_id, "text": text})


def edit(message_id: str, text: str, seconds: float) -> Event:
    return event("edit", seconds, message={"id": message_id, "text": text})


def delete(message_id: str, seconds: float) -> Event:
    return event("delete", seconds, message={"id": message_id})


def upload(name: str, seconds: float = 0) -> Event:
    file = {"name": name, "size": 1234, "sha256": "ab" * 32, "content_type": "application/pdf"}
    return event("file_upload", seconds, file=file)


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def adapter(index_dir: Path) -> Iterator[TantivyIndexAdapter]:
    adapter = TantivyIndexAdapter(index_dir)
    yield adapter
    adapter.close()


def write_ok(adapter: TantivyIndexAdapter, *batch: Event) -> None:
    assert list(adapter.write(batch)) == [None] * len(batch)


def hits(index_dir: Path, query: tantivy.Query | str, **options: Any) -> list[tantivy.Document]:
    """Documents matching ``query`` (query syntax over ``text`` when a string), from a fresh reader."""
    index = fields.open_index(index_dir)
    if isinstance(query, str):
        query = index.parse_query(query, [fields.TEXT])
    searcher = index.searcher()
    return [searcher.doc(address) for _score, address in searcher.search(query, ALL, **options).hits]


def texts(index_dir: Path, query: tantivy.Query | str) -> list[str]:
    return sorted(fields.exact_text(document) for document in hits(index_dir, query))


def term(field: str, value: object) -> tantivy.Query:
    return tantivy.Query.term_query(fields.build_schema(), field, value)


def the_message(index_dir: Path, message_id: str) -> IndexedMessage:
    [document] = hits(index_dir, term(fields.MESSAGE_ID, message_id))
    return index_adapter.from_document(document)


def document_count(index_dir: Path) -> int:
    return fields.open_index(index_dir).searcher().num_docs


# --- searchable content ------------------------------------------------------------------------


def test_posts_become_searchable_with_what_a_hit_shows(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    batch = posts(3)
    write_ok(adapter, *batch)

    assert document_count(index_dir) == 3
    assert len(hits(index_dir, "number")) == 3
    [hit] = hits(index_dir, "number AND 1")
    assert fields.exact_text(hit) == "message number 1 #test @u1"
    assert hit.get_first(fields.SENDER_NAME) == "u1"
    assert hit.get_first(fields.ROOM_NAME) == "#ubuntu"
    assert hit.get_first(fields.SENT) == fields.micros_since_epoch(batch[1].occurred_at)
    assert hit.get_first(fields.EVENT_ID) == str(batch[1].event_id)
    assert hit.get_first(fields.MESSAGE_ID) == "msg:t:1"
    assert (hit.get_first(fields.DELETED), hit.get_first(fields.VERSIONS), hit.get_first(fields.EDITED)) == (0, 1, 0)


def test_case_and_accents_fold(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Résumé attached")
    write_ok(adapter, say("m1", "Café au lait?"), say("m2", decomposed))

    for query in ("cafe", "CAFÉ", "Café", "café"):
        assert texts(index_dir, query) == ["Café au lait?"], query
    assert texts(index_dir, "resume") == [decomposed]  # returned with its decomposed accents
    assert texts(index_dir, "RÉSUMÉ") == [decomposed]
    assert len(hits(index_dir, term(fields.TEXT, "cafe"))) == 1
    assert fields.text_terms("CAFE\u0301") == ["cafe"]


def test_urls_mentions_and_hashtags_are_findable_exactly(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    text = "@KleeDrac the repo moved to http://gsvn.tigris.org/ (see http://example.org/a_(b)). #Media"
    write_ok(adapter, say("m1", text), say("m2", "media kleedrac http://gsvn.tigris.org/svn"))

    def keyword(field: str, value: str) -> list[str]:
        return texts(index_dir, term(field, fields.fold_keyword(value)))

    assert keyword(fields.URLS, "http://gsvn.tigris.org/") == [text]
    assert keyword(fields.URLS, "http://example.org/a_(b)") == [text]
    assert keyword(fields.URLS, "HTTP://GSVN.TIGRIS.ORG/SVN") == ["media kleedrac http://gsvn.tigris.org/svn"]
    assert keyword(fields.MENTIONS, "kleedrac") == [text]
    assert keyword(fields.HASHTAGS, "media") == [text]
    assert len(hits(index_dir, "kleedrac")) == 2  # the words are in the text too
    prefix = tantivy.Query.regex_query(fields.build_schema(), fields.URLS, r"http://gsvn\.tigris\.org/.*")
    assert len(hits(index_dir, prefix)) == 2


def test_unicode_is_stored_and_returned_exactly(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    said = {
        "emoji": "ship it 🚀🎉 👩🏽‍💻",
        "hebrew": "שָׁלוֹם עולם, מה נשמע?",
        "arabic": "مرحبا بالعالم 🌍",
        "mixed": "Ünïcödé\u200b zero-width and \u202eRTL override",
    }
    write_ok(adapter, *(say(key, text) for key, text in said.items()))

    for key, text in said.items():
        assert the_message(index_dir, key).text == text
    assert texts(index_dir, "עולם") == [said["hebrew"]]
    assert texts(index_dir, "بالعالم") == [said["arabic"]]
    assert texts(index_dir, "ship") == [said["emoji"]]


def test_file_uploads_are_findable_by_name(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    uploaded = upload("Q3 Forecast – Été.pdf", seconds=5)
    write_ok(adapter, uploaded, say("m1", "the forecast is attached"))

    [hit] = hits(index_dir, "forecast AND ete")
    assert hit.get_first(fields.MESSAGE_ID) == f"file:{uploaded.event_id}"
    assert fields.exact_text(hit) == "Q3 Forecast – Été.pdf"
    assert (hit.get_first(fields.HAS_FILE), hit.get_first(fields.TYPE)) == (1, "file_upload")
    assert len(hits(index_dir, term(fields.HAS_FILE, 1))) == 1


def test_other_event_types_succeed_without_documents(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, event("join", 0), event("read", 1, read={}), event("leave", 2))
    assert document_count(index_dir) == 0


# --- idempotency, edits and deletions ------------------------------------------------------------


def test_redelivery_leaves_one_document_per_message(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    batch = posts(50) + [upload("plan.pdf")]
    write_ok(adapter, *batch)
    write_ok(adapter, *batch)
    write_ok(adapter, *batch[10:20], *batch[10:20])  # duplicates within one batch too

    assert document_count(index_dir) == 51
    assert len(hits(index_dir, term(fields.MESSAGE_ID, "msg:t:7"))) == 1


def test_an_edit_replaces_the_text_and_adds_a_version(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, say("m1", "meet at the harbour"))
    write_ok(adapter, edit("m1", "meet at the station", seconds=60))

    assert hits(index_dir, "harbour") == []
    assert texts(index_dir, "station") == ["meet at the station"]
    message = the_message(index_dir, "m1")
    assert (message.versions, message.edited, message.deleted) == (2, True, False)
    assert message.sender_id == "user:alice"
    assert message.sent == fields.micros_since_epoch(T0)  # still sorted by when it was said


def test_an_older_edit_delivered_late_does_not_win(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    first, second = edit("m1", "second draft", seconds=10), edit("m1", "final wording", seconds=20)
    original = say("m1", "first draft")
    write_ok(adapter, original, second)
    write_ok(adapter, first)
    write_ok(adapter, first, second, original)  # re-deliveries change nothing

    assert texts(index_dir, "wording") == ["final wording"]
    assert hits(index_dir, "draft") == []
    message = the_message(index_dir, "m1")
    assert message.versions == 3  # the late edit is still a version the message had
    assert message.text_updated == fields.micros_since_epoch(second.occurred_at)


def test_an_edit_before_its_post_creates_the_message(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    original = say("m1", "typo in here", seconds=0)
    write_ok(adapter, edit("m1", "no typo", seconds=30))
    assert texts(index_dir, "typo") == ["no typo"]

    write_ok(adapter, original)
    message = the_message(index_dir, "m1")
    assert (message.text, message.versions) == ("no typo", 2)
    assert (message.event_id, message.sent) == (str(original.event_id), fields.micros_since_epoch(T0))


def test_deletion_keeps_the_document_flagged(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, say("m1", "insider tip"), say("m2", "lunch?"))
    write_ok(adapter, delete("m1", seconds=5))
    write_ok(adapter, say("m1", "insider tip"))  # a re-delivered post does not undelete

    assert texts(index_dir, "insider") == ["insider tip"]
    assert the_message(index_dir, "m1").deleted
    deleted = hits(index_dir, term(fields.DELETED, 1))
    assert [d.get_first(fields.MESSAGE_ID) for d in deleted] == ["m1"]
    assert document_count(index_dir) == 2


def test_a_delete_before_its_post_stays_deleted(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, delete("m1", seconds=5))
    assert the_message(index_dir, "m1").sender_id == ""  # the deleter may not be the author

    write_ok(adapter, say("m1", "gone soon", actor="bob"))
    message = the_message(index_dir, "m1")
    assert (message.text, message.sender_id, message.deleted) == ("gone soon", "user:bob", True)


def test_a_whole_conversation_in_one_batch(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(
        adapter,
        say("m1", "alpha", 0),
        edit("m1", "beta", 1),
        say("m2", "gamma", 2),
        edit("m1", "delta", 3),
        delete("m2", 4),
    )
    assert texts(index_dir, "delta") == ["delta"]
    assert (the_message(index_dir, "m1").versions, the_message(index_dir, "m2").deleted) == (3, True)
    assert document_count(index_dir) == 2


# --- time ------------------------------------------------------------------------------------


def test_time_range_and_time_order(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, *(say(f"m{minute}", f"tick {minute}", seconds=minute * 60) for minute in (3, 0, 4, 1, 2)))
    schema = fields.build_schema()

    def micros(minute: int) -> int:
        return fields.micros_since_epoch(T0 + timedelta(minutes=minute))

    window = tantivy.Query.range_query(schema, fields.SENT, tantivy.FieldType.Integer, micros(1), micros(3))
    assert texts(index_dir, window) == ["tick 1", "tick 2", "tick 3"]
    in_window = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, window), (tantivy.Occur.MustNot, term(fields.MESSAGE_ID, "m2"))]
    )
    assert texts(index_dir, in_window) == ["tick 1", "tick 3"]

    oldest_first = hits(index_dir, "tick", order_by_field=fields.SENT, order=tantivy.Order.Asc)
    assert [fields.exact_text(d) for d in oldest_first] == [f"tick {m}" for m in range(5)]
    newest_first = hits(index_dir, "tick", order_by_field=fields.SENT, order=tantivy.Order.Desc)
    assert [fields.exact_text(d) for d in newest_first] == [f"tick {m}" for m in reversed(range(5))]
    assert fields.from_micros(micros(4)) == T0 + timedelta(minutes=4)


# --- failures and concurrency -----------------------------------------------------------------


def test_a_path_that_is_a_file_fails_every_event(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "index"
    not_a_directory.write_text("oops")
    adapter = TantivyIndexAdapter(not_a_directory)
    results = adapter.write(posts(3))
    adapter.close()

    assert len(results) == 3
    assert all(isinstance(r, Failure) and "cannot be opened" in r.reason for r in results)


def test_a_failing_batch_is_rolled_back_and_the_next_one_succeeds(
    adapter: TantivyIndexAdapter, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    to_document = index_adapter.to_document

    def explode_on_m3(message: IndexedMessage) -> tantivy.Document:
        if message.message_id == "m3":
            raise RuntimeError("disk on fire")
        return to_document(message)

    monkeypatch.setattr(index_adapter, "to_document", explode_on_m3)
    with pytest.raises(BatchFailed) as raised:
        adapter.write([say("m1", "one"), say("m2", "two"), say("m3", "three")])
    assert raised.value.failure.reason == "index write failed: RuntimeError: disk on fire"

    monkeypatch.setattr(index_adapter, "to_document", to_document)
    write_ok(adapter, say("m4", "four"))
    assert texts(index_dir, "one OR two OR three OR four") == ["four"]  # nothing of the failed batch


def test_a_closed_adapter_fails_every_event(index_dir: Path) -> None:
    adapter = TantivyIndexAdapter(index_dir)
    write_ok(adapter, post(1))
    adapter.close()
    results = adapter.write(posts(2))
    assert [r.reason if r else None for r in results] == ["index adapter is closed"] * 2


def test_a_locked_index_fails_with_a_clear_reason_until_released(index_dir: Path) -> None:
    other_writer = fields.open_index(index_dir).writer()
    adapter = TantivyIndexAdapter(index_dir)
    try:
        results = adapter.write(posts(2))
        assert all(isinstance(r, Failure) and "index is locked by another process" in r.reason for r in results)

        other_writer.wait_merging_threads()  # the other writer lets go
        write_ok(adapter, *posts(2))
    finally:
        adapter.close()
    assert document_count(index_dir) == 2


def test_the_lock_holds_across_processes(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, post(1))  # this process now holds the writer
    probe = (
        "import sys; from pathlib import Path\n"
        "from adapters.index_adapter import TantivyIndexAdapter\n"
        "from tests.factories import posts\n"
        "other = TantivyIndexAdapter(Path(sys.argv[1]))\n"
        "print(other.write(posts(1))[0].reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(index_dir)], capture_output=True, text=True, check=True, timeout=60
    )
    assert "index is locked by another process" in done.stdout


def test_adapters_that_do_not_hold_the_writer_take_turns(index_dir: Path) -> None:
    first = TantivyIndexAdapter(index_dir, hold_writer=False)
    second = TantivyIndexAdapter(index_dir, hold_writer=False)
    try:
        write_ok(first, say("m1", "from the first"))
        write_ok(second, say("m2", "from the second"), edit("m1", "edited by the second", 9))
        write_ok(first, delete("m2", 10))
    finally:
        first.close()
        second.close()
    assert the_message(index_dir, "m1").text == "edited by the second"
    assert the_message(index_dir, "m2").deleted


def test_create_uses_the_data_directory(tmp_path: Path) -> None:
    context = AdapterContext(engine=create_engine("sqlite://"), data_dir=tmp_path)
    adapter = create(context)
    try:
        assert (adapter.name, adapter.index_dir, adapter.hold_writer) == ("index", tmp_path / "index", True)
        write_ok(adapter, post(1))
    finally:
        adapter.close()
    assert document_count(tmp_path / "index") == 1
    shared = create(AdapterContext(create_engine("sqlite://"), tmp_path, options={"index_hold_writer": "false"}))
    assert not shared.hold_writer


# --- rebuilding and volume -----------------------------------------------------------------------


def test_reindex_rebuilds_from_scratch(index_dir: Path) -> None:
    adapter = TantivyIndexAdapter(index_dir)
    write_ok(adapter, say("stale", "only in the old index"))
    adapter.close()

    events = [*posts(25), edit("msg:t:3", "rewritten", 60), delete("msg:t:4", 61), upload("a.txt")]
    assert reindex(index_dir, events, batch_size=7) == 26

    assert hits(index_dir, "old") == []
    assert texts(index_dir, "rewritten") == ["rewritten"]
    assert the_message(index_dir, "msg:t:4").deleted
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["index"]  # nothing left beside it


def test_reindex_replaces_an_index_built_with_another_schema(index_dir: Path) -> None:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("body", stored=True)
    index_dir.mkdir()
    tantivy.Index(builder.build(), path=str(index_dir))
    assert all(
        isinstance(r, Failure) and "archivist reindex" in r.reason
        for r in TantivyIndexAdapter(index_dir).write(posts(1))
    )
    with pytest.raises(fields.IndexSchemaMismatch):
        fields.open_index(index_dir)

    assert reindex(index_dir, posts(4)) == 4
    assert len(hits(index_dir, "number")) == 4


def test_an_index_of_the_old_text_analyzer_must_be_reindexed(index_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17: CJK, emoji, Arabic and Hebrew need the new analyzer; an old index says so."""
    with monkeypatch.context() as old:
        old.setattr(fields, "TEXT_ANALYZER", "archivist_text")
        index_dir.mkdir()
        tantivy.Index(fields.build_schema(), path=str(index_dir))
    with pytest.raises(fields.IndexSchemaMismatch, match=r"text analyzer of before.*archivist reindex"):
        fields.open_index(index_dir)
    assert reindex(index_dir, [post(1, text="東京の取引について確認してください")]) == 1
    assert len(hits(index_dir, "取引")) == 1


def test_reindex_does_not_replace_what_is_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "notes.txt").write_text("mine")
    with pytest.raises(ReindexFailed, match="no index"):
        reindex(tmp_path / "index", posts(1))
    (tmp_path / "file").write_text("mine")
    with pytest.raises(NotADirectoryError):
        reindex(tmp_path / "file", posts(1))
    assert (tmp_path / "index" / "notes.txt").read_text() == (tmp_path / "file").read_text() == "mine"


def test_reindex_refuses_while_a_processor_holds_the_writer(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    write_ok(adapter, post(1))
    with pytest.raises(IndexLocked):
        reindex(index_dir, posts(3))
    assert document_count(index_dir) == 1


def test_ten_thousand_posts(adapter: TantivyIndexAdapter, index_dir: Path) -> None:
    batch = posts(10_000, run="volume")
    started = time.perf_counter()
    write_ok(adapter, *batch)
    elapsed = time.perf_counter() - started
    print(f"\nindexed {len(batch)} posts in {elapsed:.2f} s: {len(batch) / elapsed:,.0f} posts/s")  # noqa: T201

    assert document_count(index_dir) == 10_000
    assert len(hits(index_dir, term(fields.MENTIONS, "u3"))) == 2_000
    started = time.perf_counter()
    write_ok(adapter, *batch)  # re-delivery: read back and compared, nothing rewritten
    print(f"re-delivered them in {time.perf_counter() - started:.2f} s")  # noqa: T201
    assert document_count(index_dir) == 10_000
