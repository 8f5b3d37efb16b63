"""The recipients of a direct message are participants in the formats that list them (issue 17,
finding 5): RSMF lists them in the conversation's participants, Actiance enters them with the
first message that names them, though they never wrote; EDRM lists them among a day's
participants and custodians, and EDRM's transcript and the PDF say they are present at the first
message that names them (EDRM as the name of the moment and the id, issue 17 finding 6). The
CSV and DAT carry each message's recipients (ids, and names) as sent."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from lxml import etree
from pypdf import PdfReader

from exports.base import MemoryExportFiles
from exports.csv_dat import COLUMNS, CSV_FILE, DAT_COLUMNS, DAT_FILE, CsvDatFormat
from exports.edrm import EdrmFormat
from exports.pdf_report import PdfReportFormat
from ingest.events import Event, parse_event
from tests.exports import test_actiance, test_csv_dat, test_edrm, test_rsmf
from tests.exports.pdf_documents_text import documents_text

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


def direct(kind: str, second: float, actor: str, **fields: Any) -> Event:
    """An event of a direct conversation without a room name (titled after its people)."""
    payload = test_rsmf.event(kind, second, actor, **fields).model_dump(mode="json")
    return parse_event(payload | {"room": {"id": "im:carl:dora", "kind": "im"}})


def _edrm(events: list[Event]) -> tuple[dict[str, bytes], list[etree._Element]]:
    files = MemoryExportFiles()
    EdrmFormat().write(iter(events), files, test_rsmf.CONTEXT)
    root = etree.fromstring(files.contents["edrm.xml"])
    test_edrm.SCHEMA.assertValid(root)  # the EDRM 1.2 schema, by lxml
    return files.contents, root.findall("Batch/Documents/Document")


def test_edrm_lists_a_recipient_who_never_wrote_from_the_first_message_that_names_them() -> None:
    events = [
        direct("join", 0, "carl"),
        direct("post", 1, "carl", message={"id": "c1", "text": "are you there?"}, recipients=[DORA]),
        direct("post", 2, "carl", message={"id": "c2", "text": "still there?"}, recipients=[DORA]),
    ]
    contents, (document,) = _edrm(events)
    tags = test_edrm.tags(document)
    assert tags["Participants"] == ("Carl <user:carl>; Dora <user:dora>", "Text")
    assert tags["ParticipantCount"] == ("2", "Integer")
    # Issue 19: the custodians are the case's (user:anna, who took no part), not the participants.
    assert [c.text for c in document.iter("Custodian")] == [None]
    external = document.find("Files/File[@FileType='Text']/ExternalFile")
    assert external is not None
    lines = contents[f"{external.get('FilePath')}/{external.get('FileName')}"].decode().splitlines()
    # Each person as the name of the moment and the id; the recipient present from the first
    # message that names them (once), as a join would show them.
    assert lines[4:] == [
        "09:00:00.000    * Carl (user:carl) joined",
        "09:00:01.000    Carl (user:carl) [c1]: are you there?",
        "09:00:01.000    * Dora (user:dora) present: a recipient of [c1]",
        "09:00:02.000    Carl (user:carl) [c2]: still there?",
    ]


def test_edrm_does_not_make_recipients_of_a_room_present() -> None:
    post = test_rsmf.event("post", 1, "carl", message={"id": "c1", "text": "all"}, recipients=[DORA])
    _contents, (document,) = _edrm([post])
    assert test_edrm.tags(document)["Participants"] == ("Carl <user:carl>", "Text")


def _pdf_text(events: list[Event]) -> tuple[str, str]:
    """The report's cover and the document PDFs' text, read back by pypdf."""
    files = MemoryExportFiles()
    PdfReportFormat().write(iter(events), files, test_rsmf.CONTEXT)
    cover = PdfReader(io.BytesIO(files.contents["report.pdf"])).pages[0].extract_text()
    return cover, documents_text(files.contents)


def test_pdf_lists_a_recipient_who_never_wrote_from_the_first_message_that_names_them() -> None:
    events = [
        direct("post", 1, "carl", message={"id": "c1", "text": "are you there?"}, recipients=[DORA]),
        direct("post", 2, "carl", message={"id": "c2", "text": "still there?"}, recipients=[DORA]),
    ]
    cover, transcripts = _pdf_text(events)
    assert re.search(r"\b2 participants\b", cover), cover
    assert "Participants: Carl (user:carl); Dora (user:dora)" in transcripts  # the document's heading
    assert transcripts.count("→ Dora (user:dora) present: a recipient of this message") == 1
    assert transcripts.index("are you there?") < transcripts.index("Dora (user:dora) present")
    assert transcripts.index("Dora (user:dora) present") < transcripts.index("still there?")


def test_pdf_does_not_make_recipients_of_a_room_present() -> None:
    post = test_rsmf.event("post", 1, "carl", message={"id": "c1", "text": "all"}, recipients=[DORA])
    cover, transcripts = _pdf_text([post])
    assert re.search(r"\b1 participants\b", cover), cover
    assert "present" not in transcripts


def test_csv_and_dat_carry_the_recipients_of_each_message() -> None:
    eve = {"id": "user:eve", "name": "Eve þ Example"}  # þ: what the DAT substitutes, as in any column
    events = [
        direct("post", 1, "carl", message={"id": "c1", "text": "to two"}, recipients=[DORA, eve]),
        direct("post", 2, "dora", message={"id": "c2", "text": "no recipients recorded"}),
    ]
    files = MemoryExportFiles()
    CsvDatFormat().write(iter(events), files, test_rsmf.CONTEXT)
    csv_rows = list(csv.reader(io.StringIO(files.contents[CSV_FILE].decode("utf-8-sig"), newline="")))
    dat_rows = test_csv_dat.parse_dat(files.contents[DAT_FILE])  # the tests' own DAT reader
    assert csv_rows[0] == list(COLUMNS)
    assert COLUMNS.index("RECIPIENT_IDS") == COLUMNS.index("SENDER_INTERNAL") + 1
    wanted = [("user:dora; user:eve", "Dora; Eve þ Example"), ("", "")]
    records = [dict(zip(COLUMNS, row, strict=True)) for row in csv_rows[1:]]
    assert [(r["RECIPIENT_IDS"], r["RECIPIENT_NAMES"]) for r in records] == wanted
    # Issue 19: the DAT is a row per document (here one conversation slice): the recipients are
    # among its participants; TO is who was present and did not write (Eve: Carl and Dora wrote),
    # her þ substituted as in any column.
    (document,) = [dict(zip(DAT_COLUMNS, row, strict=True)) for row in dat_rows[1:]]
    participants = document["PARTICIPANTS"].split("; ")
    assert "Dora (user:dora)" in participants
    assert "Eve th Example (user:eve)" in participants
    assert document["TO"].split("; ") == ["Eve th Example (user:eve)"]


def as_actor(event: Event, actor: dict[str, Any]) -> Event:
    return parse_event(event.model_dump(mode="json") | {"actor": actor})


def test_pdf_ties_each_name_shown_to_the_person_s_id() -> None:
    events = [
        direct("post", 1, "carl", message={"id": "c1", "text": "are you there?"}, recipients=[DORA]),
        as_actor(
            direct("post", 2, "carl", message={"id": "c2", "text": "renamed"}), {"id": "user:carl", "name": "C (NY)"}
        ),
        test_rsmf.event("join", 3, "erin"),
        as_actor(test_rsmf.event("post", 4, "erin", message={"id": "e1", "text": "hi"}), {"id": "user:erin"}),
    ]
    _cover, transcripts = _pdf_text(events)
    # Lines name people as they were called, each with the person's id (was: a list of people
    # after each room's transcript; the issue asks for "display name (id)" on every line).
    for shown in ("Carl (user:carl)", "C (NY) (user:carl)", "Dora (user:dora)", "Erin (user:erin)"):
        assert shown in transcripts, shown


def test_a_semicolon_in_a_recipient_does_not_make_more_recipients() -> None:
    """RECIPIENT_IDS and RECIPIENT_NAMES are '; '-separated: a ';' inside one is written U+FF1B,
    a loss of the report (the archived event has the exact value)."""
    hostile = {"id": "user:a;b", "name": "Smith; John"}
    events = [direct("post", 1, "carl", message={"id": "c1", "text": "to two"}, recipients=[DORA, hostile])]
    files = MemoryExportFiles()
    report = CsvDatFormat().write(iter(events), files, test_rsmf.CONTEXT)
    csv_rows = list(csv.reader(io.StringIO(files.contents[CSV_FILE].decode("utf-8-sig"), newline="")))
    (record,) = [dict(zip(COLUMNS, row, strict=True)) for row in csv_rows[1:]]
    assert record["RECIPIENT_IDS"].split("; ") == ["user:dora", "user:a\uff1bb"]
    assert record["RECIPIENT_NAMES"].split("; ") == ["Dora", "Smith\uff1b John"]
    losses = {loss.field: loss.count for loss in report.losses}
    assert losses[f"{CSV_FILE}: RECIPIENT_IDS"] == losses[f"{CSV_FILE}: RECIPIENT_NAMES"] == 1
