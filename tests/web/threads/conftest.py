"""A site with threads: a room whose platform gives replies (Slack-like) and a flat room linked
by the model, both through the ``threads`` adapter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from adapters.thread_adapter import ThreadAdapter
from ingest.events import Event
from tests.threads.chat import NamedParent, say
from tests.web.conftest import WebSite, build_site

SLACK = "room:slack"


def thread_events() -> list[Event]:
    slack = [
        say(1, "deploy tonight?", room=SLACK, message_id="s1", actor="user:anna", name="Anna"),
        say(2, "lunch at noon?", room=SLACK, message_id="s2", actor="user:carl", name="Carl"),
        say(3, "yes, after 8", room=SLACK, message_id="s3", reply_to="s1", actor="user:bob", name="Bob"),
        say(4, "noon works", room=SLACK, message_id="s4", reply_to="s2", actor="user:dana", name="Dana"),
        say(5, "I'll watch the dashboards", room=SLACK, message_id="s5", reply_to="s3", actor="user:anna", name="Anna"),
    ]
    slack.append(say(60, "a later reply", room=SLACK, message_id="s6", reply_to="s1", actor="user:bob", name="Bob"))
    irc = [say(100 + i, "re i0 me too" if i else "anyone here?", room="room:irc", message_id=f"i{i}") for i in range(3)]
    return slack + irc


@pytest.fixture(scope="module")
def thread_site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    events = thread_events()
    site = build_site(tmp_path_factory.mktemp("threads-web"), events)
    ThreadAdapter(site.services.engine).write([e for e in events if e.room.id == SLACK])
    ThreadAdapter(site.services.engine, NamedParent()).write([e for e in events if e.room.id != SLACK])
    return site


@pytest.fixture
def thread_client(thread_site: WebSite) -> Iterator[TestClient]:
    with TestClient(thread_site.app, follow_redirects=False) as test_client:
        yield test_client
