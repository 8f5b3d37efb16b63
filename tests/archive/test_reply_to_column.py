"""``archive_messages.reply_to``: the platform's reply link, kept by the derived tables (issue 20)."""

from __future__ import annotations

from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from archive.derived import forget_disposed
from archive.schema import archive_messages
from ingest.staging import StagingStore
from tests.threads.chat import say


def reply_column(store: StagingStore) -> dict[str, str | None]:
    c = archive_messages.c
    with store.engine.connect() as connection:
        return {row.message_id: row.reply_to for row in connection.execute(select(c.message_id, c.reply_to))}


def test_a_reply_keeps_the_message_it_answers(store: StagingStore) -> None:
    ArchiveAdapter(store.engine).write([say(1, "q"), say(2, "a", reply_to="m1"), say(2, "a2", kind="edit")])
    assert reply_column(store) == {"m1": None, "m2": "m1"}


def test_a_post_arriving_after_its_edit_still_fills_reply_to(sqlite_store: StagingStore) -> None:
    adapter = ArchiveAdapter(sqlite_store.engine)
    adapter.write([say(3, "edited first", kind="edit")])
    adapter.write([say(2, "the post", reply_to="m1", message_id="m3")])
    assert reply_column(sqlite_store) == {"m3": "m1"}


def test_disposal_of_the_post_forgets_the_row(sqlite_store: StagingStore) -> None:
    post = say(2, "a", reply_to="m1")
    ArchiveAdapter(sqlite_store.engine).write([post])
    with sqlite_store.engine.begin() as connection:
        forget_disposed(connection, [str(post.event_id)])
    assert reply_column(sqlite_store) == {}
