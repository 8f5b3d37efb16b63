"""EDRM XML 1.2: one ``Document`` per document of the production (:mod:`exports.documents`), read
back with lxml: valid against our subset schema, laid out as Nuix's published EDRM 1.2 example,
its DocIDs the control numbers, its custodians the case's, its Native (the archived events, JSON
lines) and Text (the document's text) separate files whose sizes and hashes match, and its
attachments child documents of their message's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree

from exports.base import ExportContext, FormatReport, MemoryExportFiles
from exports.documents import DocumentUnit, Numbering
from exports.edrm import LOAD_FILE, SUMS_FILE, EdrmFormat, room_slug
from exports.jsonl import iso_utc
from exports.transcript import document_text
from ingest.events import Event, PostEvent, ReadEvent, event_to_json, parse_event
from tests.exports.conftest import event_payload

XSD_PATH = Path(__file__).resolve().parents[2] / "exports" / "schemas" / "edrm-1.2-subset.xsd"
SCHEMA = etree.XMLSchema(etree.parse(str(XSD_PATH)))

NUIX_LAYOUT: dict[str, tuple[str, ...]] = {
    "Root": ("MajorVersion", "MinorVersion", "Description", "Locale", "DataInterchangeType"),
    "Root/Batch/Documents/Document": ("DocID", "DocType", "MimeType"),
    "Root/Batch/Documents/Document/Files/File": ("FileType",),
    "Root/Batch/Documents/Document/Files/File/ExternalFile": ("FilePath", "FileName", "Hash", "HashType"),
    "Root/Batch/Documents/Document/Locations/Location": (),
    "Root/Batch/Documents/Document/Locations/Location/Custodian": (),
    "Root/Batch/Documents/Document/Locations/Location/Description": (),
    "Root/Batch/Documents/Document/Locations/Location/LocationURI": (),
    "Root/Batch/Relationships/Relationship": ("Type", "ParentDocId", "ChildDocId"),
}
"""The element paths and attribute names of Nuix's canonical EDRM 1.2 load file,
integration-tests/reference/canonical_edrm.xml of the public repository Nuix/ProServ-NLI-Builder
(https://github.com/Nuix/ProServ-NLI-Builder, commit 1f0cb71beea357e23411c02846e869901ef04044),
encoded here rather than copied (the repository states no licence). Its documents also put
``Files`` before ``Locations``, and a ``Location``'s children in the order Custodian,
Description, LocationURI. Nuix writes fields as ``Fields``/``FieldValues``; EDRM 1.2's own
``Tags/Tag`` (``TagName``, ``TagValue``, ``TagDataType``) are what this export writes instead."""
TAG_LAYOUT: dict[str, tuple[str, ...]] = {
    "Root/Batch": (),
    "Root/Batch/Documents": (),
    "Root/Batch/Documents/Document/Files": (),
    "Root/Batch/Documents/Document/Locations": (),
    "Root/Batch/Documents/Document/Tags": (),
    "Root/Batch/Documents/Document/Tags/Tag": ("TagName", "TagValue", "TagDataType"),
    "Root/Batch/Relationships": (),
}
EXTRA_ATTRIBUTES = {"Root/Batch/Documents/Document/Files/File/ExternalFile": {"FileSize"}}
"""What this export adds to Nuix's attributes: the file's size."""


def layout(root: etree._Element) -> dict[str, set[str]]:
    """Every element path of ``root`` and the attribute names it has there."""
    found: dict[str, set[str]] = {}
    for element in root.iter():
        path = "/".join(
            [str(ancestor.tag) for ancestor in reversed(list(element.iterancestors()))] + [str(element.tag)]
        )
        found.setdefault(path, set()).update(str(name) for name in element.attrib)
    return found


def check_layout(root: etree._Element) -> None:
    for path, attributes in layout(root).items():
        expected = NUIX_LAYOUT.get(path, TAG_LAYOUT.get(path))
        assert expected is not None, f"{path} is not in Nuix's EDRM 1.2 layout"
        assert attributes <= set(expected) | EXTRA_ATTRIBUTES.get(path, set()), path
        if path in NUIX_LAYOUT:
            assert set(expected) <= attributes, f"{path} lacks {set(expected) - attributes}"
    for document in root.iterfind("Batch/Documents/Document"):
        children = [str(child.tag) for child in document]
        assert children.index("Files") < children.index("Locations")
        for location in document.iterfind("Locations/Location"):
            assert [str(child.tag) for child in location] == ["Custodian", "Description", "LocationURI"]


def export(events: list[Event], context: ExportContext) -> tuple[MemoryExportFiles, etree._Element, FormatReport]:
    files = MemoryExportFiles()
    report = EdrmFormat().write(iter(events), files, context)
    assert report.events == len(events)
    written = {path: hashlib.sha256(data).hexdigest() for path, data in files.contents.items() if path != SUMS_FILE}
    assert [(f.path, f.sha256) for f in report.files] == list(written.items())
    # The manifest lists edrm.xml and edrm_files.sha256, which lists every Native and Text file.
    assert [f.path for f in files.written] == [LOAD_FILE, SUMS_FILE]
    listed = dict(line.split("  ")[::-1] for line in files.contents[SUMS_FILE].decode().splitlines())
    assert listed == {path: sha for path, sha in written.items() if path != LOAD_FILE}
    root = etree.fromstring(files.contents[LOAD_FILE])
    SCHEMA.assertValid(root)
    check_layout(root)
    documents = root.findall("Batch/Documents/Document")
    assert report.items == len(documents) == report.documents.documents
    numbering = context.control_numbers
    if documents:
        first = report.documents.first
        assert first is not None
        assert [d.get("DocID") for d in documents] == [numbering.control(first + i) for i in range(len(documents))]
    return files, root, report


def tags(document: etree._Element) -> dict[str, tuple[str, str]]:
    return {t.get("TagName", ""): (t.get("TagValue", ""), t.get("TagDataType", "")) for t in document.iter("Tag")}


def file_of(files: MemoryExportFiles, document: etree._Element, file_type: str) -> bytes:
    (external,) = document.findall(f"Files/File[@FileType='{file_type}']/ExternalFile")
    data = files.contents[f"{external.get('FilePath')}/{external.get('FileName')}"]
    assert int(external.get("FileSize", "-1")) == len(data)
    assert external.get("Hash") == hashlib.sha256(data).hexdigest()
    assert external.get("HashType") == "SHA256"
    return data


def transcript(files: MemoryExportFiles, document: etree._Element) -> str:
    data = file_of(files, document, "Text")
    assert tags(document)["MD5Hash"][0] == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert tags(document)["SHA1Hash"][0] == hashlib.sha1(data, usedforsecurity=False).hexdigest()
    return data.decode("utf-8")


def native_lines(files: MemoryExportFiles, document: etree._Element) -> list[str]:
    return file_of(files, document, "Native").decode("utf-8").splitlines()


def custodians(document: etree._Element) -> list[str | None]:
    return [c.text for c in document.iterfind("Locations/Location/Custodian")]


def test_one_document_per_conversation_slice_numbered_by_control_number(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    _, root, report = export(varied_events, export_context)
    assert root.get("MajorVersion") == "1"
    assert root.get("MinorVersion") == "2"
    assert root.get("DataInterchangeType") == "Update"
    assert "Matter 42 — Müller v. שלום" in root.get("Description", "")
    documents = root.findall("Batch/Documents/Document")
    assert [d.get("DocID") for d in documents] == [f"5F0C6F3E-000000{n}" for n in range(1, 5)]
    assert [d.get("DocType") for d in documents] == ["Message", "Message", "File", "Message"]
    im, trading_1, upload, trading_2 = (tags(d) for d in documents)
    assert trading_2["BeginDate"] == ("2026-11-23T09:00:00.123456Z", "DateTime")
    assert im["RoomId"] == ("im:1:2", "Text")
    assert trading_1["RoomName"] == ("#trading-desk", "Text")
    assert trading_1["BeginDate"] == ("2026-11-22T09:00:00.123456Z", "DateTime")
    assert trading_1["EndDate"] == ("2026-11-22T09:00:38.123456Z", "DateTime")
    assert trading_1["DateSent"] == ("2026-11-22T09:00:10.123456Z", "DateTime")
    assert trading_1["TimeZone"] == ("UTC", "Text")
    assert trading_1["MessageCount"] == ("7", "Integer")
    assert trading_1["EditCount"] == ("2", "Integer")
    assert trading_1["DeletionCount"] == ("1", "Integer")
    assert trading_1["FileCount"] == ("2", "Integer")
    assert trading_1["EventCount"] == ("19", "Integer")
    assert trading_1["ParticipantCount"] == ("3", "Integer")
    assert trading_1["From"] == ("Zoë Müller <user:1>", "Text")
    assert trading_1["To"] == ("Dana Levi דנה <user:0>; user:2 <user:2>", "Text")
    assert "Dana Levi דנה <user:0>" in trading_1["Participants"][0]
    # Family: the room-day and its one shared file.
    assert (trading_1["BegAttach"], trading_1["EndAttach"]) == (
        ("5F0C6F3E-0000002", "Text"),
        ("5F0C6F3E-0000003", "Text"),
    )
    assert (upload["BegAttach"], upload["EndAttach"]) == (("5F0C6F3E-0000002", "Text"), ("5F0C6F3E-0000003", "Text"))
    assert upload["ParentDocId"] == ("5F0C6F3E-0000002", "Text")
    assert upload["NativeState"] == ("not_exported", "Text")
    assert documents[2].findall("Files/File") == []  # no file store: the bytes are not in this export
    # The case's custodians who took part, not every participant.
    assert custodians(documents[1]) == ["Dana Levi דנה (user:0)"]
    assert custodians(documents[2]) == ["Dana Levi דנה (user:0)"]
    assert {u.text for u in documents[1].iter("LocationURI")} == {"ma-chan://pchat01.example.com/room:trading"}
    assert [f.get("FileType") for f in documents[1].iter("File")] == ["Native", "Text"]
    relationships = root.findall("Batch/Relationships/Relationship")
    assert [(r.get("Type"), r.get("ParentDocId"), r.get("ChildDocId")) for r in relationships] == [
        ("Attachment", "5F0C6F3E-0000002", "5F0C6F3E-0000003"),
        ("Thread", "5F0C6F3E-0000002", "5F0C6F3E-0000004"),
    ]
    assert report.warnings == [
        "1 file events have no URL: the archive holds only the file's metadata (events "
        f"{next(str(e.event_id) for e in varied_events if e.type == 'file_download')})"
    ]
    assert (report.documents.first, report.documents.last, report.documents.families) == (1, 4, 3)


def test_native_and_text_are_separate_files_the_text_the_documents_own(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    files, root, _ = export(varied_events, export_context)
    documents = [d for d in root.findall("Batch/Documents/Document") if d.get("DocType") == "Message"]
    parents = list(export_context.documents(varied_events, FormatReport("edrm")))
    assert [d.get("DocID") for d in documents] == [p.control for p in parents]
    for document, parent in zip(documents, parents, strict=True):
        text = transcript(files, document)
        assert text == document_text(parent, export_context.time_zone, export_context.case_name)
        native = native_lines(files, document)
        assert native == [event_to_json(e) for e in parent.events], "the archived events, exactly"
        assert document.get("MimeType") == "application/x-ndjson"
        text_file = document.find("Files/File[@FileType='Text']/ExternalFile")
        native_file = document.find("Files/File[@FileType='Native']/ExternalFile")
        assert text_file is not None
        assert native_file is not None
        assert (text_file.get("FilePath"), text_file.get("FileName")) == ("text", f"{parent.control}.txt")
        assert (native_file.get("FilePath"), native_file.get("FileName")) == ("native", f"{parent.control}.jsonl")
    day_one = transcript(files, documents[1])
    # Issue 17 finding 6: people as the name of the moment and the id, on every line alike.
    for expected in (
        "09:00:10.123    Zoë Müller (user:1) [msg:0]: שלום עולם, מה שלומך?",
        "user:2 [msg:1]: launch 🚀🔥 done 👍🏽",
        "[msg:2]: line one\n                line two\r\n                line three\rline four\n",
        "EDITED [msg:0] (version 2): שלום! edited once",
        "EDITED [msg:0] (version 3): edited twice\n                with a newline",
        "DELETED [msg:1]",
        "* Zoë Müller (user:1) joined",
        "* user:2 left",
        "read [msg:2]",
        "uploaded file 'Q3 forecast ®.xlsx' (12345 bytes, application/vnd, sha256 " + "a" * 64,
        "policy decision for Zoë Müller (user:1): deny room_post (mode block; walls w1; targets user:9)",
        "þorn þ, DC4 \x14 here, Registered®",
    ):
        assert expected in day_one, expected
    assert "EDITED [msg:0] (version 4): edited a third time" in transcript(files, documents[2])


def test_the_archived_json_is_read_back_not_serialised_again(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    archived = {str(e.event_id): f'{{"archived":"{e.event_id}"}}' for e in varied_events}
    context = replace(export_context, archived_json=lambda event: archived[str(event.event_id)])
    files, root, _ = export(varied_events, context)
    lines = [
        line
        for d in root.findall("Batch/Documents/Document")
        if d.get("DocType") == "Message"
        for line in native_lines(files, d)
    ]
    assert sorted(lines) == sorted(archived.values())


def test_message_unit_one_document_per_message_with_its_versions_and_reads(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    context = replace(export_context, unit="message", numbering=Numbering("ACME-", start=41))
    files, root, report = export(varied_events, context)
    documents = root.findall("Batch/Documents/Document")
    assert documents[0].get("DocID") == "ACME-0000041"
    parents = list(context.documents(varied_events, FormatReport("edrm")))
    messages = [d for d in documents if d.get("DocType") == "Message"]
    assert [d.get("DocID") for d in messages] == [p.control for p in parents]
    seen: list[str] = []
    for document, parent in zip(messages, parents, strict=True):
        lines = native_lines(files, document)
        assert lines == [event_to_json(e) for e in parent.events]
        assert not all(isinstance(e, ReadEvent) for e in parent.events), "no document is only a read receipt"
        assert transcript(files, document) == document_text(parent, context.time_zone, context.case_name)
        seen += lines
    assert sorted(seen) == sorted(event_to_json(e) for e in varied_events), "every event in one document"
    msg_0 = next(d for d, p in zip(messages, parents, strict=True) if p.message_id == "msg:0")
    assert tags(msg_0)["EditCount"] == ("3", "Integer")
    msg_2 = next(d for d, p in zip(messages, parents, strict=True) if p.message_id == "msg:2")
    assert "read [msg:2]" in transcript(files, msg_2)
    upload = next(d for d in documents if d.get("DocType") == "File")
    parent_id = tags(upload)["ParentDocId"][0]
    assert (tags(upload)["BegAttach"][0], tags(upload)["EndAttach"][0]) == (parent_id, upload.get("DocID"))
    assert ("Attachment", parent_id, upload.get("DocID")) in [
        (r.get("Type"), r.get("ParentDocId"), r.get("ChildDocId")) for r in root.iter("Relationship")
    ]
    assert report.documents.first == 41


def test_custodians_are_the_cases_and_fall_back_to_the_senders(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    _, root, _ = export(varied_events, replace(export_context, custodians=("user:1", "user:9")))
    trading_1 = root.findall("Batch/Documents/Document")[1]
    assert custodians(trading_1) == ["Zoë Müller (user:1)"]
    _, root, _ = export(varied_events, replace(export_context, custodians=()))
    trading_1 = root.findall("Batch/Documents/Document")[1]
    assert custodians(trading_1) == ["Zoë Müller (user:1)", "user:2", "Dana Levi דנה (user:0)"]
    assert all(len(d.findall("Locations/Location")) >= 1 for d in root.iter("Document"))


@pytest.mark.parametrize("unit", ["conversation", "message"])
def test_real_irc_logs_in_both_units(
    irc_events: list[Event], export_context: ExportContext, unit: DocumentUnit
) -> None:
    # The message unit over the first 400 events: IRC rooms keep everyone who ever joined present
    # (hundreds of participants in every message's document), which makes each one heavy.
    irc_events = irc_events if unit == "conversation" else irc_events[:400]
    first = next(e.actor for e in irc_events if isinstance(e, PostEvent))
    context = replace(export_context, unit=unit, custodians=(first.id, "user:nobody"))
    files, root, report = export(irc_events, context)
    documents = root.findall("Batch/Documents/Document")
    assert sum(int(tags(d)["EventCount"][0]) for d in documents if d.get("DocType") == "Message") == len(irc_events)
    lines = [line for d in documents if d.get("DocType") == "Message" for line in native_lines(files, d)]
    expected = [event_to_json(e) for e in irc_events]
    assert lines == expected if unit == "conversation" else sorted(lines) == sorted(expected)
    posts = sum(1 for e in irc_events if isinstance(e, PostEvent))
    if unit == "message":
        assert len(documents) == posts
    for document in documents:
        assert transcript(files, document).count("\n") >= int(tags(document)["EventCount"][0])
        assert set(custodians(document)) <= {f"{first.name} ({first.id})", None}  # None: no custodian took part
    assert any(custodians(d) == [f"{first.name} ({first.id})"] for d in documents)
    assert len(files.contents) == 2 * len(documents) + 2  # Native and Text each, edrm.xml, edrm_files.sha256
    assert report.documents.documents == len(documents)


def test_bates_numbers_continue_across_two_productions(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    first = replace(export_context, numbering=Numbering("ACME-", start=7))
    _, root, report = export(varied_events, first)
    assert report.documents.last is not None
    second = replace(export_context, numbering=Numbering("ACME-", start=report.documents.last + 1))
    _, root_2, _ = export(varied_events[:3], second)
    ids = [d.get("DocID") for d in root.iter("Document")] + [d.get("DocID") for d in root_2.iter("Document")]
    assert ids == [f"ACME-{n:07d}" for n in range(7, 7 + len(ids))]


def test_no_events_is_a_valid_empty_load_file(export_context: ExportContext) -> None:
    files, root, _ = export([], export_context)
    assert list(files.contents) == [LOAD_FILE, SUMS_FILE]
    assert files.contents[SUMS_FILE] == b""
    assert root.findall("Batch/Documents/Document") == []


def test_events_out_of_export_order_are_refused(varied_events: list[Event], export_context: ExportContext) -> None:
    with pytest.raises(ValueError, match="not in export order"):
        EdrmFormat().write(reversed(varied_events), MemoryExportFiles(), export_context)


def test_room_slugs_are_safe_and_distinct() -> None:
    assert room_slug("room:ubuntu").startswith("room-ubuntu-")
    assert room_slug("room:a b") != room_slug("room:a-b")
    assert room_slug("../..").startswith("room-")
    assert "/" not in room_slug("a/b\\c")


def test_native_lines_are_json_of_the_documents_events(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    files, root, _ = export(varied_events, export_context)
    for document in root.findall("Batch/Documents/Document"):
        if document.get("DocType") == "Message":
            for line in native_lines(files, document):
                assert json.loads(line)["room"]["id"] == tags(document)["RoomId"][0]


def test_a_late_read_receipt_is_context_of_its_room_not_a_document(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    # Issue 19 found a document holding only a read receipt: a read days later joins the room's
    # last document as late context.
    im = [e for e in varied_events if e.room.id == "im:1:2"]
    late = parse_event(event_payload(1, "read", room="im:1:2", day=5, read={"message_id": "msg:im"}))
    files, root, _ = export([*im, late], export_context)
    (document,) = root.findall("Batch/Documents/Document")
    assert native_lines(files, document) == [event_to_json(e) for e in (*im, late)]
    assert "read [msg:im]" in transcript(files, document)
    assert tags(document)["EndDate"] == (iso_utc(late.occurred_at), "DateTime")


def test_a_semicolon_in_a_name_does_not_make_more_people(export_context: ExportContext) -> None:
    """To and Participants are '; '-separated: a ';' inside a name or id is written U+FF1B, a loss."""
    hostile = event_payload(1, "post", message={"id": "m1", "text": "hello"})
    hostile["actor"] = {"id": "user:anna;x", "name": "Smith; John"}
    other = event_payload(2, "post", message={"id": "m2", "text": "hi"})
    other["actor"] = {"id": "user:bob", "name": "Bob"}
    _, root, report = export([parse_event(hostile), parse_event(other)], export_context)
    (document,) = root.findall("Batch/Documents/Document")
    anna = "Smith\uff1b John <user:anna\uff1bx>"
    assert tags(document)["Participants"][0].split("; ") == [anna, "Bob <user:bob>"]
    assert tags(document)["To"][0].split("; ") == ["Bob <user:bob>"]
    losses = {loss.field: loss for loss in report.losses}
    assert losses[f"{LOAD_FILE}: Tag Participants"].count == 1
    assert f"{LOAD_FILE}: Tag To" not in losses
