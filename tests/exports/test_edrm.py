"""EDRM XML 1.2: the load file is valid against our subset schema and points at transcripts
whose sizes and hashes match."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from lxml import etree

from exports.base import ExportContext, MemoryExportFiles
from exports.edrm import LOAD_FILE, EdrmFormat, room_slug
from ingest.events import Event

XSD_PATH = Path(__file__).resolve().parents[2] / "exports" / "schemas" / "edrm-1.2-subset.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD_PATH)))


def export(events: list[Event], context: ExportContext) -> tuple[MemoryExportFiles, etree._Element, list[str]]:
    files = MemoryExportFiles()
    report = EdrmFormat().write(iter(events), files, context)
    assert report.events == len(events)
    assert [(f.path, f.sha256) for f in report.files] == [(f.path, f.sha256) for f in files.written]
    assert files.written[-1].path == LOAD_FILE
    root = etree.fromstring(files.contents[LOAD_FILE])
    SCHEMA.assertValid(root)
    assert report.items == len(root.findall("Batch/Documents/Document"))
    return files, root, report.warnings


def tags(document: etree._Element) -> dict[str, tuple[str, str]]:
    return {t.get("TagName", ""): (t.get("TagValue", ""), t.get("TagDataType", "")) for t in document.iter("Tag")}


def transcript(files: MemoryExportFiles, document: etree._Element) -> str:
    external = document.find("Files/File/ExternalFile")
    assert external is not None
    data = files.contents[f"{external.get('FilePath')}/{external.get('FileName')}"]
    assert int(external.get("FileSize", "-1")) == len(data)
    assert external.get("Hash") == hashlib.sha256(data).hexdigest()
    assert tags(document)["MD5Hash"][0] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert tags(document)["SHA1Hash"][0] == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return data.decode("utf-8")


def test_one_document_per_conversation_day(varied_events: list[Event], export_context: ExportContext) -> None:
    _, root, warnings = export(varied_events, export_context)
    assert root.get("MajorVersion") == "1"
    assert root.get("MinorVersion") == "2"
    assert root.get("DataInterchangeType") == "Update"
    assert "Matter 42 — Müller v. שלום" in root.get("Description", "")
    documents = root.findall("Batch/Documents/Document")
    assert [d.get("DocID") for d in documents] == ["5F0C6F3E-D000001", "5F0C6F3E-D000002", "5F0C6F3E-D000003"]
    assert {d.get("DocType") for d in documents} == {"Message"}
    im, trading_1, trading_2 = (tags(d) for d in documents)
    assert trading_2["BeginDate"] == ("2026-11-23T09:00:00.123456Z", "DateTime")
    assert im["RoomId"] == ("im:1:2", "Text")
    assert trading_1["RoomName"] == ("#trading-desk", "Text")
    assert trading_1["BeginDate"] == ("2026-11-22T09:00:00.123456Z", "DateTime")
    assert trading_1["EndDate"] == ("2026-11-22T09:00:38.123456Z", "DateTime")
    assert trading_1["MessageCount"] == ("7", "Integer")
    assert trading_1["EditCount"] == ("2", "Integer")
    assert trading_1["DeletionCount"] == ("1", "Integer")
    assert trading_1["FileCount"] == ("2", "Integer")
    assert trading_1["EventCount"] == ("19", "Integer")
    assert trading_1["ParticipantCount"] == ("3", "Integer")
    assert "Dana Levi דנה <user:0>" in trading_1["Participants"][0]
    custodians = [c.text for c in documents[1].iter("Custodian")]
    assert custodians == ["Dana Levi דנה", "Zoë Müller", "user:2"]
    assert {u.text for u in documents[1].iter("LocationURI")} == {"ma-chan://pchat01.example.com/room:trading"}
    assert [f.get("FileType") for f in documents[1].iter("File")] == ["Native", "Text"]
    relationships = root.findall("Batch/Relationships/Relationship")
    assert [(r.get("Type"), r.get("ParentDocId"), r.get("ChildDocId")) for r in relationships] == [
        ("Thread", "5F0C6F3E-D000002", "5F0C6F3E-D000003")
    ]
    assert warnings == [
        "1 file events have no URL: the archive holds only the file's metadata (events "
        f"{next(str(e.event_id) for e in varied_events if e.type == 'file_download')})"
    ]


def test_transcripts_mark_edits_deletions_and_everything_else(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    files, root, _ = export(varied_events, export_context)
    documents = root.findall("Batch/Documents/Document")
    day_one = transcript(files, documents[1])
    assert f"text/{room_slug('room:trading')}/2026-11-22.txt" in files.contents
    assert day_one.startswith("#trading-desk (room room:trading)\n2026-11-22, times in UTC\n")
    # Issue 17 finding 6: people as the name of the moment and the id (an id alone when the event
    # has no name), on every line alike.
    for expected in (
        "09:00:10.123    Zoë Müller (user:1) [msg:0]: שלום עולם, מה שלומך?",
        "user:2 [msg:1]: launch 🚀🔥 done 👍🏽",
        # Issue 17: the text exactly, continuation lines indented (a CR stays a CR).
        "[msg:2]: line one\n                line two\r\n                line three\rline four\n",
        "EDITED [msg:0] (version 2): שלום! edited once",
        "EDITED [msg:0] (version 3): edited twice\n                with a newline",
        "DELETED [msg:1]",
        "* Zoë Müller (user:1) joined",
        "* user:2 left",
        "read [msg:2]",
        "read the room's history",
        "uploaded file 'Q3 forecast ®.xlsx' (12345 bytes, application/vnd, sha256 " + "a" * 64,
        "https://files.example.com/q3)",
        "downloaded file 'Q3 forecast ®.xlsx'",
        "no URL recorded",
        "disclaimer shown to user:2 (rec v2, he-IL): השיחה מוקלטת",
        "policy decision for Zoë Müller (user:1): deny room_post (mode block; walls w1; targets user:9)",
        "created the room: name '#trading-desk'",
        "þorn þ, DC4 \x14 here, Registered®",
    ):
        assert expected in day_one, expected
    day_two = transcript(files, documents[2])
    assert "EDITED [msg:0] (version 4): edited a third time" in day_two


def test_real_irc_logs_and_simulated_traffic(
    irc_events: list[Event], simulated_events: list[Event], export_context: ExportContext
) -> None:
    for events in (irc_events, simulated_events):
        files, root, _ = export(events, export_context)
        documents = root.findall("Batch/Documents/Document")
        assert len(documents) == len({(e.room.id, e.occurred_at.date()) for e in events})
        assert sum(int(tags(d)["EventCount"][0]) for d in documents) == len(events)
        for document in documents:
            text = transcript(files, document)
            assert text.count("\n") >= int(tags(document)["EventCount"][0])
        assert len(files.contents) == len(documents) + 1


def test_no_events_is_a_valid_empty_load_file(export_context: ExportContext) -> None:
    files, root, _ = export([], export_context)
    assert list(files.contents) == [LOAD_FILE]
    assert root.findall("Batch/Documents/Document") == []


def test_events_out_of_export_order_are_refused(varied_events: list[Event], export_context: ExportContext) -> None:
    with pytest.raises(ValueError, match="not in export order"):
        EdrmFormat().write(reversed(varied_events), MemoryExportFiles(), export_context)


def test_room_slugs_are_safe_and_distinct() -> None:
    assert room_slug("room:ubuntu").startswith("room-ubuntu-")
    assert room_slug("room:a b") != room_slug("room:a-b")
    assert room_slug("../..").startswith("room-")
    assert "/" not in room_slug("a/b\\c")
