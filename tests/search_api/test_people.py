"""Issue 17, findings 5 and 6 through the API (FastAPI's client) and both search backends.

5. The recipients of a direct (IM) message are in the conversation from the first message that
   names them: ``members``, ``participant:`` and the conversation page count them before they
   reply.
6. A person is their id: ``from:`` and ``participant:`` find them by id, e-mail or any name they
   ever had; hits and pages show the name of the moment with the id. The query's people are
   found once per search (the answer's list of people reads the search's own resolution), and a
   name that names more than ``service.MAX_PEOPLE`` people is refused (422: use an id).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive import people
from archive.people import Person
from archive.principals import create_token
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.events import Event, parse_event
from ingest.simulate import simulate_events
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search import es_query, service
from search.backends import TantivySearchBackend
from search.query_parser import parse_query
from search.request import SearchRequest
from search_api.app import create_app
from search_api.deps import AppServices
from tests.api_client import api_client, archived_api_client, auth
from tests.api_client import tokens as tokens  # a token per role
from tests.web.conftest import sign_in

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
IM = {"id": "im:ann:bob", "kind": "im"}
ROOM = {"id": "room:desk", "name": "#desk", "kind": "room"}
ANN = {"id": "user:ann", "name": "Ann Archer", "email": "ann@example.com"}
BOB = {"id": "user:bob", "name": "Bob Brown", "email": "bob@example.com"}


def event(serial: int, kind: str, room: dict[str, Any], actor: dict[str, Any], minutes: int, **fields: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid5(NAMESPACE_URL, f"people:{serial}")),
            "type": kind,
            "occurred_at": (T0 + timedelta(minutes=minutes)).isoformat(),
            "room": room,
            "actor": actor,
            **fields,
        }
    )


def conversation() -> list[Event]:
    """Ann writes to Bob twice; Bob answers only the third time. Later Sam Lee and Sam Park are
    both called "Sam" (at different times) in #desk, and Ann is renamed."""
    sam_lee = {"id": "user:sam.lee", "name": "Sam", "email": "sam.lee@example.com"}
    sam_park = {"id": "user:sam.park", "name": "Sam", "email": "sam.park@example.com"}
    return [
        event(1, "post", IM, ANN, 0, message={"id": "m1", "text": "the merger file"}, recipients=[BOB]),
        event(2, "post", IM, ANN, 5, message={"id": "m2", "text": "still there?"}, recipients=[BOB]),
        event(3, "post", IM, BOB, 10, message={"id": "m3", "text": "yes, reading"}, recipients=[ANN]),
        event(4, "join", ROOM, sam_lee, 20),
        event(5, "post", ROOM, sam_lee, 21, message={"id": "m4", "text": "quarterly numbers"}),
        event(6, "post", ROOM, {**sam_lee, "name": "Sam Lee"}, 22, message={"id": "m5", "text": "numbers again"}),
        event(7, "post", ROOM, sam_park, 30, message={"id": "m6", "text": "numbers from Park"}),
        event(8, "post", ROOM, {**ANN, "name": "Ann (NY)"}, 40, message={"id": "m7", "text": "numbers from NY"}),
        event(9, "join", ROOM, sam_park, 25),
    ]


@pytest.fixture
def client(store: StagingStore, tmp_path: Path) -> Iterator[TestClient]:
    with archived_api_client(store, tmp_path / "index", conversation()) as test_client:
        yield test_client


def search(client: TestClient, token: str, query: str) -> dict[str, Any]:
    response = client.post("/api/v1/search", json={"query": query, "size": 100}, headers=auth(token))
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def ids(found: dict[str, Any]) -> list[str]:
    return sorted(hit["message_id"] for hit in found["hits"])


# --- finding 5: recipients are participants ------------------------------------------------


def test_an_im_recipient_is_a_member_from_the_first_message(client: TestClient, tokens: dict[str, str]) -> None:
    at = (T0 + timedelta(minutes=1)).isoformat()
    response = client.get(f"/api/v1/rooms/{IM['id']}/members", params={"at": at}, headers=auth(tokens["legal"]))
    assert response.status_code == 200, response.text
    assert response.json()["members"] == ["user:ann", "user:bob"]
    assert response.json()["names"] == {"user:ann": "Ann Archer", "user:bob": "Bob Brown"}


def test_participant_finds_the_recipients_first_messages(client: TestClient, tokens: dict[str, str]) -> None:
    for query in ("participant:bob", "participant:user:bob", 'participant:"Bob Brown"', "participant:bob@example.com"):
        assert ids(search(client, tokens["legal"], query)) == ["m1", "m2", "m3"], query


def test_the_es_translation_counts_the_recipient_from_the_first_message(store: StagingStore) -> None:
    ArchiveAdapter(store.engine).write(conversation())
    body = es_query.translate(parse_query("participant:bob"), service.memberships_in(store.engine))
    spans = body["bool"]["should"]
    assert {"term": {"room_id": IM["id"]}} in spans[0]["bool"]["filter"]
    assert {"range": {"sent": {"gte": T0.isoformat()}}} in spans[0]["bool"]["filter"]


# --- finding 6: a person is their id ---------------------------------------------------------


def test_from_and_participant_match_any_name_email_or_id(client: TestClient, tokens: dict[str, str]) -> None:
    for query in ('from:"Ann Archer"', 'from:"Ann (NY)"', "from:ann@example.com", "from:user:ann", "from:ann"):
        assert ids(search(client, tokens["legal"], query)) == ["m1", "m2", "m7"], query
    assert ids(search(client, tokens["legal"], 'participant:"Ann (NY)"')) == ["m1", "m2", "m3", "m7"]


def test_hits_show_the_name_of_the_moment_and_the_id(client: TestClient, tokens: dict[str, str]) -> None:
    hits = {hit["message_id"]: hit for hit in search(client, tokens["legal"], "from:user:ann")["hits"]}
    assert (hits["m1"]["actor"], hits["m1"]["actor_name"]) == ("user:ann", "Ann Archer")
    assert (hits["m7"]["actor"], hits["m7"]["actor_name"]) == ("user:ann", "Ann (NY)")


def test_the_context_api_names_each_sender_as_they_were_called_then(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get("/api/v1/messages/m5/context", params={"n": 5}, headers=auth(tokens["legal"]))
    assert response.status_code == 200, response.text
    lines = {line["message_id"]: (line["actor_id"], line["actor_name"]) for line in response.json()}
    assert lines["m4"] == ("user:sam.lee", "Sam")
    assert lines["m5"] == ("user:sam.lee", "Sam Lee")
    assert lines["m7"] == ("user:ann", "Ann (NY)")


def test_an_ambiguous_name_matches_everyone_who_had_it_and_says_so(client: TestClient, tokens: dict[str, str]) -> None:
    found = search(client, tokens["legal"], "from:Sam")
    assert ids(found) == ["m4", "m5", "m6"]
    assert found["people"] == [
        {
            "field": "from",
            "value": "Sam",
            "people": [
                {"id": "user:sam.lee", "names": ["Sam", "Sam Lee"]},
                {"id": "user:sam.park", "names": ["Sam"]},
            ],
        }
    ]


def test_the_es_translation_matches_every_id_a_name_had(store: StagingStore) -> None:
    ArchiveAdapter(store.engine).write(conversation())
    body = es_query.translate(service.resolve_people(store.engine, parse_query('from:"Ann (NY)"')))
    keys = {key for clause in body["bool"]["should"] for key in clause["terms"]["sender_keys"]}
    assert "user:ann" in keys


def test_the_conversation_page_names_people_with_their_ids(
    store: StagingStore, tmp_path: Path, tokens: dict[str, str]
) -> None:
    ArchiveAdapter(store.engine).write(conversation())
    services = AppServices(engine=store.engine, index_dir=tmp_path / "index", sink=StagingSink(store))
    with TestClient(create_app(services), follow_redirects=False) as client:
        sign_in(client, tokens["legal"])
        page = client.get("/conversation", params={"message": "m1"})
        assert page.status_code == 200, page.text
        text = page.text
        desk = client.get("/conversation", params={"message": "m5"}).text
    members = text.split('aria-label="Who was there"')[1]
    assert "Bob Brown (user:bob)" in members, "the recipient is in the room from the first message"
    assert "Ann Archer (user:ann)" in text
    assert "Sam Lee (user:sam.lee)" in desk  # the message line
    assert "Sam (user:sam.park) joined" in desk  # the join line, the same way


# --- the demo data: Alice's 105 messages -----------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Event], Path, Path]:
    root = tmp_path_factory.mktemp("people-demo")
    engine = create_db_engine(f"sqlite:///{root / 'archive.sqlite3'}")
    upgrade(engine)
    events = list(simulate_events(events=20_000, rooms=12, users=80, seed=2026))
    adapter = ArchiveAdapter(engine)
    for start in range(0, len(events), 2000):
        adapter.write(events[start : start + 2000])
    index = TantivyIndexAdapter(root / "index")
    index.write(events)
    index.close()
    engine.dispose()
    return events, root / "archive.sqlite3", root / "index"


def test_from_a_former_name_finds_every_message_of_the_person(demo: tuple[list[Event], Path, Path]) -> None:
    events, database, index = demo
    store = StagingStore(create_db_engine(f"sqlite:///{database}"))
    hers = sorted(e.message.id for e in events if e.type == "post" and e.actor.id == "user:alice.smith")
    named = [
        e for e in events if e.type == "post" and e.actor.id == "user:alice.smith" and e.actor.name == "Alice Smith"
    ]
    assert 0 < len(named) < len(hers), "the simulated Alice is renamed (the demo: 29 of 105)"
    legal = {"Authorization": f"Bearer {_token(store)}"}
    with api_client(store, index) as client:
        for query in ('from:"Alice Smith"', "from:user:alice.smith", "from:alice.smith@example.com"):
            response = client.post("/api/v1/search", json={"query": query, "size": 1000}, headers=legal)
            assert response.status_code == 200, response.text
            assert sorted(h["message_id"] for h in response.json()["hits"]) == hers, query
        # A nickname others had too ("Alice (NY)"): everyone who was ever called it, and the answer says so.
        called = {e.actor.id for e in events if e.actor.name == "Alice (NY)"}
        assert len(called) > 1
        theirs = sorted(e.message.id for e in events if e.type == "post" and e.actor.id in called)
        response = client.post("/api/v1/search", json={"query": 'from:"Alice (NY)"', "size": 1000}, headers=legal)
        assert sorted(h["message_id"] for h in response.json()["hits"]) == theirs
        assert {p["id"] for p in response.json()["people"][0]["people"]} == called


def _token(store: StagingStore) -> str:
    return create_token(store.engine, "legal", "people test")


def test_simulated_im_posts_name_their_recipients(demo: tuple[list[Event], Path, Path]) -> None:
    events = demo[0]
    direct = [e for e in events if e.type == "post" and e.room.kind == "im"]
    assert direct
    for post in direct:
        recipients = post.recipients or ()
        assert recipients
        assert post.actor.id not in {r.id for r in recipients}


def test_the_search_page_says_a_name_is_ambiguous(store: StagingStore, tmp_path: Path, tokens: dict[str, str]) -> None:
    events = conversation()
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    services = AppServices(engine=store.engine, index_dir=tmp_path / "index", sink=StagingSink(store))
    with TestClient(create_app(services), follow_redirects=False) as client:
        sign_in(client, tokens["legal"])
        page = client.get("/search", params={"q": "from:Sam"})
    assert page.status_code == 200, page.text
    assert "2 people (the name is ambiguous)" in page.text
    assert "Sam, Sam Lee <code>user:sam.lee</code>" in page.text
    assert "Sam Lee (user:sam.lee)" in page.text  # the hit: the name of the moment and the id


# --- one resolution per search, and a bound on how many people a name may be -------------------


def test_the_query_s_people_are_found_once_per_search(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    real_find, real_matching = people.find_people, people.people_matching  # what the search calls

    def counting_find(engine: Engine, value: str, *bound: Any) -> list[Person]:
        asked.append(value)
        return real_find(engine, value, *bound)

    def counting_matching(connection: Connection, value: str, *bound: Any) -> list[Person]:
        asked.append(f"memberships {value}")
        return real_matching(connection, value, *bound)

    monkeypatch.setattr("search.service.find_people", counting_find)
    monkeypatch.setattr("search.memberships.people_matching", counting_matching)
    found = search(client, tokens["legal"], 'from:"Ann (NY)" participant:bob')
    assert ids(found) == ["m1", "m2"]  # Ann's messages Bob was there for (the IM; not #desk)
    assert [(p["field"], p["value"], [person["id"] for person in p["people"]]) for p in found["people"]] == [
        ("from", "Ann (NY)", ["user:ann"]),
        ("participant", "bob", ["user:bob"]),
    ]
    assert sorted(asked) == ["Ann (NY)", "bob"]  # the answer's people are the search's, not asked again


def test_a_lookup_refuses_a_name_naming_more_people_than_its_bound(store: StagingStore) -> None:
    ArchiveAdapter(store.engine).write(conversation())
    assert [p.id for p in service.PeopleLookup(store.engine, at_most=2)("Sam")] == ["user:sam.lee", "user:sam.park"]
    with pytest.raises(service.TooCommonName, match="names more than 1 people"):
        service.PeopleLookup(store.engine, at_most=1)("Sam")


def test_a_name_too_common_is_refused_with_a_422_saying_to_use_an_id(
    client: TestClient, store: StagingStore, tokens: dict[str, str]
) -> None:
    many = [
        event(100 + n, "join", ROOM, {"id": f"user:common{n}", "name": "Common Name"}, 50)
        for n in range(service.MAX_PEOPLE + 1)
    ]
    ArchiveAdapter(store.engine).write(many)
    for query in ('from:"Common Name"', 'participant:"Common Name"', 'merger OR from:"common name"'):
        response = client.post("/api/v1/search", json={"query": query}, headers=auth(tokens["legal"]))
        assert response.status_code == 422, (query, response.text)
        message = str(response.json()["detail"])
        assert f"names more than {service.MAX_PEOPLE:,} people" in message, message
        assert "too common" in message, message
        assert "by their id (user:...) or e-mail address" in message, message
    # An export of such a query is refused when asked for, not failed by its job later.
    order = {"query": 'participant:"Common Name"', "formats": ["jsonl"]}
    response = client.post("/api/v1/exports", json=order, headers=auth(tokens["legal"]))
    assert response.status_code == 422, response.text
    assert "too common" in str(response.json()["detail"]), response.text
    # So is a legal hold on it, when placed; a hold's own resolution is never bounded (a hold
    # keeps everything a name names: see the test below).
    case_id = client.post("/api/v1/cases", json={"name": "Common"}, headers=auth(tokens["legal"])).json()["id"]
    hold = {"reason": "preserve", "scope": {"query": 'from:"Common Name"'}}
    response = client.post(f"/api/v1/cases/{case_id}/holds", json=hold, headers=auth(tokens["legal"]))
    assert response.status_code == 422, response.text
    assert "too common" in str(response.json()["detail"]), response.text
    # One of them by id is still found; a name fewer share is still resolved.
    assert search(client, tokens["legal"], "participant:user:common7")["people"][0]["people"] == [
        {"id": "user:common7", "names": ["Common Name"]}
    ]
    assert ids(search(client, tokens["legal"], "from:Sam")) == ["m4", "m5", "m6"]


def test_a_hold_resolves_a_name_whatever_how_many_people_it_names(store: StagingStore, tmp_path: Path) -> None:
    sams = [
        event(
            200 + n, "post", ROOM, {"id": f"user:sam{n}", "name": "Sam"}, 60 + n, message={"id": f"s{n}", "text": "x"}
        )
        for n in range(service.MAX_PEOPLE + 1)
    ]
    events = conversation() + sams
    ArchiveAdapter(store.engine).write(events)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(events)
    index.close()
    backend = TantivySearchBackend(tmp_path / "index")
    with pytest.raises(service.TooCommonName):
        service.search(backend, store.engine, SearchRequest(parse_query("from:Sam")))
    hits = service.every_message_hit(backend, store.engine, parse_query("from:Sam"))
    assert sorted(hit.message_id for hit in hits) == sorted(["m4", "m5", "m6", *(f"s{n}" for n in range(len(sams)))])
