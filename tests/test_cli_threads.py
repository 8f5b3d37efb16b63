"""``archivist threads rebuild`` (issue 20): the links are derived, so the command rewrites them."""

from __future__ import annotations

from sqlalchemy import select
from typer.testing import CliRunner

from archive.app_schema import audit_log
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from tests.threads.chat import deliver, links, say

runner = CliRunner()


def test_rebuild_rewrites_the_links_and_is_audited() -> None:
    engine = wiring.staging_store(get_settings()).engine
    deliver(engine, [say(1, "q", room="room:slack", message_id="s1"), say(2, "a", room="room:slack", reply_to="s1")])
    deliver(
        engine, [say(3, "hello", message_id="i3"), say(4, "alice: hi", message_id="i4", actor="user:bob", name="bob")]
    )
    before = links(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM archive_thread_links")
    result = runner.invoke(app, ["threads", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "threads rebuilt: 4 messages in 2 rooms (2 from the platform's replies, 2 by the model)" in result.output
    assert links(engine) == before
    with engine.connect() as connection:
        actions = list(connection.execute(select(audit_log.c.action)).scalars())
    assert "threads_rebuild" in actions


def test_rebuild_of_one_room_and_of_an_unknown_room() -> None:
    engine = wiring.staging_store(get_settings()).engine
    deliver(engine, [say(1, "q", room="room:slack", message_id="s1"), say(3, "hello", message_id="i3")])
    result = runner.invoke(app, ["threads", "rebuild", "--room", "room:slack"])
    assert result.exit_code == 0, result.output
    assert "1 messages in 1 rooms" in result.output
    result = runner.invoke(app, ["threads", "rebuild", "--room", "room:nope"])
    assert result.exit_code == 2
    assert "no messages in room 'room:nope'" in result.output
    assert "Traceback" not in result.output


def test_the_demo_links_every_posted_message_with_the_default_adapters() -> None:
    """The threads adapter is among the default adapters (issue 20): the demo's conversations show threads."""
    result = runner.invoke(app, ["demo", "--synthetic-events", "200", "--no-serve"])
    assert result.exit_code == 0, result.output
    engine = wiring.staging_store(get_settings()).engine
    with engine.connect() as connection:
        posted = connection.exec_driver_sql(
            "SELECT count(*) FROM archive_messages WHERE posted_at IS NOT NULL"
        ).scalar()
        linked = connection.exec_driver_sql("SELECT count(*) FROM archive_thread_links").scalar()
        replies = connection.exec_driver_sql(
            "SELECT count(*) FROM archive_thread_links WHERE parent_id IS NOT NULL AND source = 'model'"
        ).scalar()
    assert posted
    assert linked == posted
    assert replies, "the IRC logs' addressed lines are linked by the model"
