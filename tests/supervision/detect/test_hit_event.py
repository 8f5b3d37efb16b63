"""The ``supervision_hit`` event: never a chat line in a production, handled by every export
format, described on the time line, and found by ``type:supervision_hit``."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
from lxml import etree
from sqlalchemy import select

from adapters.actiance_adapter import ActianceAdapter
from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from adapters.xml_adapter import LyncXmlAdapter
from archive.schema import archive_people
from exports.base import ExportContext, MemoryExportFiles
from exports.registry import FORMAT_NAMES, export_format
from exports.selection import _CONTEXT_EVENTS, _MESSAGE_EVENTS
from ingest.events import SupervisionHitEvent
from ingest.staging import StagingStore
from search.query_parser import parse_query
from search.request import SearchRequest
from search.results import ArchivePage
from search.service import search
from search_api.web import timeline
from tests.supervision.detect.hit_events import WHEN, hit_event, hit_payload, post_event

CONTEXT = ExportContext(export_id="e1", created_at=WHEN, requested_by="auditor", query="type:post")


def test_every_export_format_takes_a_hit_without_making_it_a_chat_line() -> None:
    events = [post_event("m1", "we guarantee returns"), hit_event("m1"), hit_event("m2", reason="sample")]
    assert isinstance(events[1], SupervisionHitEvent)
    for name in FORMAT_NAMES:
        files = MemoryExportFiles()
        report = export_format(name).write(iter(events), files, CONTEXT)
        assert report.events == len(events), name
        if name == "lync":
            chats = [
                message.get("content")
                for content in files.contents.values()
                for message in etree.fromstring(content).iterfind(".//Messages/Message[@type='CHAT']")
            ]
            assert chats == ["we guarantee returns"]
        if name == "pdf":
            assert len(pypdf.PdfReader(io.BytesIO(files.contents["report.pdf"])).pages) >= 1


def test_productions_never_select_hits() -> None:
    assert "supervision_hit" not in (*_MESSAGE_EVENTS, *_CONTEXT_EVENTS)


def test_the_time_line_labels_and_describes_a_hit() -> None:
    assert timeline.LABELS["supervision_hit"] == "Supervision hit"
    line = timeline.describe("supervision_hit", hit_payload("m1"))
    assert line == "supervision policy Promises (v3) matched message m1: terms guarantee"
    sampled = timeline.describe("supervision_hit", hit_payload("m2", reason="sample"))
    assert sampled == "supervision policy Promises (v3) drew message m2 for review (sampling)"


def test_schema_doc_names_the_hit() -> None:
    schema = (Path(__file__).resolve().parents[3] / "docs" / "event-schema.json").read_text()
    assert "SupervisionHitEvent" in schema


def test_type_supervision_hit_is_found_from_the_archive(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    events = [post_event("m1", "we guarantee returns"), hit_event("m1"), hit_event("m2", reason="sample")]
    assert ArchiveAdapter(engine).write(events) == [None] * 3

    class NoBackend:
        def search(self, request: SearchRequest) -> None:
            raise AssertionError("type:supervision_hit is answered by the archive, not the index")

    page = search(NoBackend(), engine, SearchRequest(parse_query("type:supervision_hit")))  # type: ignore[arg-type]
    assert isinstance(page, ArchivePage)
    assert page.total == 2
    assert [event["event_type"] for event in page.events] == ["supervision_hit", "supervision_hit"]
    assert {str(event["event_id"]) for event in page.events} == {str(e.event_id) for e in events[1:]}
    day = search(NoBackend(), engine, SearchRequest(parse_query("type:supervision_hit sent:2026-11-24")))  # type: ignore[arg-type]
    assert isinstance(day, ArchivePage)
    assert day.total == 0


def test_the_file_adapters_and_the_index_take_a_hit(tmp_path: Path) -> None:
    events = [post_event("m1", "we guarantee returns"), hit_event("m1")]
    lync = LyncXmlAdapter(tmp_path / "xml")
    assert list(lync.write(events)) == [None, None]
    chats = [
        message.get("content")
        for path in (tmp_path / "xml").glob("*.xml")
        for message in etree.parse(str(path)).iterfind(".//Messages/Message[@type='CHAT']")
    ]
    assert chats == ["we guarantee returns"]
    assert list(ActianceAdapter(tmp_path / "actiance").write(events)) == [None, None]
    index = TantivyIndexAdapter(tmp_path / "index")
    assert list(index.write(events)) == [None, None]
    index.close()


def test_the_supervision_actor_is_not_recorded_as_a_person(sqlite_store: StagingStore) -> None:
    engine = sqlite_store.engine
    assert ArchiveAdapter(engine).write([post_event("m1", "we guarantee returns"), hit_event("m1")]) == [None, None]
    with engine.connect() as connection:
        actors = set(connection.execute(select(archive_people.c.actor_id)).scalars())
    assert actors == {"user:ann"}
