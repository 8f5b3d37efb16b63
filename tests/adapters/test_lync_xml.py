"""The Lync Persistent Chat compliance XML: format details, the XSD, atomic files."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import xml_adapter
from adapters.file_ledger import LEDGER_DIR
from adapters.xml_adapter import LyncXmlAdapter
from formats.lync_xml import conversations_document, dotnet_ticks, iso_seven_digits, render, serialise, since1970
from formats.xml_text import unescape_xml_text
from ingest.events import Event, parse_event
from ingest.simulate import simulate_events
from tests.factories import post, posts

XSD_PATH = Path(__file__).resolve().parents[2] / "adapters" / "schemas" / "lync_compliance.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD_PATH)))
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
FILE = {"name": "0988239a-bb66-4616-90a4-b07771a2097c.txt", "size": 10, "sha256": "c" * 64}


def delivered(directory: Path) -> list[Path]:
    """What a vendor's pickup sees in ``directory``: everything but the adapter's ledger folder."""
    return sorted(path for path in directory.iterdir() if path.name != LEDGER_DIR)


def event(kind: str, second: int, room: str = "room:ubuntu", actor: str = "kazuto", **fields: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
            "room": {"id": room, "name": "#" + room.split(":")[1], "kind": "room"},
            "actor": {"id": f"user:{actor}", "name": actor, "email": f"{actor}@example.com"},
            "source": {"server": "example.com"},
            **fields,
        }
    )


def validate(path: Path) -> etree._ElementTree:
    document = etree.parse(str(path))
    SCHEMA.assertValid(document)
    return document


def test_times_are_written_three_ways() -> None:
    moment = datetime(2008, 6, 4, 20, 15, 40, 953548, tzinfo=UTC)
    assert since1970(moment) == 1212610540953
    assert iso_seven_digits(moment) == "2008-06-04T20:15:40.9535480Z"
    assert dotnet_ticks(moment) == 633482073409535480
    assert dotnet_ticks(datetime(1970, 1, 1, tzinfo=UTC)) == 621355968000000000


def test_one_conversation_per_room_with_every_message_type(tmp_path: Path) -> None:
    batch = [
        event("join", 0),
        event("post", 1, message={"id": "m1", "text": "hello"}),
        event("join", 2, room="room:linux", actor="bob"),
        event("read", 3, read={"message_id": "m1"}),
        event("file_upload", 4, file=FILE),
        event("file_download", 5, actor="bob", room="room:linux", file=FILE),
        event("edit", 6, message={"id": "m1", "text": "not in this format"}),
        event("leave", 7),
    ]
    adapter = LyncXmlAdapter(tmp_path)
    assert adapter.write(batch) == [None] * len(batch)
    (path,) = tmp_path.glob("*.xml")
    document = validate(path)
    conversations = document.findall("Conversation")
    assert [c.find("Channel").get("name") for c in conversations] == ["#ubuntu", "#linux"]  # type: ignore[union-attr]
    ubuntu = [(m.get("type"), m.get("content")) for m in conversations[0].iterfind("Messages/Message")]
    assert ubuntu == [
        ("JOIN", ""),
        ("CHAT", "hello"),
        ("BACKCHAT", ""),
        ("FILEUPLOAD", FILE["name"]),
        ("PART", ""),
    ]
    first = conversations[0].find("FirstMessage")
    assert first is not None
    assert first.get("type") == "JOIN"
    assert conversations[0].find("StartTimeUTC").get("since1970") == str(since1970(T0))  # type: ignore[union-attr]
    assert conversations[0].find("EndTimeUTC").get("string") == iso_seven_digits(T0 + timedelta(seconds=7))  # type: ignore[union-attr]


def test_senders_keep_one_number_across_files(tmp_path: Path) -> None:
    first = LyncXmlAdapter(tmp_path / "a")
    second = LyncXmlAdapter(tmp_path / "b")
    first.write([event("post", 0, message={"id": "m1", "text": "x"})])
    second.write([event("post", 9, message={"id": "m2", "text": "y"})])
    ids = {validate(p).find(".//Sender").get("id") for p in tmp_path.glob("*/*.xml")}  # type: ignore[union-attr]
    assert len(ids) == 1
    sender = validate(next(tmp_path.glob("a/*.xml"))).find(".//Sender")
    assert sender is not None
    assert (sender.get("UserName"), sender.get("email"), sender.get("internal")) == (
        "kazuto",
        "kazuto@example.com",
        "true",
    )


def test_unicode_survives_and_illegal_characters_are_escaped_reversibly(tmp_path: Path) -> None:
    text = "שלום 😀 é\u0301 \x07bell"
    LyncXmlAdapter(tmp_path).write([post(1, text=text)])
    content = validate(next(tmp_path.glob("*.xml"))).find(".//Message").get("content")  # type: ignore[union-attr]
    assert content == "שלום 😀 é\u0301 \u2407bell"
    assert unescape_xml_text(content or "") == "שלום 😀 é\u0301 \x07bell"


def test_redelivering_a_batch_rewrites_the_same_file_atomically(tmp_path: Path) -> None:
    adapter = LyncXmlAdapter(tmp_path)
    batch = posts(20)
    adapter.write(batch)
    adapter.write(batch)
    assert len(list(delivered(tmp_path))) == 1, "no second file and no temporary leftovers"


def test_file_names_sort_by_time(tmp_path: Path) -> None:
    adapter = LyncXmlAdapter(tmp_path)
    batches = [posts(30)[i : i + 10] for i in (20, 0, 10)]
    for batch in batches:
        adapter.write(batch)
    names = sorted(p.name for p in tmp_path.glob("*.xml"))
    firsts = [validate(tmp_path / n).find(".//StartTimeUTC").get("since1970") for n in names]  # type: ignore[union-attr]
    assert firsts == sorted(firsts, key=lambda value: int(value or 0))
    assert len(names) == 3


def test_batches_without_format_events_write_nothing(tmp_path: Path) -> None:
    assert LyncXmlAdapter(tmp_path).write([event("edit", 0, message={"id": "m", "text": "t"})]) == [None]
    assert list(delivered(tmp_path)) == []


def test_an_unwritable_directory_fails_every_event(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    results = LyncXmlAdapter(blocked).write(posts(3))
    assert all(r is not None and "cannot write" in r.reason for r in results)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_any_text_yields_a_valid_document(texts: list[str]) -> None:
    batch = [post(i, run="hypothesis", text=text) for i, text in enumerate(texts)]
    document = etree.fromstring(serialise(conversations_document(batch)))
    SCHEMA.assertValid(document)
    assert len(document.findall(".//Message")) == len(texts)


HOSTILE = 'quote " amp & lt < gt > tab \t nl \n cr \r nul \x00 bell \x07 \ud800 \ufffe emoji 👍🏽 שלום'


def test_the_written_file_is_the_lxml_document_byte_for_byte() -> None:
    file = {"name": 'a "q" & <b>\t.txt', "size": 10, "sha256": "c" * 64}
    batch = [
        event("join", 0, actor='o"brien & <co>'),
        event("post", 1, message={"id": "m\n1", "text": HOSTILE}),
        event("post", 2, room="room:other", message={"id": "m2", "text": ""}),
        event("file_upload", 3, file=file),
        event("file_download", 4, room="room:other", file=file),
        event("read", 5, read={"message_id": "m2"}),
        event("edit", 6, message={"id": "m2", "text": "not in the format"}),
        event("leave", 7, actor="kazuto"),
        *simulate_events(events=300, rooms=4, users=12, seed=7),
    ]
    assert render(batch) == serialise(conversations_document(batch))
    nothing = [event("edit", 0, message={"id": "m2", "text": "x"})]
    assert render(nothing) == serialise(conversations_document(nothing))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5))
def test_any_text_renders_as_lxml_does(texts: list[str]) -> None:
    batch = [post(i, run="hypothesis", text=text) for i, text in enumerate(texts)]
    assert render(batch) == serialise(conversations_document(batch))


def test_times_render_as_lxml_does_in_any_year() -> None:
    for year in (1, 999, 1969, 2026, 9999):
        moment = datetime(year, 3, 4, 5, 6, 7, 89, tzinfo=UTC)
        batch = [parse_event(post(0).model_dump(mode="json") | {"occurred_at": moment.isoformat()})]
        assert render(batch) == serialise(conversations_document(batch))


def test_a_file_being_written_is_never_visible_as_xml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pickup that takes ``*.xml`` must not see the temporary file, nor one a killed writer left."""
    seen_before_rename: list[list[str]] = []
    real_replace = os.replace

    def replace(source: str, destination: Path) -> None:
        seen_before_rename.append(sorted(p.name for p in tmp_path.glob("*.xml")))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    xml_adapter.write_atomically(tmp_path / "pchat-a.xml", b"<x/>")
    assert seen_before_rename == [[]]
    assert [p.name for p in tmp_path.glob("*.xml")] == ["pchat-a.xml"]
