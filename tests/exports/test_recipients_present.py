"""The recipients of a direct message are participants in the formats that list them (issue 17,
finding 5): RSMF lists them in the conversation's participants, Actiance enters them with the
first message that names them, though they never wrote."""

from __future__ import annotations

from typing import Any

from ingest.events import Event, parse_event
from tests.exports import test_actiance, test_rsmf

DORA = {"id": "user:dora", "name": "Dora", "email": "dora@example.com"}


def rsmf_direct(kind: str, second: float, actor: str, **fields: Any) -> Event:
    return test_rsmf.event(kind, second, actor, room="im:carl:dora", room_kind="im", **fields)


def test_rsmf_lists_a_recipient_who_never_wrote() -> None:
    events = [rsmf_direct("post", 1, "carl", message={"id": "c1", "text": "z"}, recipients=[DORA])]
    documents, _report = test_rsmf.export(events)
    (direct,) = documents[0].manifest["conversations"]
    assert (direct["type"], direct["participants"]) == ("direct", ["user:dora", "user:carl"])
    assert {p["id"]: p["display"] for p in documents[0].manifest["participants"]}["user:dora"] == "Dora"


def test_actiance_enters_a_recipient_with_the_first_message_that_names_them() -> None:
    payload = test_actiance.event("post", 5, "u19", message={"id": "im1", "text": "call me"}).model_dump(mode="json")
    post = parse_event(payload | {"room": {"id": "im:19:76", "kind": "im"}, "recipients": [DORA]})
    documents, _report = test_actiance.export([post])
    (conversation,) = test_actiance.conversations(documents)
    test_actiance.check_presence_rules(conversation)
    entered = [
        (e.findtext("LoginName"), int(e.findtext("DateTimeUTC") or 0)) for e in conversation.iter("ParticipantEntered")
    ]
    assert entered == [("u19@example.com", test_actiance.at(5)), ("dora@example.com", test_actiance.at(5))]
