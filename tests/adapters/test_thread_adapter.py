"""The ``threads`` adapter (issue 20): explicit replies, reconstructed links in flat rooms,
idempotence, disposal and the rebuild."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from adapters.archive import ArchiveAdapter
from adapters.base import AdapterContext
from adapters.registry import known_adapter_names, load_factory
from adapters.thread_adapter import ThreadAdapter, rebuild
from archive.derived import forget_disposed
from archive.schema import archive_thread_links
from archive.threads import links_of, room_links, thread_of
from disentangle.model import default_disentangler
from ingest.events import Event, event_to_json
from ingest.staging import StagingStore
from tests.threads.chat import NamedParent, all_rows, deliver, links, say


def test_the_adapter_is_registered_as_threads(sqlite_store: StagingStore, tmp_path: Path) -> None:
    assert "threads" in known_adapter_names()
    adapter = load_factory("threads")(AdapterContext(engine=sqlite_store.engine, data_dir=tmp_path))
    assert isinstance(adapter, ThreadAdapter)
    assert adapter.name == "threads"


def test_an_explicit_reply_joins_its_parents_thread(store: StagingStore) -> None:
    room = "room:slack"
    deliver(
        store.engine,
        [
            say(1, "deploy tonight?", room=room),
            say(2, "yes", room=room, reply_to="m1"),
            say(3, "unrelated", room=room),
            say(4, "after 8pm", room=room, reply_to="m2"),
        ],
    )
    assert links(store.engine) == {
        "m1": (None, "m1", "explicit"),
        "m2": ("m1", "m1", "explicit"),
        "m3": (None, "m3", "explicit"),  # a room with replies: a post without one starts a thread
        "m4": ("m2", "m1", "explicit"),
    }
    # A later batch replies into the same thread: the parent's thread is read from the archive.
    deliver(store.engine, [say(5, "ok", room=room, reply_to="m4"), say(6, "new topic", room=room)])
    assert links(store.engine)["m5"] == ("m4", "m1", "explicit")
    assert links(store.engine)["m6"] == (None, "m6", "explicit")


def test_a_reply_to_a_message_not_archived_yet_is_threaded_under_that_message(store: StagingStore) -> None:
    deliver(store.engine, [say(2, "yes", room="room:teams", reply_to="root-later")])
    assert links(store.engine) == {"m2": ("root-later", "root-later", "explicit")}


def test_a_flat_room_is_linked_by_the_model_over_the_archive_and_the_batch(store: StagingStore) -> None:
    model = NamedParent(window=2)
    deliver(store.engine, [say(1, "hello", name="alice"), say(2, "re m1 hi", actor="user:bob", name="bob")], model)
    deliver(
        store.engine,
        [
            say(3, "something else", name="alice"),
            say(4, "re m2 yes", actor="user:carol", name="carol"),
            say(5, "re m1 too far back", name="alice"),
        ],
        model,
    )
    assert links(store.engine) == {
        "m1": (None, "m1", "model"),
        "m2": ("m1", "m1", "model"),
        "m3": (None, "m3", "model"),
        "m4": ("m2", "m1", "model"),  # its parent's thread, read from the archive
        "m5": (None, "m5", "model"),  # m1 is outside the window of two
    }
    history, new = model.calls[-1]
    assert [u.id for u in history] == ["m1", "m2"]  # the archive's last `window` messages, oldest first
    assert [u.author for u in history] == ["alice", "bob"]
    assert [u.id for u in new] == ["m3", "m4", "m5"]
    with store.engine.connect() as connection:
        (row,) = connection.execute(select(archive_thread_links).where(archive_thread_links.c.message_id == "m4"))
    assert (row.model, row.score) == ("named-parent", 0.75)


def test_the_author_is_the_name_the_person_had_when_posting(sqlite_store: StagingStore) -> None:
    model = NamedParent(window=5)
    deliver(sqlite_store.engine, [say(1, "hello", actor="user:7", name="oldnick")], model)
    deliver(sqlite_store.engine, [say(2, "later", actor="user:7", name="newnick")], model)
    history, new = model.calls[-1]
    assert [u.author for u in history] == ["oldnick"]
    assert [u.author for u in new] == ["newnick"]
    deliver(sqlite_store.engine, [say(3, "no name", actor="user:8", name=None)], model)
    assert model.calls[-1][1][0].author == "user:8"  # no display name: the actor id


def test_the_default_model_links_every_post_of_a_flat_room(sqlite_store: StagingStore) -> None:
    batch = [say(i, f"line {i}", actor=f"user:{i % 3}", name=f"nick{i % 3}") for i in range(1, 30)]
    deliver(sqlite_store.engine, batch)
    found = links(sqlite_store.engine)
    assert set(found) == {f"m{i}" for i in range(1, 30)}
    assert {source for _p, _t, source in found.values()} == {"model"}
    with sqlite_store.engine.connect() as connection:
        models = set(connection.execute(select(archive_thread_links.c.model)).scalars())
    assert models == {default_disentangler().name}


def test_the_same_batch_twice_gives_the_same_rows(store: StagingStore) -> None:
    model = NamedParent(window=4)
    first = [say(1, "a"), say(2, "re m1 b", actor="user:bob", name="bob")]
    second = [say(3, "re m2 c"), say(4, "re m3 d", actor="user:bob", name="bob"), say(4, "re m3 d")]
    deliver(store.engine, first, model)
    deliver(store.engine, second, model)
    rows = all_rows(store.engine)
    deliver(store.engine, second, model)
    deliver(store.engine, first + second, model)
    assert all_rows(store.engine) == rows
    assert len(rows) == 4


def test_only_posts_are_linked(sqlite_store: StagingStore) -> None:
    deliver(sqlite_store.engine, [say(1, "a"), say(1, "a edited", kind="edit")])
    assert set(links(sqlite_store.engine)) == {"m1"}


def test_a_failing_database_reports_a_failure_per_event() -> None:
    from ingest.db import create_db_engine

    adapter = ThreadAdapter(create_db_engine("sqlite:////nonexistent-dir/x.sqlite3"))
    results = adapter.write([say(1, "a"), say(2, "b")])
    assert len(results) == 2
    assert all(r is not None and "thread links failed" in r.reason for r in results)


def test_reads_thread_of_room_links_and_links_of(store: StagingStore) -> None:
    room = "room:slack"
    deliver(
        store.engine,
        [say(1, "q", room=room), say(2, "other", room=room), say(3, "a", room=room, reply_to="m1")],
    )
    with store.engine.connect() as connection:
        thread = thread_of(connection, "m3")
        assert thread is not None
        assert [link.message_id for link in thread] == ["m1", "m3"]
        assert thread_of(connection, "nope") is None
        span = room_links(
            connection, room, datetime(2026, 11, 22, 9, 0, 2, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
        )
        assert [link.message_id for link in span] == ["m2", "m3"]
        assert set(links_of(connection, ["m1", "m3", "missing"])) == {"m1", "m3"}


def test_a_disposed_message_loses_its_link_and_its_replies_keep_theirs(sqlite_store: StagingStore) -> None:
    room = "room:slack"
    root, answer = say(1, "q", room=room), say(2, "a", room=room, reply_to="m1")
    deliver(sqlite_store.engine, [root, answer])
    with sqlite_store.engine.begin() as connection:
        forget_disposed(connection, [str(root.event_id)])
    assert links(sqlite_store.engine) == {"m2": ("m1", "m1", "explicit")}


def test_rebuild_gives_the_adapters_links_and_relinks_a_late_message(store: StagingStore) -> None:
    model = NamedParent(window=3)
    deliver(store.engine, [say(1, "a"), say(3, "re m2 c", actor="user:bob", name="bob")], model)
    deliver(store.engine, [say(2, "late b")], model)  # archived after m3, which it answers
    deliver(
        store.engine,
        [
            say(1, "q", room="room:slack", message_id="s1"),
            say(2, "a", room="room:slack", reply_to="s1", message_id="s2"),
        ],
        model,
    )
    assert links(store.engine)["m3"] == (None, "m3", "model")
    report = rebuild(store.engine, NamedParent(window=3), chunk=1)
    assert report.rooms == 2
    assert report.messages == 5
    assert (report.modelled, report.explicit) == (3, 2)
    assert links(store.engine)["m3"] == ("m2", "m2", "model")
    once = all_rows(store.engine)
    rebuild(store.engine, NamedParent(window=3), room_id="room:irc")
    assert all_rows(store.engine) == once


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_rebuild_in_chunks_keeps_the_window_across_chunks(sqlite_store: StagingStore, chunk: int) -> None:
    batch = [say(1, "a"), say(2, "b"), say(3, "re m1 c"), say(4, "re m3 d")]
    deliver(sqlite_store.engine, batch, NamedParent(window=3))
    before = all_rows(sqlite_store.engine)
    rebuild(sqlite_store.engine, NamedParent(window=3), chunk=chunk)
    assert all_rows(sqlite_store.engine) == before
    assert links(sqlite_store.engine)["m4"] == ("m3", "m1", "model")


def deliver_with(adapter: ThreadAdapter, engine: Engine, batch: list[Event]) -> None:
    with engine.begin() as connection:
        ArchiveAdapter(engine).write_in(connection, batch, [event_to_json(e) for e in batch])
        adapter.write_in(connection, batch, ())


def test_one_adapter_keeps_a_rooms_recent_messages_and_sees_what_others_archived_meanwhile(
    store: StagingStore,
) -> None:
    model = NamedParent(window=2)
    adapter = ThreadAdapter(store.engine, model)
    deliver_with(adapter, store.engine, [say(1, "a"), say(2, "b")])
    deliver_with(adapter, store.engine, [say(3, "re m2 c")])
    assert [u.id for u in model.calls[-1][0]] == ["m1", "m2"]
    ArchiveAdapter(store.engine).write([say(4, "archived by another processor")])
    deliver_with(adapter, store.engine, [say(5, "re m4 e")])
    assert [u.id for u in model.calls[-1][0]] == ["m3", "m4"]  # the cache is not used: m4 came between
    assert links(store.engine)["m5"] == ("m4", "m4", "model")
    rows = all_rows(store.engine)
    deliver_with(adapter, store.engine, [say(3, "re m2 c"), say(5, "re m4 e")])  # re-delivered, same adapter
    assert all_rows(store.engine) == rows
    assert [u.text for u in model.calls[-1][0]] == ["a", "b"]


def test_the_history_is_what_was_posted_not_a_later_edit(sqlite_store: StagingStore) -> None:
    model = NamedParent(window=3)
    deliver(sqlite_store.engine, [say(1, "original words")], model)
    ArchiveAdapter(sqlite_store.engine).write([say(2, "edited words", message_id="m1", kind="edit")])
    deliver(sqlite_store.engine, [say(3, "next")], model)
    assert [u.text for u in model.calls[-1][0]] == ["original words"]
