"""Issue 17, "lossless productions": every message text and every version (the post, each edit,
the deleted text), in every script and with hostile characters (tests/exports/round_trip_corpus.py),
comes back byte-exact from each export format, read back with a library made for the format:
the csv module, the DAT's own delimiters, lxml (each XML validated against its XSD), json and
jsonschema (RSMF against Relativity's published 2.0.0 schema), pdftotext for the PDF's text
layer. Where a format cannot carry something exactly, the test asserts that the report's losses
name it, with the right count, and that the exact value is where the loss says."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import shutil
import unicodedata
import zipfile
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from lxml import etree

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from exports.base import ExportContext, FormatReport, Loss, MemoryExportFiles, write_format
from exports.package import ExportRequest, build_export
from exports.registry import FORMAT_NAMES, export_format
from formats.lync_xml import stable_number
from formats.xml_text import ESCAPE_EXACT, ESCAPE_LOSS, unescape_xml_text
from ingest.staging import StagingStore
from search.backends import TantivySearchBackend
from tests.exports.pdf_documents_text import documents_pdftotext
from tests.exports.round_trip_corpus import EXPORT_CONTEXT_DAY, Message, corpus
from tests.exports.test_csv_dat import parse_dat

ROOT = Path(__file__).resolve().parents[2]
CONTEXT = ExportContext("round-trip", EXPORT_CONTEXT_DAY, "counsel@example.com", "everything")
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
DAT_DELIMITERS = ("\u00fe", "\u0014", "\u00ae")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

EVENTS, MESSAGES = corpus()
BY_ID = {message.id: message for message in MESSAGES}
EDITS = sum(len(message.versions) - 1 for message in MESSAGES)
DELETES = sum(message.deleted for message in MESSAGES)


def versions_of(message: Message) -> list[str]:
    """The texts a message had, in order: the post, then each edit."""
    return list(message.versions)


def write(name: str) -> tuple[MemoryExportFiles, FormatReport]:
    files = MemoryExportFiles()
    report = write_format(export_format(name), iter(EVENTS), files, CONTEXT)
    assert report.events == len(EVENTS)
    return files, report


def text_losses(report: FormatReport) -> list[Loss]:
    """The losses of text: every loss but the event fields a format declares it cannot carry
    (test_event_fields_a_format_cannot_carry_are_losses checks those)."""
    return [loss for loss in report.losses if not loss.field.startswith("event field ")]


def test_the_corpus_covers_every_script_and_version_kind() -> None:
    texts = [text for message in MESSAGES for text in message.versions]
    assert EDITS >= 50
    assert DELETES >= 20
    for needle in (
        "東京",
        "中文",
        "한국어",
        "مرحبا",
        "שלום",
        "Привет",
        "Καλημέρα",
        "👨‍👩‍👧‍👦",
        "þ",
        "®",
        "\x14",
        "\r\n",
        "𠀀",
    ):
        assert any(needle in text for text in texts), needle


def test_jsonl_carries_every_version_exactly() -> None:
    files, report = write("jsonl")
    got: dict[str, list[str]] = defaultdict(list)
    for line in files.contents["events.jsonl"].decode("utf-8").split("\n")[:-1]:
        event = json.loads(line)
        if event["type"] in ("post", "edit"):
            got[event["message"]["id"]].append(event["message"]["text"])
    assert got == {message.id: versions_of(message) for message in MESSAGES}
    assert report.losses == []  # JSONL is the archived events themselves


def test_csv_and_dat_carry_every_version_exactly_or_name_the_loss() -> None:
    files, report = write("csv")
    csv_rows = list(csv.DictReader(io.StringIO(files.contents["messages.csv"].decode("utf-8-sig"), newline="")))
    table = parse_dat(files.contents["messages.dat"])
    dat_rows = [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    assert len(csv_rows) == len(EVENTS)
    # Issue 19: the DAT is a row per document; each document's text (TEXTPATH) holds its events.
    documents = {row["BEGDOC"]: files.contents[row["TEXTPATH"]].decode("utf-8") for row in dat_rows}
    exact: dict[str, list[str]] = defaultdict(list)
    guarded = 0
    for csv_row in csv_rows:
        if csv_row["TYPE"] not in ("post", "edit"):
            continue
        # The file TEXTPATH names holds the exact UTF-8 (no file for an empty text).
        text = files.contents[csv_row["TEXTPATH"]].decode("utf-8") if csv_row["TEXTPATH"] else ""
        exact[csv_row["MESSAGE_ID"]].append(text)
        # messages.csv: exact, bar the formula guard.
        if text.startswith(FORMULA_STARTS):
            guarded += 1
            assert csv_row["TEXT"] == "'" + text
        else:
            assert csv_row["TEXT"] == text
        # messages.dat: the document's text file holds it exactly (continuation lines indented),
        # so the DAT alters no text: its delimiters and CR are no loss of text any more.
        assert text.replace("\n", "\n" + " " * 16) in documents[csv_row["DOCUMENT"]]
    assert exact == {message.id: versions_of(message) for message in MESSAGES}
    by_field = {(loss.field, loss.why.split(" ")[1]): loss for loss in text_losses(report)}
    assert by_field[("messages.csv: TEXT", "cell")].count == guarded
    assert not [loss for loss in text_losses(report) if loss.field == "messages.dat: TEXT"]
    for loss in text_losses(report):
        if loss.field.endswith(": TEXT"):
            assert "TEXTPATH" in loss.exact_value_in
    assert guarded


def test_rsmf_carries_every_version_and_deleted_text_exactly() -> None:
    schema = json.loads((ROOT / "tests" / "exports" / "schemas" / "rsmf_schema_2_0_0.json").read_text())
    validator = Draft7Validator(schema)
    files, report = write("rsmf")
    got: dict[str, list[str]] = {}
    deleted: dict[str, str] = {}
    assert files.contents.pop("rsmf.sha256")  # lists them
    for path, data in files.contents.items():
        assert path.endswith(".rsmf")
        mail = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        attachment = next(part for part in mail.iter_attachments() if part.get_filename() == "rsmf.zip")
        payload = attachment.get_payload(decode=True)
        assert isinstance(payload, bytes)
        with zipfile.ZipFile(io.BytesIO(payload)) as inner:
            manifest = json.loads(inner.read("rsmf_manifest.json"))
        validator.validate(manifest)
        for entry in manifest["events"]:
            if entry["type"] != "message" or entry["id"] not in BY_ID:
                continue
            edits = entry.get("edits", [])
            versions = [edits[0]["previous"], *(edit["new"] for edit in edits)] if edits else [entry["body"]]
            got[entry["id"]] = versions
            if entry.get("deleted"):
                deleted[entry["id"]] = entry["body"]
    assert got == {message.id: versions_of(message) for message in MESSAGES}
    assert deleted == {message.id: message.versions[-1] for message in MESSAGES if message.deleted}
    assert text_losses(report) == []


def test_edrm_transcripts_carry_every_version_exactly() -> None:
    schema = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "edrm-1.2-subset.xsd")))
    files, report = write("edrm")
    load_file = etree.fromstring(files.contents["edrm.xml"])
    schema.assertValid(load_file)
    transcripts = [
        files.contents[f"{external.get('FilePath')}/{external.get('FileName')}"].decode("utf-8")
        for external in load_file.iter("ExternalFile")
        if external.getparent().get("FileType") == "Text"  # type: ignore[union-attr]
    ]
    got: dict[str, list[str]] = defaultdict(list)
    deleted: set[str] = set()
    marker = re.compile(r" (?:EDITED )?\[(m\d+)\](?: \(version \d+\))?: ")
    for transcript in transcripts:
        lines = transcript.split("\n")
        for number, line in enumerate(lines):
            if (found := marker.search(line)) is not None and found.group(1) in BY_ID:
                text = line[found.end() :]
                for continuation in lines[number + 1 :]:
                    if not continuation.startswith(" " * 16):
                        break
                    text += "\n" + continuation[16:]
                got[found.group(1)].append(text)
            elif (gone := re.search(r" DELETED \[(m\d+)\]", line)) is not None:
                deleted.add(gone.group(1))
    assert got == {message.id: versions_of(message) for message in MESSAGES}
    assert deleted == {message.id for message in MESSAGES if message.deleted}
    assert text_losses(report) == []  # the names and ids of the corpus need no escape in the load file


def test_actiance_carries_every_version_and_deleted_text_exactly_once_unescaped() -> None:
    schema = etree.XMLSchema(etree.parse(str(ROOT / "exports" / "schemas" / "actiance.xsd")))
    files, report = write("actiance")
    got: dict[str, list[str]] = defaultdict(list)
    deleted: dict[str, str] = {}
    escaped = 0
    for data in files.contents.values():
        root = etree.fromstring(data)
        schema.assertValid(root)
        for element in root.iter("Message"):
            content = element.findtext("Content") or ""
            escaped += content != unescape_xml_text(content)
            text = unescape_xml_text(content)
            message_id = element.findtext("MessageId") or ""
            if element.findtext("UpdatedType") == "Deleted":
                deleted[message_id] = text
            else:
                got[message_id].append(text)
    assert dict(got) == {message.id: versions_of(message) for message in MESSAGES}
    assert deleted == {message.id: message.versions[-1] for message in MESSAGES if message.deleted}
    # XML 1.0 cannot carry the corpus's control characters: escaped reversibly, and named.
    assert escaped
    [loss] = text_losses(report)
    assert (loss.why, loss.exact_value_in, loss.unit) == (ESCAPE_LOSS, ESCAPE_EXACT, "characters")
    assert loss.count == sum(
        len(XML_ILLEGAL.findall(text)) + text.count("\u2426") + len(re.findall("[\u2400-\u241f]", text))
        for message in MESSAGES
        for text in [*message.versions, *([message.versions[-1]] if message.deleted else [])]
    )


def test_lync_carries_every_post_exactly_and_names_what_it_cannot() -> None:
    schema = etree.XMLSchema(etree.parse(str(ROOT / "adapters" / "schemas" / "lync_compliance.xsd")))
    files, report = write("lync")
    posts: dict[int, str] = {}
    for data in files.contents.values():
        root = etree.fromstring(data)
        schema.assertValid(root)
        for element in root.iter("Message"):
            if element.get("type") == "CHAT":
                posts[int(element.get("id", ""))] = unescape_xml_text(element.get("content", ""))
    assert posts == {stable_number(message.id): message.versions[0] for message in MESSAGES}
    found = {loss.field: loss for loss in text_losses(report)}
    assert found["Lync XML: edit events"].count == EDITS
    assert found["Lync XML: delete events"].count == DELETES
    changed = found["Lync XML: Message (CHAT) of a message edited or deleted later"]
    assert changed.count == sum(len(m.versions) > 1 or m.deleted for m in MESSAGES)
    assert found["Lync XML: Message content"].why == ESCAPE_LOSS
    assert set(found) == {
        "Lync XML: edit events",
        "Lync XML: delete events",
        "Lync XML: Message (CHAT) of a message edited or deleted later",
        "Lync XML: Message content",
    }


# The PDF's text layer, read by pdftotext, compared after the normalisation test_pdf_scripts
# accepts (Arabic presentation forms folded back by NFKC on those characters only, directional
# marks dropped) and these readings of pdftotext's own: runs of white space read as one space
# (U+2028 and U+2029 are white space); a hyphen that ends a line taken for a word break (the
# line joined to the next without it), so each line is compared on its own; and, in a line that
# mixes directions (a neutral character next to a right-to-left run counts), the order of its
# runs, which pdftotext reconstructs from the drawing: each run of one direction is compared
# exactly, invisible format characters (ZWJ, BOM) aside, and a run under a right-to-left
# override is drawn reversed. What the PDF draws differently is a loss of its report, checked
# here by count: control characters as control pictures (a tab as four spaces, a C1 control
# written out), and characters no installed font has written out as [U+XXXX NAME].
_BIDI_MARKS = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_PICTURES = {c: chr(0x2400 + c) for c in range(32) if c not in (9, 10)} | {9: "    ", 0x7F: "\u2421"}
_C1 = re.compile("[\x80-\x9f]")
_RTL_CHARS = "\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff"
_RUNS = re.compile(f"[{_RTL_CHARS}]+|[^\\s{_RTL_CHARS}]+")
_WRITTEN_OUT = re.compile(r"\[U\+([0-9A-F]{4,6})(?: [^\]]*)?\]")


def _normalised(text: str) -> str:
    folded = "".join(
        unicodedata.normalize("NFKC", ch) if "\ufb50" <= ch <= "\ufdff" or "\ufe70" <= ch <= "\ufefe" else ch
        for ch in text.translate(_BIDI_MARKS)
    )
    return " ".join(folded.split())


def _visible(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils): run scripts/services.sh")
def test_pdf_text_layer_carries_every_version_after_bidi_normalisation() -> None:
    files, report = write("pdf")
    # The document PDFs (the report's cover quotes the characters it names, so it is left out).
    extracted = pages = documents_pdftotext(files.contents)
    written_out = [chr(int(code, 16)) for code in _WRITTEN_OUT.findall(pages)]
    layer = _normalised(_WRITTEN_OUT.sub(lambda found: chr(int(found.group(1), 16)), extracted))
    missing = []
    for message in MESSAGES:
        for text in message.versions:
            drawn = _normalised(text.translate(_PICTURES))
            if not (re.search(f"[{_RTL_CHARS}]", drawn) and re.search(f"[^\\s{_RTL_CHARS}]", _visible(drawn))):
                lines = [_normalised(line) for line in text.translate(_PICTURES).split("\n")]
                lines = [line[:-1] if line.endswith("-") else line for line in lines]
                missing += [(message.id, line) for line in lines if line not in layer]
                continue
            for run in _RUNS.findall(_visible(drawn)):
                if run not in _visible(layer) and not ("\u202e" in text and run[::-1] in _visible(layer)):
                    missing.append((message.id, run))
    assert missing == []
    found = {loss.why.split(" ")[0]: loss for loss in text_losses(report)}
    # Every version is drawn, and a deleted message's text once more, marked.
    drawn_texts = [t for m in MESSAGES for t in [*m.versions, *([m.versions[-1]] if m.deleted else [])]]
    controls = sum(1 for text in drawn_texts for ch in text if ord(ch) in _PICTURES or _C1.match(ch))
    assert found["control"].count == controls
    assert found["no"].count == sum(1 for ch in written_out if not _C1.match(ch))
    assert {ch for ch in written_out if not _C1.match(ch)} == {"\ufffe", "\uffff", "\U00020000"}
    for loss in text_losses(report):
        assert "TEXTPATH" in loss.exact_value_in


FIELD_COUNTS = {
    "message.format": sum(1 for e in EVENTS if e.type == "post" and e.message.format == "text/html"),
    "actor.email": sum(1 for e in EVENTS if e.actor.email is not None),
    "actor.internal": sum(1 for e in EVENTS if not e.actor.internal),
    "source.server": len(EVENTS),
}
NOT_CARRIED = {
    "jsonl": set(),
    "csv": {"source.server"},
    "edrm": {"message.format", "actor.email", "actor.internal"},
    "lync": {"message.format"},
    "actiance": {"message.format", "source.server"},
    "rsmf": {"message.format"},
    "pdf": {"message.format", "actor.email", "actor.internal", "source.server"},
}


@pytest.mark.parametrize("name", sorted(NOT_CARRIED))
def test_event_fields_a_format_cannot_carry_are_losses(name: str) -> None:
    """The corpus has text/html posts, people with and without an e-mail address, an external
    one, and a server on every event: each format names the fields it has no place for, with how
    many events had them, and where the value is."""
    assert all(FIELD_COUNTS.values())
    _, report = write(name)
    fields = {loss.field.removeprefix("event field "): loss for loss in report.losses if loss.field.startswith("event")}
    assert {field: loss.count for field, loss in fields.items()} == {f: FIELD_COUNTS[f] for f in NOT_CARRIED[name]}
    for field, loss in fields.items():
        assert loss.why
        assert "events.jsonl" in loss.exact_value_in
        if field != "source.server":
            assert "messages.csv" in loss.exact_value_in


def test_the_package_manifest_names_every_loss_and_the_dat_points_at_the_exact_texts(
    sqlite_store: StagingStore, tmp_path: Path
) -> None:
    """The whole pipeline (archive, index, export job): every format's losses reach manifest.json,
    which validates against its schema; each TEXTPATH names a file of the zip that holds the
    version byte-exact, listed in messages_text.sha256."""
    ArchiveAdapter(sqlite_store.engine).write(EVENTS)
    index = TantivyIndexAdapter(tmp_path / "index")
    index.write(EVENTS)
    index.close()
    formats = tuple(name for name in FORMAT_NAMES if name != "pdf")
    request = ExportRequest("rt", "sent>=2000-01-01", formats, "counsel", "legal")
    result = build_export(sqlite_store.engine, TantivySearchBackend(tmp_path / "index"), request, tmp_path / "rt.zip")
    schema = json.loads((ROOT / "exports" / "schemas" / "manifest.schema.json").read_text())
    Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).validate(result.manifest)
    reported = {entry["format"]: entry["losses"] for entry in result.manifest["formats"]}
    assert reported["jsonl"] == []
    assert [loss["field"] for loss in reported["rsmf"]] == ["event field message.format"]
    assert {loss["field"] for loss in reported["csv"]} >= {"messages.csv: TEXT"}
    assert {loss["field"] for loss in reported["lync"]} >= {"Lync XML: edit events", "Lync XML: delete events"}
    assert ESCAPE_LOSS in [loss["why"] for loss in reported["actiance"]]
    with zipfile.ZipFile(result.path) as package:
        rows = list(csv.DictReader(io.StringIO(package.read("messages.csv").decode("utf-8-sig"), newline="")))
        sums = dict(line.split("  ")[::-1] for line in package.read("messages_text.sha256").decode().splitlines())
        exact: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if row["TYPE"] in ("post", "edit"):
                exact[row["MESSAGE_ID"]].append(package.read(row["TEXTPATH"]).decode() if row["TEXTPATH"] else "")
                assert not row["TEXTPATH"] or row["TEXTPATH"] in sums
    assert exact == {message.id: versions_of(message) for message in MESSAGES}
