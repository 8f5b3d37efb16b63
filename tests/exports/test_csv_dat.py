"""CSV and Concordance DAT: read back with the csv module and an independent DAT parser."""

from __future__ import annotations

import csv
import hashlib
import io
import posixpath
import subprocess
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from exports.base import ExportContext, FormatReport, MemoryExportFiles, ZipExportFiles, export_order
from exports.csv_dat import (
    COLUMNS,
    CSV_FILE,
    DAT_COLUMNS,
    DAT_FILE,
    DOCUMENT_SUMS_FILE,
    FIELDS_FILE,
    FORMULA_GUARD,
    FORMULA_STARTS,
    TEXT_SUMS_FILE,
    CsvDatFormat,
    RowBuffer,
    dat_line,
    read_dat,
    spreadsheet_row,
)
from exports.documents import Document, every_document
from exports.jsonl import Utf8Writer
from ingest.events import EditEvent, Event, PostEvent, ReadEvent, event_to_json, parse_event
from tests.exports.conftest import DAY_ONE, event_payload

BOM = b"\xef\xbb\xbf"


def parse_dat(data: bytes) -> list[list[str]]:
    """A DAT reader written apart from the module's: a state machine over þ (qualifier), U+0014
    (separator) and CRLF (record end outside qualifiers); ® in a field is a line break."""
    assert data.startswith(BOM)
    text = data[len(BOM) :].decode("utf-8")
    rows: list[list[str]] = []
    row: list[str] = []
    field: list[str] = []
    inside = False
    position = 0
    while position < len(text):
        ch = text[position]
        if ch == "þ":
            inside = not inside
        elif inside:
            assert ch not in "\r\n", "a raw line break inside a DAT field"
            field.append("\n" if ch == "®" else ch)
        elif ch == "\x14":
            row.append("".join(field))
            field = []
        elif text.startswith("\r\n", position):
            row.append("".join(field))
            rows.append(row)
            row, field = [], []
            position += 1
        else:
            raise AssertionError(f"{ch!r} outside a qualified field at {position}")
        position += 1
    assert not inside, "the file must not end inside a field"
    assert not row, "the file must end with a complete record"
    assert not field, "the file must end with a complete record"
    return rows


def dat_text(text: str) -> str:
    """What the DAT gives back for ``text``: line breaks as \\n, the three literals substituted."""
    text = text.replace("þ", "th").replace("\x14", "\ufffd").replace("®", "(R)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def guarded(text: str) -> str:
    """What messages.csv holds for ``text``: OWASP's guard, a leading apostrophe before a cell a
    spreadsheet would read as a formula (=, +, -, @, tab or CR first)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export(events: list[Event], context: ExportContext) -> tuple[MemoryExportFiles, list[list[str]], list[list[str]]]:
    files = MemoryExportFiles()
    CsvDatFormat().write(iter(events), files, context)
    csv_bytes = files.contents[CSV_FILE]
    assert csv_bytes.startswith(BOM)
    csv_rows = list(csv.reader(io.StringIO(csv_bytes.decode("utf-8-sig"), newline="")))
    return files, csv_rows, parse_dat(files.contents[DAT_FILE])


def documents_of(events: list[Event], context: ExportContext) -> list[Document]:
    return list(every_document(context.documents(iter(events), FormatReport("csv"))))


def test_every_event_is_a_row_of_the_csv_naming_its_document(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    """Issue 19: messages.csv stays a row per event (attachments are no rows of their own); the
    DAT is a row per document (tests/exports/test_dat_documents.py reads it)."""
    _, csv_rows, dat_rows = export(varied_events, export_context)
    assert csv_rows[0] == list(COLUMNS)
    assert dat_rows[0] == list(DAT_COLUMNS)
    assert len(csv_rows) == len(varied_events) + 1  # the conversation unit keeps the export's order
    assert len(dat_rows) == len(documents_of(varied_events, export_context)) + 1
    event_ids = {row[0]: row[DAT_COLUMNS.index("EVENT_IDS")].split("; ") for row in dat_rows[1:]}
    for event, csv_row in zip(varied_events, csv_rows[1:], strict=True):
        record = dict(zip(COLUMNS, csv_row, strict=True))
        assert record["EVENT_ID"] == str(event.event_id)
        assert record["EVENT_ID"] in event_ids[record["DOCUMENT"]]
        assert record["TYPE"] == event.type
        assert record["ROOM_ID"] == event.room.id
        # A read receipt names its reader as the reader, never as a sender (issue 19).
        actor = "READER_ID" if isinstance(event, ReadEvent) else "SENDER_ID"
        other = "SENDER_ID" if isinstance(event, ReadEvent) else "READER_ID"
        assert (record[actor], record[other]) == (event.actor.id, "")
        assert record["EVENT_SHA256"] == hashlib.sha256(event_to_json(event).encode()).hexdigest()


def test_text_is_exact_in_the_csv_and_in_the_document_text(
    varied_events: list[Event], export_context: ExportContext
) -> None:
    files, csv_rows, dat_rows = export(varied_events, export_context)
    text = COLUMNS.index("TEXT")
    posts = [(e, c) for e, c in zip(varied_events, csv_rows[1:], strict=True) if isinstance(e, PostEvent)]
    assert {e.message.text for e, _ in posts} >= {"שלום עולם, מה שלומך?", "launch 🚀🔥 done 👍🏽"}
    documents = {
        row[0]: files.contents[row[DAT_COLUMNS.index("TEXTPATH")]].decode()
        for row in dat_rows[1:]
        if row[DAT_COLUMNS.index("DOC_TYPE")] != "attachment"
    }
    for event, csv_row in posts:
        assert csv_row[text] == guarded(event.message.text)
        # The document's text holds it exactly, its continuation lines indented by 16 spaces.
        indented = event.message.text.replace("\n", "\n" + " " * 16)
        assert f"[{event.message.id}]: {indented}\n" in documents[csv_row[COLUMNS.index("DOCUMENT")]]


def test_bom_and_crlf(varied_events: list[Event], export_context: ExportContext) -> None:
    files, _, _ = export(varied_events, export_context)
    dat = files.contents[DAT_FILE]
    assert dat.startswith(BOM)
    assert dat.endswith(b"\r\n")
    rows = len(documents_of(varied_events, export_context)) + 1
    assert dat.count(b"\n") == dat.count(b"\r\n") == dat.count(b"\r") == rows
    assert dat.startswith(BOM + "þBEGDOCþ\x14þENDDOCþ".encode())
    csv_bytes = files.contents[CSV_FILE]
    assert csv_bytes.startswith(BOM + b"ROW_ID,DOCUMENT,EVENT_ID,")
    assert csv_bytes.endswith(b"\r\n")
    assert csv_bytes.split(b"\r\n", 1)[0] == BOM + ",".join(COLUMNS).encode()


def test_control_numbers_versions_and_deletions(varied_events: list[Event], export_context: ExportContext) -> None:
    _, csv_rows, _ = export(varied_events, export_context)
    records = [dict(zip(COLUMNS, row, strict=True)) for row in csv_rows[1:]]
    # ROW_ID: the row's own number (it names its text file); DOCUMENT: the control number.
    assert [r["ROW_ID"] for r in records] == [f"5F0C6F3E-{n:06d}" for n in range(1, len(records) + 1)]
    assert {r["DOCUMENT"] for r in records} <= {d.control for d in documents_of(varied_events, export_context)}
    assert records[0]["DOCUMENT"] == "5F0C6F3E-0000001"
    versions = [(r["MESSAGE_ID"], r["VERSION"], r["TYPE"]) for r in records if r["MESSAGE_ID"] == "msg:0"]
    assert versions == [("msg:0", "1", "post"), ("msg:0", "2", "edit"), ("msg:0", "3", "edit"), ("msg:0", "4", "edit")]
    deletion = next(r for r in records if r["TYPE"] == "delete")
    assert (deletion["MESSAGE_ID"], deletion["DELETED"]) == ("msg:1", "Y")
    # Only a deletion's row says DELETED (the message's document says whether it was deleted).
    assert {r["DELETED"] for r in records if r["TYPE"] != "delete"} == {""}
    upload = next(r for r in records if r["TYPE"] == "file_upload")
    assert (upload["FILE_NAME"], upload["FILE_SIZE"], upload["FILE_URL"]) == (
        "Q3 forecast ®.xlsx",
        "12345",
        "https://files.example.com/q3",
    )
    decision = next(r for r in records if r["TYPE"] == "policy_decision")
    assert decision["DETAILS"] == "action=room_post; outcome=deny; mode=block; wall_ids=w1; targets=user:9"
    disclaimer = next(r for r in records if r["TYPE"] == "disclaimer")
    assert (disclaimer["TEXT"], disclaimer["DETAILS"]) == ("השיחה מוקלטת", "rule_id=rec; version=2; locale=he-IL")


def test_report_counts_and_warns(varied_events: list[Event], export_context: ExportContext) -> None:
    files = MemoryExportFiles()
    report = CsvDatFormat().write(iter(varied_events), files, export_context)
    documents = len(documents_of(varied_events, export_context))
    assert (report.format, report.events, report.items) == ("csv", len(varied_events), documents)
    assert [(f.path, f.sha256) for f in report.files] == [(f.path, f.sha256) for f in files.written]
    # Issue 17: what the DAT alters is a structured loss per column, no longer a warning.
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("1 file events have no URL")
    losses = {(loss.field, loss.why[:20]): loss.count for loss in report.losses}
    # Issue 19: the DAT's rows are documents; the texts are files (TEXTPATH), so only the
    # attachment's file name (a ®) is altered, in one document.
    assert losses == {
        (f"{DAT_FILE}: FILE_NAME", "a literal þ, U+0014 "): 1,
        # Issue 18: the upload's native, which an export without a file store cannot carry.
        ("NATIVES/: NATIVEPATH", "no file store: the e"): 1,
    }


def test_real_irc_logs_and_simulated_traffic(
    irc_events: list[Event], simulated_events: list[Event], export_context: ExportContext
) -> None:
    for events in (irc_events, simulated_events):
        files, csv_rows, dat_rows = export(events, export_context)
        assert len(csv_rows) == len(events) + 1
        assert [row[0] for row in dat_rows[1:]] == [d.control for d in documents_of(events, export_context)]
        text = COLUMNS.index("TEXT")
        textpath = COLUMNS.index("TEXTPATH")
        for event, csv_row in zip(events, csv_rows[1:], strict=True):
            if isinstance(event, PostEvent | EditEvent):
                assert csv_row[text] == guarded(event.message.text)
                if event.message.text:
                    assert files.contents[csv_row[textpath]] == event.message.text.encode()


_ANY_TEXT = st.lists(
    st.one_of(
        st.characters(exclude_categories=["Cs"]),
        st.sampled_from(["þ", "\x14", "®", "\r\n", "\r", "\n", "þ\x14þ"]),
    )
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ANY_TEXT, min_size=1, max_size=5))
def test_dat_round_trip_for_any_text(fields: list[str]) -> None:
    line, substituted = dat_line(fields)
    data = BOM + (dat_line(["A"] * len(fields))[0] + line).encode()
    expected = [dat_text(value) for value in fields]
    assert parse_dat(data) == [["A"] * len(fields), expected]
    assert read_dat(data.decode("utf-8")) == [["A"] * len(fields), expected]
    assert substituted == any(ch in value for value in fields for ch in "þ\x14®")


@settings(max_examples=100, deadline=None)
@given(_ANY_TEXT)
def test_csv_keeps_any_text_exactly_but_guards_formulas(text: str) -> None:

    event = parse_event(event_payload(1, "post", message={"id": "m", "text": text}))
    context = ExportContext("x", DAY_ONE, "me", "q")
    files, csv_rows, dat_rows = export([event], context)
    assert csv_rows[1][COLUMNS.index("TEXT")] == guarded(text)
    # The file TEXTPATH names holds the text byte-exact (no file, and no path, for no text).
    textpath = csv_rows[1][COLUMNS.index("TEXTPATH")]
    assert (files.contents[textpath] if textpath else b"") == text.encode()
    # The DAT's document text holds it too, its continuation lines indented.
    document = files.contents[dat_rows[1][DAT_COLUMNS.index("TEXTPATH")]].decode()
    assert document.endswith(f"[m]: {text.replace(chr(10), chr(10) + ' ' * 16)}\n")
    # The load files, the field list, two checksum lists, the document's text and the row's.
    assert len(files.contents) == (7 if text else 6)
    # It is listed with its SHA-256 in the checksum list, not in the format's (the manifest's) files.
    expected = f"{hashlib.sha256(text.encode()).hexdigest()}  {textpath}\n" if text else ""
    assert files.contents[TEXT_SUMS_FILE] == expected.encode()
    assert [f.path for f in files.written] == [CSV_FILE, DAT_FILE, TEXT_SUMS_FILE, DOCUMENT_SUMS_FILE, FIELDS_FILE]


def test_rows_buffered_in_batches_are_the_bytes_of_rows_written_one_by_one() -> None:
    rows = [["a", 'b"c', "d,e"], ["line\nbreak", "þ", ""], ["x", "y", "z"]] * 5
    for batch in (1, 2, 7, 100):
        csv_bytes, dat_bytes = io.BytesIO(), io.BytesIO()
        csv_out, dat_out = Utf8Writer(csv_bytes, bom=True), Utf8Writer(dat_bytes)
        buffer = RowBuffer(csv_out, dat_out, batch=batch)
        for row in rows:
            buffer.add(row, dat_line(row)[0])
        buffer.flush()
        csv_out.flush()
        dat_out.flush()
        expected = io.StringIO()
        csv.writer(expected, lineterminator="\r\n").writerows(rows)
        assert csv_bytes.getvalue() == ("\ufeff" + expected.getvalue()).encode()
        assert dat_bytes.getvalue() == "".join(dat_line(row)[0] for row in rows).encode()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_ANY_TEXT, st.sampled_from(["=1", "+", "-x", "@a", "\t", "\r\n", ""])), max_size=30))
def test_the_formula_guard_is_the_per_cell_rule(row: list[str]) -> None:
    """spreadsheet_row looks at first characters in C and hands back the row itself when no cell
    needs a guard: the cells are the per-cell rule's either way."""
    cells, guarded = spreadsheet_row(row)
    assert list(cells) == [FORMULA_GUARD + value if value[:1] in FORMULA_STARTS else value for value in row]
    assert guarded == any(value[:1] in FORMULA_STARTS for value in row)


FORMULAS = ('=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1", "=1\n=2")


def test_cells_a_spreadsheet_would_run_as_formulas_are_guarded_in_the_csv_only() -> None:
    """OWASP's CSV injection guard: every cell (text, names, ids, file names) that starts with
    =, +, -, @, tab or CR gets a leading apostrophe in messages.csv; the DAT (a review-platform
    load file) and the JSONL keep the exact text, and the report says what was guarded."""
    payloads = [event_payload(i, "post", message={"id": f"m{i}", "text": text}) for i, text in enumerate(FORMULAS)]
    named = event_payload(20, "post", message={"id": "=m", "text": "plain"})
    named["actor"] = {"id": "@evil", "name": "=cmd|' /C calc'!A0", "email": None, "internal": False}
    named["room"] = {"id": "-room", "name": "+room", "kind": "room"}
    upload = {"name": "=file.xlsx", "size": 1, "sha256": "a" * 64, "content_type": "text/csv", "url": "-u"}
    events = sorted(
        (parse_event(p) for p in [*payloads, named, event_payload(21, "file_upload", file=upload)]), key=export_order
    )
    files = MemoryExportFiles()
    report = CsvDatFormat().write(iter(events), files, ExportContext("x", DAY_ONE, "me", "q"))
    csv_rows = list(csv.reader(io.StringIO(files.contents[CSV_FILE].decode("utf-8-sig"), newline="")))
    dat_rows = parse_dat(files.contents[DAT_FILE])
    records = {row[COLUMNS.index("EVENT_ID")]: dict(zip(COLUMNS, row, strict=True)) for row in csv_rows[1:]}
    for event in events[: len(FORMULAS) + 1]:
        if isinstance(event, PostEvent) and event.message.text in FORMULAS:
            assert records[str(event.event_id)]["TEXT"] == "'" + event.message.text
    for row in csv_rows[1:]:
        for cell in row:
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), cell
    record = next(r for r in records.values() if r["ROOM_ID"] == "'-room")
    sender = (record["MESSAGE_ID"], record["SENDER_ID"], record["SENDER_NAME"])
    assert sender == ("'=m", "'@evil", "'=cmd|' /C calc'!A0")
    assert (record["ROOM_ID"], record["ROOM_NAME"]) == ("'-room", "'+room")
    upload_row = next(r for r in records.values() if r["TYPE"] == "file_upload")
    assert (upload_row["FILE_NAME"], upload_row["FILE_URL"]) == ("'=file.xlsx", "'-u")
    # The DAT (a review platform's load file, not a spreadsheet) keeps the values exact.
    documents = [dict(zip(DAT_COLUMNS, row, strict=True)) for row in dat_rows[1:]]
    evil = next(d for d in documents if d["ROOM_ID"] == "-room")
    assert (evil["FROM"], evil["CONVERSATION"]) == ("=cmd|' /C calc'!A0 (@evil)", "+room (-room)")
    assert next(d for d in documents if d["DOC_TYPE"] == "attachment")["FILE_NAME"] == "=file.xlsx"
    guards = {loss.field: loss.count for loss in report.losses if "formula" in loss.why}
    assert guards == {
        f"{CSV_FILE}: {column}": count
        for column, count in [
            ("TEXT", len(FORMULAS)),
            ("MESSAGE_ID", 1),
            ("SENDER_ID", 1),
            ("SENDER_NAME", 1),
            ("ROOM_ID", 1),
            ("ROOM_NAME", 1),
            ("FILE_NAME", 1),
            ("FILE_URL", 1),
        ]
    }
    assert not [w for w in report.warnings if "formula" in w]
    # A cell already starting with an apostrophe is left alone (it is not a formula).
    assert guarded("'=1") == "'=1"


# Issue 17, finding 7: the DAT cannot carry þ, U+0014 or ® (nor CR) exactly; every row with text
# points (TEXTPATH) at a file of its exact UTF-8 text, and the report names every altered field.

EXACT_TEXTS = (
    "þjóðin",
    "Q3 ® report",
    "DC4 \x14 inside",
    "CRLF\r\nCR\rLF\nend",
    "NUL \x00 byte",
    "launch 🚀🔥 done 👍🏽",
    "שלום עולם, מה שלומך?",
    "مرحبا بالعالم ‏(RTL)‏",
    "þ\x14þ®\r\n",
    "=1+1",
)


def zipped_export(events: list[Event]) -> tuple[zipfile.ZipFile, FormatReport]:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        report = CsvDatFormat().write(iter(events), ZipExportFiles(archive), ExportContext("x", DAY_ONE, "me", "q"))
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue())), report


def resolve(archive: zipfile.ZipFile, load_file: str, textpath: str) -> bytes:
    """What a review platform reads for a TEXTPATH: a path relative to the load file's folder,
    which must name a file inside the export (no absolute path, no '..')."""
    assert textpath
    assert not textpath.startswith(("/", "\\"))
    assert ".." not in textpath.replace("\\", "/").split("/")
    folder = posixpath.dirname(load_file)
    return archive.read(posixpath.join(folder, textpath.replace("\\", "/")))


def test_textpath_files_hold_every_text_byte_exact_in_any_script(tmp_path: Path) -> None:
    events = [
        parse_event(event_payload(i, "post", message={"id": f"m{i}", "text": text}))
        for i, text in enumerate(EXACT_TEXTS)
    ]
    events.append(parse_event(event_payload(50, "edit", message={"id": "m0", "text": "þjóðin ®\r\nedited"})))
    events.append(parse_event(event_payload(51, "join")))
    archive, _ = zipped_export(events)
    dat_rows = parse_dat(archive.read(DAT_FILE))
    csv_rows = list(csv.reader(io.StringIO(archive.read(CSV_FILE).decode("utf-8-sig"), newline="")))
    column = csv_rows[0].index("TEXTPATH")
    texts = [*EXACT_TEXTS, "þjóðin ®\r\nedited"]
    for text, csv_row in zip(texts, csv_rows[1:], strict=False):
        assert resolve(archive, CSV_FILE, csv_row[column]) == text.encode("utf-8")
    # A row without text (a join) points at no file; every other row at a file of its own.
    assert csv_rows[-1][column] == ""
    paths = [row[column] for row in csv_rows[1:-1]]
    assert len(set(paths)) == len(paths) == len(texts)
    # The DAT's one document (a conversation slice) points at its text, which holds every text.
    (document,) = [dict(zip(dat_rows[0], row, strict=True)) for row in dat_rows[1:]]
    transcript = resolve(archive, DAT_FILE, document["TEXTPATH"]).decode()
    for text in texts:
        assert text.replace("\n", "\n" + " " * 16) in transcript
    # The checksum lists name each of them once, and sha256sum (coreutils) checks them.
    assert sorted(line.split("  ")[1] for line in archive.read(TEXT_SUMS_FILE).decode().splitlines()) == sorted(paths)
    assert archive.read(DOCUMENT_SUMS_FILE).decode().split("  ")[1] == document["TEXTPATH"] + "\n"
    archive.extractall(tmp_path)
    for sums, count in ((TEXT_SUMS_FILE, len(paths)), (DOCUMENT_SUMS_FILE, 1)):
        checked = subprocess.run(["sha256sum", "--strict", "-c", sums], cwd=tmp_path, capture_output=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert checked.stdout.decode().count(": OK\n") == count


def test_report_names_every_field_the_dat_altered(varied_events: list[Event]) -> None:
    _, report = zipped_export(varied_events)
    literal = {loss.field: loss for loss in report.losses if "'th', U+FFFD and '(R)'" in loss.why}
    # Which fields, how many documents each, and where the exact value is: the DAT's texts are
    # files (TEXTPATH), so only the attachment's file name (a ®) is altered.
    assert {field: (loss.count, loss.unit) for field, loss in literal.items()} == {
        f"{DAT_FILE}: FILE_NAME": (1, "documents")
    }
    assert CSV_FILE in literal[f"{DAT_FILE}: FILE_NAME"].exact_value_in
    assert not [loss for loss in report.losses if "reads back as LF" in loss.why]
    assert all(loss.format == "csv" and loss.events for loss in report.losses)
    # A person's name with a þ and a room's name with a CRLF: every column that names them.
    post = event_payload(0, "post", message={"id": "m", "text": "plain"})
    post["actor"] = {"id": "user:eve", "name": "Eve þ", "email": None, "internal": True}
    post["room"] = {"id": "room:x", "name": "desk\r\nB", "kind": "room"}
    _, report = zipped_export([parse_event(post)])
    altered = {(loss.field, loss.count) for loss in report.losses if loss.field.startswith(DAT_FILE)}
    assert altered == {
        (f"{DAT_FILE}: {column}", 1) for column in ("CUSTODIAN", "ALL_CUSTODIANS", "FROM", "PARTICIPANTS")
    } | {(f"{DAT_FILE}: CONVERSATION", 1)}


def test_the_formula_guard_is_reported_with_textpath_exact() -> None:
    events = [parse_event(event_payload(0, "post", message={"id": "m", "text": "=1+1"}))]
    archive, report = zipped_export(events)
    guard = next(loss for loss in report.losses if "formula" in loss.why)
    assert (guard.field, guard.count, guard.events) == (f"{CSV_FILE}: TEXT", 1, (str(events[0].event_id),))
    assert "TEXTPATH" in guard.exact_value_in
    csv_rows = list(csv.reader(io.StringIO(archive.read(CSV_FILE).decode("utf-8-sig"), newline="")))
    record = dict(zip(csv_rows[0], csv_rows[1], strict=True))
    assert record["TEXT"] == "'=1+1"
    assert resolve(archive, CSV_FILE, record["TEXTPATH"]) == b"=1+1"


def test_plain_text_is_reported_as_nothing_altered() -> None:
    events = [parse_event(event_payload(0, "post", message={"id": "m", "text": "plain\nLF only"}))]
    _, report = zipped_export(events)
    assert report.warnings == []
    assert report.losses == []
