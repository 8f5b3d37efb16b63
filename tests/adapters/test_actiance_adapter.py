"""The ``actiance`` adapter: one valid Actiance XML file per batch, atomic, named by time,
idempotent on re-delivery, failures reported per event."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lxml import etree

from adapters.actiance_adapter import ActianceAdapter, create
from adapters.base import Adapter, AdapterContext
from adapters.file_ledger import LEDGER_DIR
from adapters.registry import load_factory
from formats.xml_text import unescape_xml_text
from ingest.db import create_db_engine
from ingest.events import Event, PostEvent, parse_event
from ingest.staging import StagingStore
from tests.factories import post, posts

XSD_PATH = Path(__file__).resolve().parents[2] / "exports" / "schemas" / "actiance.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD_PATH)))
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def delivered(directory: Path) -> list[Path]:
    """What a vendor's pickup sees in ``directory``: everything but the adapter's ledger folder."""
    return sorted(path for path in directory.iterdir() if path.name != LEDGER_DIR)


def event(kind: str, second: int, actor: str = "kazuto", **fields: Any) -> Event:
    return parse_event(
        {
            "schema_version": 1,
            "event_id": str(uuid.uuid4()),
            "type": kind,
            "occurred_at": (T0 + timedelta(seconds=second)).isoformat(),
            "room": {"id": "room:ubuntu", "name": "#ubuntu"},
            "actor": {"id": f"user:{actor}", "name": actor, "email": f"{actor}@example.com"},
            **fields,
        }
    )


def validate(path: Path) -> etree._ElementTree:
    document = etree.parse(str(path))
    SCHEMA.assertValid(document)
    return document


class ActianceHarness:
    """For the adapter contract suite (tests/adapters/test_contract.py)."""

    def __init__(self, store: StagingStore, tmp_path: Path) -> None:
        self.path = tmp_path / "actiance"
        self.blocked = tmp_path / "blocked"
        self.blocked.write_text("a file where the directory should be")

    def adapter(self) -> Adapter:
        return ActianceAdapter(self.path)

    def stored_texts(self) -> list[str]:
        """Each distinct original message once (a re-sent batch rewrites its own file)."""
        seen: dict[str, str] = {}
        for path in sorted(self.path.glob("*.xml")):
            for message in validate(path).iterfind(".//Message"):
                if message.find("UpdatedType") is None:
                    seen[message.findtext("MessageId") or ""] = message.findtext("Content") or ""
        return list(seen.values())

    def broken_adapter(self) -> Adapter:
        return ActianceAdapter(self.blocked)


def test_one_valid_file_per_batch_with_every_element(tmp_path: Path) -> None:
    file = {"name": "a.txt", "size": 1, "sha256": "d" * 64}
    batch = [
        event("join", 0),
        event("post", 1, message={"id": "m1", "text": "hello"}),
        event("edit", 2, message={"id": "m1", "text": "hello!"}),
        event("file_upload", 3, file=file),
        event("read", 4, actor="bob", read={"message_id": "m1"}),
        event("leave", 5),
    ]
    assert ActianceAdapter(tmp_path).write(batch) == [None] * len(batch)
    (path,) = tmp_path.glob("*.xml")
    (conversation,) = validate(path).getroot()
    tags = [child.tag for child in conversation]
    assert tags == [
        "RoomID",
        "StartTimeUTC",
        "ParticipantEntered",  # kazuto's join
        "Message",
        "Message",
        "FileTransferStarted",
        "FileTransferEnded",
        "ParticipantEntered",  # bob, at his read: the first sign of him (not at the start)
        "ParticipantLeft",  # kazuto's leave
        "ParticipantLeft",  # bob, still there at the end
        "EndTimeUTC",
    ]
    assert [m.findtext("Content") for m in conversation.iterfind("Message")] == ["hello", "hello!"]


def test_unicode_survives_and_illegal_characters_are_escaped_reversibly(tmp_path: Path) -> None:
    ActianceAdapter(tmp_path).write([post(1, text="שלום 😀 é\u0301 \x07bell")])
    content = validate(next(tmp_path.glob("*.xml"))).findtext(".//Message/Content")
    assert content == "שלום 😀 é\u0301 \u2407bell"
    assert unescape_xml_text(content or "") == "שלום 😀 é\u0301 \x07bell"


def test_redelivering_a_batch_rewrites_the_same_file_atomically(tmp_path: Path) -> None:
    adapter = ActianceAdapter(tmp_path)
    batch = posts(20)
    adapter.write(batch)
    first = delivered(tmp_path)[0].read_bytes()
    adapter.write(batch)
    assert len(list(delivered(tmp_path))) == 1, "no second file and no temporary leftovers"
    assert delivered(tmp_path)[0].read_bytes() == first


def test_file_names_sort_by_time_and_a_redelivered_event_is_never_written_again(tmp_path: Path) -> None:
    adapter = ActianceAdapter(tmp_path)
    everything = posts(35)
    mixed = everything[0:5] + everything[25:35]  # five old, five old and five new: only the new are written
    for batch in (everything[20:30], everything[0:10], everything[10:20], mixed):
        assert list(adapter.write(batch)) == [None] * len(batch)
    names = sorted(p.name for p in tmp_path.glob("*.xml"))
    assert len(names) == 4
    ids = [m.findtext("MessageId") or "" for n in names for m in validate(tmp_path / n).iterfind(".//Message")]
    assert sorted(ids) == sorted(e.message.id for e in everything if isinstance(e, PostEvent))
    starts = [validate(tmp_path / n).findtext(".//StartTimeUTC") for n in names]
    assert starts == sorted(starts, key=lambda value: int(value or 0))
    assert all(n.startswith("actiance-") for n in names)


def test_batches_without_actiance_elements_write_nothing(tmp_path: Path) -> None:
    shown = {"rule_id": "r", "version": 1, "locale": "en", "text": "t"}
    batch = [event("read", 0, read={}), event("disclaimer", 1, disclaimer=shown)]
    assert ActianceAdapter(tmp_path).write(batch) == [None, None]
    assert list(delivered(tmp_path)) == []


def test_an_unwritable_directory_fails_every_event(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the directory should be")
    results = ActianceAdapter(blocked).write(posts(3))
    assert len(results) == 3
    assert all(r is not None and "cannot write" in r.reason for r in results)


def test_the_factory_writes_under_the_data_dir_and_is_registered(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    adapter = create(AdapterContext(engine=engine, data_dir=tmp_path))
    assert adapter.output_dir == tmp_path / "actiance"
    custom = create(AdapterContext(engine=engine, data_dir=tmp_path, options={"actiance_dir": str(tmp_path / "v")}))
    assert custom.output_dir == tmp_path / "v"
    assert load_factory("actiance") is create
