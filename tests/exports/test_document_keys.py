"""A document's key names it outside productions: it round-trips and refuses what it is not."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exports.documents import document_key, parse_document_key

_NAMES = st.text(min_size=1, max_size=40)


@given(_NAMES, st.dates())
def test_a_conversation_key_round_trips_even_with_colons_in_the_room(room: str, day: date) -> None:
    assert parse_document_key(document_key("conversation", room, day)) == ("conversation", room, day)


@given(st.sampled_from(["message", "attachment", "upload", "context"]), _NAMES)
def test_a_message_or_attachment_key_round_trips(kind: str, name: str) -> None:
    key = document_key(kind, name)  # type: ignore[arg-type]
    assert parse_document_key(key) == (kind, name, None)


@pytest.mark.parametrize("key", ["", "message:", "conversation:room", "conversation:room:2024-13-01", "thing:x", "x"])
def test_what_is_not_a_key_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="key"):
        parse_document_key(key)


def test_a_conversation_key_needs_its_day() -> None:
    with pytest.raises(ValueError, match="names its day"):
        document_key("conversation", "room")


def test_every_document_of_the_message_unit_has_a_distinct_key() -> None:
    from zoneinfo import ZoneInfo

    from exports.base import export_order
    from exports.documents import Numbering, documents, every_document
    from tests.attachment_events import upload
    from tests.factories import post

    events = sorted([post(1), upload("a.pdf", 5), post(2), upload("b.pdf", 9)], key=export_order)
    made = documents(events, unit="message", numbering=Numbering("K-"), zone=ZoneInfo("UTC"))
    keys = [document.key for document in every_document(made)]
    assert len(keys) == len(set(keys)) == 6
    assert sorted(parse_document_key(key)[0] for key in keys) == ["attachment"] * 2 + ["message"] * 2 + ["upload"] * 2
